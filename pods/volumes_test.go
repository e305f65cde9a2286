package pods

import (
	"fmt"
	"slices"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"

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

// TestMemoryEmptyDirBounded: an emptyDir of medium Memory without a
// sizeLimit is bounded by the pod's memory limit (upstream sizes its tmpfs
// so), and its usage is reported for the pod's memory accounting.
func TestMemoryEmptyDirBounded(t *testing.T) {
	t.Parallel()
	pod := hostilePod(t, "memory-emptydir")
	pod.Annotations = map[string]string{AnnotationManifestDir: examplesDir(t)}
	pod.Spec.Volumes = []corev1.Volume{sizedEmptyDir("shm", "", corev1.StorageMediumMemory)}
	c := hostileCtr("c", []corev1.VolumeMount{{Name: "shm", MountPath: "/shm"}},
		"do", "truncate", "/shm/x", "65M", "--", "truncate", "/shm/y", "1M", "--", "hold")
	c.Resources.Limits = corev1.ResourceList{corev1.ResourceMemory: resource.MustParse("64Mi")}
	pod.Spec.Containers = []corev1.Container{c}
	h := newHarness(t, pod)
	h.run()
	h.waitLog("c", "ready")
	if got, want := h.logLines("c"), []string{"truncate: errno ENOSPC", "truncate: ok", "ready"}; !slices.Equal(got, want) {
		t.Errorf("c printed %q, want %q", got, want)
	}
	if got, want := h.w.MemoryVolumeUsage(), int64(1<<20+2*wasi.InodeCost); got != want {
		t.Errorf("MemoryVolumeUsage = %d, want %d", got, want)
	}
	h.w.Terminate(0)
	h.waitDone()
}
