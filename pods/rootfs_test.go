package pods

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
)

// hostileExec runs the hostile guest in container c of h's pod (as kubectl
// exec does) and returns its output lines.
func hostileExec(t *testing.T, h *harness, c string, args ...string) []string {
	t.Helper()
	var out bytes.Buffer
	code, err := h.w.Exec(context.Background(), c, append([]string{"hostile"}, args...), nil, &out, &out)
	if err != nil || code != 0 {
		t.Fatalf("exec %q: code %d, %v\n%s", args, code, err, out.String())
	}
	return strings.Split(strings.TrimSpace(out.String()), "\n")
}

// TestRootfsWritablePerInstance: a container's "/" is writable (/tmp
// sticky and world-writable, as an image's), an exec sees what the
// running instance wrote (an exec probe's `cat /tmp/health`), and a
// restarted container starts with a fresh layer.
func TestRootfsWritablePerInstance(t *testing.T) {
	t.Parallel()
	pod := hostilePod(t, "rootfs-writable")
	pod.Spec.RestartPolicy = corev1.RestartPolicyAlways
	pod.Annotations = map[string]string{AnnotationManifestDir: examplesDir(t)}
	c := hostileCtr("c", nil, "do", "cat", "/tmp/health", "--", "write", "/tmp/health", "ok", "--",
		"mkdir", "/app/cache", "--", "write", "/etc/conf", "x", "--", "hold")
	c.WorkingDir = "/work/dir"
	r := hostileCtr("r", nil, "do", "cat", "/tmp/health", "--", "write", "/tmp/health", "ok", "--", "exit", "1")
	pod.Spec.Containers = []corev1.Container{c, r}
	h := newHarness(t, pod)
	h.run()
	h.waitLog("c", "ready")
	h.waitFor("c running", func(p *corev1.Pod) bool {
		cs := containerStatus(p, "c")
		return cs != nil && cs.State.Running != nil
	})
	want := []string{"cat: errno ENOENT", "write: ok", "mkdir: errno ENOENT", "write: ok", "ready"}
	if got := h.logLines("c"); !slices.Equal(got, want) {
		t.Fatalf("first instance printed %q, want %q", got, want)
	}
	if got := hostileExec(t, h, "c", "cat", "/tmp/health"); !slices.Equal(got, []string{"cat: ok 2", "ok"}) {
		t.Errorf("exec cat /tmp/health: %q", got)
	}
	// The working directory was made; the exec writes in the same layer.
	if got := hostileExec(t, h, "c", "do", "write", "/work/dir/f", "y", "--", "write", "/tmp/health", "changed"); !slices.Equal(got, []string{"write: ok", "write: ok"}) {
		t.Errorf("exec writes: %q", got)
	}
	layer := filepath.Join(h.w.Dir(), "rootfs", "c")
	if b, err := os.ReadFile(filepath.Join(layer, "tmp", "health")); err != nil || string(b) != "changed" {
		t.Errorf("layer's /tmp/health: %q, %v", b, err)
	}
	for _, d := range []string{"tmp", "var/tmp"} {
		if st, err := os.Stat(filepath.Join(layer, d)); err != nil || st.Mode()&(os.ModeSticky|0o777) != os.ModeSticky|0o777 {
			t.Errorf("/%s: %v %v, want drwxrwxrwt", d, st.Mode(), err)
		}
	}
	// A restarted container starts with a fresh layer: r's second
	// instance finds no /tmp/health.
	deadline := time.Now().Add(waitLimit)
	for len(h.logLines("r")) < 4 && time.Now().Before(deadline) {
		h.clk.Step(time.Minute) // the crash back-off
		time.Sleep(20 * time.Millisecond)
	}
	rwant := []string{"cat: errno ENOENT", "write: ok", "cat: errno ENOENT", "write: ok"}
	if got := h.logLines("r"); !slices.Equal(got[:min(4, len(got))], rwant) {
		t.Errorf("r's instances printed %q, want %q (a fresh /tmp each)", got, rwant)
	}
}

// TestRootfsReadOnly: readOnlyRootFilesystem keeps "/" read-only (EROFS),
// volumes stay writable.
func TestRootfsReadOnly(t *testing.T) {
	t.Parallel()
	pod := hostilePod(t, "rootfs-readonly")
	pod.Annotations = map[string]string{AnnotationManifestDir: examplesDir(t)}
	pod.Spec.Volumes = []corev1.Volume{sizedEmptyDir("data", "", "")}
	c := hostileCtr("c", []corev1.VolumeMount{{Name: "data", MountPath: "/data"}},
		"do", "write", "/tmp/health", "ok", "--", "mkdir", "/x", "--", "write", "/data/f", "ok")
	ro := true
	c.SecurityContext = &corev1.SecurityContext{ReadOnlyRootFilesystem: &ro}
	pod.Spec.Containers = []corev1.Container{c}
	h := newHarness(t, pod)
	h.run()
	h.waitDone()
	if got, want := h.logLines("c"), []string{"write: errno EROFS", "mkdir: errno EROFS", "write: ok"}; !slices.Equal(got, want) {
		t.Errorf("printed %q, want %q", got, want)
	}
}

