package pods

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"

	"github.com/wasmpod/wasmpod/runtime"
	"github.com/wasmpod/wasmpod/runtime/wasi"
)

func sizedEmptyDir(name, limit string, medium corev1.StorageMedium) corev1.Volume {
	ed := &corev1.EmptyDirVolumeSource{Medium: medium}
	if limit != "" {
		q := resource.MustParse(limit)
		ed.SizeLimit = &q
	}
	return corev1.Volume{Name: name, VolumeSource: corev1.VolumeSource{EmptyDir: ed}}
}

// TestEmptyDirSizeLimitEnforced: issue 8's guest wrote 2 GiB and a 1 TiB
// sparse file under a 100Mi sizeLimit. The limit is a hard bound shared by
// the pod's containers, subPath mounts included: ENOSPC past it.
func TestEmptyDirSizeLimitEnforced(t *testing.T) {
	t.Parallel()
	pod := hostilePod(t, "sizelimit")
	pod.Annotations = map[string]string{AnnotationManifestDir: examplesDir(t)}
	pod.Spec.Volumes = []corev1.Volume{sizedEmptyDir("data", "1Mi", "")}
	pod.Spec.InitContainers = []corev1.Container{
		hostileCtr("a", []corev1.VolumeMount{{Name: "data", MountPath: "/data"}},
			"do", "truncate", "/data/sparse", "1T", "--", "pwrite", "/data/sparse", "1T", "x",
			"--", "allocate", "/data/sparse", "0", "2M", "--", "fill", "/data/f", "65536"),
	}
	pod.Spec.Containers = []corev1.Container{
		hostileCtr("b", []corev1.VolumeMount{{Name: "data", MountPath: "/sub", SubPath: "sub"}}, "fill", "/sub/g", "4096"),
	}
	h := newHarness(t, pod)
	h.run()
	p := h.waitDone()
	if p.Status.Phase != corev1.PodSucceeded {
		t.Fatalf("status: %s", describe(p))
	}
	want := []string{"truncate: errno ENOSPC", "pwrite: errno ENOSPC", "allocate: errno ENOSPC",
		fmt.Sprintf("fill: wrote %d", 1<<20-2*wasi.InodeCost), "fill: errno ENOSPC"}
	if got := h.logLines("a"); !slices.Equal(got, want) {
		t.Errorf("a printed %q, want %q", got, want)
	}
	if got, want := h.logLines("b"), []string{"fill: errno ENOSPC"}; !slices.Equal(got, want) {
		t.Errorf("b printed %q, want %q", got, want)
	}
}

// TestEmptyDirEvictedOverLimit: as the kubelet's eviction manager, the
// worker measures sized emptyDirs periodically and evicts a pod whose
// emptyDir holds more than its limit (here written by the host, around the
// WASI bound).
func TestEmptyDirEvictedOverLimit(t *testing.T) {
	t.Parallel()
	pod := hostilePod(t, "evict-emptydir")
	pod.Spec.RestartPolicy = corev1.RestartPolicyAlways
	pod.Annotations = map[string]string{AnnotationManifestDir: examplesDir(t)}
	pod.Spec.Volumes = []corev1.Volume{sizedEmptyDir("cache", "1Mi", "")}
	pod.Spec.Containers = []corev1.Container{
		hostileCtr("c", []corev1.VolumeMount{{Name: "cache", MountPath: "/cache"}}, "do", "write", "/cache/small", "x", "--", "hold"),
	}
	h := newHarness(t, pod)
	h.run()
	h.waitLog("c", "ready")
	// Under the limit: checks change nothing (as many as the eviction below
	// needs, with the same real time for the watcher to act on each).
	h.waitTimer()
	for i := 0; i < 5; i++ {
		h.clk.Step(VolumeCheckInterval)
		time.Sleep(10 * time.Millisecond)
	}
	if p := h.w.Pod(); p.Status.Phase != corev1.PodRunning || p.Status.Reason != "" {
		t.Fatalf("status: %s", describe(p))
	}
	if err := os.WriteFile(filepath.Join(h.w.Dir(), "volumes", "cache", "big"), make([]byte, 2<<20), 0o644); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(waitLimit)
	for h.w.Pod().Status.Reason != "Evicted" && time.Now().Before(deadline) {
		h.clk.Step(VolumeCheckInterval)
		time.Sleep(10 * time.Millisecond)
	}
	p := h.waitDone()
	want := `Usage of EmptyDir volume "cache" exceeds the limit "1Mi". `
	if p.Status.Phase != corev1.PodFailed || p.Status.Reason != "Evicted" || p.Status.Message != want {
		t.Fatalf("status: %s message %q, want Failed Evicted %q", describe(p), p.Status.Message, want)
	}
	if !h.hasEvent("Warning Evicted " + want) {
		t.Errorf("no Evicted event in %q", h.eventList())
	}
}

