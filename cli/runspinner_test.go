package cli

import (
	"bytes"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/creack/pty"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/wasmpod/wasmpod/internal/testwasm"
)

func spinPod(name string, phase corev1.PodPhase) *corev1.Pod {
	return &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name}, Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "c"}}},
		Status: corev1.PodStatus{Phase: phase}}
}

// TestRunSpinner: on a terminal the spinner draws a frame a tick while a
// pod waits, names the pod (or counts them), is erased before a status line
// and stops once every pod runs; elsewhere it never draws.
func TestRunSpinner(t *testing.T) {
	var out bytes.Buffer
	p := &statusPrinter{w: &out, last: map[string]string{}, events: map[string]int32{}, tty: true}
	t0 := time.Unix(1000, 0)
	p.status(spinPod("a", corev1.PodPending))
	p.tick(t0)
	p.tick(t0.Add(2500 * time.Millisecond))
	if got, want := out.String(), "pod/a created\npod/a Pending (phase: Pending, ready: 0/1, restarts: 0)\n"+
		"\r\x1b[K⠋ Waiting for pod/a to be Running... 0s\r\x1b[K⠙ Waiting for pod/a to be Running... 2s"; got != want {
		t.Fatalf("frames:\n%q\nwant\n%q", got, want)
	}
	out.Reset()
	p.status(spinPod("b", corev1.PodPending))
	p.tick(t0.Add(3 * time.Second))
	if got := out.String(); !strings.HasPrefix(got, "\r\x1b[Kpod/b created\n") || !strings.HasSuffix(got, "\r\x1b[K⠹ Waiting for 2 pods to be Running... 3s") {
		t.Fatalf("second pod:\n%q", got)
	}
	out.Reset()
	p.status(spinPod("a", corev1.PodRunning))
	p.status(spinPod("b", corev1.PodSucceeded))
	p.tick(t0.Add(4 * time.Second))
	if got, want := out.String(), "\r\x1b[Kpod/a Running (phase: Running, ready: 0/1, restarts: 0)\npod/b Succeeded (phase: Succeeded, ready: 0/1, restarts: 0)\n"; got != want {
		t.Fatalf("once running:\n%q\nwant\n%q", got, want)
	}

	out.Reset()
	log := &statusPrinter{w: &out, last: map[string]string{}, events: map[string]int32{}}
	log.status(spinPod("a", corev1.PodPending))
	log.tick(t0)
	log.tick(t0.Add(time.Second))
	if got := out.String(); strings.ContainsAny(got, "\r\x1b") || strings.Contains(got, "Waiting") {
		t.Fatalf("a spinner in a log:\n%q", got)
	}
}

// TestRunSpinnerTerminal: `wasmpod run` with stderr on a pseudo-terminal
// spins while its pod starts and leaves, once the spinner's lines are
// erased, the same status lines as with stderr in a file, where no
// terminal control is written.
func TestRunSpinnerTerminal(t *testing.T) {
	defer func(d time.Duration) { spinEvery = d }(spinEvery)
	spinEvery = time.Millisecond
	manifest := filepath.Join(testwasm.RepoRoot(t), "wasm-examples", "hello", "pod.yaml")
	cache := t.TempDir()

	code, stdout, plain := runCLI(t, "run", "--cache-dir", cache, "--data-dir", t.TempDir(), manifest)
	if code != 0 || strings.ContainsAny(plain, "\r\x1b") {
		t.Fatalf("exit %d, stderr in a file:\n%q\nstdout:\n%s", code, plain, stdout)
	}

	ptmx, tty, err := pty.Open()
	if err != nil {
		t.Skipf("no pseudo-terminal: %v", err)
	}
	defer ptmx.Close()
	var mu sync.Mutex
	var screen bytes.Buffer
	done := make(chan struct{})
	go func() {
		defer close(done)
		b := make([]byte, 4096)
		for {
			n, err := ptmx.Read(b)
			mu.Lock()
			screen.Write(b[:n])
			mu.Unlock()
			if err != nil {
				return
			}
		}
	}()
	var out bytes.Buffer
	code = runApp(App(&out, tty), []string{"wasmpod", "run", "--cache-dir", cache, "--data-dir", t.TempDir(), manifest})
	tty.Close()
	// Wait for the reader to drain what was written (the pty reports EOF
	// or EIO once the other side is closed).
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		t.Fatal("the pseudo-terminal's reader did not finish")
	}
	mu.Lock()
	raw := strings.ReplaceAll(screen.String(), "\r\n", "\n") // the terminal's output processing
	mu.Unlock()
	if code != 0 {
		t.Fatalf("exit %d on a terminal:\n%q", code, raw)
	}
	// What stays on the screen: each spinner line is erased by the
	// "\r\x1b[K" before the next output.
	spin := regexp.MustCompile("(\r\x1b\\[K)?[⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏] Waiting for pod/hello to be Running\\.\\.\\. \\d+s(\r\x1b\\[K)?")
	shown := spin.ReplaceAllString(raw, "")
	shown = strings.ReplaceAll(shown, "\r\x1b[K", "")
	// Lines of the run, without compile timings, nor the states a pod
	// passes through while Pending (Pending, ContainerCreating): two runs'
	// watches may see different ones.
	strip := func(s string) string {
		var keep []string
		for _, l := range strings.Split(s, "\n") {
			if strings.Contains(l, "(phase: Pending") {
				continue
			}
			if strings.HasPrefix(l, "pod/") || strings.HasPrefix(l, "Warning") {
				keep = append(keep, l)
			}
		}
		return strings.Join(keep, "\n")
	}
	if strip(shown) != strip(plain) {
		t.Errorf("the terminal shows\n%s\nthe file has\n%s\n(raw %q)", strip(shown), strip(plain), raw)
	}
	if strings.ContainsAny(shown, "⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏") {
		t.Errorf("a spinner frame was left on the screen:\n%q", raw)
	}
	t.Logf("%d spinner frames drawn", len(spin.FindAllString(raw, -1)))
}