// TestRootfsEscapes: a guest's writable "/" opens no way out: symlinks it
// makes resolve inside the layer (absolute or through ".."), a hard link
// from a volume into the layer is refused (another mount), a volume's
// mount point cannot be renamed or removed, and nothing is written
// outside the pod directory.
func TestRootfsEscapes(t *testing.T) {
	t.Parallel()
	secret, outside := secrets(t)
	pod := hostilePod(t, "rootfs-escape")
	pod.Annotations = map[string]string{AnnotationManifestDir: examplesDir(t)}
	pod.Spec.Volumes = []corev1.Volume{sizedEmptyDir("data", "", "")}
	up := strings.Repeat("../", 12)
	c := hostileCtr("c", []corev1.VolumeMount{{Name: "data", MountPath: "/data"}},
		"do", "symlink", secret, "/tmp/abs", "--", "cat", "/tmp/abs",
		"--", "symlink", up+strings.TrimPrefix(secret, "/"), "/tmp/rel", "--", "cat", "/tmp/rel",
		"--", "symlink", up+strings.TrimPrefix(outside, "/"), "/tmp/out", "--", "write", "/tmp/out/pwned", "x",
		"--", "cat", "/../../.."+secret,
		"--", "write", "/data/f", "v", "--", "link", "/data/f", "/tmp/hard",
		"--", "rename", "/data", "/moved", "--", "rmdir", "/data",
		"--", "plant", "/tmp", "esc", "3", "20", "--", "write", "/tmp/esc/pwned", "x")
	pod.Spec.Containers = []corev1.Container{c}
	h := newHarness(t, pod)
	h.run()
	h.waitDone()
	out := strings.Join(h.logLines("c"), "\n")
	want := []string{
		"symlink: errno EPERM", "cat: errno ENOENT", // absolute link out
		"symlink: errno EPERM", "cat: errno ENOENT", // through ".."
		"symlink: errno EPERM", "write: errno ENOENT",
		"cat: errno ENOENT", // "/../../.." stays in "/"
		"write: ok", "link: errno EXDEV", "rename: errno EXDEV", "rmdir: errno EINVAL",
		"mkdir: ok", "symlink: errno EPERM", "rename: errno ENOENT", "write: errno ENOENT", // plant
	}
	if got := h.logLines("c"); !slices.Equal(got, want) {
		t.Errorf("printed %q, want %q", got, want)
	}
	if strings.Contains(out, "TOPSECRET") {
		t.Fatalf("the guest read the secret:\n%s", out)
	}
	if strings.Contains(out, "link: ok") || strings.Contains(out, "rename: ok") || strings.Contains(out, "rmdir: ok") {
		t.Errorf("link, rename or rmdir of a mount succeeded:\n%s", out)
	}
	if ents, _ := os.ReadDir(outside); len(ents) != 0 {
		t.Errorf("the guest wrote outside: %v\n%s", ents, out)
	}
	if _, err := os.Stat(filepath.Join(filepath.Dir(h.w.Dir()), "pwned")); err == nil {
		t.Errorf("the guest wrote next to the pod directory")
	}
}

// TestRootfsEphemeralStorageEviction: a container's limits.ephemeral-storage
// bounds its layer: past twice the limit writes fail (ENOSPC), and the
// periodic check evicts the pod with the kubelet's message.
func TestRootfsEphemeralStorageEviction(t *testing.T) {
	t.Parallel()
	pod := hostilePod(t, "rootfs-evict")
	pod.Spec.RestartPolicy = corev1.RestartPolicyAlways
	pod.Annotations = map[string]string{AnnotationManifestDir: examplesDir(t)}
	c := hostileCtr("c", nil, "do", "write", "/tmp/small", "x", "--", "hold")
	c.Resources.Limits = corev1.ResourceList{corev1.ResourceEphemeralStorage: resource.MustParse("1Mi")}
	pod.Spec.Containers = []corev1.Container{c}
	h := newHarness(t, pod)
	h.run()
	h.waitLog("c", "ready")
	h.waitFor("c running", func(p *corev1.Pod) bool {
		cs := containerStatus(p, "c")
		return cs != nil && cs.State.Running != nil
	})
	h.waitTimer()
	for i := 0; i < 3; i++ {
		h.clk.Step(VolumeCheckInterval)
		time.Sleep(10 * time.Millisecond)
	}
	if p := h.w.Pod(); p.Status.Phase != corev1.PodRunning || p.Status.Reason != "" {
		t.Fatalf("under the limit: %s", describe(p))
	}
	got := hostileExec(t, h, "c", "fill", "/tmp/fill", "65536")
	if len(got) != 2 || got[1] != "fill: errno ENOSPC" || !strings.HasPrefix(got[0], "fill: wrote 2") {
		t.Errorf("fill printed %q, want ENOSPC after about 2 MiB", got)
	}
	deadline := time.Now().Add(waitLimit)
	for h.w.Pod().Status.Reason != "Evicted" && time.Now().Before(deadline) {
		h.clk.Step(VolumeCheckInterval)
		time.Sleep(10 * time.Millisecond)
	}
	p := h.waitDone()
	want := `Container c exceeded its local ephemeral storage limit "1Mi". `
	if p.Status.Phase != corev1.PodFailed || p.Status.Reason != "Evicted" || p.Status.Message != want {
		t.Fatalf("status: %s message %q, want Failed Evicted %q", describe(p), p.Status.Message, want)
	}
	if !h.hasEvent("Warning Evicted " + want) {
		t.Errorf("no Evicted event in %q", h.eventList())
	}
}
