package daemonset

import (
	"fmt"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// nodeShouldRunDaemonPod as upstream's NodeShouldRunDaemonPod table:
// (shouldRun, shouldContinueRunning) per node and template.
func TestNodeShouldRunDaemonPod(t *testing.T) {
	node := func(lbls map[string]string, taints ...corev1.Taint) *corev1.Node {
		return &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "n1", Labels: lbls}, Spec: corev1.NodeSpec{Taints: taints}}
	}
	taint := func(k string, e corev1.TaintEffect) corev1.Taint { return corev1.Taint{Key: k, Value: "v", Effect: e} }
	cases := []struct {
		name string
		node *corev1.Node
		edit func(*corev1.PodSpec)
		want string
	}{
		{"plain", node(nil), nil, "true true"},
		{"nodeName elsewhere", node(nil), func(s *corev1.PodSpec) { s.NodeName = "n2" }, "false false"},
		{"nodeName here", node(nil), func(s *corev1.PodSpec) { s.NodeName = "n1" }, "true true"},
		{"nodeSelector miss", node(map[string]string{"a": "b"}), func(s *corev1.PodSpec) { s.NodeSelector = map[string]string{"a": "c"} }, "false false"},
		{"nodeSelector hit", node(map[string]string{"a": "b"}), func(s *corev1.PodSpec) { s.NodeSelector = map[string]string{"a": "b"} }, "true true"},
		{"affinity miss", node(map[string]string{"a": "b"}), func(s *corev1.PodSpec) {
			s.Affinity = &corev1.Affinity{NodeAffinity: &corev1.NodeAffinity{RequiredDuringSchedulingIgnoredDuringExecution: &corev1.NodeSelector{
				NodeSelectorTerms: []corev1.NodeSelectorTerm{{MatchExpressions: []corev1.NodeSelectorRequirement{{Key: "a", Operator: corev1.NodeSelectorOpNotIn, Values: []string{"b"}}}}}}}}
		}, "false false"},
		{"affinity matchFields other node", node(nil), func(s *corev1.PodSpec) { s.Affinity = replaceNodeNameAffinity(nil, "n2") }, "false false"},
		{"NoSchedule", node(nil, taint("x", corev1.TaintEffectNoSchedule)), nil, "false true"},
		{"NoExecute", node(nil, taint("x", corev1.TaintEffectNoExecute)), nil, "false false"},
		{"PreferNoSchedule ignored", node(nil, taint("x", corev1.TaintEffectPreferNoSchedule)), nil, "true true"},
		{"tolerated", node(nil, taint("x", corev1.TaintEffectNoExecute)), func(s *corev1.PodSpec) {
			s.Tolerations = []corev1.Toleration{{Key: "x", Operator: corev1.TolerationOpEqual, Value: "v"}}
		}, "true true"},
		{"default not-ready", node(nil, taint(corev1.TaintNodeNotReady, corev1.TaintEffectNoExecute), taint(corev1.TaintNodeUnschedulable, corev1.TaintEffectNoSchedule),
			taint(corev1.TaintNodeDiskPressure, corev1.TaintEffectNoSchedule), taint(corev1.TaintNodePIDPressure, corev1.TaintEffectNoSchedule)), nil, "true true"},
		{"unreachable NoSchedule not tolerated", node(nil, taint(corev1.TaintNodeUnreachable, corev1.TaintEffectNoSchedule), taint(corev1.TaintNodeUnreachable, corev1.TaintEffectNoExecute)), nil, "false true"},
		{"network-unavailable", node(nil, taint(corev1.TaintNodeNetworkUnavailable, corev1.TaintEffectNoSchedule)), nil, "false true"},
		{"network-unavailable hostNetwork", node(nil, taint(corev1.TaintNodeNetworkUnavailable, corev1.TaintEffectNoSchedule)), func(s *corev1.PodSpec) { s.HostNetwork = true }, "true true"},
	}
	for _, c := range cases {
		ds := newDS("x")
		if c.edit != nil {
			c.edit(&ds.Spec.Template.Spec)
		}
		run, cont := nodeShouldRunDaemonPod(c.node, ds)
		if got := fmt.Sprint(run, cont); got != c.want {
			t.Errorf("%s: %s, want %s", c.name, got, c.want)
		}
	}
}

// The pod template: default tolerations not duplicated, the labels, the
// user's affinity replaced by the node's matchFields term.
func TestPodTemplate(t *testing.T) {
	ds := newDS("x")
	ds.Annotations = map[string]string{TemplateGenerationAnnotation: "3"}
	ds.Spec.Template.Spec.Tolerations = []corev1.Toleration{{Key: corev1.TaintNodeNotReady, Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoExecute}}
	tm := podTemplate(ds, "abc")
	if len(tm.Spec.Tolerations) != 6 {
		t.Errorf("tolerations %v, want the 6 defaults once each", tm.Spec.Tolerations)
	}
	if tm.Labels[TemplateGenerationLabel] != "3" || tm.Labels[RevisionHashLabel] != "abc" || tm.Labels["daemonset-name"] != "x" {
		t.Errorf("labels %v", tm.Labels)
	}
	if len(ds.Spec.Template.Spec.Tolerations) != 1 || ds.Spec.Template.Labels[RevisionHashLabel] != "" {
		t.Errorf("the DaemonSet's own template was changed")
	}
	a := &corev1.Affinity{NodeAffinity: &corev1.NodeAffinity{RequiredDuringSchedulingIgnoredDuringExecution: &corev1.NodeSelector{
		NodeSelectorTerms: []corev1.NodeSelectorTerm{{MatchExpressions: []corev1.NodeSelectorRequirement{{Key: "a", Operator: corev1.NodeSelectorOpExists}}}}}},
		PodAntiAffinity: &corev1.PodAntiAffinity{}}
	a = replaceNodeNameAffinity(a, "n7")
	p := &corev1.Pod{Spec: corev1.PodSpec{Affinity: a}}
	if n, err := targetNodeName(p); err != nil || n != "n7" || a.PodAntiAffinity == nil ||
		len(a.NodeAffinity.RequiredDuringSchedulingIgnoredDuringExecution.NodeSelectorTerms) != 1 {
		t.Errorf("affinity %+v: target %q %v", a, n, err)
	}
}

// The revision data is the patch kubectl rollout undo applies and
// compares: spec.template with $patch replace, keys sorted.
func TestRevisionData(t *testing.T) {
	ds := newDS("x")
	ds.Status = appsv1.DaemonSetStatus{NumberReady: 3}
	b, err := RevisionData(ds)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"spec":{"template":{"$patch":"replace","metadata":{"labels":{"daemonset-name":"x"}},` +
		`"spec":{"containers":[{"command":["sh","-c","sleep 3600"],"image":"busybox","name":"app","resources":{}}]}}}}`
	if string(b) != want {
		t.Errorf("data\n got %s\nwant %s", b, want)
	}
	h1 := computeHash(&ds.Spec.Template, nil)
	one := int32(1)
	if h2 := computeHash(&ds.Spec.Template, &one); h1 == h2 || h1 != computeHash(ds.Spec.Template.DeepCopy(), nil) {
		t.Errorf("hashes %s %s: the collision count must change it, a copy must not", h1, h2)
	}
}
