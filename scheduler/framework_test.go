package scheduler

import (
	"errors"
	"fmt"
	"testing"

	corev1 "k8s.io/api/core/v1"
)

func TestFitErrorMessages(t *testing.T) {
	fw := mustFramework(Options{})
	tests := []struct {
		name  string
		nodes []*corev1.Node
		pods  []*corev1.Pod
		pod   *corev1.Pod
		want  string
	}{
		{
			name: "affinity and memory",
			nodes: []*corev1.Node{
				makeNode("a", "4", "1Gi", 10, withLabels("zone", "x")),
				makeNode("b", "4", "1Gi", 10, withLabels("zone", "y")),
				makeNode("c", "4", "8Gi", 10, withLabels("zone", "z")),
			},
			pod:  makePod("p", "1", "2Gi", requiredNodeAffinity(req("zone", corev1.NodeSelectorOpIn, "x", "y"))),
			want: "0/3 nodes are available: 1 node(s) didn't match Pod's node affinity/selector, 2 Insufficient memory.",
		},
		{
			name: "multiple reasons per node, taints, unschedulable, not ready",
			nodes: []*corev1.Node{
				makeNode("a", "1", "1Gi", 10),
				makeNode("b", "4", "8Gi", 10, withTaint("dedicated", "gpu", corev1.TaintEffectNoSchedule)),
				makeNode("c", "4", "8Gi", 10, unschedulable()),
				makeNode("d", "4", "8Gi", 10, withReady(corev1.ConditionFalse)),
				makeNode("e", "1", "1Gi", 0),
			},
			pod:  makePod("p", "2", "2Gi"),
			want: "0/5 nodes are available: 1 Too many pods, 1 node(s) had untolerated taint {dedicated: gpu}, 1 node(s) had untolerated taint {node.kubernetes.io/not-ready: }, 1 node(s) were unschedulable, 2 Insufficient cpu, 2 Insufficient memory.",
		},
		{
			name:  "ports",
			nodes: []*corev1.Node{makeNode("a", "1", "1Gi", 10)},
			pods:  []*corev1.Pod{makePod("e", "", "", onNode("a"), hostPort(80, "", ""))},
			pod:   makePod("p", "", "", hostPort(80, "", "")),
			want:  "0/1 nodes are available: 1 node(s) didn't have free ports for the requested pod ports.",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := fw.Schedule(NewSnapshot(tc.nodes, tc.pods), tc.pod)
			var fe *FitError
			if !errors.As(err, &fe) {
				t.Fatalf("err = %v, want *FitError", err)
			}
			if err.Error() != tc.want {
				t.Fatalf("message\n got: %s\nwant: %s", err.Error(), tc.want)
			}
		})
	}

	// Lexical (sort.Strings) order of "count reason" entries, as upstream.
	fe := &FitError{NumAllNodes: 12, NodeToStatus: map[string]*Status{}}
	for i := 0; i < 10; i++ {
		fe.NodeToStatus[fmt.Sprint("m", i)] = statusNodeAffinity
	}
	fe.NodeToStatus["x"] = statusFit[4]
	fe.NodeToStatus["y"] = statusFit[4]
	if got, want := fe.Error(), "0/12 nodes are available: 10 node(s) didn't match Pod's node affinity/selector, 2 Insufficient memory."; got != want {
		t.Fatalf("got %q want %q", got, want)
	}

	if _, err := fw.Schedule(NewSnapshot(nil, nil), makePod("p", "", "")); !errors.Is(err, ErrNoNodesAvailable) || err.Error() != "no nodes available to schedule pods" {
		t.Fatalf("zero nodes: %v", err)
	}
}

