package scheduler

import (
	"reflect"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
)

func TestFilterPlugins(t *testing.T) {
	node := func(opts ...nodeOpt) *corev1.Node { return makeNode("n1", "2", "4Gi", 10, opts...) }
	tests := []struct {
		name     string
		plugin   FilterPlugin
		pod      *corev1.Pod
		node     *corev1.Node
		existing []*corev1.Pod
		want     []string
	}{
		{"fit ok", nodeResourcesFit{}, makePod("p", "1", "1Gi"), node(), nil, nil},
		{"fit exact", nodeResourcesFit{}, makePod("p", "1", "3Gi"), node(), []*corev1.Pod{makePod("e", "1", "1Gi", onNode("n1"))}, nil},
		{"insufficient cpu", nodeResourcesFit{}, makePod("p", "1500m", ""), node(), []*corev1.Pod{makePod("e", "1", "", onNode("n1"))}, []string{ErrReasonInsufficientCPU}},
		{"insufficient memory", nodeResourcesFit{}, makePod("p", "", "5Gi"), node(), nil, []string{ErrReasonInsufficientMem}},
		{"insufficient both", nodeResourcesFit{}, makePod("p", "3", "5Gi"), node(), nil, []string{ErrReasonInsufficientCPU, ErrReasonInsufficientMem}},
		{"too many pods", nodeResourcesFit{}, makePod("p", "", ""), makeNode("n1", "2", "4Gi", 1), []*corev1.Pod{makePod("e", "", "", onNode("n1"))}, []string{ErrReasonTooManyPods}},
		{"terminal pods free resources", nodeResourcesFit{}, makePod("p", "2", ""), node(), []*corev1.Pod{func() *corev1.Pod {
			p := makePod("e", "1", "", onNode("n1"))
			p.Status.Phase = corev1.PodSucceeded
			return p
		}()}, nil},
		{"init container max", nodeResourcesFit{}, func() *corev1.Pod {
			p := makePod("p", "1", "")
			p.Spec.InitContainers = []corev1.Container{{Name: "i", Resources: corev1.ResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("2500m")}}}}
			return p
		}(), node(), nil, []string{ErrReasonInsufficientCPU}},

		{"node name match", nodeName{}, makePod("p", "", "", onNode("n1")), node(), nil, nil},
		{"node name mismatch", nodeName{}, makePod("p", "", "", onNode("n2")), node(), nil, []string{ErrReasonNodeName}},

		{"selector match", nodeAffinity{}, makePod("p", "", "", nodeSelector("disk", "ssd")), node(withLabels("disk", "ssd")), nil, nil},
		{"selector mismatch", nodeAffinity{}, makePod("p", "", "", nodeSelector("disk", "ssd")), node(withLabels("disk", "hdd")), nil, []string{ErrReasonNodeAffinity}},
		{"In", nodeAffinity{}, makePod("p", "", "", requiredNodeAffinity(req("zone", corev1.NodeSelectorOpIn, "a", "b"))), node(withLabels("zone", "b")), nil, nil},
		{"In mismatch", nodeAffinity{}, makePod("p", "", "", requiredNodeAffinity(req("zone", corev1.NodeSelectorOpIn, "a"))), node(withLabels("zone", "b")), nil, []string{ErrReasonNodeAffinity}},
		{"NotIn", nodeAffinity{}, makePod("p", "", "", requiredNodeAffinity(req("zone", corev1.NodeSelectorOpNotIn, "a"))), node(withLabels("zone", "a")), nil, []string{ErrReasonNodeAffinity}},
		{"Exists", nodeAffinity{}, makePod("p", "", "", requiredNodeAffinity(req("gpu", corev1.NodeSelectorOpExists))), node(withLabels("gpu", "")), nil, nil},
		{"DoesNotExist", nodeAffinity{}, makePod("p", "", "", requiredNodeAffinity(req("gpu", corev1.NodeSelectorOpDoesNotExist))), node(withLabels("gpu", "1")), nil, []string{ErrReasonNodeAffinity}},
		{"Gt", nodeAffinity{}, makePod("p", "", "", requiredNodeAffinity(req("cores", corev1.NodeSelectorOpGt, "4"))), node(withLabels("cores", "8")), nil, nil},
		{"Gt fails", nodeAffinity{}, makePod("p", "", "", requiredNodeAffinity(req("cores", corev1.NodeSelectorOpGt, "8"))), node(withLabels("cores", "8")), nil, []string{ErrReasonNodeAffinity}},
		{"Lt", nodeAffinity{}, makePod("p", "", "", requiredNodeAffinity(req("cores", corev1.NodeSelectorOpLt, "4"))), node(withLabels("cores", "2")), nil, nil},
		{"invalid Gt value does not match", nodeAffinity{}, makePod("p", "", "", requiredNodeAffinity(req("cores", corev1.NodeSelectorOpGt, "x"))), node(withLabels("cores", "2")), nil, []string{ErrReasonNodeAffinity}},

		{"untolerated NoSchedule", taintToleration{}, makePod("p", "", ""), node(withTaint("dedicated", "gpu", corev1.TaintEffectNoSchedule)), nil, []string{"node(s) had untolerated taint {dedicated: gpu}"}},
		{"untolerated NoExecute", taintToleration{}, makePod("p", "", ""), node(withTaint("k", "", corev1.TaintEffectNoExecute)), nil, []string{"node(s) had untolerated taint {k: }"}},
		{"PreferNoSchedule does not filter", taintToleration{}, makePod("p", "", ""), node(withTaint("k", "v", corev1.TaintEffectPreferNoSchedule)), nil, nil},
		{"tolerated Equal", taintToleration{}, makePod("p", "", "", toleration("dedicated", "gpu", corev1.TolerationOpEqual, corev1.TaintEffectNoSchedule)), node(withTaint("dedicated", "gpu", corev1.TaintEffectNoSchedule)), nil, nil},
		{"tolerated Exists any effect", taintToleration{}, makePod("p", "", "", toleration("dedicated", "", corev1.TolerationOpExists, "")), node(withTaint("dedicated", "gpu", corev1.TaintEffectNoExecute)), nil, nil},
		{"wrong value", taintToleration{}, makePod("p", "", "", toleration("dedicated", "cpu", corev1.TolerationOpEqual, "")), node(withTaint("dedicated", "gpu", corev1.TaintEffectNoSchedule)), nil, []string{"node(s) had untolerated taint {dedicated: gpu}"}},
		{"not ready", taintToleration{}, makePod("p", "", ""), node(withReady(corev1.ConditionFalse)), nil, []string{"node(s) had untolerated taint {node.kubernetes.io/not-ready: }"}},
		{"unknown readiness", taintToleration{}, makePod("p", "", ""), node(withReady(corev1.ConditionUnknown)), nil, []string{"node(s) had untolerated taint {node.kubernetes.io/unreachable: }"}},
		{"not ready tolerated", taintToleration{}, makePod("p", "", "", toleration(TaintNodeNotReady, "", corev1.TolerationOpExists, corev1.TaintEffectNoSchedule)), node(withReady(corev1.ConditionFalse)), nil, nil},

		{"unschedulable", nodeUnschedulable{}, makePod("p", "", ""), node(unschedulable()), nil, []string{ErrReasonUnschedulable}},
		{"unschedulable tolerated", nodeUnschedulable{}, makePod("p", "", "", toleration(TaintNodeUnschedulable, "", corev1.TolerationOpExists, corev1.TaintEffectNoSchedule)), node(unschedulable()), nil, nil},
		{"schedulable", nodeUnschedulable{}, makePod("p", "", ""), node(), nil, nil},

		{"port free", nodePorts{}, makePod("p", "", "", hostPort(8080, "", "")), node(), []*corev1.Pod{makePod("e", "", "", onNode("n1"), hostPort(8081, "", ""))}, nil},
		{"port taken", nodePorts{}, makePod("p", "", "", hostPort(8080, "", "")), node(), []*corev1.Pod{makePod("e", "", "", onNode("n1"), hostPort(8080, "", ""))}, []string{ErrReasonNodePorts}},
		{"other protocol", nodePorts{}, makePod("p", "", "", hostPort(53, "", corev1.ProtocolUDP)), node(), []*corev1.Pod{makePod("e", "", "", onNode("n1"), hostPort(53, "", ""))}, nil},
		{"specific IP vs wildcard", nodePorts{}, makePod("p", "", "", hostPort(80, "10.0.0.1", "")), node(), []*corev1.Pod{makePod("e", "", "", onNode("n1"), hostPort(80, "", ""))}, []string{ErrReasonNodePorts}},
		{"wildcard vs specific IP", nodePorts{}, makePod("p", "", "", hostPort(80, "", "")), node(), []*corev1.Pod{makePod("e", "", "", onNode("n1"), hostPort(80, "10.0.0.1", ""))}, []string{ErrReasonNodePorts}},
		{"different IPs", nodePorts{}, makePod("p", "", "", hostPort(80, "10.0.0.2", "")), node(), []*corev1.Pod{makePod("e", "", "", onNode("n1"), hostPort(80, "10.0.0.1", ""))}, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := runFilter(tc.plugin, tc.pod, tc.node, tc.existing...)
			if !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("reasons = %q, want %q", got, tc.want)
			}
		})
	}
}

