package pods

import (
	"bytes"
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
)

// victim is a directory outside the agent's root with a file that no
// cleanup may touch.
func victim(t *testing.T) (dir, file string) {
	dir = t.TempDir()
	file = filepath.Join(dir, "precious")
	if err := os.WriteFile(file, []byte("keep me"), 0o644); err != nil {
		t.Fatal(err)
	}
	return dir, file
}

func checkVictim(t *testing.T, dir, file string) {
	t.Helper()
	if b, err := os.ReadFile(file); err != nil || string(b) != "keep me" {
		t.Fatalf("%s after cleanup: %q, %v", file, b, err)
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 1 {
		t.Fatalf("%s after cleanup holds %d entries", dir, len(ents))
	}
}

func exists(path string) bool {
	_, err := os.Lstat(path)
	return !errors.Is(err, fs.ErrNotExist)
}

// TestAgentRemovesADeletedPodsDirectory: a pod deleted from the API has
// its directory (logs, volumes) removed once its worker is done, without
// following the symlinks a guest left in it; a finished pod that still
// exists keeps its logs.
func TestAgentRemovesADeletedPodsDirectory(t *testing.T) {
	t.Parallel()
	h := newAgentHarness(t)
	h.start()
	done := loadPod(t, "hello")
	done.Name, done.UID, done.Spec.NodeName = "done", "uid-done", "node-1"
	gone := loadPod(t, "hello")
	gone.Name, gone.UID, gone.Spec.NodeName = "gone", "uid-gone", "node-1"
	h.createPod(done)
	h.createPod(gone)
	for _, n := range []string{"done", "gone"} {
		h.waitPod(n, "Succeeded", func(p *corev1.Pod) bool { return p.Status.Phase == corev1.PodSucceeded })
	}
	wk, err := h.a.worker(gone)
	if err != nil {
		t.Fatal(err)
	}
	dir := wk.Dir()
	if !exists(filepath.Join(dir, "logs")) {
		t.Fatalf("no logs in %s", dir)
	}
	// What a hostile guest could have left: symlinks out of the pod's
	// directory, to a directory and to a file.
	vdir, vfile := victim(t)
	if err := os.MkdirAll(filepath.Join(dir, "volumes", "data"), 0o755); err != nil {
		t.Fatal(err)
	}
	for link, target := range map[string]string{
		filepath.Join(dir, "volumes", "data", "up"):   vdir,
		filepath.Join(dir, "volumes", "data", "file"): vfile,
		filepath.Join(dir, "logs", "hello", "x"):      vdir,
	} {
		if err := os.Symlink(target, link); err != nil {
			t.Fatal(err)
		}
	}

	if err := h.client.CoreV1().Pods("default").Delete(context.Background(), "gone", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	h.eventually("the deleted pod's directory removed", func() (bool, string) {
		return !exists(dir), dir
	})
	checkVictim(t, vdir, vfile)

	// The pod that was not deleted keeps its directory and its logs.
	wd, err := h.a.worker(done)
	if err != nil {
		t.Fatal(err)
	}
	if !exists(wd.Dir()) {
		t.Fatalf("%s removed", wd.Dir())
	}
	var b bytes.Buffer
	if err := h.a.Logs(context.Background(), h.getPod("done"), &corev1.PodLogOptions{}, &b); err != nil || b.Len() == 0 {
		t.Fatalf("logs of the completed pod: %q, %v", b.String(), err)
	}
}

// TestAgentStartRemovesOrphanedPodDirs: at start the agent removes the
// directories of pods that no longer exist, keeps those of pods that do,
// and removes nothing outside its root, nor through a symlink.
func TestAgentStartRemovesOrphanedPodDirs(t *testing.T) {
	t.Parallel()
	h := newAgentHarness(t)
	root := h.pcfg.RootDir
	vdir, vfile := victim(t)

	// A finished pod that still exists, with its log.
	live := loadPod(t, "hello")
	live.Name, live.UID, live.Spec.NodeName = "live", "uid-live", "node-1"
	live.Status = corev1.PodStatus{Phase: corev1.PodSucceeded, ContainerStatuses: []corev1.ContainerStatus{{
		Name:  "hello",
		State: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{Reason: "Completed"}},
	}}}
	liveDir := NewWorker(h.pcfg, live).Dir()
	writeLog(t, filepath.Join(liveDir, "logs", "hello", "0.log"), metav1.Now().Time, "still here")
	if _, err := h.client.CoreV1().Pods("default").Create(context.Background(), live, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}

	// Pods deleted while no agent ran: one with logs and a volume holding
	// symlinks out, one empty.
	orphan := filepath.Join(root, "default_orphan_uid-orphan")
	writeLog(t, filepath.Join(orphan, "logs", "c", "0.log"), metav1.Now().Time, "old")
	if err := os.MkdirAll(filepath.Join(orphan, "volumes", "v"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(vdir, filepath.Join(orphan, "volumes", "v", "up")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(vfile, filepath.Join(orphan, "volumes", "v", "f")); err != nil {
		t.Fatal(err)
	}
	empty := filepath.Join(root, "other_x_"+string(types.UID("uid-x")))
	if err := os.MkdirAll(empty, 0o755); err != nil {
		t.Fatal(err)
	}
	// A symlink in the root itself is not a pod directory: left alone.
	link := filepath.Join(root, "default_link_uid-link")
	if err := os.Symlink(vdir, link); err != nil {
		t.Fatal(err)
	}

	h.start()
	h.eventually("orphaned pod directories removed", func() (bool, string) {
		return !exists(orphan) && !exists(empty), strings.Join([]string{orphan, empty}, " ")
	})
	checkVictim(t, vdir, vfile)
	if !exists(link) {
		t.Errorf("the symlink %s was removed", link)
	}
	if !exists(liveDir) {
		t.Fatalf("the live pod's directory %s was removed", liveDir)
	}
	h.waitPod("live", "seen", func(p *corev1.Pod) bool { return p.Status.Phase == corev1.PodSucceeded })
	h.eventually("logs of the live pod", func() (bool, string) {
		var b bytes.Buffer
		err := h.a.Logs(context.Background(), h.getPod("live"), &corev1.PodLogOptions{}, &b)
		return err == nil && b.String() == "still here\n", b.String()
	})
}

func TestRemoveUnderRootRefusesOtherPaths(t *testing.T) {
	t.Parallel()
	root := t.TempDir()
	vdir, vfile := victim(t)
	for _, dir := range []string{vdir, filepath.Join(root, ".."), root, filepath.Join(root, "a", "b"), filepath.Join(root, ".")} {
		if err := removeUnderRoot(root, dir); err == nil {
			t.Errorf("removeUnderRoot(%s) accepted", dir)
		}
	}
	if err := removeUnderRoot("", vdir); err != nil {
		t.Errorf("no root: %v", err)
	}
	checkVictim(t, vdir, vfile)
	if !exists(root) {
		t.Fatal("root removed")
	}
}