func TestSchedulePlacement(t *testing.T) {
	fw := mustFramework(Options{})
	nodes := []*corev1.Node{
		makeNode("small", "1", "1Gi", 10),
		makeNode("big", "8", "16Gi", 10),
		makeNode("tainted", "16", "32Gi", 10, withTaint("soft", "x", corev1.TaintEffectPreferNoSchedule)),
	}
	snap := NewSnapshot(nodes, nil)
	// LeastAllocated alone would pick "tainted"; PreferNoSchedule (weight 3) wins.
	got, err := fw.Schedule(snap, makePod("p", "500m", "512Mi"))
	if err != nil || got != "big" {
		t.Fatalf("got %q, %v; want big", got, err)
	}
	// Tolerating the soft taint lets resources decide.
	got, _ = fw.Schedule(snap, makePod("p", "500m", "512Mi", toleration("soft", "", corev1.TolerationOpExists, "")))
	if got != "tainted" {
		t.Fatalf("got %q, want tainted", got)
	}
	// Preferred affinity (weight 2, normalized to 100) outweighs resources.
	got, _ = fw.Schedule(snap, makePod("p", "100m", "", preferredAffinity(corev1.PreferredSchedulingTerm{Weight: 1,
		Preference: corev1.NodeSelectorTerm{MatchExpressions: []corev1.NodeSelectorRequirement{req("kubernetes.io/hostname", corev1.NodeSelectorOpIn, "small")}}})))
	if got != "small" {
		t.Fatalf("got %q, want small", got)
	}
	// Ties go to the smallest name.
	tie := NewSnapshot([]*corev1.Node{makeNode("b", "1", "1Gi", 10), makeNode("a", "1", "1Gi", 10), makeNode("c", "1", "1Gi", 10)}, nil)
	for i := 0; i < 3; i++ {
		if got, _ := fw.Schedule(tie, makePod("p", "", "")); got != "a" {
			t.Fatalf("tie: got %q, want a", got)
		}
	}
	// Weight overrides: with TaintToleration disabled resources decide.
	fw2 := mustFramework(Options{ScoreWeights: map[string]int64{TaintTolerationName: 0}})
	if got, _ := fw2.Schedule(snap, makePod("p", "500m", "512Mi")); got != "tainted" {
		t.Fatalf("weights override: got %q", got)
	}
	if _, err := NewFramework(Options{ScoreWeights: map[string]int64{"ImageLocality": 1}}); err == nil {
		t.Fatal("unknown plugin weight accepted")
	}
	if _, err := NewFramework(Options{PercentageOfNodesToScore: 101}); err == nil {
		t.Fatal("percentage 101 accepted")
	}
}

func TestNumFeasibleNodesToFind(t *testing.T) {
	fw := mustFramework(Options{})
	for _, tc := range []struct{ nodes, want int }{{10, 10}, {99, 99}, {100, 100}, {200, 100}, {1000, 420}, {5000, 500}, {6000, 300}, {100000, 5000}} {
		if got := fw.numFeasibleNodesToFind(tc.nodes); got != tc.want {
			t.Errorf("numFeasibleNodesToFind(%d) = %d, want %d", tc.nodes, got, tc.want)
		}
	}
	fixed := mustFramework(Options{PercentageOfNodesToScore: 30})
	if got := fixed.numFeasibleNodesToFind(1000); got != 300 {
		t.Errorf("fixed 30%%: %d", got)
	}
}

func TestRotatingStartIndex(t *testing.T) {
	fw := mustFramework(Options{Parallelism: 2})
	var nodes []*corev1.Node
	for i := 0; i < 1000; i++ {
		nodes = append(nodes, makeNode(fmt.Sprintf("n%04d", i), "4", "8Gi", 110))
	}
	snap := NewSnapshot(nodes, nil)
	// 420 nodes are examined per decision; all tie, so the winner is the
	// smallest name among the examined window, which rotates.
	want := []string{"n0000", "n0420", "n0000"} // window 3 is 840..259 (wraps), contains n0000
	for i, w := range want {
		got, err := fw.Schedule(snap, makePod("p", "", ""))
		if err != nil || got != w {
			t.Fatalf("decision %d: got %q, %v; want %q", i, got, err, w)
		}
	}
}
