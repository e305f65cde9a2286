package wasmpod_test

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/wasmpod/wasmpod"
	"github.com/wasmpod/wasmpod/internal/syncbuf"
)

type lockedBuffer = syncbuf.Buffer

// TestGoImageRebuiltWhenSourceChanges: a cluster that ran a go:// image
// runs the new code in the next pod once the source changed, and does not
// rebuild for pods of an unchanged source.
func TestGoImageRebuiltWhenSourceChanges(t *testing.T) {
	src := t.TempDir()
	write := func(version string) {
		t.Helper()
		main := fmt.Sprintf("package main\n\nimport \"fmt\"\n\nfunc main() { fmt.Println(%q) }\n", "running "+version)
		for name, content := range map[string]string{"go.mod": "module example.com/stale\n\ngo 1.26\n", "main.go": main} {
			if err := os.WriteFile(filepath.Join(src, name), []byte(content), 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	write("version one")
	var progress lockedBuffer
	ctx := context.Background()
	c, err := wasmpod.New(ctx, wasmpod.Config{CacheDir: t.TempDir(), Progress: &progress})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	run := func(name string) string {
		t.Helper()
		pod := &corev1.Pod{
			ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default"},
			Spec: corev1.PodSpec{RestartPolicy: corev1.RestartPolicyNever,
				Containers: []corev1.Container{{Name: "c", Image: "go://" + src}}},
		}
		if _, err := c.Apply(ctx, pod); err != nil {
			t.Fatal(err)
		}
		wctx, cancel := context.WithTimeout(ctx, 3*time.Minute)
		defer cancel()
		p, err := c.WaitPod(wctx, "default", name, wasmpod.PodTerminal)
		if err != nil {
			t.Fatalf("pod %s: %v (last %+v)", name, err, p)
		}
		if p.Status.Phase != corev1.PodSucceeded {
			t.Fatalf("pod %s: %s %+v", name, p.Status.Phase, p.Status.ContainerStatuses)
		}
		var out bytes.Buffer
		if err := c.Logs(ctx, "default", name, &corev1.PodLogOptions{Container: "c"}, &out); err != nil {
			t.Fatal(err)
		}
		return out.String()
	}
	builds := func() int { return strings.Count(progress.String(), "Built go://") }

	if out := run("first"); !strings.Contains(out, "running version one") {
		t.Fatalf("first pod printed %q", out)
	}
	if out := run("same"); !strings.Contains(out, "running version one") || builds() != 1 {
		t.Fatalf("second pod of the same source printed %q after %d builds, want 1", out, builds())
	}
	write("version two")
	if out := run("second"); !strings.Contains(out, "running version two") {
		t.Fatalf("pod after the source changed printed %q, want the new code", out)
	}
	if builds() != 2 {
		t.Fatalf("%d builds, want 2\n%s", builds(), progress.String())
	}
}
