package pods

import (
	"bytes"
	"context"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/wasmpod/wasmpod/runtime/enginetest"
)

// Tests of the worker additions: restore after a node reboot, Exec and Logs.

// toolsPod is the graceful example plus a probe container ("tools", which
// waits for TERM) sharing an emptyDir at /data and an env var.
func toolsPod(t *testing.T, name string) *corev1.Pod {
	pod := loadPod(t, "graceful")
	pod.Name, pod.UID = name, types.UID("uid-"+name)
	pod.Annotations[AnnotationManifestDir] = examplesDir(t)
	pod.Spec.Volumes = []corev1.Volume{{Name: "data", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}}}
	mounts := []corev1.VolumeMount{{Name: "data", MountPath: "/data"}}
	env := []corev1.EnvVar{{Name: "GREETING", Value: "hello from $(HOSTNAME)"}}
	g := &pod.Spec.Containers[0]
	g.Image, g.VolumeMounts, g.Env = "go://./graceful", mounts, env
	pod.Spec.Containers = append(pod.Spec.Containers, corev1.Container{
		Name: "tools", Image: "go://./testguests/probe", Args: []string{"waitterm"},
		VolumeMounts: mounts, Env: env,
	})
	return pod
}

func podRunning(names ...string) func(*corev1.Pod) bool {
	return func(p *corev1.Pod) bool {
		for _, n := range names {
			if ctrStatus(p, n).State.Running == nil {
				return false
			}
		}
		return p.Status.Phase == corev1.PodRunning
	}
}

// reboot simulates wasmpod stopping while the pod runs: it returns the pod
// as last reported while running, and stops the worker.
func reboot(t *testing.T, h *harness, names ...string) *corev1.Pod {
	t.Helper()
	p := h.waitFor("running", podRunning(names...))
	h.cancel()
	h.waitDone()
	return p
}

func TestWorkerRestoreAfterRebootRestarts(t *testing.T) {
	t.Parallel()
	pod := loadPod(t, "graceful")
	pod.Spec.RestartPolicy = corev1.RestartPolicyOnFailure
	h := newHarness(t, pod)
	h.run()
	h.waitLog("graceful", "ready")
	before := reboot(t, h, "graceful")

	h2 := newHarness(t, before)
	h2.cfg.RootDir = h.cfg.RootDir
	h2.w = NewWorker(h2.cfg, before)
	h2.run()
	p := h2.waitFor("restarted", func(p *corev1.Pod) bool {
		cs := ctrStatus(p, "graceful")
		return cs.State.Running != nil && cs.RestartCount > 0
	})
	cs := ctrStatus(p, "graceful")
	if cs.RestartCount != 1 {
		t.Errorf("restartCount %d, want 1", cs.RestartCount)
	}
	last := cs.LastTerminationState.Terminated
	if last == nil || last.ExitCode != 137 || last.Reason != "ContainerStatusUnknown" || last.Message != msgLostRestart {
		t.Errorf("lastState %+v", last)
	}
	if !p.Status.StartTime.Equal(before.Status.StartTime) {
		t.Errorf("startTime %v, want the original %v", p.Status.StartTime, before.Status.StartTime)
	}
	h2.waitLog("graceful", "ready")
	// The new instance logs to 1.log; the lost one's log is its previous.
	var prev bytes.Buffer
	if err := h2.w.Logs(context.Background(), &corev1.PodLogOptions{Previous: true}, &prev); err != nil || !strings.HasPrefix(prev.String(), "ready\n") {
		t.Errorf("previous log %q, %v", prev.String(), err)
	}
	if got := texts(h2.fileLines("graceful", 1)); len(got) == 0 || got[0] != "ready" {
		t.Errorf("1.log %q", got)
	}
	h2.w.Terminate(-1)
	if p := h2.waitDone(); p.Status.Phase != corev1.PodSucceeded {
		t.Errorf("after TERM: %s", describe(p))
	}
}

