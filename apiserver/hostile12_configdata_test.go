package apiserver

import (
	"bytes"
	"context"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// TestHostile12ConfigMapSecretValidation: ConfigMaps and Secrets are
// validated as upstream's ValidateConfigMap / ValidateSecret: every key a
// valid config key (no "/", not "." or "..", not starting with ".."), data
// at most 1 MiB, and nothing changes in an immutable one. Through real
// kubectl (create -f), as a user would.
func TestHostile12ConfigMapSecretValidation(t *testing.T) {
	e := newEnv(t, HandlerOptions{})
	k := newKubectl(t, e.srv.URL)
	create := func(yaml string) (string, int) {
		c := k.cmd("create", "-f", "-")
		c.Stdin = strings.NewReader(yaml)
		var out bytes.Buffer
		c.Stdout, c.Stderr = &out, &out
		err := c.Run()
		code := 0
		if err != nil {
			code = 1
		}
		return out.String(), code
	}
	// A malformed docker config is refused without echoing the secret.
	out, code := create("apiVersion: v1\nkind: Secret\nmetadata: {name: reg}\ntype: kubernetes.io/dockerconfigjson\nstringData: {.dockerconfigjson: '{\"auths\": hunter2-password'}\n")
	if code == 0 || !strings.Contains(out, `data[.dockerconfigjson]: Invalid value: "<secret contents redacted>"`) || strings.Contains(out, "hunter2") {
		t.Errorf("bad docker config: exit %d, %q", code, out)
	}
	for _, tc := range []struct{ name, yaml, want string }{
		{"dotdot-slash", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\ndata: {'../x': evil}\n",
			"The ConfigMap \"a\" is invalid: \n* data[../x]: Invalid value: \"../x\": a valid config key must consist of alphanumeric characters"},
		{"dotdot-data", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: b}\ndata: {'..data': evil}\n",
			`data[..data]: Invalid value: "..data": must not start with '..'`},
		{"slash", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\ndata: {'a/b': x}\n",
			`data[a/b]: Invalid value: "a/b": a valid config key must consist of alphanumeric characters`},
		{"empty", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: d}\ndata: {'': x}\n",
			`data[]: Invalid value: "": a valid config key must consist of alphanumeric characters`},
		{"binary-slash", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: e}\nbinaryData: {'a/b': eA==}\n",
			`binaryData[a/b]: Invalid value: "a/b"`},
		{"secret-empty", "apiVersion: v1\nkind: Secret\nmetadata: {name: s1}\ndata: {'': eA==}\n",
			`The Secret "s1" is invalid: data[]: Invalid value: "": a valid config key must consist of alphanumeric characters`},
		{"secret-dotdot", "apiVersion: v1\nkind: Secret\nmetadata: {name: s2}\nstringData: {'../../etc/x': evil}\n",
			`data[../../etc/x]: Invalid value: "../../etc/x"`},
		{"big", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: big}\ndata: {k: " + strings.Repeat("x", 1100000) + "}\n",
			`The ConfigMap "big" is invalid: `},
		{"secret-big", "apiVersion: v1\nkind: Secret\nmetadata: {name: sbig}\nstringData: {k: " + strings.Repeat("x", 1100000) + "}\n",
			`The Secret "sbig" is invalid: data: Too long: may not be more than 1048576 bytes`},
		{"tls", "apiVersion: v1\nkind: Secret\nmetadata: {name: t}\ntype: kubernetes.io/tls\nstringData: {tls.crt: x}\n",
			`data[tls.key]: Required value`},
	} {
		out, code := create(tc.yaml)
		if code == 0 || !strings.Contains(out, tc.want) || strings.Count(out, "x") > 1000 {
			t.Errorf("%s: exit %d, kubectl said %q; want an error with %q", tc.name, code, out, tc.want)
		}
	}

	// immutable: the data can no longer change (upstream: "field is
	// immutable when `immutable` is set"), nor immutable be unset.
	ctx := context.Background()
	cs := e.client(t, "http")
	yes := true
	if _, err := cs.CoreV1().ConfigMaps("default").Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "frozen"},
		Data: map[string]string{"k": "v1"}, Immutable: &yes}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	out, code = func() (string, int) {
		c := k.cmd("patch", "configmap", "frozen", "-p", `{"data":{"k":"v2"}}`)
		var b bytes.Buffer
		c.Stdout, c.Stderr = &b, &b
		if c.Run() != nil {
			return b.String(), 1
		}
		return b.String(), 0
	}()
	if code == 0 || !strings.Contains(out, "field is immutable when `immutable` is set") {
		t.Errorf("patching an immutable ConfigMap: exit %d, %q", code, out)
	}
	if _, err := cs.CoreV1().Secrets("default").Create(ctx, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "frozen"},
		Data: map[string][]byte{"k": []byte("v1")}, Immutable: &yes}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	s, _ := cs.CoreV1().Secrets("default").Get(ctx, "frozen", metav1.GetOptions{})
	s.Data["k"] = []byte("v2")
	if _, err := cs.CoreV1().Secrets("default").Update(ctx, s, metav1.UpdateOptions{}); err == nil || !strings.Contains(err.Error(), "field is immutable when `immutable` is set") {
		t.Errorf("updating an immutable Secret: %v", err)
	}
}