func TestPodRequests(t *testing.T) {
	always := corev1.ContainerRestartPolicyAlways
	rl := func(cpu, mem string) corev1.ResourceRequirements {
		return corev1.ResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse(cpu), corev1.ResourceMemory: resource.MustParse(mem)}}
	}
	p := makePod("p", "", "")
	p.Spec.Containers = []corev1.Container{{Name: "a", Resources: rl("500m", "100Mi")}, {Name: "b", Resources: rl("500m", "100Mi")}}
	p.Spec.InitContainers = []corev1.Container{
		{Name: "init1", Resources: rl("2", "50Mi")},
		{Name: "sidecar", RestartPolicy: &always, Resources: rl("200m", "300Mi")},
		{Name: "init2", Resources: rl("1900m", "10Mi")},
	}
	got := computePodRequests(p).req
	// cpu: max(1000+200, max(2000, 1900+200)) = 2100; memory: max(200+300, max(50, 10+300)) = 500Mi
	want := Resource{MilliCPU: 2100, Memory: 500 << 20, Pods: 1}
	if got != want {
		t.Fatalf("requests = %+v, want %+v", got, want)
	}
	nz := computePodRequests(makePod("q", "", "")).nonZero
	if nz.MilliCPU != DefaultMilliCPURequest || nz.Memory != DefaultMemoryRequest {
		t.Fatalf("non-zero requests = %+v", nz)
	}
}