func TestWorkerRestoreAfterRebootInitContainersRunAgain(t *testing.T) {
	t.Parallel()
	pod := toolsPod(t, "restore-init")
	pod.Spec.InitContainers = []corev1.Container{{Name: "setup", Image: "go://./testguests/probe", Args: []string{"exit", "0"}}}
	h := newHarness(t, pod)
	h.run()
	before := reboot(t, h, "graceful", "tools")
	if cs := before.Status.InitContainerStatuses[0]; cs.State.Terminated == nil || cs.RestartCount != 0 {
		t.Fatalf("init before reboot: %s", describe(before))
	}

	h2 := newHarness(t, before)
	h2.run()
	p := h2.waitFor("running again", func(p *corev1.Pod) bool {
		return podRunning("graceful", "tools")(p) && ctrStatus(p, "graceful").RestartCount > 0 && ctrStatus(p, "tools").RestartCount > 0
	})
	init := p.Status.InitContainerStatuses[0]
	if init.RestartCount != 1 || init.State.Terminated == nil || init.State.Terminated.ExitCode != 0 ||
		init.LastTerminationState.Terminated == nil || init.LastTerminationState.Terminated.Reason != "Completed" {
		t.Errorf("init container after reboot: %+v", init)
	}
	for _, n := range []string{"graceful", "tools"} {
		if cs := ctrStatus(p, n); cs.RestartCount != 1 || cs.LastTerminationState.Terminated == nil {
			t.Errorf("%s after reboot: %s", n, describe(p))
		}
	}
	// While the init container ran again, the app containers waited
	// (PodInitializing) with their lost instance as lastState.
	sawWaiting := slices.ContainsFunc(h2.history(), func(p *corev1.Pod) bool {
		cs := ctrStatus(p, "graceful")
		return cs.State.Waiting != nil && cs.State.Waiting.Reason == "PodInitializing" &&
			cs.LastTerminationState.Terminated != nil && cs.LastTerminationState.Terminated.Reason == "ContainerStatusUnknown"
	})
	if !sawWaiting {
		t.Errorf("no Waiting(PodInitializing) with lastState while init re-ran")
	}
	h2.w.Terminate(-1)
	h2.waitDone()
}

func TestWorkerRestoreAfterRebootNeverFails(t *testing.T) {
	t.Parallel()
	pod := loadPod(t, "graceful")
	pod.Spec.RestartPolicy = corev1.RestartPolicyNever
	h := newHarness(t, pod)
	h.run()
	h.waitLog("graceful", "ready")
	before := reboot(t, h, "graceful")

	h2 := newHarness(t, before)
	h2.run()
	p := h2.waitDone()
	if h2.runErr != nil || p.Status.Phase != corev1.PodFailed {
		t.Fatalf("Run %v; status %s", h2.runErr, describe(p))
	}
	cs := ctrStatus(p, "graceful")
	term := cs.State.Terminated
	if term == nil || term.ExitCode != 137 || term.Reason != "ContainerStatusUnknown" ||
		term.Message != "The container could not be located when the pod was terminated" || cs.RestartCount != 0 {
		t.Errorf("status: %s", describe(p))
	}
	if h2.hasEvent("Normal Started") {
		t.Errorf("a container started: %q", h2.eventList())
	}
}

func TestWorkerRestoreTerminalPodLeftAlone(t *testing.T) {
	t.Parallel()
	h := newHarness(t, loadPod(t, "hello"))
	h.run()
	done := h.waitDone()
	if done.Status.Phase != corev1.PodSucceeded {
		t.Fatalf("status %s", describe(done))
	}
	h2 := newHarness(t, done)
	h2.run()
	p := h2.waitDone()
	if h2.runErr != nil || len(h2.history()) != 0 || len(h2.eventList()) != 0 {
		t.Errorf("Run %v; statuses %d; events %q", h2.runErr, len(h2.history()), h2.eventList())
	}
	if !equalStatus(p.Status, done.Status) {
		t.Errorf("status changed: %s", describe(p))
	}
}

func equalStatus(a, b corev1.PodStatus) bool {
	return a.Phase == b.Phase && a.StartTime.Equal(b.StartTime) && len(a.ContainerStatuses) == len(b.ContainerStatuses) &&
		a.ContainerStatuses[0].RestartCount == b.ContainerStatuses[0].RestartCount
}

