package wasmpod_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/wasmpod/wasmpod"
)

// TestImagePathsNotProbable: with OpaqueImageErrors (as serve runs), a pod
// whose image names a missing file, a file that is not a module, a
// directory or a device gets one and the same status message, so an API
// client learns nothing about the host's files from it.
func TestImagePathsNotProbable(t *testing.T) {
	dir := t.TempDir()
	notWasm := filepath.Join(dir, "notes.txt.wasm")
	if err := os.WriteFile(notWasm, []byte("secret notes\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	var progress lockedBuffer
	ctx := context.Background()
	c, err := wasmpod.New(ctx, wasmpod.Config{CacheDir: t.TempDir(), Progress: &progress, OpaqueImageErrors: true})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	images := map[string]string{
		"missing": filepath.Join(dir, "missing.wasm"),
		"notwasm": notWasm,
		"dir":     dir + "/",
		"device":  "/dev/zero",
	}
	msgs := map[string]string{}
	for name, image := range images {
		pod := &corev1.Pod{
			ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default"},
			Spec: corev1.PodSpec{RestartPolicy: corev1.RestartPolicyNever,
				Containers: []corev1.Container{{Name: "c", Image: image}}},
		}
		if _, err := c.Apply(ctx, pod); err != nil {
			t.Fatal(err)
		}
	}
	for name, image := range images {
		wctx, cancel := context.WithTimeout(ctx, time.Minute)
		p, err := c.WaitPod(wctx, "default", name, func(p *corev1.Pod) bool {
			return len(p.Status.ContainerStatuses) == 1 && p.Status.ContainerStatuses[0].State.Waiting != nil &&
				p.Status.ContainerStatuses[0].State.Waiting.Message != ""
		})
		cancel()
		if err != nil {
			t.Fatalf("pod %s: %v", name, err)
		}
		w := p.Status.ContainerStatuses[0].State.Waiting
		if w.Reason != "ErrImagePull" && w.Reason != "ImagePullBackOff" {
			t.Errorf("pod %s: reason %s, want ErrImagePull", name, w.Reason)
		}
		m := strings.ReplaceAll(w.Message, image, "IMAGE")
		// Pods are read one after another: a later one may be in its
		// back-off already, whose message wraps the pull's error.
		m = strings.TrimPrefix(m, `Back-off pulling image "IMAGE": ErrImagePull: `)
		msgs[name] = m
	}
	for name, m := range msgs {
		if m != msgs["missing"] {
			t.Errorf("pod %s's message %q differs from a missing file's %q", name, m, msgs["missing"])
		}
	}
	if !strings.Contains(progress.String(), "not a WebAssembly module") {
		t.Errorf("the server's log lacks the details:\n%s", progress.String())
	}
}
