package pods

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/apimachinery/pkg/types"
	clocktesting "k8s.io/utils/clock/testing"
	"sigs.k8s.io/yaml"

	"github.com/wasmpod/wasmpod/images"
	"github.com/wasmpod/wasmpod/internal/testwasm"
	"github.com/wasmpod/wasmpod/logs"
	"github.com/wasmpod/wasmpod/runtime/wazero"
)

// These tests run the Worker end to end: real modules built from
// wasm-examples by the images.Resolver, real wazero, a real pod directory,
// and a fake clock for back-off, grace periods and deadlines.

// waitLimit bounds every wait on the worker in real time. It is a hang
// guard, not a speed assertion.
const waitLimit = 60 * time.Second

// memoResolver resolves each go:// package once per test binary; the
// underlying Resolver also caches builds on disk across runs.
type memoResolver struct {
	r  images.Resolver
	mu sync.Mutex
	m  map[string]*memoEntry
}

type memoEntry struct {
	once sync.Once
	img  *images.Image
	err  error
}

func (m *memoResolver) Resolve(ctx context.Context, ref, baseDir string) (*images.Image, error) {
	if !strings.HasPrefix(ref, "go://") {
		return m.r.Resolve(ctx, ref, baseDir)
	}
	key := filepath.Join(baseDir, strings.TrimPrefix(ref, "go://"))
	m.mu.Lock()
	e := m.m[key]
	if e == nil {
		e = &memoEntry{}
		m.m[key] = e
	}
	m.mu.Unlock()
	e.once.Do(func() { e.img, e.err = m.r.Resolve(context.Background(), ref, baseDir) })
	return e.img, e.err
}

var testImages = &memoResolver{
	r: images.Resolver{CacheDir: filepath.Join(testwasm.CacheDir(), "images")},
	m: map[string]*memoEntry{},
}

func examplesDir(t *testing.T) string {
	return filepath.Join(testwasm.RepoRoot(t), "wasm-examples")
}

