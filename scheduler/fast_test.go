package scheduler

import (
	"errors"
	"fmt"
	"math/rand"
	"strconv"
	"testing"

	corev1 "k8s.io/api/core/v1"
)

// randomCluster builds n nodes with varied labels, taints, readiness,
// capacity and bound pods (some holding host ports).
func randomCluster(rng *rand.Rand, n int) ([]*corev1.Node, []*corev1.Pod) {
	var nodes []*corev1.Node
	var pods []*corev1.Pod
	for i := 0; i < n; i++ {
		name := fmt.Sprintf("n%03d", rng.Intn(n*2)) // duplicates: the last object wins
		var opts []nodeOpt
		if rng.Intn(4) > 0 {
			opts = append(opts, withLabels("zone", fmt.Sprintf("z%d", rng.Intn(4))))
		}
		if rng.Intn(3) == 0 {
			opts = append(opts, withLabels("gen", []string{"1", "2", "3", "x", "-4"}[rng.Intn(5)]))
		}
		if rng.Intn(5) == 0 {
			opts = append(opts, withLabels("gpu", ""))
		}
		switch rng.Intn(8) {
		case 0:
			opts = append(opts, withTaint("dedicated", []string{"infra", "gpu"}[rng.Intn(2)], corev1.TaintEffectNoSchedule))
		case 1:
			opts = append(opts, withTaint("soft", "x", corev1.TaintEffectPreferNoSchedule))
		case 2:
			opts = append(opts, withTaint("soft", "y", corev1.TaintEffectPreferNoSchedule), withTaint("soft2", "", corev1.TaintEffectPreferNoSchedule))
		case 3:
			opts = append(opts, withTaint("evict", "", corev1.TaintEffectNoExecute))
		}
		switch rng.Intn(12) {
		case 0:
			opts = append(opts, withReady(corev1.ConditionFalse))
		case 1:
			opts = append(opts, withReady(corev1.ConditionUnknown))
		case 2:
			opts = append(opts, unschedulable())
		}
		cpu := []string{"1", "2", "4", "500m"}[rng.Intn(4)]
		mem := []string{"1Gi", "2Gi", "4Gi", "3000Mi"}[rng.Intn(4)]
		nodes = append(nodes, makeNode(name, cpu, mem, int64(rng.Intn(6)), opts...))
		for j := rng.Intn(4); j > 0; j-- {
			var po []podOpt
			po = append(po, onNode(name))
			if rng.Intn(6) == 0 {
				po = append(po, hostPort(int32(80+rng.Intn(2)), []string{"", "10.0.0.1"}[rng.Intn(2)], ""))
			}
			pods = append(pods, makePod(fmt.Sprintf("e%d-%d", i, j), []string{"", "100m", "300m"}[rng.Intn(3)], []string{"", "128Mi", "700Mi"}[rng.Intn(3)], po...))
		}
	}
	return nodes, pods
}

func randomReq(rng *rand.Rand) corev1.NodeSelectorRequirement {
	switch rng.Intn(8) {
	case 0:
		return req("zone", corev1.NodeSelectorOpIn, "z0", "z1", "nope")
	case 1:
		return req("zone", corev1.NodeSelectorOpNotIn, "z2")
	case 2:
		return req("gpu", corev1.NodeSelectorOpExists)
	case 3:
		return req("gpu", corev1.NodeSelectorOpDoesNotExist)
	case 4:
		return req("gen", corev1.NodeSelectorOpGt, strconv.Itoa(rng.Intn(3)))
	case 5:
		return req("gen", corev1.NodeSelectorOpLt, "3")
	case 6:
		return req("absent", corev1.NodeSelectorOpNotIn, "a")
	default:
		return req("zone", corev1.NodeSelectorOpIn, "bad value!") // invalid: the term matches nothing
	}
}