func TestWorkerExec(t *testing.T) {
	t.Parallel()
	h := newHarness(t, toolsPod(t, "exec"))

	// Before the pod runs: refused.
	if _, err := h.w.Exec(context.Background(), "tools", []string{"probe", "exit", "0"}, nil, nil, nil); err == nil ||
		!strings.Contains(err.Error(), "not running") {
		t.Errorf("exec before start: %v", err)
	}
	h.run()
	h.waitFor("running", podRunning("graceful", "tools"))
	if err := os.WriteFile(filepath.Join(h.w.Dir(), "volumes", "data", "note.txt"), []byte("from the host\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	exec := func(stdin io.Reader, argv ...string) (int, string, string) {
		t.Helper()
		var out, errb bytes.Buffer
		code, err := h.w.Exec(context.Background(), "tools", argv, stdin, &out, &errb)
		if err != nil {
			t.Fatalf("exec %q: %v", argv, err)
		}
		return code, out.String(), errb.String()
	}
	if code, out, _ := exec(nil, "probe", "cat", "/data/note.txt"); code != 0 || out != "from the host\n" {
		t.Errorf("cat: %d %q", code, out)
	}
	if code, _, _ := exec(nil, "probe", "write", "/data/back.txt", "from exec"); code != 0 {
		t.Errorf("write: %d", code)
	}
	if b, err := os.ReadFile(filepath.Join(h.w.Dir(), "volumes", "data", "back.txt")); err != nil || string(b) != "from exec" {
		t.Errorf("volume file %q, %v", b, err)
	}
	if code, out, _ := exec(nil, "probe", "env"); code != 0 || !strings.Contains(out, "GREETING=hello from exec\n") || !strings.Contains(out, "HOSTNAME=exec\n") {
		t.Errorf("env: %d %q", code, out)
	}
	if code, out, _ := exec(strings.NewReader("line 1\nline 2\n"), "probe", "readstdin"); code != 0 || out != "line 1\nline 2\n" {
		t.Errorf("readstdin: %d %q", code, out)
	}
	if code, out, _ := exec(nil, "probe", "ls", "/data"); code != 0 || out != "back.txt\nnote.txt\n" {
		t.Errorf("ls: %d %q", code, out)
	}
	if code, _, _ := exec(nil, "probe", "exit", "3"); code != 3 {
		t.Errorf("exit 3: code %d", code)
	}
	if code, _, errs := exec(nil, "probe", "cat", "/data/missing"); code != 1 || errs == "" {
		t.Errorf("cat missing: %d %q", code, errs)
	}
	// Cancelling ctx kills the instance.
	ctx, cancel := context.WithCancel(context.Background())
	res := make(chan int, 1)
	spinOut := enginetest.NewBuffer()
	go func() {
		code, _ := h.w.Exec(ctx, "tools", []string{"probe", "spin"}, nil, spinOut, nil)
		res <- code
	}()
	waitOutput(t, spinOut, "ready\n")
	cancel()
	select {
	case code := <-res:
		if code != 137 {
			t.Errorf("cancelled exec: code %d, want 137", code)
		}
	case <-time.After(waitLimit):
		t.Fatal("cancelled exec did not end")
	}
	// The exec instances did not disturb the pod or its logs.
	if p := h.w.Pod(); !podRunning("graceful", "tools")(p) || ctrStatus(p, "tools").RestartCount != 0 {
		t.Errorf("pod after exec: %s", describe(p))
	}
	if _, err := h.w.Exec(context.Background(), "nope", []string{"x"}, nil, nil, nil); err == nil || !strings.Contains(err.Error(), `container "nope" not found`) {
		t.Errorf("unknown container: %v", err)
	}
	if _, err := h.w.Exec(context.Background(), "tools", nil, nil, nil, nil); err == nil {
		t.Errorf("empty argv accepted")
	}
	h.w.Terminate(-1)
	h.waitDone()
	if _, err := h.w.Exec(context.Background(), "tools", []string{"probe", "exit", "0"}, nil, nil, nil); err == nil ||
		!strings.Contains(err.Error(), "pod is not running") {
		t.Errorf("exec after the pod ended: %v", err)
	}
}

// logWorker is a worker for a finished pod whose container "app" has
// restarted once, with hand-written CRI logs for both instances.
func logWorker(t *testing.T) (*Worker, time.Time) {
	pod := loadPod(t, "hello")
	pod.Spec.Containers[0].Name = "app"
	t0 := time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
	pod.Status = corev1.PodStatus{
		Phase: corev1.PodSucceeded,
		ContainerStatuses: []corev1.ContainerStatus{{
			Name: "app", RestartCount: 1,
			State:                corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{Reason: "Completed"}},
			LastTerminationState: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{Reason: "Error", ExitCode: 1}},
		}},
	}
	h := newHarness(t, pod)
	h.clk.SetTime(t0.Add(10 * time.Second))
	write := func(restart int32, recs ...string) {
		path := h.w.LogPath("app", restart)
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(strings.Join(recs, "\n")+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	ts := func(s int) string { return t0.Add(time.Duration(s) * time.Second).Format(time.RFC3339Nano) }
	write(0, ts(0)+" stdout F old one", ts(1)+" stderr F old two")
	write(1,
		ts(2)+" stdout F two",
		ts(3)+" stderr F three",
		ts(4)+" stdout P fo",
		ts(4)+" stdout F ur",
		ts(6)+" stdout F six",
		ts(8)+" stdout F eight",
	)
	return h.w, t0
}

func TestWorkerLogsOptions(t *testing.T) {
	t.Parallel()
	w, t0 := logWorker(t)
	i64 := func(n int64) *int64 { return &n }
	since := metav1.NewTime(t0.Add(6 * time.Second))
	wantLogs(t, w, []logCase{
		{"current", corev1.PodLogOptions{}, "two\nthree\nfour\nsix\neight\n"},
		{"previous", corev1.PodLogOptions{Previous: true}, "old one\nold two\n"},
		{"tail 2", corev1.PodLogOptions{TailLines: i64(2)}, "six\neight\n"},
		{"tail 0", corev1.PodLogOptions{TailLines: i64(0)}, ""},
		{"tail more than there is", corev1.PodLogOptions{TailLines: i64(100)}, "two\nthree\nfour\nsix\neight\n"},
		{"timestamps", corev1.PodLogOptions{TailLines: i64(1), Timestamps: true}, "2025-03-01T12:00:08Z eight\n"},
		{"sinceTime", corev1.PodLogOptions{SinceTime: &since}, "six\neight\n"},
		// The worker's clock says 12:00:10; 5 s back is 12:00:05.
		{"sinceSeconds", corev1.PodLogOptions{SinceSeconds: i64(5)}, "six\neight\n"},
		{"limitBytes", corev1.PodLogOptions{LimitBytes: i64(7)}, "two\nthr"},
		{"follow of a finished instance", corev1.PodLogOptions{Follow: true, TailLines: i64(1)}, "eight\n"},
		{"explicit container", corev1.PodLogOptions{Container: "app", TailLines: i64(1)}, "eight\n"},
	})
	var b bytes.Buffer
	if err := w.Logs(context.Background(), &corev1.PodLogOptions{Container: "nope"}, &b); err == nil || err.Error() != "container nope is not valid for pod hello" {
		t.Errorf("unknown container: %v", err)
	}
}

func TestWorkerLogsPreviousNotFound(t *testing.T) {
	t.Parallel()
	h := newHarness(t, loadPod(t, "hello"))
	var b bytes.Buffer
	if err := h.w.Logs(context.Background(), &corev1.PodLogOptions{}, &b); err == nil ||
		err.Error() != `container "hello" in pod "hello" is waiting to start: ContainerCreating` {
		t.Errorf("before start: %v", err)
	}
	h.run()
	h.waitDone()
	if err := h.w.Logs(context.Background(), &corev1.PodLogOptions{Previous: true}, &b); err == nil ||
		err.Error() != `previous terminated container "hello" in pod "hello" not found` {
		t.Errorf("previous: %v", err)
	}
	if err := h.w.Logs(context.Background(), &corev1.PodLogOptions{}, &b); err != nil || b.Len() == 0 {
		t.Errorf("current: %q, %v", b.String(), err)
	}
}

// waitOutput waits until b contains want (enginetest.Buffer is the
// goroutine-safe writer the runtime's conformance suite uses).
func waitOutput(t *testing.T, b *enginetest.Buffer, want string) {
	t.Helper()
	b.WaitFor(t, want, waitLimit)
}

func TestWorkerLogsFollow(t *testing.T) {
	t.Parallel()
	h := newHarness(t, loadPod(t, "graceful"))
	h.run()
	h.waitLog("graceful", "ready")

	// Follow until the instance exits: the output ends with the lines
	// written during termination and Logs returns by itself.
	out := enginetest.NewBuffer()
	errc := make(chan error, 1)
	go func() { errc <- h.w.Logs(context.Background(), &corev1.PodLogOptions{Follow: true}, out) }()
	waitOutput(t, out, "ready\n")
	select {
	case err := <-errc:
		t.Fatalf("follow returned while the container runs: %v", err)
	default:
	}

	// A second follower stops when its ctx ends.
	ctx, cancel := context.WithCancel(context.Background())
	errc2 := make(chan error, 1)
	out2 := enginetest.NewBuffer()
	go func() {
		errc2 <- h.w.Logs(ctx, &corev1.PodLogOptions{Follow: true, TailLines: new(int64)}, out2)
	}()
	cancel()
	select {
	case err := <-errc2:
		if err != nil {
			t.Errorf("cancelled follow: %v", err)
		}
	case <-time.After(waitLimit):
		t.Fatal("follow did not stop on ctx cancel")
	}

	h.w.Terminate(-1)
	select {
	case err := <-errc:
		if err != nil {
			t.Fatalf("follow: %v", err)
		}
	case <-time.After(waitLimit):
		t.Fatalf("follow did not end after the container exited; output %q", out.String())
	}
	if got := out.String(); !strings.HasPrefix(got, "ready\n") || !strings.HasSuffix(got, "TERM received, cleaning up\nclean exit\n") {
		t.Errorf("followed output %q", got)
	}
}