// loadPod decodes wasm-examples/<name>/pod.yaml and sets the defaults the
// API server would.
func loadPod(t *testing.T, name string) *corev1.Pod {
	t.Helper()
	dir := filepath.Join(examplesDir(t), name)
	data, err := os.ReadFile(filepath.Join(dir, "pod.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var pod corev1.Pod
	if err := yaml.UnmarshalStrict(data, &pod); err != nil {
		t.Fatalf("%s/pod.yaml: %v", name, err)
	}
	pod.Namespace = "default"
	pod.UID = types.UID("uid-" + name)
	if pod.Spec.RestartPolicy == "" {
		pod.Spec.RestartPolicy = corev1.RestartPolicyAlways
	}
	if pod.Spec.TerminationGracePeriodSeconds == nil {
		g := int64(30)
		pod.Spec.TerminationGracePeriodSeconds = &g
	}
	if pod.Annotations == nil {
		pod.Annotations = map[string]string{}
	}
	pod.Annotations[AnnotationManifestDir] = dir
	return &pod
}

type harness struct {
	t      *testing.T
	clk    *clocktesting.FakeClock
	cfg    *Config
	w      *Worker
	cancel context.CancelFunc
	errc   chan error // Run's result
	runErr error      // set by waitDone

	mu       sync.Mutex
	statuses []*corev1.Pod
	events   []string // "Type Reason Message"
	lines    map[string][]string
}

func newHarness(t *testing.T, pod *corev1.Pod) *harness {
	t.Helper()
	eng, err := wazero.New(context.Background(), wazero.Config{CacheDir: testwasm.CompileCacheDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { eng.Close(context.Background()) })
	h := &harness{t: t, clk: clocktesting.NewFakeClock(time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)), lines: map[string][]string{}}
	h.cfg = &Config{
		Engine:   eng,
		Images:   testImages,
		Clock:    h.clk,
		RootDir:  t.TempDir(),
		NodeName: "node-1",
		HostIP:   "10.0.0.1",
		OnStatus: func(p *corev1.Pod) {
			h.mu.Lock()
			h.statuses = append(h.statuses, p)
			h.mu.Unlock()
		},
		OnEvent: func(_ *corev1.Pod, _, typ, reason, msg string) {
			h.mu.Lock()
			h.events = append(h.events, typ+" "+reason+" "+msg)
			h.mu.Unlock()
		},
		OnLog: func(_ *corev1.Pod, ctr string, _ logs.Stream, line string) {
			h.mu.Lock()
			h.lines[ctr] = append(h.lines[ctr], line)
			h.mu.Unlock()
		},
	}
	h.w = NewWorker(h.cfg, pod)
	return h
}

func (h *harness) run() {
	ctx, cancel := context.WithCancel(context.Background())
	h.cancel = cancel
	h.errc = make(chan error, 1)
	go func() { h.errc <- h.w.Run(ctx) }()
	h.t.Cleanup(func() {
		cancel()
		select {
		case <-h.w.Done():
		case <-time.After(waitLimit):
			h.t.Errorf("worker did not stop after ctx cancel")
		}
	})
}

func describe(p *corev1.Pod) string {
	var b strings.Builder
	fmt.Fprintf(&b, "phase=%s reason=%s", p.Status.Phase, p.Status.Reason)
	for _, cs := range append(append([]corev1.ContainerStatus{}, p.Status.InitContainerStatuses...), p.Status.ContainerStatuses...) {
		fmt.Fprintf(&b, "\n  %s restarts=%d state=", cs.Name, cs.RestartCount)
		switch s := cs.State; {
		case s.Waiting != nil:
			fmt.Fprintf(&b, "Waiting(%s: %s)", s.Waiting.Reason, s.Waiting.Message)
		case s.Running != nil:
			b.WriteString("Running")
		case s.Terminated != nil:
			fmt.Fprintf(&b, "Terminated(%d %s %s)", s.Terminated.ExitCode, s.Terminated.Reason, s.Terminated.Message)
		}
		if lt := cs.LastTerminationState.Terminated; lt != nil {
			fmt.Fprintf(&b, " last=%d", lt.ExitCode)
		}
	}
	return b.String()
}

// waitFor polls the worker's pod until cond holds.
func (h *harness) waitFor(what string, cond func(*corev1.Pod) bool) *corev1.Pod {
	h.t.Helper()
	deadline := time.Now().Add(waitLimit)
	for {
		p := h.w.Pod()
		if cond(p) {
			return p
		}
		select {
		case <-h.w.Done():
			if p := h.w.Pod(); cond(p) {
				return p
			}
			h.t.Fatalf("worker finished before %s; last status: %s\nevents: %v", what, describe(h.w.Pod()), h.eventList())
		default:
		}
		if time.Now().After(deadline) {
			h.t.Fatalf("timed out waiting for %s; last status: %s\nevents: %v", what, describe(p), h.eventList())
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// waitLog waits until container printed line.
func (h *harness) waitLog(ctr, line string) {
	h.t.Helper()
	deadline := time.Now().Add(waitLimit)
	for !slices.Contains(h.logLines(ctr), line) {
		if time.Now().After(deadline) {
			h.t.Fatalf("timed out waiting for %s to print %q; got %q; status: %s", ctr, line, h.logLines(ctr), describe(h.w.Pod()))
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// waitDone waits for Run to return and records its error in h.runErr.
func (h *harness) waitDone() *corev1.Pod {
	h.t.Helper()
	select {
	case h.runErr = <-h.errc:
		h.errc <- h.runErr // for another waitDone
	case <-time.After(waitLimit):
		h.t.Fatalf("worker still running; last status: %s\nevents: %v", describe(h.w.Pod()), h.eventList())
	}
	return h.w.Pod()
}

// waitTimer waits until the worker blocks on a timer of the fake clock.
func (h *harness) waitTimer() {
	h.t.Helper()
	deadline := time.Now().Add(waitLimit)
	for !h.clk.HasWaiters() {
		if time.Now().After(deadline) {
			h.t.Fatalf("worker never waited on the clock; status: %s", describe(h.w.Pod()))
		}
		time.Sleep(2 * time.Millisecond)
	}
}

func (h *harness) eventList() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return slices.Clone(h.events)
}

func (h *harness) hasEvent(prefix string) bool {
	return slices.ContainsFunc(h.eventList(), func(e string) bool { return strings.HasPrefix(e, prefix) })
}

func (h *harness) logLines(ctr string) []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return slices.Clone(h.lines[ctr])
}

func (h *harness) history() []*corev1.Pod {
	h.mu.Lock()
	defer h.mu.Unlock()
	return slices.Clone(h.statuses)
}

// fileLines reads a container instance's CRI log file.
func (h *harness) fileLines(ctr string, restart int32) []logs.Line {
	h.t.Helper()
	f, err := os.Open(h.w.LogPath(ctr, restart))
	if err != nil {
		h.t.Fatal(err)
	}
	defer f.Close()
	ls, err := logs.ReadAll(f)
	if err != nil {
		h.t.Fatalf("%s: %v", h.w.LogPath(ctr, restart), err)
	}
	return ls
}

func texts(ls []logs.Line) []string {
	var out []string
	for _, l := range ls {
		out = append(out, l.Text)
	}
	return out
}

func ctrStatus(p *corev1.Pod, name string) corev1.ContainerStatus {
	return statusOf(p.Status, name)
}

func waiting(p *corev1.Pod, name, reason string) bool {
	w := ctrStatus(p, name).State.Waiting
	return w != nil && w.Reason == reason
}

func terminal(p *corev1.Pod) bool {
	return p.Status.Phase == corev1.PodSucceeded || p.Status.Phase == corev1.PodFailed
}

func wantTerminated(t *testing.T, p *corev1.Pod, name string, code int32, reason string) {
	t.Helper()
	term := ctrStatus(p, name).State.Terminated
	if term == nil || term.ExitCode != code || term.Reason != reason {
		t.Errorf("%s: want Terminated(%d %s); status: %s", name, code, reason, describe(p))
	}
}

// --- tests ---------------------------------------------------------------

func TestWorkerHello(t *testing.T) {
	t.Parallel()
	h := newHarness(t, loadPod(t, "hello"))
	h.run()
	p := h.waitDone()
	if h.runErr != nil {
		t.Fatalf("Run: %v", h.runErr)
	}
	if p.Status.Phase != corev1.PodSucceeded {
		t.Fatalf("phase: %s", describe(p))
	}
	wantTerminated(t, p, "hello", 0, "Completed")
	cs := ctrStatus(p, "hello")
	if !strings.HasPrefix(cs.ImageID, "sha256:") || !strings.HasPrefix(cs.ContainerID, "wazero://") || cs.Image != "go://." {
		t.Errorf("image %q imageID %q containerID %q", cs.Image, cs.ImageID, cs.ContainerID)
	}
	if p.Spec.NodeName != "node-1" || p.Status.HostIP != "10.0.0.1" || p.Status.QOSClass != corev1.PodQOSBurstable {
		t.Errorf("nodeName %q hostIP %q qos %s", p.Spec.NodeName, p.Status.HostIP, p.Status.QOSClass)
	}
	if c := condOf(p.Status, corev1.PodReady); c.Status != corev1.ConditionFalse || c.Reason != "PodCompleted" {
		t.Errorf("Ready %+v", c)
	}

	want := []string{"hello from hello", "args: a b"}
	ls := h.fileLines("hello", 0)
	if got := texts(ls); !slices.Equal(got, want) {
		t.Errorf("log file lines %q, want %q", got, want)
	}
	for _, l := range ls {
		if l.Stream != logs.Stdout || l.Partial || l.Time.IsZero() {
			t.Errorf("log record %+v", l)
		}
	}
	if got := h.logLines("hello"); !slices.Equal(got, want) {
		t.Errorf("OnLog lines %q, want %q", got, want)
	}
	for _, e := range []string{"Normal Pulling", "Normal Pulled", "Normal Created", "Normal Started Started container hello"} {
		if !h.hasEvent(e) {
			t.Errorf("no event %q in %q", e, h.eventList())
		}
	}
	// Statuses go out only on change, and the pod passes through Running or
	// Pending before it is Succeeded.
	hist := h.history()
	if len(hist) < 2 || hist[len(hist)-1].Status.Phase != corev1.PodSucceeded {
		t.Fatalf("%d statuses published", len(hist))
	}
	for _, p := range hist[:len(hist)-1] {
		if terminal(p) {
			t.Errorf("terminal status published before the last: %s", describe(p))
		}
	}
	if _, err := os.Stat(filepath.Join(h.w.Dir(), "volumes")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("volumes dir left behind: %v", err)
	}
}

func TestWorkerDownwardAPIAndExpansion(t *testing.T) {
	t.Parallel()
	pod := &corev1.Pod{}
	pod.Name, pod.Namespace, pod.UID = "env", "team-a", "uid-env"
	pod.Labels = map[string]string{"app": "web"}
	pod.Annotations = map[string]string{AnnotationManifestDir: filepath.Join(examplesDir(t), "testguests")}
	pod.Spec.RestartPolicy = corev1.RestartPolicyNever
	field := func(path string) *corev1.EnvVarSource {
		return &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{FieldPath: path}}
	}
	pod.Spec.Containers = []corev1.Container{{
		Name:  "probe",
		Image: "go://./probe",
		Args:  []string{"env"},
		Env: []corev1.EnvVar{
			{Name: "POD_NAME", ValueFrom: field("metadata.name")},
			{Name: "POD_NAMESPACE", ValueFrom: field("metadata.namespace")},
			{Name: "POD_UID", ValueFrom: field("metadata.uid")},
			{Name: "NODE", ValueFrom: field("spec.nodeName")},
			{Name: "HOST_IP", ValueFrom: field("status.hostIP")},
			{Name: "APP", ValueFrom: field("metadata.labels['app']")},
			{Name: "MEM_MI", ValueFrom: &corev1.EnvVarSource{ResourceFieldRef: &corev1.ResourceFieldSelector{
				Resource: "limits.memory", Divisor: resource.MustParse("1Mi")}}},
			{Name: "CPU_M", ValueFrom: &corev1.EnvVarSource{ResourceFieldRef: &corev1.ResourceFieldSelector{
				Resource: "requests.cpu", Divisor: resource.MustParse("1m")}}},
			{Name: "GREETING", Value: "hi $(POD_NAME) in $(POD_NAMESPACE)"},
			{Name: "ESCAPED", Value: "$$(POD_NAME) $(UNDEFINED)"},
		},
		Resources: corev1.ResourceRequirements{
			Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("250m")},
			Limits:   corev1.ResourceList{corev1.ResourceMemory: resource.MustParse("48Mi")},
		},
	}}
	h := newHarness(t, pod)
	h.run()
	p := h.waitDone()
	if p.Status.Phase != corev1.PodSucceeded {
		t.Fatalf("status: %s", describe(p))
	}
	got := texts(h.fileLines("probe", 0))
	for _, want := range []string{
		"HOSTNAME=env", "POD_NAME=env", "POD_NAMESPACE=team-a", "POD_UID=uid-env", "NODE=node-1",
		"HOST_IP=10.0.0.1", "APP=web", "MEM_MI=48", "CPU_M=250",
		"GREETING=hi env in team-a", "ESCAPED=$(POD_NAME) $(UNDEFINED)",
	} {
		if !slices.Contains(got, want) {
			t.Errorf("environment lacks %q; got %q", want, got)
		}
	}
}

func TestWorkerInitContainersInOrder(t *testing.T) {
	t.Parallel()
	h := newHarness(t, loadPod(t, "init"))
	h.run()
	p := h.waitDone()
	if p.Status.Phase != corev1.PodSucceeded {
		t.Fatalf("status: %s", describe(p))
	}
	wantTerminated(t, p, "prepare", 0, "Completed")
	wantTerminated(t, p, "check", 0, "Completed")
	wantTerminated(t, p, "app", 0, "Completed")

	// The app saw what both init containers wrote, so they ran before it
	// and in order.
	want := []string{"app: /work/config.txt contains:", "greeting=hello from init", "checked=true"}
	if got := texts(h.fileLines("app", 0)); !slices.Equal(got, want) {
		t.Errorf("app printed %q, want %q", got, want)
	}
	var started []string
	for _, e := range h.eventList() {
		if name, ok := strings.CutPrefix(e, "Normal Started Started container "); ok {
			started = append(started, name)
		}
	}
	if !slices.Equal(started, []string{"prepare", "check", "app"}) {
		t.Errorf("containers started in order %q", started)
	}
	// No published status shows two of them active at once, and the pod is
	// Pending while an init container runs.
	sawPendingInit := false
	for _, p := range h.history() {
		active := 0
		for _, n := range []string{"prepare", "check", "app"} {
			if ctrStatus(p, n).State.Running != nil {
				active++
			}
		}
		if active > 1 {
			t.Errorf("more than one container running: %s", describe(p))
		}
		if ctrStatus(p, "prepare").State.Running != nil || ctrStatus(p, "check").State.Running != nil {
			sawPendingInit = true
			if p.Status.Phase != corev1.PodPending || !waiting(p, "app", "PodInitializing") {
				t.Errorf("during init: %s", describe(p))
			}
			if c := condOf(p.Status, corev1.PodInitialized); c.Status != corev1.ConditionFalse {
				t.Errorf("Initialized %+v during init", c)
			}
		}
	}
	if !sawPendingInit {
		t.Error("no status published while an init container ran")
	}
}

func TestWorkerSharedVolume(t *testing.T) {
	t.Parallel()
	h := newHarness(t, loadPod(t, "shared-volume"))
	h.run()
	p := h.waitDone()
	if p.Status.Phase != corev1.PodSucceeded {
		t.Fatalf("status: %s\nreader: %q", describe(p), h.logLines("reader"))
	}
	wantTerminated(t, p, "writer", 0, "Completed")
	wantTerminated(t, p, "reader", 0, "Completed")
	want := []string{"read: line 1", "read: line 2", "read: line 3", "read: line 4", "read: line 5", "reader done"}
	if got := texts(h.fileLines("reader", 0)); !slices.Equal(got, want) {
		t.Errorf("reader printed %q, want %q", got, want)
	}
}

func TestWorkerCrashLoopBackOff(t *testing.T) {
	t.Parallel()
	h := newHarness(t, loadPod(t, "crash"))
	h.run()

	// The first restart is immediate (the fake clock has not moved); the
	// second exit waits 10 s.
	p := h.waitFor("CrashLoopBackOff after one restart", func(p *corev1.Pod) bool {
		return waiting(p, "crash", "CrashLoopBackOff") && ctrStatus(p, "crash").RestartCount == 1
	})
	check := func(p *corev1.Pod, restarts int32, delay string) {
		t.Helper()
		cs := ctrStatus(p, "crash")
		msg := "back-off " + delay + " restarting failed container=crash pod=crash_default(uid-crash)"
		if cs.RestartCount != restarts || cs.State.Waiting.Message != msg {
			t.Errorf("want restartCount %d and %q; status: %s", restarts, msg, describe(p))
		}
		if lt := cs.LastTerminationState.Terminated; lt == nil || lt.ExitCode != 3 || lt.Reason != "Error" {
			t.Errorf("lastState %+v, want exit 3 Error", cs.LastTerminationState)
		}
		if p.Status.Phase != corev1.PodRunning {
			t.Errorf("phase %s, want Running (OnFailure, restarting)", p.Status.Phase)
		}
	}
	check(p, 1, "10s")
	if !h.hasEvent("Warning BackOff Back-off restarting failed container crash in pod crash_default(uid-crash)") {
		t.Errorf("no BackOff event in %q", h.eventList())
	}
	for i := int32(0); i < 2; i++ {
		if got := texts(h.fileLines("crash", i)); !slices.Equal(got, []string{"crashing with exit code 3"}) {
			t.Errorf("instance %d log %q", i, got)
		}
	}

	// Nothing happens until the back-off expires.
	h.waitTimer()
	h.clk.Step(9 * time.Second)
	h.waitTimer()
	if cs := ctrStatus(h.w.Pod(), "crash"); cs.RestartCount != 1 {
		t.Fatalf("restarted before the back-off expired: %s", describe(h.w.Pod()))
	}
	h.clk.Step(time.Second)
	p = h.waitFor("the second restart", func(p *corev1.Pod) bool {
		return waiting(p, "crash", "CrashLoopBackOff") && ctrStatus(p, "crash").RestartCount == 2
	})
	check(p, 2, "20s")

	// Deleting a pod in back-off ends it at once: no restart, Failed.
	h.w.Terminate(-1)
	p = h.waitDone()
	if h.runErr != nil || p.Status.Phase != corev1.PodFailed {
		t.Fatalf("Run: %v; status: %s", h.runErr, describe(p))
	}
	wantTerminated(t, p, "crash", 3, "Error")
}

func TestWorkerGracefulTermination(t *testing.T) {
	t.Parallel()
	h := newHarness(t, loadPod(t, "graceful"))
	h.run()
	h.waitLog("graceful", "ready")
	// The guest's "ready" line can come before the worker publishes
	// Running: wait for the status rather than read it at once.
	h.waitFor("Running and Ready before TERM", func(p *corev1.Pod) bool {
		return p.Status.Phase == corev1.PodRunning && condOf(p.Status, corev1.PodReady).Status == corev1.ConditionTrue
	})
	h.w.Terminate(-1)
	p := h.waitDone()
	if h.runErr != nil {
		t.Fatalf("Run: %v", h.runErr)
	}
	if p.Status.Phase != corev1.PodSucceeded {
		t.Fatalf("status: %s", describe(p))
	}
	wantTerminated(t, p, "graceful", 0, "Completed")
	if p.DeletionTimestamp == nil || p.DeletionGracePeriodSeconds == nil || *p.DeletionGracePeriodSeconds != 5 {
		t.Errorf("deletionTimestamp %v, grace %v; want set, 5", p.DeletionTimestamp, p.DeletionGracePeriodSeconds)
	}
	got := texts(h.fileLines("graceful", 0))
	if len(got) < 3 || got[len(got)-2] != "TERM received, cleaning up" || got[len(got)-1] != "clean exit" {
		t.Errorf("log %q", got)
	}
	if !h.hasEvent("Normal Killing Stopping container graceful") {
		t.Errorf("no Killing event in %q", h.eventList())
	}
}

func TestWorkerKillAtGraceDeadline(t *testing.T) {
	t.Parallel()
	h := newHarness(t, loadPod(t, "spin"))
	h.run()
	h.waitLog("spin", "spinning, ignoring TERM")
	h.w.Terminate(-1)
	h.waitTimer() // the kill deadline, 2 s away on the fake clock
	p := h.w.Pod()
	if ctrStatus(p, "spin").State.Running == nil {
		t.Fatalf("spin stopped before the grace period ended: %s", describe(p))
	}
	if c := condOf(p.Status, corev1.PodReady); c.Status != corev1.ConditionFalse {
		t.Errorf("Ready %+v while terminating", c)
	}
	h.clk.Step(2 * time.Second)
	p = h.waitDone()
	if h.runErr != nil {
		t.Fatalf("Run: %v", h.runErr)
	}
	if p.Status.Phase != corev1.PodFailed {
		t.Fatalf("status: %s", describe(p))
	}
	wantTerminated(t, p, "spin", 137, "Error")
}

func TestWorkerActiveDeadlineSeconds(t *testing.T) {
	t.Parallel()
	pod := loadPod(t, "graceful")
	d := int64(30)
	pod.Spec.ActiveDeadlineSeconds = &d
	h := newHarness(t, pod)
	h.run()
	h.waitLog("graceful", "ready")
	h.waitTimer()
	h.clk.Step(30 * time.Second)
	p := h.waitDone()
	if p.Status.Phase != corev1.PodFailed || p.Status.Reason != "DeadlineExceeded" {
		t.Fatalf("status: %s", describe(p))
	}
	// It got TERM, not KILL: it exited cleanly.
	wantTerminated(t, p, "graceful", 0, "Completed")
}

func TestWorkerMissingImage(t *testing.T) {
	t.Parallel()
	pod := loadPod(t, "hello")
	pod.Spec.Containers[0].Image = "./missing.wasm"
	h := newHarness(t, pod)
	h.run()
	h.waitFor("ImagePullBackOff", func(p *corev1.Pod) bool { return waiting(p, "hello", "ImagePullBackOff") })
	reasons := func() []string {
		var out []string
		for _, p := range h.history() {
			if w := ctrStatus(p, "hello").State.Waiting; w != nil && (len(out) == 0 || out[len(out)-1] != w.Reason) {
				out = append(out, w.Reason)
			}
		}
		return out
	}
	if got := reasons(); !slices.Equal(got, []string{"ContainerCreating", "ErrImagePull", "ImagePullBackOff"}) &&
		!slices.Equal(got, []string{"ErrImagePull", "ImagePullBackOff"}) {
		t.Fatalf("waiting reasons %q", got)
	}
	p := h.w.Pod()
	if p.Status.Phase != corev1.PodPending {
		t.Errorf("phase %s, want Pending", p.Status.Phase)
	}
	if w := ctrStatus(p, "hello").State.Waiting; !strings.HasPrefix(w.Message, `Back-off pulling image "./missing.wasm": ErrImagePull: Failed to pull image "./missing.wasm": `) {
		t.Errorf("message %q", w.Message)
	}
	// The kubelet's events: the failed pull, its "Error: " event, then the
	// back-off's.
	for _, ev := range []string{`Warning Failed Failed to pull image "./missing.wasm"`, "Warning Failed Error: ErrImagePull",
		`Normal BackOff Back-off pulling image "./missing.wasm"`, "Warning Failed Error: ImagePullBackOff"} {
		if !h.hasEvent(ev) {
			t.Errorf("no %q event in %q", ev, h.eventList())
		}
	}

	// The retry comes when the back-off expires, and fails again.
	h.waitTimer()
	if n := len(slices.DeleteFunc(h.eventList(), func(e string) bool { return !strings.HasPrefix(e, "Warning Failed Failed to pull") })); n != 1 {
		t.Fatalf("%d failed pulls before the back-off expired, want 1", n)
	}
	h.clk.Step(10 * time.Second)
	h.waitFor("a second failed pull and back-off", func(*corev1.Pod) bool {
		got := reasons()
		n := 0
		for _, r := range got {
			if r == "ErrImagePull" {
				n++
			}
		}
		return n == 2 && got[len(got)-1] == "ImagePullBackOff"
	})
	if got := reasons(); got[len(got)-2] != "ErrImagePull" {
		t.Errorf("waiting reasons %q", got)
	}
	h.w.Terminate(0)
	if p := h.waitDone(); p.Status.Phase != corev1.PodFailed {
		t.Errorf("after delete: %s", describe(p))
	}
}

func TestWorkerContextCancelKills(t *testing.T) {
	t.Parallel()
	h := newHarness(t, loadPod(t, "spin"))
	h.run()
	h.waitLog("spin", "spinning, ignoring TERM")
	h.cancel()
	p := h.waitDone()
	if !errors.Is(h.runErr, context.Canceled) {
		t.Errorf("Run returned %v, want context.Canceled", h.runErr)
	}
	wantTerminated(t, p, "spin", 137, "Error")
	if p.Status.Phase != corev1.PodFailed {
		t.Errorf("status: %s", describe(p))
	}
}

func TestWorkerOOMKilled(t *testing.T) {
	t.Parallel()
	pod := &corev1.Pod{}
	pod.Name, pod.Namespace, pod.UID = "oom", "default", "uid-oom"
	pod.Annotations = map[string]string{AnnotationManifestDir: filepath.Join(examplesDir(t), "testguests")}
	pod.Spec.RestartPolicy = corev1.RestartPolicyNever
	pod.Spec.Containers = []corev1.Container{{
		Name: "hog", Image: "go://./probe", Args: []string{"memhog"},
		Resources: corev1.ResourceRequirements{Limits: corev1.ResourceList{corev1.ResourceMemory: resource.MustParse("48Mi")}},
	}}
	h := newHarness(t, pod)
	h.run()
	p := h.waitDone()
	if p.Status.Phase != corev1.PodFailed {
		t.Fatalf("status: %s", describe(p))
	}
	wantTerminated(t, p, "hog", 137, "OOMKilled")
}

func TestWorkerHostPathRefused(t *testing.T) {
	t.Parallel()
	pod := loadPod(t, "hello")
	pod.Spec.Volumes = []corev1.Volume{{Name: "host", VolumeSource: corev1.VolumeSource{HostPath: &corev1.HostPathVolumeSource{Path: t.TempDir()}}}}
	h := newHarness(t, pod)
	h.run()
	p := h.waitDone()
	if p.Status.Phase != corev1.PodFailed {
		t.Fatalf("status: %s", describe(p))
	}
	w := ctrStatus(p, "hello").State.Waiting
	if w == nil || w.Reason != "CreateContainerConfigError" || !strings.Contains(w.Message, `volume "host"`) {
		t.Errorf("status: %s", describe(p))
	}
	if !h.hasEvent("Warning FailedMount") {
		t.Errorf("events %q", h.eventList())
	}
}