func randomPod(rng *rand.Rand, nodes []*corev1.Node) *corev1.Pod {
	var opts []podOpt
	if rng.Intn(4) == 0 {
		opts = append(opts, nodeSelector("zone", fmt.Sprintf("z%d", rng.Intn(5))))
	}
	if rng.Intn(2) == 0 {
		var terms []corev1.NodeSelectorTerm
		for k := rng.Intn(3) + 1; k > 0; k-- {
			var t corev1.NodeSelectorTerm
			for m := rng.Intn(3); m > 0; m-- {
				t.MatchExpressions = append(t.MatchExpressions, randomReq(rng))
			}
			if rng.Intn(4) == 0 && len(nodes) > 0 {
				op := []corev1.NodeSelectorOperator{corev1.NodeSelectorOpIn, corev1.NodeSelectorOpNotIn}[rng.Intn(2)]
				t.MatchFields = append(t.MatchFields, req("metadata.name", op, nodes[rng.Intn(len(nodes))].Name))
			}
			terms = append(terms, t)
		}
		opts = append(opts, func(p *corev1.Pod) {
			p.Spec.Affinity = &corev1.Affinity{NodeAffinity: &corev1.NodeAffinity{
				RequiredDuringSchedulingIgnoredDuringExecution: &corev1.NodeSelector{NodeSelectorTerms: terms}}}
		})
	}
	if rng.Intn(2) == 0 {
		var prefs []corev1.PreferredSchedulingTerm
		for k := rng.Intn(3) + 1; k > 0; k-- {
			prefs = append(prefs, corev1.PreferredSchedulingTerm{Weight: int32(rng.Intn(20)), Preference: corev1.NodeSelectorTerm{
				MatchExpressions: []corev1.NodeSelectorRequirement{randomReq(rng)}}})
		}
		for i := range prefs { // an invalid preferred term is an error, tested elsewhere
			if prefs[i].Preference.MatchExpressions[0].Values != nil && prefs[i].Preference.MatchExpressions[0].Values[0] == "bad value!" {
				prefs[i].Preference.MatchExpressions[0].Values[0] = "z3"
			}
		}
		opts = append(opts, preferredAffinity(prefs...))
	}
	switch rng.Intn(5) {
	case 0:
		opts = append(opts, toleration("dedicated", "infra", corev1.TolerationOpEqual, corev1.TaintEffectNoSchedule))
	case 1:
		opts = append(opts, toleration("soft", "", corev1.TolerationOpExists, ""))
	case 2:
		opts = append(opts, toleration("", "", corev1.TolerationOpExists, ""))
	case 3:
		opts = append(opts, toleration(TaintNodeUnschedulable, "", corev1.TolerationOpExists, corev1.TaintEffectNoSchedule))
	}
	if rng.Intn(5) == 0 {
		opts = append(opts, hostPort(80, "", ""))
	}
	if rng.Intn(15) == 0 && len(nodes) > 0 {
		opts = append(opts, onNode(nodes[rng.Intn(len(nodes))].Name))
	}
	return makePod("p", []string{"", "100m", "1", "3"}[rng.Intn(4)], []string{"", "256Mi", "1Gi", "3Gi"}[rng.Intn(4)], opts...)
}

// TestFastPathMatchesPlugins checks that the fused decision path computes
// what the plugins compute: the same node (same rotation), or the same
// FitError message, on random clusters, with the default and non-default
// weights and percentages, sequentially and in parallel.
func TestFastPathMatchesPlugins(t *testing.T) {
	rng := rand.New(rand.NewSource(1))
	optsList := []Options{
		{},
		{PercentageOfNodesToScore: 100, Parallelism: 2},
		{PercentageOfNodesToScore: 7, ScoreWeights: map[string]int64{TaintTolerationName: 0, NodeResourcesFitName: 5}},
		{ScoreWeights: map[string]int64{NodeAffinityName: 0, BalancedAllocationName: 0}},
	}
	decisions, fits, failures := 0, 0, 0
	for round := 0; round < 60; round++ {
		n := []int{1, 3, 20, 150, 400}[round%5]
		nodes, pods := randomCluster(rng, n)
		for oi, o := range optsList {
			fast, slow := mustFramework(o), mustFramework(o)
			if !fast.fast {
				t.Fatalf("options %d: fast path not selected", oi)
			}
			slow.fast = false
			fast.parallelMin = 16 // exercise evalParallel on small clusters
			snap := NewSnapshot(nodes, pods)
			for k := 0; k < 15; k++ {
				pod := randomPod(rng, nodes)
				start := rng.Int63n(int64(n))
				fast.nextStart.Store(start)
				slow.nextStart.Store(start)
				gotNode, gotErr := fast.Schedule(snap, pod)
				wantNode, wantErr := slow.Schedule(snap, pod)
				decisions++
				if gotNode != wantNode || fmt.Sprint(gotErr) != fmt.Sprint(wantErr) {
					t.Fatalf("round %d opts %d pod %+v\nfast: %q %v\nslow: %q %v", round, oi, pod.Spec, gotNode, gotErr, wantNode, wantErr)
				}
				if fast.nextStart.Load() != slow.nextStart.Load() {
					t.Fatalf("round %d opts %d: next start %d, plugins %d", round, oi, fast.nextStart.Load(), slow.nextStart.Load())
				}
				var fe1, fe2 *FitError
				if errors.As(gotErr, &fe1) && errors.As(wantErr, &fe2) {
					failures++
					for name, st := range fe2.NodeToStatus {
						if fe1.NodeToStatus[name] != st {
							t.Fatalf("node %s: status %v, plugins %v", name, fe1.NodeToStatus[name], st)
						}
					}
				} else if gotErr == nil {
					fits++
					// Assume the pod so later decisions see fuller nodes.
					a := pod.DeepCopy()
					a.Spec.NodeName = gotNode
					snap.AddPod(a)
				}
			}
		}
	}
	if fits < decisions/4 || failures < decisions/10 {
		t.Fatalf("poor coverage: %d decisions, %d fit, %d failed", decisions, fits, failures)
	}
}

