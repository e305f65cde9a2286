package wasmpod_test

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/wasmpod/wasmpod"
	"github.com/wasmpod/wasmpod/internal/proctest"
	"github.com/wasmpod/wasmpod/logs"
)

func TestConfigContainerLogLimitsValidated(t *testing.T) {
	for _, tc := range []struct {
		cfg  wasmpod.Config
		want string
	}{
		{wasmpod.Config{ContainerLogMaxFiles: 1}, "containerLogMaxFiles"},
		{wasmpod.Config{ContainerLogMaxSize: -5}, "containerLogMaxSize"},
	} {
		tc.cfg.CacheDir = t.TempDir()
		c, err := wasmpod.New(context.Background(), tc.cfg)
		if err == nil {
			c.Close()
			t.Errorf("%+v accepted", tc.cfg)
			continue
		}
		if !strings.Contains(err.Error(), tc.want) {
			t.Errorf("error %q does not name %s", err, tc.want)
		}
	}
}

// logFiles sums the files under the pods' log directories of the data
// dir.
func logFiles(t *testing.T, dataDir string) (size int64, n int) {
	t.Helper()
	err := filepath.WalkDir(dataDir, func(p string, d os.DirEntry, err error) error {
		if err != nil || !d.Type().IsRegular() || !strings.Contains(p, string(filepath.Separator)+"logs"+string(filepath.Separator)) {
			return err
		}
		if info, err := d.Info(); err == nil {
			size += info.Size()
			n++
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return size, n
}

// TestLogFloodThroughTheCluster: a guest flooding stdout keeps its logs
// within containerLogMaxSize × containerLogMaxFiles of the data dir, the
// API keeps answering, the log is readable while it floods, and deleting
// the pod removes its directory.
func TestLogFloodThroughTheCluster(t *testing.T) {
	ctx := context.Background()
	wasm := hostileWasm(t)
	const maxSize, maxFiles = 128 << 10, 3
	dataDir := t.TempDir()
	c, err := wasmpod.New(ctx, wasmpod.Config{DataDir: dataDir, CacheDir: t.TempDir(), ContainerLogMaxSize: maxSize, ContainerLogMaxFiles: maxFiles})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	applyYAML(t, c, wasm, `apiVersion: v1
kind: Pod
metadata: {name: flood}
spec:
  terminationGracePeriodSeconds: 1
  containers:
  - name: flood
    image: WASM
    args: ["logflood", "0", "100"]
`)
	if _, err := c.WaitPod(ctx, "default", "flood", func(p *corev1.Pod) bool { return p.Status.Phase == corev1.PodRunning }); err != nil {
		t.Fatal(err)
	}
	// Running is set when the guest starts, before it has written.
	deadline := time.Now().Add(time.Minute)
	for {
		var b bytes.Buffer
		tail := int64(2)
		if err := c.Logs(ctx, "default", "flood", &corev1.PodLogOptions{TailLines: &tail}, &b); err == nil && strings.Count(b.String(), "\n") == 2 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the guest wrote nothing: %q", b.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
	bound := int64(maxSize*maxFiles + logs.MaxRecordSize)
	var rotations int
	for i := 0; i < 50; i++ {
		// A hang guard, not a speed assertion.
		qctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		if _, err := c.Get(qctx, "pods", "default", "flood"); err != nil {
			cancel()
			t.Fatalf("the API did not answer during the flood: %v", err)
		}
		var b bytes.Buffer
		tail := int64(2)
		if err := c.Logs(qctx, "default", "flood", &corev1.PodLogOptions{TailLines: &tail}, &b); err != nil {
			cancel()
			t.Fatalf("logs during the flood: %v", err)
		}
		cancel()
		if ls := strings.Split(strings.TrimSuffix(b.String(), "\n"), "\n"); len(ls) != 2 || len(ls[1]) != 99 {
			t.Fatalf("tail 2 during the flood: %q", b.String())
		}
		// A listing that races with a rotation can see a renamed file
		// twice: only a violation seen three times in a row counts.
		size, n := logFiles(t, dataDir)
		for try := 0; try < 2 && (size > bound || n > maxFiles); try++ {
			size, n = logFiles(t, dataDir)
		}
		if size > bound || n > maxFiles {
			t.Fatalf("logs hold %d bytes in %d files; bound %d in %d", size, n, bound, maxFiles)
		}
		rotations = max(rotations, n)
		time.Sleep(50 * time.Millisecond)
	}
	if rotations < maxFiles {
		t.Errorf("the log never rotated (%d files)", rotations)
	}
	if err := c.Delete(ctx, "pods", "default", "flood", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	deadline = time.Now().Add(time.Minute)
	for {
		if size, n := logFiles(t, dataDir); n == 0 {
			break
		} else if time.Now().After(deadline) {
			t.Fatalf("%d log files (%d bytes) left after the pod was deleted", n, size)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestPodLogHTTPStreams: GET pods/NAME/log over HTTP sends the first
// bytes of a large log before it has read the rest (the server streams
// from the file; it used to read the whole log into memory first). Not
// parallel: rchar is the process's.
func TestPodLogHTTPStreams(t *testing.T) {
	ctx := context.Background()
	wasm := hostileWasm(t)
	c, err := wasmpod.New(ctx, wasmpod.Config{CacheDir: t.TempDir(), ContainerLogMaxSize: 1 << 30})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	applyYAML(t, c, wasm, `apiVersion: v1
kind: Pod
metadata: {name: big}
spec:
  terminationGracePeriodSeconds: 1
  containers:
  - name: big
    image: WASM
    args: ["logflood", "64", "1000"]
`)
	// The guest prints "logflood: done" on stderr once its 64 MiB are
	// written.
	deadline := time.Now().Add(2 * time.Minute)
	for {
		var b bytes.Buffer
		tail := int64(1)
		err := c.Logs(ctx, "default", "big", &corev1.PodLogOptions{TailLines: &tail}, &b)
		if err == nil && strings.HasPrefix(b.String(), "logflood: done") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the flood did not finish: %q, %v", b.String(), err)
		}
		time.Sleep(100 * time.Millisecond)
	}
	srv := httptest.NewServer(c.Handler())
	defer srv.Close()
	before := proctest.ReadBytes(t)
	resp, err := http.Get(srv.URL + "/api/v1/namespaces/default/pods/big/log")
	if err != nil {
		t.Fatal(err)
	}
	first := make([]byte, 1000)
	if _, err := io.ReadFull(resp.Body, first); err != nil {
		t.Fatal(err)
	}
	read := proctest.ReadBytes(t) - before
	resp.Body.Close()
	if !strings.HasPrefix(string(first), "0 xxx") {
		t.Fatalf("first bytes %q", first[:20])
	}
	// The server has read a few buffers of the file, not its 64 MiB
	// (the response is small until the client reads on).
	if read > 16<<20 {
		t.Errorf("%d bytes read before the first 1000 bytes of the log were sent", read)
	}
}
