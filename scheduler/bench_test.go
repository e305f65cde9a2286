package scheduler

import (
	"fmt"
	"testing"

	corev1 "k8s.io/api/core/v1"
)

func benchSnapshot(numNodes int) *Snapshot {
	nodes := make([]*corev1.Node, 0, numNodes)
	var pods []*corev1.Pod
	for i := 0; i < numNodes; i++ {
		name := fmt.Sprintf("node-%05d", i)
		var opts []nodeOpt
		opts = append(opts, withLabels("zone", fmt.Sprintf("z%d", i%4)))
		if i%10 == 0 {
			opts = append(opts, withTaint("dedicated", "infra", corev1.TaintEffectNoSchedule))
		}
		if i%7 == 0 {
			opts = append(opts, withTaint("soft", "x", corev1.TaintEffectPreferNoSchedule))
		}
		nodes = append(nodes, makeNode(name, "8", "16Gi", 110, opts...))
		for j := 0; j < i%5; j++ {
			pods = append(pods, makePod(fmt.Sprintf("p-%d-%d", i, j), "250m", "256Mi", onNode(name)))
		}
	}
	return NewSnapshot(nodes, pods)
}

// BenchmarkSchedule measures decisions/s for one pod (with a node selector,
// a preferred affinity term and requests) against 1,000 and 5,000 nodes.
func BenchmarkSchedule(b *testing.B) {
	for _, n := range []int{1000, 5000} {
		b.Run(fmt.Sprintf("nodes=%d", n), func(b *testing.B) {
			snap := benchSnapshot(n)
			fw := mustFramework(Options{})
			plain := makePod("plain", "500m", "512Mi")
			pod := makePod("bench", "500m", "512Mi",
				requiredNodeAffinity(req("zone", corev1.NodeSelectorOpIn, "z0", "z1", "z2")),
				preferredAffinity(corev1.PreferredSchedulingTerm{Weight: 10, Preference: corev1.NodeSelectorTerm{
					MatchExpressions: []corev1.NodeSelectorRequirement{req("zone", corev1.NodeSelectorOpIn, "z1")}}}))
			for _, tc := range []struct {
				name string
				pod  *corev1.Pod
			}{{"affinity", pod}, {"requests-only", plain}} {
				b.Run(tc.name, func(b *testing.B) {
					b.ReportAllocs()
					for i := 0; i < b.N; i++ {
						if _, err := fw.Schedule(snap, tc.pod); err != nil {
							b.Fatal(err)
						}
					}
					b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "decisions/s")
				})
			}
		})
	}
}
