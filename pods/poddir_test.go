package pods

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
)

func TestPodDirName(t *testing.T) {
	pod := func(ns, name, uid string) *corev1.Pod {
		p := &corev1.Pod{}
		p.Namespace, p.Name, p.UID = ns, name, types.UID(uid)
		return p
	}
	const uid = "0f8fad5b-d9cb-469f-a165-70867728950e"
	if got := PodDirName(pod("default", "web", uid)); got != "default_web_"+uid {
		t.Errorf("short name: %q", got)
	}
	ns63 := strings.Repeat("n", 63)
	name253 := strings.Repeat("a", 120) + "." + strings.Repeat("b", 132)
	long := PodDirName(pod(ns63, name253, uid))
	if len(long) > maxNameLen || !strings.HasPrefix(long, ns63+"_aaa") || !strings.HasSuffix(long, "_"+uid) {
		t.Errorf("long name (%d bytes): %q", len(long), long)
	}
	if again := PodDirName(pod(ns63, name253, uid)); again != long {
		t.Errorf("not stable: %q then %q", long, again)
	}
	// Names that differ only past the kept prefix, or only by UID, get
	// different directories.
	other := PodDirName(pod(ns63, name253[:252]+"c", uid))
	otherUID := PodDirName(pod(ns63, name253, "1f8fad5b-d9cb-469f-a165-70867728950e"))
	if other == long || otherUID == long || len(other) > maxNameLen {
		t.Errorf("collision: %q %q %q", long, other, otherUID)
	}
	// Every length around the limit fits.
	for n := 150; n <= 253; n++ {
		if got := PodDirName(pod("default", strings.Repeat("x", n), uid)); len(got) > maxNameLen {
			t.Errorf("name of %d: dir name of %d bytes", n, len(got))
		}
	}
}

// TestWorkerLongPodName: a pod with a valid name of 253 characters (the
// maximum) in a namespace of 63 runs, and its logs and volumes work.
func TestWorkerLongPodName(t *testing.T) {
	t.Parallel()
	pod := loadPod(t, "hello")
	pod.Namespace = strings.Repeat("n", 63)
	pod.Name = strings.Repeat("h", 200) + "." + strings.Repeat("i", 52)
	pod.Spec.Volumes = []corev1.Volume{{Name: "data", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}}}
	pod.Spec.Containers[0].VolumeMounts = []corev1.VolumeMount{{Name: "data", MountPath: "/data", SubPath: "sub"}}
	h := newHarness(t, pod)
	h.run()
	p := h.waitDone()
	if p.Status.Phase != corev1.PodSucceeded {
		t.Fatalf("status: %s\nevents %q", describe(p), h.eventList())
	}
	want := []string{"hello from " + pod.Name, "args: a b"}
	if got := texts(h.fileLines("hello", 0)); !slices.Equal(got, want) {
		t.Errorf("log file lines %q, want %q", got, want)
	}
	if base := filepath.Base(h.w.Dir()); len(base) > maxNameLen || filepath.Dir(h.w.Dir()) != h.cfg.RootDir {
		t.Errorf("pod dir %q", h.w.Dir())
	}
	if _, err := os.Stat(h.w.LogPath("hello", 0)); err != nil {
		t.Error(err)
	}
}