func TestScorePlugins(t *testing.T) {
	score := func(sp ScorePlugin, pod *corev1.Pod, node *corev1.Node, existing ...*corev1.Pod) int64 {
		snap := NewSnapshot([]*corev1.Node{node}, existing)
		pi, err := NewPodInfo(pod)
		if err != nil {
			t.Fatal(err)
		}
		return sp.Score(pi, snap.Get(node.Name))
	}
	tests := []struct {
		name     string
		plugin   ScorePlugin
		pod      *corev1.Pod
		node     *corev1.Node
		existing []*corev1.Pod
		want     int64
	}{
		// (4000-1000)*100/4000 = 75, (8Gi-2Gi)*100/8Gi = 75
		{"least allocated", nodeResourcesFit{}, makePod("p", "1", "2Gi"), makeNode("n", "4", "8Gi", 10), nil, 75},
		// cpu (4000-3000)/4000 = 25, mem (8Gi-6Gi) = 25 -> 25
		{"least allocated with pods", nodeResourcesFit{}, makePod("p", "1", "2Gi"), makeNode("n", "4", "8Gi", 10), []*corev1.Pod{makePod("e", "2", "4Gi", onNode("n"))}, 25},
		// non-zero defaults: 100m of 1000 -> 90; 200Mi of 1000Mi -> 80; (90+80)/2 = 85
		{"least allocated non-zero defaults", nodeResourcesFit{}, makePod("p", "", ""), makeNode("n", "1", "1000Mi", 10), nil, 85},
		{"balanced equal", balancedAllocation{}, makePod("p", "1", "2Gi"), makeNode("n", "4", "8Gi", 10), nil, 100},
		// cpu 0.5, mem 0.25 -> std .125 -> 87
		{"balanced skewed", balancedAllocation{}, makePod("p", "2", "2Gi"), makeNode("n", "4", "8Gi", 10), nil, 87},
		{"taint prefer count", taintToleration{}, makePod("p", "", "", toleration("a", "", corev1.TolerationOpExists, corev1.TaintEffectPreferNoSchedule)),
			makeNode("n", "1", "1Gi", 10, withTaint("a", "1", corev1.TaintEffectPreferNoSchedule), withTaint("b", "1", corev1.TaintEffectPreferNoSchedule), withTaint("c", "1", corev1.TaintEffectPreferNoSchedule)), nil, 2},
		{"taint NoSchedule toleration does not count", taintToleration{}, makePod("p", "", "", toleration("a", "", corev1.TolerationOpExists, corev1.TaintEffectNoSchedule)),
			makeNode("n", "1", "1Gi", 10, withTaint("a", "1", corev1.TaintEffectPreferNoSchedule)), nil, 1},
		{"affinity preferred", nodeAffinity{}, makePod("p", "", "", preferredAffinity(
			corev1.PreferredSchedulingTerm{Weight: 5, Preference: corev1.NodeSelectorTerm{MatchExpressions: []corev1.NodeSelectorRequirement{req("zone", corev1.NodeSelectorOpIn, "a")}}},
			corev1.PreferredSchedulingTerm{Weight: 3, Preference: corev1.NodeSelectorTerm{MatchExpressions: []corev1.NodeSelectorRequirement{req("disk", corev1.NodeSelectorOpExists)}}},
			corev1.PreferredSchedulingTerm{Weight: 7, Preference: corev1.NodeSelectorTerm{MatchExpressions: []corev1.NodeSelectorRequirement{req("zone", corev1.NodeSelectorOpIn, "b")}}},
		)), makeNode("n", "1", "1Gi", 10, withLabels("zone", "a", "disk", "ssd")), nil, 8},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := score(tc.plugin, tc.pod, tc.node, tc.existing...); got != tc.want {
				t.Fatalf("score = %d, want %d", got, tc.want)
			}
		})
	}
}

func TestNormalize(t *testing.T) {
	s := []int64{0, 2, 4}
	defaultNormalizeScore(MaxNodeScore, true, s)
	if !reflect.DeepEqual(s, []int64{100, 50, 0}) {
		t.Fatalf("reverse = %v", s)
	}
	s = []int64{0, 0}
	defaultNormalizeScore(MaxNodeScore, true, s)
	if !reflect.DeepEqual(s, []int64{100, 100}) {
		t.Fatalf("reverse zero = %v", s)
	}
	s = []int64{3, 6, 0}
	defaultNormalizeScore(MaxNodeScore, false, s)
	if !reflect.DeepEqual(s, []int64{50, 100, 0}) {
		t.Fatalf("forward = %v", s)
	}
}
