package pods

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
)

// The subPath tests run the hostile guest (wasm-examples/testguests/hostile)
// against subPath mounts: a guest plants an escaping symlink, another
// container mounts it with subPath and tries to read a secret and write a
// file outside the pod directory.

// hostilePod is a pod of hostile containers in namespace default.
func hostilePod(t *testing.T, name string) *corev1.Pod {
	t.Helper()
	g := int64(30)
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default", UID: types.UID("uid-" + name)},
		Spec: corev1.PodSpec{
			RestartPolicy:                 corev1.RestartPolicyNever,
			TerminationGracePeriodSeconds: &g,
		},
	}
}

func hostileCtr(name string, mounts []corev1.VolumeMount, args ...string) corev1.Container {
	return corev1.Container{Name: name, Image: "go://./testguests/hostile", Args: args, VolumeMounts: mounts}
}

// secrets makes a secret file and an empty directory outside the pod's
// directory; it returns their host paths.
func secrets(t *testing.T) (secret, outside string) {
	t.Helper()
	dir := t.TempDir()
	secret = filepath.Join(dir, "secret")
	if err := os.WriteFile(secret, []byte("TOPSECRET\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	outside = filepath.Join(dir, "outside")
	if err := os.Mkdir(outside, 0o755); err != nil {
		t.Fatal(err)
	}
	return secret, outside
}

// noEscape checks that no container read the secret and that nothing was
// written into the outside directory.
func noEscape(t *testing.T, h *harness, outside string, ctrs ...string) {
	t.Helper()
	for _, c := range ctrs {
		if slices.ContainsFunc(h.logLines(c), func(l string) bool { return strings.Contains(l, "TOPSECRET") }) {
			t.Errorf("%s read the secret outside the volume: %q", c, h.logLines(c))
		}
	}
	ents, err := os.ReadDir(outside)
	if err != nil {
		t.Fatal(err)
	}
	if len(ents) != 0 {
		t.Errorf("a guest wrote outside the volume: %v", ents)
	}
}

// TestSubPathSymlinkPlantedByInitContainer is issue 8's escape: an init
// container makes a symlink deep in an emptyDir, harmless there, and
// renames it to the volume's top, where it points far above the pod
// directory; the app container mounts that name with subPath.
func TestSubPathSymlinkPlantedByInitContainer(t *testing.T) {
	t.Parallel()
	secret, outside := secrets(t)
	pod := hostilePod(t, "subpath-init")
	pod.Annotations = map[string]string{AnnotationManifestDir: examplesDir(t)}
	pod.Spec.Volumes = []corev1.Volume{{Name: "data", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}}}
	pod.Spec.InitContainers = []corev1.Container{
		hostileCtr("plant", []corev1.VolumeMount{{Name: "data", MountPath: "/data"}}, "plant", "/data", "esc", "30", "30"),
	}
	pod.Spec.Containers = []corev1.Container{
		hostileCtr("app", []corev1.VolumeMount{{Name: "data", MountPath: "/x", SubPath: "esc"}},
			"do", "cat", "/x"+secret, "--", "write", "/x"+outside+"/pwned", "owned"),
	}
	h := newHarness(t, pod)
	h.run()
	p := h.waitFor("app to end or fail", func(p *corev1.Pod) bool {
		return terminal(p) || waiting(p, "app", "CreateContainerConfigError")
	})
	noEscape(t, h, outside, "plant", "app")
	// The rename was refused, so the subPath is an ordinary (new) directory.
	if got := h.logLines("plant"); !slices.Contains(got, "rename: errno EPERM") {
		t.Errorf("plant printed %q, want the rename refused with EPERM", got)
	}
	wantTerminated(t, p, "app", 0, "Completed")
	if got := h.logLines("app"); !slices.Contains(got, "cat: errno ENOENT") || !slices.Contains(got, "write: errno ENOENT") {
		t.Errorf("app printed %q", got)
	}
}

// TestSubPathHostPlantedSymlinkRefused: a subPath that is a symlink leading
// out of its volume (here planted by the host in a hostPath volume, as a
// guest's could be by any route) is refused with the kubelet's error for a
// bad subPath; a symlink that stays inside the volume is followed, as
// upstream does.
func TestSubPathHostPlantedSymlinkRefused(t *testing.T) {
	t.Parallel()
	secret, outside := secrets(t)
	vol := t.TempDir()
	if err := os.Symlink(strings.Repeat("../", 30), filepath.Join(vol, "esc")); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(vol, "real", "dir"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(vol, "real", "dir", "hello"), []byte("hello inside\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("real/./dir", filepath.Join(vol, "in")); err != nil {
		t.Fatal(err)
	}
	pod := hostilePod(t, "subpath-hostpath")
	pod.Annotations = map[string]string{AnnotationManifestDir: examplesDir(t)}
	pod.Spec.Volumes = []corev1.Volume{{Name: "host", VolumeSource: corev1.VolumeSource{HostPath: &corev1.HostPathVolumeSource{Path: vol}}}}
	pod.Spec.Containers = []corev1.Container{
		hostileCtr("bad", []corev1.VolumeMount{{Name: "host", MountPath: "/x", SubPath: "esc"}},
			"do", "cat", "/x"+secret, "--", "write", "/x"+outside+"/pwned", "owned"),
		hostileCtr("bad2", []corev1.VolumeMount{{Name: "host", MountPath: "/x", SubPath: "esc" + outside}},
			"do", "write", "/x/pwned", "owned"),
		hostileCtr("good", []corev1.VolumeMount{{Name: "host", MountPath: "/in", SubPath: "in"}}, "cat", "/in/hello"),
	}
	h := newHarness(t, pod)
	h.cfg.AllowHostPath = true
	h.run()
	p := h.waitFor("bad refused and good done", func(p *corev1.Pod) bool {
		return waiting(p, "bad", "CreateContainerConfigError") && waiting(p, "bad2", "CreateContainerConfigError") &&
			ctrStatus(p, "good").State.Terminated != nil
	})
	noEscape(t, h, outside, "bad", "bad2", "good")
	wantTerminated(t, p, "good", 0, "Completed")
	if got := h.logLines("good"); !slices.Equal(got, []string{"cat: ok 13", "hello inside"}) {
		t.Errorf("good printed %q", got)
	}
	want := `Error: failed to prepare subPath for volumeMount "host" of container "bad": subPath "esc" leads outside the volume`
	// The waiting message is the kubelet's, without the Event's "Error: ".
	if msg := ctrStatus(p, "bad").State.Waiting.Message; !strings.HasPrefix(msg, strings.TrimPrefix(want, "Error: ")) {
		t.Errorf("bad: message %q, want prefix %q", msg, want)
	}
	if !h.hasEvent("Warning Failed " + want) {
		t.Errorf("no Failed event %q in %q", want, h.eventList())
	}
}

// TestSubPathRestartingPlanter: a container mounts the volume whole and a
// subPath of it, replaces the subPath's directory with an escaping link
// and crashes; its restart must not mount the host.
func TestSubPathRestartingPlanter(t *testing.T) {
	t.Parallel()
	secret, outside := secrets(t)
	pod := hostilePod(t, "subpath-restart")
	pod.Spec.RestartPolicy = corev1.RestartPolicyAlways
	pod.Annotations = map[string]string{AnnotationManifestDir: examplesDir(t)}
	pod.Spec.Volumes = []corev1.Volume{{Name: "data", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}}}
	pod.Spec.Containers = []corev1.Container{
		hostileCtr("c", []corev1.VolumeMount{{Name: "data", MountPath: "/v"}, {Name: "data", MountPath: "/x", SubPath: "x"}},
			"do", "cat", "/x"+secret, "--", "write", "/x"+outside+"/pwned", "owned",
			"--", "rmdir", "/v/x", "--", "plant", "/v", "x", "30", "30", "--", "exit", "1"),
	}
	h := newHarness(t, pod)
	h.run()
	p := h.waitFor("a restart that ran or was refused", func(p *corev1.Pod) bool {
		cs := ctrStatus(p, "c")
		return cs.RestartCount >= 1 && cs.State.Running == nil || waiting(p, "c", "CreateContainerConfigError")
	})
	noEscape(t, h, outside, "c")
	if got := h.logLines("c"); !slices.Contains(got, "rename: errno EPERM") || slices.Contains(got, "rename: ok") {
		t.Errorf("c printed %q; status %s", got, describe(p))
	}
}

// TestSubPathHostPathAndReadOnly: the same games on a hostPath volume
// (enabled by the admin) and through a read-only subPath mount: the
// planting rename is refused, the read-only mount refuses every change,
// and nothing outside is read or written.
func TestSubPathHostPathAndReadOnly(t *testing.T) {
	t.Parallel()
	secret, outside := secrets(t)
	vol := t.TempDir()
	if err := os.MkdirAll(filepath.Join(vol, "ro", "a", "b"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("../..", filepath.Join(vol, "ro", "a", "b", "up")); err != nil {
		t.Fatal(err)
	}
	pod := hostilePod(t, "subpath-hostpath-ro")
	pod.Annotations = map[string]string{AnnotationManifestDir: examplesDir(t)}
	pod.Spec.Volumes = []corev1.Volume{{Name: "host", VolumeSource: corev1.VolumeSource{HostPath: &corev1.HostPathVolumeSource{Path: vol}}}}
	pod.Spec.InitContainers = []corev1.Container{
		hostileCtr("plant", []corev1.VolumeMount{{Name: "host", MountPath: "/h"}}, "plant", "/h", "esc", "30", "30"),
	}
	pod.Spec.Containers = []corev1.Container{
		hostileCtr("ro", []corev1.VolumeMount{{Name: "host", MountPath: "/ro", SubPath: "ro", ReadOnly: true}},
			"do", "rename", "/ro/a/b/up", "/ro/up", "--", "symlink", "a", "/ro/l", "--", "write", "/ro/a/b/up/x", "y",
			"--", "cat", "/ro/a/b/up/../../"+secret),
	}
	h := newHarness(t, pod)
	h.cfg.AllowHostPath = true
	h.run()
	p := h.waitDone()
	noEscape(t, h, outside, "plant", "ro")
	if p.Status.Phase != corev1.PodSucceeded {
		t.Fatalf("status: %s", describe(p))
	}
	if got, want := h.logLines("plant"), []string{"mkdir: ok", "symlink: ok", "rename: errno EPERM"}; !slices.Equal(got, want) {
		t.Errorf("plant printed %q, want %q", got, want)
	}
	if got, want := h.logLines("ro"), []string{"rename: errno EROFS", "symlink: errno EROFS", "write: errno EROFS", "cat: errno ENOENT"}; !slices.Equal(got, want) {
		t.Errorf("ro printed %q, want %q", got, want)
	}
	if _, err := os.Lstat(filepath.Join(vol, "esc")); err == nil {
		t.Error("an escaping link was planted at the hostPath's top")
	}
}
