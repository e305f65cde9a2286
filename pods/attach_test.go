package pods

import (
	"context"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/wasmpod/wasmpod/runtime/enginetest"
)

// greetPod runs the tar test guest's greet mode (hello, a warning on
// stderr, then stdin echoed, then exit 0) with stdin as given.
func greetPod(t *testing.T, name string, stdinOnce bool) *corev1.Pod {
	pod := loadPod(t, "hello")
	pod.Name, pod.UID = name, types.UID("uid-"+name)
	pod.Annotations[AnnotationManifestDir] = examplesDir(t)
	pod.Spec.RestartPolicy = corev1.RestartPolicyNever
	pod.Spec.Containers = []corev1.Container{{Name: "app", Image: "go://./testguests/tar", Args: []string{"greet", "0"},
		Stdin: true, StdinOnce: stdinOnce}}
	return pod
}

// TestWorkerAttach: attaches write into the container's stdin and see its
// output from when they connect, stdout and stderr apart; without
// stdinOnce the guest's stdin outlives an attach, with it the first
// attach's end of input is the guest's EOF.
func TestWorkerAttach(t *testing.T) {
	t.Parallel()
	h := newHarness(t, greetPod(t, "attach", false))
	if err := h.w.Attach(context.Background(), "app", nil, nil, nil, false); err == nil || !strings.Contains(err.Error(), "not running") {
		t.Errorf("attach before start: %v", err)
	}
	h.run()
	h.waitFor("running", podRunning("app"))
	h.waitLog("app", "hello from the guest")
	h.waitLog("app", "a warning") // stderr: the guest now waits on stdin

	attach := func(stdin string) (*enginetest.Buffer, *enginetest.Buffer, context.CancelFunc, chan error) {
		out, errb := enginetest.NewBuffer(), enginetest.NewBuffer()
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- h.w.Attach(ctx, "app", strings.NewReader(stdin), out, errb, false) }()
		return out, errb, cancel, done
	}
	out1, err1, cancel1, done1 := attach("one\n")
	waitOutput(t, out1, "one\n")
	cancel1()
	if err := <-done1; err != nil {
		t.Fatal(err)
	}
	// The greeting came before the attach: not repeated to it.
	if s := out1.String(); s != "one\n" || err1.String() != "" {
		t.Errorf("first attach: stdout %q stderr %q", s, err1.String())
	}
	// Its input ended, but without stdinOnce the guest's stdin is open.
	out2, _, cancel2, done2 := attach("two\n")
	waitOutput(t, out2, "two\n")
	if s := out2.String(); s != "two\n" {
		t.Errorf("second attach: %q", s)
	}
	if p := h.w.Pod(); !podRunning("app")(p) {
		t.Errorf("guest ended after the first attach: %s", describe(p))
	}
	cancel2()
	<-done2
	if err := h.w.Attach(context.Background(), "nope", nil, nil, nil, false); err == nil || !strings.Contains(err.Error(), `container "nope" not found`) {
		t.Errorf("unknown container: %v", err)
	}
	h.w.Terminate(-1)
	h.waitDone()
}

func TestWorkerAttachStdinOnce(t *testing.T) {
	t.Parallel()
	h := newHarness(t, greetPod(t, "attach-once", true))
	h.run()
	h.waitFor("running", podRunning("app"))
	h.waitLog("app", "hello from the guest")
	h.waitLog("app", "a warning") // stderr: the guest now waits on stdin
	out, errb := enginetest.NewBuffer(), enginetest.NewBuffer()
	done := make(chan error, 1)
	go func() {
		done <- h.w.Attach(context.Background(), "app", strings.NewReader("last words\n"), out, errb, false)
	}()
	// The end of the attach's input closes the guest's stdin: it echoes,
	// exits, and the attach returns by itself with all the output.
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(waitLimit):
		t.Fatal("attach did not end with the guest")
	}
	if s := out.String(); s != "last words\n" {
		t.Errorf("stdout %q", s)
	}
	p := h.waitDone()
	if cs := ctrStatus(p, "app"); cs.State.Terminated == nil || cs.State.Terminated.ExitCode != 0 {
		t.Errorf("guest: %s", describe(p))
	}
}

// TestWorkerAttachAfterLogRead: kubectl run -i reads the log so far, then
// attaches; the attach starts right after the last record that read
// delivered, even when the records share a timestamp (the harness's fake
// clock never moves), so nothing is lost or printed twice.
func TestWorkerAttachAfterLogRead(t *testing.T) {
	t.Parallel()
	h := newHarness(t, greetPod(t, "attach-after-logs", true))
	h.run()
	h.waitFor("running", podRunning("app"))
	h.waitLog("app", "hello from the guest")
	h.waitLog("app", "a warning") // the guest now waits on stdin
	var logged strings.Builder
	if err := h.w.Logs(context.Background(), &corev1.PodLogOptions{Container: "app"}, &logged); err != nil {
		t.Fatal(err)
	}
	if s := logged.String(); s != "hello from the guest\na warning\n" {
		t.Fatalf("log read: %q", s)
	}
	out, errb := enginetest.NewBuffer(), enginetest.NewBuffer()
	if err := h.w.Attach(context.Background(), "app", strings.NewReader("typed in\n"), out, errb, false); err != nil {
		t.Fatal(err)
	}
	if out.String() != "typed in\n" || errb.String() != "" {
		t.Errorf("attach after the log read: stdout %q stderr %q, want only the echo", out.String(), errb.String())
	}
	h.waitDone()
}

// TestWorkerAttachAfterLogReadExited: an instance that exits between the
// log read and the attach still gives the attach the rest of its output
// (here: the log read stopped at its limit after the first line), and the
// attach then returns.
func TestWorkerAttachAfterLogReadExited(t *testing.T) {
	t.Parallel()
	h := newHarness(t, greetPod(t, "attach-exited", true))
	h.run()
	h.waitFor("running", podRunning("app"))
	h.waitLog("app", "a warning") // the guest now waits on stdin
	limit := int64(len("hello from the guest\n"))
	var logged strings.Builder
	if err := h.w.Logs(context.Background(), &corev1.PodLogOptions{Container: "app", LimitBytes: &limit}, &logged); err != nil {
		t.Fatal(err)
	}
	if s := logged.String(); s != "hello from the guest\n" {
		t.Fatalf("log read: %q", s)
	}
	// The guest's stdin ends (as if another client's input ended): it
	// exits before the attach comes.
	h.w.mu.Lock()
	st := h.w.attach["app"]
	h.w.mu.Unlock()
	st.closeStdin()
	h.waitDone()
	out, errb := enginetest.NewBuffer(), enginetest.NewBuffer()
	if err := h.w.Attach(context.Background(), "app", nil, out, errb, false); err != nil {
		t.Fatal(err)
	}
	if out.String() != "" || errb.String() != "a warning\n" {
		t.Errorf("attach: stdout %q stderr %q, want the rest: the warning", out.String(), errb.String())
	}
	// Only the first attach after a log read replays.
	if err := h.w.Attach(context.Background(), "app", nil, out, errb, false); err == nil || !strings.Contains(err.Error(), "not running") {
		t.Errorf("second attach to the exited instance: %v", err)
	}
}
