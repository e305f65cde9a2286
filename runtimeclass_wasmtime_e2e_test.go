//go:build wasmtime && cgo

package wasmpod_test

// Pods on the wasmtime engine through a RuntimeClass (run by .ci/run with
// -tags wasmtime and CGO_ENABLED=1).

import (
	"context"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func TestRuntimeClassWasmtimePods(t *testing.T) {
	t.Parallel()
	c, cs := runtimeClassCluster(t, map[string]string{"wasmtime": "wasmtime"})
	ctx := context.Background()
	if _, err := cs.CoreV1().Pods("default").Create(ctx, classPod("hello-wt", "wasmpod.local/hello:v1", "wasmtime", "a", "b"), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	// A busy loop on wasmtime is stopped at activeDeadlineSeconds (the
	// engine's epoch interruption).
	spin := classPod("spin-wt", "wasmpod.local/spin:v1", "wasmtime")
	deadline := int64(1)
	spin.Spec.ActiveDeadlineSeconds = &deadline
	if _, err := cs.CoreV1().Pods("default").Create(ctx, spin, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "hello-wt to succeed", 60*time.Second, func() bool { return getPod(t, cs, "hello-wt").Status.Phase == corev1.PodSucceeded })
	st := getPod(t, cs, "hello-wt").Status.ContainerStatuses[0]
	if !strings.HasPrefix(st.ContainerID, "wasmtime://") || st.State.Terminated == nil || st.State.Terminated.ExitCode != 0 {
		t.Errorf("hello-wt status %+v, want a wasmtime:// container that exited 0", st)
	}
	if out := podLogs(t, c, "hello-wt", "main"); !strings.Contains(out, "args: a b") {
		t.Errorf("hello-wt logs %q", out)
	}
	waitFor(t, "spin-wt to be killed", 60*time.Second, func() bool {
		p := getPod(t, cs, "spin-wt")
		return p.Status.Phase == corev1.PodFailed && len(p.Status.ContainerStatuses) == 1 && p.Status.ContainerStatuses[0].State.Terminated != nil
	})
	p := getPod(t, cs, "spin-wt")
	if p.Status.Reason != "DeadlineExceeded" || p.Status.ContainerStatuses[0].State.Terminated == nil ||
		p.Status.ContainerStatuses[0].State.Terminated.ExitCode != 137 {
		t.Errorf("spin-wt: reason %q statuses %+v, want DeadlineExceeded and exit 137", p.Status.Reason, p.Status.ContainerStatuses)
	}
}
