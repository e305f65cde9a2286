package apiserver

import (
	corev1 "k8s.io/api/core/v1"
)

// DefaultTolerationSeconds is upstream's DefaultTolerationSeconds admission
// plugin's default (--default-not-ready-toleration-seconds and
// --default-unreachable-toleration-seconds, 300 s).
const DefaultTolerationSeconds int64 = 300

// admitDefaultTolerationSeconds is upstream's DefaultTolerationSeconds
// admission plugin, on pod creation: a pod that does not tolerate the
// node.kubernetes.io/not-ready or unreachable NoExecute taint (a
// toleration of that key or of every key, with effect NoExecute or any)
// gets one for 300 s, so the taint eviction controller evicts it five
// minutes after its node stopped answering rather than at once.
func admitDefaultTolerationSeconds(p *corev1.Pod) {
	notReady, unreachable := false, false
	for _, t := range p.Spec.Tolerations {
		if t.Effect != corev1.TaintEffectNoExecute && t.Effect != "" {
			continue
		}
		notReady = notReady || t.Key == corev1.TaintNodeNotReady || t.Key == ""
		unreachable = unreachable || t.Key == corev1.TaintNodeUnreachable || t.Key == ""
	}
	for _, add := range []struct {
		key string
		has bool
	}{{corev1.TaintNodeNotReady, notReady}, {corev1.TaintNodeUnreachable, unreachable}} {
		if !add.has {
			secs := DefaultTolerationSeconds
			p.Spec.Tolerations = append(p.Spec.Tolerations, corev1.Toleration{Key: add.key, Operator: corev1.TolerationOpExists,
				Effect: corev1.TaintEffectNoExecute, TolerationSeconds: &secs})
		}
	}
}
