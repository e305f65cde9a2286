package wasmpod_test

// A container's writable root file system (pods/rootfs.go) with upstream's
// busybox manifests, real pods and the real kubectl: /tmp is writable and
// an exec sees what the container wrote, a restart starts with a fresh
// layer, readOnlyRootFilesystem refuses writes, and limits.ephemeral-storage
// evicts a pod filling /tmp.

import (
	"context"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func TestRootfsWritableKubectl(t *testing.T) {
	t.Parallel()
	c := newTestCluster(t)
	kubectl, _ := serveKubectl(t, c)
	cs := c.Client()
	create := func(t *testing.T, p *corev1.Pod) {
		t.Helper()
		if _, err := cs.CoreV1().Pods("default").Create(context.Background(), p, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	containerStatus := func(p *corev1.Pod) *corev1.ContainerStatus {
		if len(p.Status.ContainerStatuses) == 0 {
			return &corev1.ContainerStatus{}
		}
		return &p.Status.ContainerStatuses[0]
	}

	t.Run("writable and fresh per instance", func(t *testing.T) {
		t.Parallel()
		// Each instance says whether it found the previous one's file,
		// writes its own, and ends after a while (then restarts).
		p := busyboxPod("rootfs-rw", "sh", "-c",
			"if [ -e /tmp/health ]; then echo stale; else echo fresh; fi; echo ok >/tmp/health; mkdir -p /app/cache; sleep 3; exit 1")
		p.Spec.RestartPolicy = corev1.RestartPolicyAlways
		create(t, p)
		waitFor(t, "running", time.Minute, func() bool { return containerStatus(getPod(t, cs, p.Name)).State.Running != nil })
		if out, code := kubectl("exec", p.Name, "--", "cat", "/tmp/health"); code != 0 || out != "ok\n" {
			t.Errorf("kubectl exec cat /tmp/health: exit %d %q", code, out)
		}
		if out, code := kubectl("exec", p.Name, "--", "sh", "-c", "ls -d /app/cache && touch /tmp/x && echo done"); code != 0 || out != "/app/cache\ndone\n" {
			t.Errorf("kubectl exec touch /tmp/x: exit %d %q", code, out)
		}
		waitFor(t, "a restart", 2*time.Minute, func() bool {
			cs := containerStatus(getPod(t, cs, p.Name))
			return cs.RestartCount >= 1 && cs.State.Running != nil
		})
		out, code := kubectl("logs", p.Name)
		if code != 0 || !strings.HasPrefix(out, "fresh\n") {
			t.Errorf("kubectl logs of the restarted instance: exit %d %q, want fresh", code, out)
		}
		if out, code := kubectl("logs", "--previous", p.Name); code != 0 || out != "fresh\n" {
			t.Errorf("kubectl logs --previous: exit %d %q", code, out)
		}
	})

	t.Run("readOnlyRootFilesystem", func(t *testing.T) {
		t.Parallel()
		p := busyboxPod("rootfs-ro", "sh", "-c", "echo ok >/tmp/health && echo wrote")
		ro := true
		p.Spec.Containers[0].SecurityContext = &corev1.SecurityContext{ReadOnlyRootFilesystem: &ro}
		create(t, p)
		waitFor(t, "done", time.Minute, func() bool {
			ph := getPod(t, cs, p.Name).Status.Phase
			return ph == corev1.PodFailed || ph == corev1.PodSucceeded
		})
		if ph := getPod(t, cs, p.Name).Status.Phase; ph != corev1.PodFailed {
			t.Errorf("phase %s, want Failed", ph)
		}
		if out, _ := kubectl("logs", p.Name); !strings.Contains(out, "Read-only file system") || strings.Contains(out, "wrote") {
			t.Errorf("kubectl logs: %q, want a read-only error", out)
		}
	})

	t.Run("ephemeral-storage limit evicts", func(t *testing.T) {
		t.Parallel()
		// 64 KiB lines appended to /tmp/fill until the write fails (the
		// layer's hard bound is twice the 1Mi limit), then hold.
		p := busyboxPod("rootfs-evict", "sh", "-c",
			"s=0123456789abcdef; for i in 1 2 3 4 5 6 7 8 9 10 11 12; do s=$s$s; done; "+
				"while echo $s >>/tmp/fill; do :; done; echo filled; sleep 600")
		p.Spec.RestartPolicy = corev1.RestartPolicyAlways
		p.Spec.Containers[0].Resources.Limits = corev1.ResourceList{corev1.ResourceEphemeralStorage: resource.MustParse("1Mi")}
		create(t, p)
		waitFor(t, "evicted", 2*time.Minute, func() bool { return getPod(t, cs, p.Name).Status.Reason == "Evicted" })
		want := `Container c exceeded its local ephemeral storage limit "1Mi". `
		got := getPod(t, cs, p.Name)
		if got.Status.Message != want {
			t.Errorf("message %q, want %q", got.Status.Message, want)
		}
		waitFor(t, "Failed", time.Minute, func() bool { return getPod(t, cs, p.Name).Status.Phase == corev1.PodFailed })
		// STATUS is the pod's reason, unless a container's terminated
		// state has one (upstream's printPod): a container killed by the
		// eviction and seen terminated ("Error") before the listing shows
		// that instead.
		out, code := kubectl("get", "pod", p.Name)
		if code != 0 || !strings.Contains(out, "Evicted") && !strings.Contains(out, "Error") {
			t.Errorf("kubectl get pod: exit %d\n%s", code, out)
		}
		if ev := podEvents(t, cs, p.Name); !strings.Contains(ev, "Evicted") || !strings.Contains(ev, "exceeded its local ephemeral storage limit") {
			t.Errorf("events:\n%s", ev)
		}
	})
}
