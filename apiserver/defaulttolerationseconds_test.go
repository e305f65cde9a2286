package apiserver

import (
	"context"
	"fmt"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Upstream's DefaultTolerationSeconds admission: 300 s tolerations of the
// not-ready and unreachable NoExecute taints, unless the pod has its own.
func TestDefaultTolerationSecondsAdmission(t *testing.T) {
	e := newEnv(t, HandlerOptions{})
	cs := e.client(t, "http")
	secs := int64(7)
	for _, tc := range []struct {
		name string
		tols []corev1.Toleration
		want string
	}{
		{"none", nil, "[node.kubernetes.io/not-ready:Exists:NoExecute:300 node.kubernetes.io/unreachable:Exists:NoExecute:300]"},
		{"own-unreachable", []corev1.Toleration{{Key: corev1.TaintNodeUnreachable, Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoExecute, TolerationSeconds: &secs}},
			"[node.kubernetes.io/unreachable:Exists:NoExecute:7 node.kubernetes.io/not-ready:Exists:NoExecute:300]"},
		{"everything", []corev1.Toleration{{Operator: corev1.TolerationOpExists}}, "[:Exists::-]"},
		{"noschedule-only", []corev1.Toleration{{Key: corev1.TaintNodeNotReady, Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoSchedule}},
			"[node.kubernetes.io/not-ready:Exists:NoSchedule:- node.kubernetes.io/not-ready:Exists:NoExecute:300 node.kubernetes.io/unreachable:Exists:NoExecute:300]"},
	} {
		p := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: tc.name}, Spec: corev1.PodSpec{Tolerations: tc.tols,
			Containers: []corev1.Container{{Name: "c", Image: "wasmpod.local/hello:1"}}}}
		got, err := cs.CoreV1().Pods("default").Create(context.Background(), p, metav1.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		var s []string
		for _, tl := range got.Spec.Tolerations {
			secs := "-"
			if tl.TolerationSeconds != nil {
				secs = fmt.Sprint(*tl.TolerationSeconds)
			}
			s = append(s, fmt.Sprintf("%s:%s:%s:%s", tl.Key, tl.Operator, tl.Effect, secs))
		}
		if fmt.Sprint(s) != tc.want {
			t.Errorf("%s: tolerations %v, want %s", tc.name, s, tc.want)
		}
	}
}
