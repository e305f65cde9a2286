package apiserver

// node.k8s.io/v1 RuntimeClasses through the real kubectl and client-go
// (runtimeclass.go): the resource and its table, upstream's validation,
// and the RuntimeClass admission of pods.

import (
	"context"
	"regexp"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	nodev1 "k8s.io/api/node/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

const exampleRuntimeClass = `apiVersion: node.k8s.io/v1
kind: RuntimeClass
metadata:
  name: fast
handler: wasmtime
overhead:
  podFixed:
    memory: 16Mi
scheduling:
  nodeSelector:
    wasmpod.io/engine-wasmtime: "true"
  tolerations:
  - key: wasmtime
    operator: Exists
    effect: NoSchedule
`

func TestRuntimeClassKubectl(t *testing.T) {
	e := newEnv(t, HandlerOptions{})
	k := newKubectl(t, e.srv.URL)
	k.run(t, "apply", "-f", writeManifest(t, "rc.yaml", exampleRuntimeClass))
	out := k.run(t, "get", "runtimeclass")
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 2 || !regexp.MustCompile(`^NAME\s+HANDLER\s+AGE$`).MatchString(lines[0]) ||
		!regexp.MustCompile(`^fast\s+wasmtime\s+\S+$`).MatchString(lines[1]) {
		t.Fatalf("kubectl get runtimeclass:\n%s", out)
	}
	if out := k.run(t, "get", "runtimeclasses.node.k8s.io", "fast", "-o", "jsonpath={.handler}/{.overhead.podFixed.memory}"); out != "wasmtime/16Mi" {
		t.Fatalf("jsonpath: %q", out)
	}
	// The handler is immutable and a DNS label; overhead is cpu and
	// memory, not negative.
	k.wantFail(t, `The RuntimeClass "fast" is invalid: handler: Invalid value: "wazero": field is immutable`,
		"patch", "runtimeclass", "fast", "--type=merge", "-p", `{"handler":"wazero"}`)
	k.wantFail(t, `handler: Invalid value: "Not_A_Label"`,
		"apply", "-f", writeManifest(t, "bad.yaml", strings.NewReplacer("name: fast", "name: bad", "handler: wasmtime", "handler: Not_A_Label").Replace(exampleRuntimeClass)))
	k.wantFail(t, `overhead.podFixed[memory]: Invalid value: "-1Mi": must be greater than or equal to 0`,
		"apply", "-f", writeManifest(t, "neg.yaml", strings.NewReplacer("name: fast", "name: neg", "16Mi", "-1Mi").Replace(exampleRuntimeClass)))
	k.wantFail(t, `handler: Required value`,
		"apply", "-f", writeManifest(t, "none.yaml", "apiVersion: node.k8s.io/v1\nkind: RuntimeClass\nmetadata:\n  name: none\nhandler: \"\"\n"))
	// Server-side apply knows the kind's schema.
	k.run(t, "apply", "--server-side", "-f", writeManifest(t, "ssa.yaml", strings.Replace(exampleRuntimeClass, "name: fast", "name: ssa", 1)))
	k.run(t, "delete", "runtimeclass", "ssa")
}

func TestRuntimeClassAdmission(t *testing.T) {
	e := newEnv(t, HandlerOptions{})
	cs := e.client(t, "http")
	ctx := context.Background()
	pod := func(name, class string) *corev1.Pod {
		p := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name},
			Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "wasmpod.local/hello:1"}},
				NodeSelector: map[string]string{"zone": "a"}}}
		if class != "" {
			p.Spec.RuntimeClassName = &class
		}
		return p
	}
	// Upstream's admission: a RuntimeClass that does not exist refuses the pod.
	_, err := cs.CoreV1().Pods("default").Create(ctx, pod("p1", "missing"), metav1.CreateOptions{})
	if err == nil || !strings.Contains(err.Error(), `pods "p1" is forbidden: pod rejected: RuntimeClass "missing" not found`) {
		t.Fatalf("pod with a missing RuntimeClass: %v", err)
	}
	rc := &nodev1.RuntimeClass{ObjectMeta: metav1.ObjectMeta{Name: "fast"}, Handler: "wasmtime",
		Overhead: &nodev1.Overhead{PodFixed: corev1.ResourceList{corev1.ResourceMemory: resource.MustParse("16Mi")}},
		Scheduling: &nodev1.Scheduling{NodeSelector: map[string]string{"engine": "wasmtime"},
			Tolerations: []corev1.Toleration{{Key: "wasmtime", Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoSchedule}}}}
	if _, err := cs.NodeV1().RuntimeClasses().Create(ctx, rc, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	p, err := cs.CoreV1().Pods("default").Create(ctx, pod("p2", "fast"), metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if q := p.Spec.Overhead[corev1.ResourceMemory]; q.String() != "16Mi" {
		t.Errorf("overhead %v, want memory 16Mi", p.Spec.Overhead)
	}
	if p.Spec.NodeSelector["engine"] != "wasmtime" || p.Spec.NodeSelector["zone"] != "a" {
		t.Errorf("nodeSelector %v, want the pod's and the class's", p.Spec.NodeSelector)
	}
	found := false
	for _, tl := range p.Spec.Tolerations {
		found = found || tl.Key == "wasmtime"
	}
	if !found {
		t.Errorf("tolerations %v lack the class's", p.Spec.Tolerations)
	}
	// A conflicting nodeSelector and a different overhead are refused.
	bad := pod("p3", "fast")
	bad.Spec.NodeSelector["engine"] = "wazero"
	if _, err := cs.CoreV1().Pods("default").Create(ctx, bad, metav1.CreateOptions{}); err == nil ||
		!strings.Contains(err.Error(), "conflict: runtimeClass.scheduling.nodeSelector[engine] = wasmtime; pod.spec.nodeSelector[engine] = wazero") {
		t.Errorf("conflicting nodeSelector: %v", err)
	}
	bad = pod("p4", "fast")
	bad.Spec.Overhead = corev1.ResourceList{corev1.ResourceMemory: resource.MustParse("1Mi")}
	if _, err := cs.CoreV1().Pods("default").Create(ctx, bad, metav1.CreateOptions{}); err == nil ||
		!strings.Contains(err.Error(), "pod rejected: Pod's Overhead doesn't match RuntimeClass's defined Overhead") {
		t.Errorf("different overhead: %v", err)
	}
	bad = pod("p5", "")
	bad.Spec.Overhead = corev1.ResourceList{corev1.ResourceMemory: resource.MustParse("1Mi")}
	if _, err := cs.CoreV1().Pods("default").Create(ctx, bad, metav1.CreateOptions{}); err == nil ||
		!strings.Contains(err.Error(), "pod rejected: Pod Overhead set without corresponding RuntimeClass defined Overhead") {
		t.Errorf("overhead without a RuntimeClass: %v", err)
	}
}
