package api

import (
	"testing"
)

func TestLoadPods(t *testing.T) {
	const good = "apiVersion: v1\nkind: Pod\nmetadata: {name: web}\nspec:\n  containers: [{name: main, image: web.wasm}]\n"
	tests := []struct {
		name string
		in   string
		opts Options
		verb string
		pods []string // namespace/name
		err  string
	}{
		{name: "valid pods are defaulted", in: good + "---\n" + "apiVersion: v1\nkind: Pod\nmetadata: {name: api, namespace: prod}\nspec:\n  containers: [{name: main, image: api.wasm}]\n",
			pods: []string{"default/web", "prod/api"}},
		{
			name: "other kinds refused",
			in:   good + "---\napiVersion: v1\nkind: Service\nmetadata: {name: web}\n",
			verb: "wasmpod run",
			err:  `pod.yaml: document 2: kind Service is not supported by "wasmpod run" (only Pod)`,
		},
		{
			name: "other kinds refused, no verb",
			in:   "apiVersion: batch/v1\nkind: Job\nmetadata: {name: j}\n",
			err:  `pod.yaml: document 1: kind Job is not supported here (only Pod)`,
		},
		{
			name: "one line per problem",
			in: good + "---\napiVersion: v1\nkind: Pod\nmetadata: {name: bad}\nspec:\n  hostNetwork: true\n  containers:\n  - name: main\n  - name: main\n    image: x.wasm\n" +
				"---\napiVersion: v1\nkind: List\nitems:\n- {apiVersion: v1, kind: Pod, metadata: {name: web}, spec: {containers: [{name: a, image: a.wasm}]}}\n",
			err: "pod.yaml: document 2 (Pod/bad): spec.containers[0].image: Required value\n" +
				"pod.yaml: document 2 (Pod/bad): spec.containers[1].name: Duplicate value: \"main\"\n" +
				"pod.yaml: document 2 (Pod/bad): spec.hostNetwork: Forbidden: not supported by wasmpod: pods get their own network\n" +
				"pod.yaml: document 3, item 1 (Pod/web): metadata.name: Duplicate value: \"web\"",
		},
		{
			name: "hostPath needs the option",
			in:   "apiVersion: v1\nkind: Pod\nmetadata: {name: h}\nspec:\n  containers: [{name: main, image: h.wasm, volumeMounts: [{name: v, mountPath: /v}]}]\n  volumes: [{name: v, hostPath: {path: /srv}}]\n",
			err:  "pod.yaml: document 1 (Pod/h): spec.volumes[0].hostPath: Forbidden: not supported by wasmpod: hostPath volumes are disabled (allow them in the configuration)",
		},
		{
			name: "hostPath allowed",
			in:   "apiVersion: v1\nkind: Pod\nmetadata: {name: h}\nspec:\n  containers: [{name: main, image: h.wasm, volumeMounts: [{name: v, mountPath: /v}]}]\n  volumes: [{name: v, hostPath: {path: /srv}}]\n",
			opts: Options{AllowHostPath: true},
			pods: []string{"default/h"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			docs, err := Decode([]byte(tt.in), "pod.yaml")
			if err != nil {
				t.Fatal(err)
			}
			pods, err := LoadPods(docs, tt.opts, tt.verb)
			got := ""
			if err != nil {
				got = err.Error()
				if pods != nil {
					t.Errorf("pods returned along with an error")
				}
			}
			if got != tt.err {
				t.Errorf("error:\n got: %s\nwant: %s", got, tt.err)
			}
			if len(pods) != len(tt.pods) {
				t.Fatalf("got %d pods, want %d", len(pods), len(tt.pods))
			}
			for i, p := range pods {
				if p.Namespace+"/"+p.Name != tt.pods[i] {
					t.Errorf("pod %d is %s/%s, want %s", i, p.Namespace, p.Name, tt.pods[i])
				}
				if p.Spec.RestartPolicy != "Always" || p.Spec.Containers[0].TerminationMessagePath == "" {
					t.Errorf("pod %s not defaulted: %+v", p.Name, p.Spec)
				}
			}
		})
	}
}