func TestFastPathSelection(t *testing.T) {
	if !mustFramework(Options{}).fast {
		t.Fatal("default framework does not use the fused path")
	}
	reg := DefaultRegistry()
	reg.Filters[0], reg.Filters[1] = reg.Filters[1], reg.Filters[0]
	if mustFramework(Options{Registry: &reg}).fast {
		t.Fatal("reordered filters use the fused path")
	}
	reg = DefaultRegistry()
	reg.Scores = append(reg.Scores, WeightedScorePlugin{Plugin: constScore{}, Weight: 1})
	if mustFramework(Options{Registry: &reg}).fast {
		t.Fatal("custom score plugin uses the fused path")
	}
}

type constScore struct{}

func (constScore) Name() string                    { return "Const" }
func (constScore) Score(*PodInfo, *NodeInfo) int64 { return 1 }

// TestLabelTableRefcounts checks that interned labels are freed when no node
// uses them and that matching follows node label updates.
func TestLabelTableRefcounts(t *testing.T) {
	snap := NewSnapshot(nil, nil)
	for i := 0; i < 50; i++ {
		snap.UpdateNode(makeNode(fmt.Sprintf("n%d", i), "1", "1Gi", 10, withLabels("zone", "a")))
	}
	for i := 0; i < 50; i++ {
		snap.UpdateNode(makeNode(fmt.Sprintf("n%d", i), "1", "1Gi", 10, withLabels("zone", "b")))
		snap.RemoveNode(fmt.Sprintf("n%d", i))
	}
	if got := len(snap.labels.ids); got != 0 {
		t.Fatalf("%d interned strings after removing every node, want 0", got)
	}
	snap.UpdateNode(makeNode("x", "1", "1Gi", 10, withLabels("zone", "a")))
	snap.UpdateNode(makeNode("x", "1", "1Gi", 10, withLabels("zone", "b")))
	fw := mustFramework(Options{})
	if _, err := fw.Schedule(snap, makePod("p", "", "", nodeSelector("zone", "a"))); err == nil {
		t.Fatal("pod selecting zone=a scheduled onto a node relabelled zone=b")
	}
	if got, err := fw.Schedule(snap, makePod("p", "", "", nodeSelector("zone", "b"))); err != nil || got != "x" {
		t.Fatalf("Schedule = %q, %v; want x", got, err)
	}
}

func TestLeastRequestedFast(t *testing.T) {
	rng := rand.New(rand.NewSource(2))
	caps := []int64{1, 3, 7, 1000, 4000, 1 << 30, 16 << 30, 1<<53/100 - 1, 1 << 52, 1 << 62}
	for _, c := range caps {
		for i := 0; i < 2000; i++ {
			r := rng.Int63n(c + 1)
			if i%3 == 0 {
				r = c - int64(i%7)
			}
			if got, want := leastRequestedFast(r, c), leastRequestedScore(r, c); got != want {
				t.Fatalf("leastRequestedFast(%d, %d) = %d, want %d", r, c, got, want)
			}
		}
	}
}