// shmPod is a hostile pod whose container c (limits.memory 64Mi) mounts
// a memory-backed emptyDir without a sizeLimit at /shm, truncates /shm/x
// to x and /shm/y to y (printing "truncate: ok" or the errno of each),
// then prints "ready" and holds.
func shmPod(t *testing.T, name, x, y string) *corev1.Pod {
	pod := hostilePod(t, name)
	pod.Annotations = map[string]string{AnnotationManifestDir: examplesDir(t)}
	pod.Spec.Volumes = []corev1.Volume{sizedEmptyDir("shm", "", corev1.StorageMediumMemory)}
	c := hostileCtr("c", []corev1.VolumeMount{{Name: "shm", MountPath: "/shm"}},
		"do", "truncate", "/shm/x", x, "--", "truncate", "/shm/y", y, "--", "hold")
	c.Resources.Limits = corev1.ResourceList{corev1.ResourceMemory: resource.MustParse("64Mi")}
	pod.Spec.Containers = []corev1.Container{c}
	return pod
}

// TestMemoryEmptyDirBounded: an emptyDir of medium Memory without a
// sizeLimit is bounded by the pod's memory limit (upstream sizes its tmpfs
// so), and its usage is reported for the pod's memory accounting.
func TestMemoryEmptyDirBounded(t *testing.T) {
	t.Parallel()
	pod := shmPod(t, "memory-emptydir", "65M", "1M")
	h := newHarness(t, pod)
	h.run()
	h.waitLog("c", "ready")
	if got, want := h.logLines("c"), []string{"truncate: errno ENOSPC", "truncate: ok", "ready"}; !slices.Equal(got, want) {
		t.Errorf("c printed %q, want %q", got, want)
	}
	if got, want := memoryVolumeUsage(h.w), int64(1<<20+2*wasi.InodeCost); got != want {
		t.Errorf("memoryVolumeUsage = %d, want %d", got, want)
	}
	h.w.Terminate(0)
	h.waitDone()
}

// TestMemoryEmptyDirChargesPodMemory: a memory-backed emptyDir's bytes are
// the pod's memory, as a tmpfs's pages count against the pod's cgroup
// upstream: they are charged to the node's memory budget with the guests'
// linear memory, so what does not fit there is ENOSPC even under the
// volume's own bound, and the charge is returned when the pod ends.
func TestMemoryEmptyDirChargesPodMemory(t *testing.T) {
	t.Parallel()
	pod := shmPod(t, "memory-emptydir-charged", "40M", "8M")
	h := newHarness(t, pod)
	node := runtime.NewBudget("node-1 memory", 40<<20)
	h.cfg.NodeMemory = node
	h.run()
	h.waitLog("c", "ready")
	// The volume's own bound is 64Mi (the pod's limit): 40M fits there but
	// not in the node's 40Mi beside the guest's own memory.
	if got, want := h.logLines("c"), []string{"truncate: errno ENOSPC", "truncate: ok", "ready"}; !slices.Equal(got, want) {
		t.Errorf("c printed %q, want %q", got, want)
	}
	held := int64(8<<20 + 2*wasi.InodeCost)
	if got := memoryVolumeUsage(h.w); got != held {
		t.Errorf("memoryVolumeUsage = %d, want %d", got, held)
	}
	if got := node.Used(); got < held {
		t.Errorf("node memory used = %d while the emptyDir holds %d: the volume is not charged", got, held)
	}
	// The eviction manager ranks the pod by what it holds, the volume
	// included (upstream's pod memory usage counts its tmpfs pages).
	if got := (nodeStats{}).PodMemory(h.w)[""]; got != held {
		t.Errorf("PodMemory[\"\"] = %d, want the emptyDir's %d", got, held)
	}
	h.w.Terminate(0)
	h.waitDone()
	if got := node.Used(); got != 0 {
		t.Errorf("node memory used = %d after the pod ended, want 0 (the volume's charge returned)", got)
	}
}

// memoryVolumeUsage is the bytes w's emptyDirs of medium Memory hold
// (their quotas' count).
func memoryVolumeUsage(w *Worker) int64 {
	w.mu.Lock()
	defer w.mu.Unlock()
	var n int64
	for i := range w.state.pod.Spec.Volumes {
		v := &w.state.pod.Spec.Volumes[i]
		if q := w.quotas[v.Name]; q != nil && v.EmptyDir != nil && v.EmptyDir.Medium == corev1.StorageMediumMemory {
			n += q.Used()
		}
	}
	return n
}
