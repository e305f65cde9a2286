package job

// Tests against a real in-process API server through client-go, with a
// fake clock; the pods' kubelet is played by the test (status writes).
// Upstream behaviours (test/e2e/apps/job.go) named per test; the e2e
// with real pods and kubectl is ../../job_e2e_test.go.

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/clock"
	clocktesting "k8s.io/utils/clock/testing"
	"k8s.io/utils/ptr"

	"github.com/wasmpod/wasmpod/apiserver"
	"github.com/wasmpod/wasmpod/internal/kube/kubernetes"
	"github.com/wasmpod/wasmpod/store/memory"
)

type env struct {
	cs     kubernetes.Interface
	clk    *batchClock
	start  func() // starts a controller (again)
	stop   func() // stops the running one
	server *apiserver.Server
	ctrl   *Controller // the running one
}

// batchClock is the fake clock with the deadlines of the timers the
// controller made, so that a test can let time pass up to a batched sync
// (syncJobBatchPeriod) and no further.
type batchClock struct {
	*clocktesting.FakeClock
	mu     sync.Mutex
	timers []*batchTimer
}

type batchTimer struct {
	clock.Timer
	at      time.Time
	stopped atomic.Bool
}

func (t *batchTimer) Stop() bool { t.stopped.Store(true); return t.Timer.Stop() }

func (c *batchClock) NewTimer(d time.Duration) clock.Timer {
	c.mu.Lock()
	defer c.mu.Unlock()
	t := &batchTimer{Timer: c.FakeClock.NewTimer(d), at: c.FakeClock.Now().Add(d)}
	c.timers = append(c.timers, t)
	return t
}

// stepBatch moves the clock to the earliest pending timer due within the
// batch period, as a second of real time would; false when there is none.
func (c *batchClock) stepBatch() bool {
	c.mu.Lock()
	now := c.FakeClock.Now()
	var next time.Time
	live := c.timers[:0]
	for _, t := range c.timers {
		if t.stopped.Load() || !t.at.After(now) {
			continue
		}
		live = append(live, t)
		if !t.at.After(now.Add(syncJobBatchPeriod)) && (next.IsZero() || t.at.Before(next)) {
			next = t.at
		}
	}
	c.timers = live
	c.mu.Unlock()
	if next.IsZero() {
		return false
	}
	c.Step(next.Sub(now))
	return true
}

func setup(t *testing.T) *env {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	st := memory.New()
	s, err := apiserver.New(ctx, st, apiserver.Options{})
	if err != nil {
		t.Fatal(err)
	}
	e := &env{clk: &batchClock{FakeClock: clocktesting.NewFakeClock(time.Now())}, server: s}
	cs, err := kubernetes.NewForConfig(s.InProcessConfig(s.Handler(apiserver.HandlerOptions{})))
	if err != nil {
		t.Fatal(err)
	}
	e.cs = cs
	var ccancel context.CancelFunc
	var done chan struct{}
	e.start = func() {
		cctx, cc := context.WithCancel(ctx)
		ccancel, done = cc, make(chan struct{})
		d := done
		c := New(cs, e.clk)
		e.ctrl = c
		go func() {
			defer close(d)
			c.Run(cctx)
		}()
	}
	e.stop = func() {
		if ccancel != nil {
			ccancel()
			<-done
			ccancel = nil
		}
	}
	e.start()
	t.Cleanup(func() {
		e.stop()
		cancel()
		st.Close()
	})
	return e
}

func newJob(name string, completions, parallelism *int32) *batchv1.Job {
	return &batchv1.Job{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default"},
		Spec: batchv1.JobSpec{
			Completions: completions,
			Parallelism: parallelism,
			Template: corev1.PodTemplateSpec{
				Spec: corev1.PodSpec{RestartPolicy: corev1.RestartPolicyNever, Containers: []corev1.Container{{Name: "c", Image: "busybox"}}},
			},
		},
	}
}

func (e *env) create(t *testing.T, j *batchv1.Job) *batchv1.Job {
	t.Helper()
	j, err := e.cs.BatchV1().Jobs("default").Create(context.Background(), j, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return j
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// waitBatched is waitFor for what a pod event or a Job status update
// brings: the clock moves to each batched sync (syncJobBatchPeriod) due
// while cond is false, never further than a batch period at a time.
func (e *env) waitBatched(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s (fake clock %v)", what, e.clk.Now())
		}
		e.clk.stepBatch()
		time.Sleep(5 * time.Millisecond)
	}
}

// settle lets the controller take what it was sent: for d of real time
// the clock moves to each batched sync due (the batched counterpart of a
// sleep before a check that nothing happened).
func (e *env) settle(d time.Duration) {
	for end := time.Now().Add(d); time.Now().Before(end); {
		e.clk.stepBatch()
		time.Sleep(5 * time.Millisecond)
	}
}

// pump moves the clock to each batched sync as it comes due until the
// test ends: for tests that react to the watch rather than wait.
func (e *env) pump(t *testing.T) {
	done := make(chan struct{})
	stopped := make(chan struct{})
	go func() {
		defer close(stopped)
		for {
			select {
			case <-done:
				return
			case <-time.After(5 * time.Millisecond):
				e.clk.stepBatch()
			}
		}
	}()
	t.Cleanup(func() { close(done); <-stopped })
}

func (e *env) job(t *testing.T, name string) *batchv1.Job {
	t.Helper()
	j, err := e.cs.BatchV1().Jobs("default").Get(context.Background(), name, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return j
}

// pods returns the Job's pods, by name.
func (e *env) pods(t *testing.T, job string) []corev1.Pod {
	t.Helper()
	l, err := e.cs.CoreV1().Pods("default").List(context.Background(), metav1.ListOptions{LabelSelector: batchv1.JobNameLabel + "=" + job})
	if err != nil {
		t.Fatal(err)
	}
	sort.Slice(l.Items, func(i, j int) bool { return l.Items[i].Name < l.Items[j].Name })
	return l.Items
}

// running returns the Job's pods that have not finished and are not being deleted.
func (e *env) running(t *testing.T, job string) []corev1.Pod {
	var out []corev1.Pod
	for _, p := range e.pods(t, job) {
		if p.DeletionTimestamp == nil && p.Status.Phase != corev1.PodSucceeded && p.Status.Phase != corev1.PodFailed {
			out = append(out, p)
		}
	}
	return out
}

// finish plays the kubelet: the pod's container exits with code at the
// fake clock's now.
func (e *env) finish(t *testing.T, name string, code int32, conds ...corev1.PodCondition) {
	t.Helper()
	for !e.tryFinish(t, name, code, conds...) {
	}
}

// tryFinish is one attempt of finish: false on a conflict.
func (e *env) tryFinish(t *testing.T, name string, code int32, conds ...corev1.PodCondition) bool {
	t.Helper()
	ctx := context.Background()
	p, err := e.cs.CoreV1().Pods("default").Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	now := metav1.NewTime(e.clk.Now())
	p.Status.Phase = corev1.PodSucceeded
	if code != 0 {
		p.Status.Phase = corev1.PodFailed
	}
	p.Status.Conditions = append([]corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionFalse, LastTransitionTime: now}}, conds...)
	p.Status.ContainerStatuses = []corev1.ContainerStatus{{Name: "c", State: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{ExitCode: code, FinishedAt: now}}}}
	if _, err := e.cs.CoreV1().Pods("default").UpdateStatus(ctx, p, metav1.UpdateOptions{}); err != nil {
		if apierrors.IsConflict(err) {
			return false
		}
		t.Fatal(err)
	}
	return true
}

func (e *env) events(t *testing.T, reason string) []string {
	t.Helper()
	l, err := e.cs.CoreV1().Events("default").List(context.Background(), metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, ev := range l.Items {
		if ev.Reason == reason {
			out = append(out, ev.Message)
		}
	}
	sort.Strings(out)
	return out
}

func cond(j *batchv1.Job, ty batchv1.JobConditionType) *batchv1.JobCondition {
	for i := range j.Status.Conditions {
		if j.Status.Conditions[i].Type == ty && j.Status.Conditions[i].Status == corev1.ConditionTrue {
			return &j.Status.Conditions[i]
		}
	}
	return nil
}

func hasFin(p *corev1.Pod) bool { return hasFinalizer(p) }

func (e *env) bind(t *testing.T, name string) {
	t.Helper()
	if err := e.cs.CoreV1().Pods("default").Bind(context.Background(), &corev1.Binding{ObjectMeta: metav1.ObjectMeta{Name: name},
		Target: corev1.ObjectReference{Kind: "Node", Name: "node-1"}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
}

// eventCount sums the counts of the events with reason and message.
func (e *env) eventCount(t *testing.T, reason, msg string) int32 {
	t.Helper()
	l, err := e.cs.CoreV1().Events("default").List(context.Background(), metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var n int32
	for _, ev := range l.Items {
		if ev.Reason == reason && ev.Message == msg {
			n += ev.Count
		}
	}
	return n
}

// TestRunToCompletion: "should run a job to completion when tasks succeed":
// completions 3, parallelism 2: two pods at a time, each with the tracking
// finalizer and controller reference; SuccessCriteriaMet then Complete
// (CompletionsReached), completionTime, succeeded 3, finalizers removed,
// events SuccessfulCreate and Completed.
func TestRunToCompletion(t *testing.T) {
	e := setup(t)
	j := e.create(t, newJob("ok", ptr.To[int32](3), ptr.To[int32](2)))
	waitFor(t, "2 pods", func() bool { return len(e.running(t, "ok")) == 2 })
	time.Sleep(50 * time.Millisecond)
	if n := len(e.pods(t, "ok")); n != 2 {
		t.Fatalf("%d pods with parallelism 2", n)
	}
	for _, p := range e.pods(t, "ok") {
		ref := metav1.GetControllerOf(&p)
		if !hasFin(&p) || ref == nil || ref.UID != j.UID || !strings.HasPrefix(p.Name, "ok-") || len(p.Name) != len("ok-")+5 {
			t.Fatalf("pod %s: finalizers %v, ref %+v", p.Name, p.Finalizers, ref)
		}
	}
	waitFor(t, "active 2, ready 0, startTime", func() bool {
		s := e.job(t, "ok").Status
		return s.Active == 2 && s.Ready != nil && *s.Ready == 0 && s.StartTime != nil && s.Terminating != nil
	})
	for done := 0; done < 3; {
		ps := e.running(t, "ok")
		if len(ps) == 0 {
			time.Sleep(5 * time.Millisecond)
			continue
		}
		e.finish(t, ps[0].Name, 0)
		done++
		e.waitBatched(t, fmt.Sprintf("succeeded %d", done), func() bool { return e.job(t, "ok").Status.Succeeded == int32(done) })
	}
	e.waitBatched(t, "Complete", func() bool { return cond(e.job(t, "ok"), batchv1.JobComplete) != nil })
	j = e.job(t, "ok")
	sc, c := cond(j, batchv1.JobSuccessCriteriaMet), cond(j, batchv1.JobComplete)
	if sc == nil || sc.Reason != "CompletionsReached" || sc.Message != "Reached expected number of succeeded pods" || c.Reason != "CompletionsReached" {
		t.Fatalf("conditions %+v", j.Status.Conditions)
	}
	if j.Status.CompletionTime == nil || j.Status.Succeeded != 3 || j.Status.Failed != 0 || j.Status.Active != 0 ||
		len(j.Status.UncountedTerminatedPods.Succeeded) != 0 {
		t.Fatalf("status %+v", j.Status)
	}
	if n := len(e.pods(t, "ok")); n != 3 {
		t.Fatalf("%d pods, want 3", n)
	}
	for _, p := range e.pods(t, "ok") {
		if hasFin(&p) {
			t.Errorf("pod %s keeps the tracking finalizer: %+v %+v", p.Name, p.ObjectMeta, p.Status)
		}
	}
	waitFor(t, "events", func() bool {
		return len(e.events(t, "SuccessfulCreate")) >= 3 && len(e.events(t, "Completed")) >= 1
	})
	time.Sleep(50 * time.Millisecond)
	if c, d := e.events(t, "SuccessfulCreate"), e.events(t, "Completed"); len(c) != 3 || len(d) != 1 {
		t.Fatalf("events SuccessfulCreate %q, Completed %q", c, d)
	}
	if got := e.events(t, "Completed"); got[0] != "Job completed" {
		t.Errorf("Completed event %q", got[0])
	}
}

// TestBackoffLimitNever: "should run a job to completion when tasks
// sometimes fail and are not locally restarted" and the backoffLimit:
// under restartPolicy Never exactly backoffLimit+1 pods fail, the
// replacements wait 10 s, then 20 s after the failure (fake clock; the
// failure itself is seen by the batched sync 1 s after it), and the Job
// fails with BackoffLimitExceeded.
func TestBackoffLimitNever(t *testing.T) {
	e := setup(t)
	j := newJob("bl", ptr.To[int32](1), ptr.To[int32](1))
	j.Spec.BackoffLimit = ptr.To[int32](2)
	e.create(t, j)
	for i := 0; i < 3; i++ {
		waitFor(t, fmt.Sprintf("pod %d", i+1), func() bool { return len(e.running(t, "bl")) == 1 })
		failedAt := e.clk.Now()
		e.finish(t, e.running(t, "bl")[0].Name, 1)
		e.waitBatched(t, fmt.Sprintf("failed %d", i+1), func() bool { return e.job(t, "bl").Status.Failed == int32(i+1) })
		if i == 2 {
			break
		}
		// back-off: no replacement before 10 s << i after the failure.
		wait := DefaultPodFailureBackOff << i
		time.Sleep(100 * time.Millisecond)
		if n := len(e.running(t, "bl")); n != 0 {
			t.Fatalf("failure %d: a replacement before the back-off", i+1)
		}
		if at := failedAt.Add(wait - time.Second); e.clk.Now().After(at) {
			t.Fatalf("failure %d: the clock at %v, past 1 s before the back-off", i+1, e.clk.Now().Sub(failedAt))
		} else {
			e.clk.SetTime(at)
		}
		time.Sleep(100 * time.Millisecond)
		if n := len(e.running(t, "bl")); n != 0 {
			t.Fatalf("failure %d: a replacement 1 s before the %v back-off", i+1, wait)
		}
		e.clk.Step(time.Second)
	}
	e.waitBatched(t, "Failed", func() bool { return cond(e.job(t, "bl"), batchv1.JobFailed) != nil })
	j = e.job(t, "bl")
	f, ft := cond(j, batchv1.JobFailed), cond(j, batchv1.JobFailureTarget)
	if f.Reason != "BackoffLimitExceeded" || f.Message != "Job has reached the specified backoff limit" || ft == nil || ft.Reason != f.Reason {
		t.Fatalf("conditions %+v", j.Status.Conditions)
	}
	if n := len(e.pods(t, "bl")); n != 3 || j.Status.Failed != 3 || j.Status.CompletionTime != nil {
		t.Fatalf("%d pods, status %+v", n, j.Status)
	}
	waitFor(t, "BackoffLimitExceeded event", func() bool {
		ev := e.events(t, "BackoffLimitExceeded")
		return len(ev) == 1 && ev[0] == "Job has reached the specified backoff limit"
	})
}

// TestBackoffLimitOnFailure: under OnFailure the containers' restarts
// count: backoffLimit 2 and a pod with 2 restarts fails the Job, and the
// running pod is deleted.
func TestBackoffLimitOnFailure(t *testing.T) {
	e := setup(t)
	j := newJob("of", ptr.To[int32](1), ptr.To[int32](1))
	j.Spec.BackoffLimit = ptr.To[int32](2)
	j.Spec.Template.Spec.RestartPolicy = corev1.RestartPolicyOnFailure
	e.create(t, j)
	waitFor(t, "pod", func() bool { return len(e.running(t, "of")) == 1 })
	p := e.running(t, "of")[0]
	for restarts := int32(1); restarts <= 2; restarts++ {
		cur, _ := e.cs.CoreV1().Pods("default").Get(context.Background(), p.Name, metav1.GetOptions{})
		cur.Status.Phase = corev1.PodRunning
		cur.Status.ContainerStatuses = []corev1.ContainerStatus{{Name: "c", RestartCount: restarts}}
		if _, err := e.cs.CoreV1().Pods("default").UpdateStatus(context.Background(), cur, metav1.UpdateOptions{}); err != nil {
			t.Fatal(err)
		}
		if restarts == 1 {
			e.settle(100 * time.Millisecond)
			if cond(e.job(t, "of"), batchv1.JobFailureTarget) != nil {
				t.Fatal("failed after 1 restart with backoffLimit 2")
			}
		}
	}
	e.waitBatched(t, "FailureTarget BackoffLimitExceeded", func() bool {
		c := cond(e.job(t, "of"), batchv1.JobFailureTarget)
		return c != nil && c.Reason == "BackoffLimitExceeded"
	})
	// unbound, so deleted at once once its finalizer is removed
	e.waitBatched(t, "the pod deleted", func() bool { return len(e.running(t, "of")) == 0 })
}

// TestActiveDeadline: "should fail when exceeds active deadline": at
// activeDeadlineSeconds on the fake clock, the active pods are deleted
// and the Job fails with DeadlineExceeded.
func TestActiveDeadline(t *testing.T) {
	e := setup(t)
	j := newJob("dl", ptr.To[int32](2), ptr.To[int32](2))
	j.Spec.ActiveDeadlineSeconds = ptr.To[int64](30)
	e.create(t, j)
	waitFor(t, "2 pods", func() bool { return len(e.running(t, "dl")) == 2 })
	for _, p := range e.running(t, "dl") {
		e.bind(t, p.Name) // bound: a deletion waits for the (absent) kubelet
	}
	e.clk.Step(29 * time.Second)
	time.Sleep(100 * time.Millisecond)
	if cond(e.job(t, "dl"), batchv1.JobFailureTarget) != nil {
		t.Fatal("failed before the deadline")
	}
	e.clk.Step(time.Second)
	waitFor(t, "FailureTarget DeadlineExceeded", func() bool {
		c := cond(e.job(t, "dl"), batchv1.JobFailureTarget)
		return c != nil && c.Reason == "DeadlineExceeded" && c.Message == "Job was active longer than specified deadline"
	})
	// No kubelet here: the deleted pods stay terminating, so Failed waits.
	e.waitBatched(t, "terminating 2", func() bool {
		s := e.job(t, "dl").Status
		return s.Terminating != nil && *s.Terminating == 2 && s.Active == 0
	})
	if cond(e.job(t, "dl"), batchv1.JobFailed) != nil {
		t.Fatal("Failed while pods are terminating")
	}
	for _, p := range e.pods(t, "dl") {
		e.finish(t, p.Name, 137)
	}
	e.waitBatched(t, "Failed DeadlineExceeded", func() bool {
		c := cond(e.job(t, "dl"), batchv1.JobFailed)
		return c != nil && c.Reason == "DeadlineExceeded"
	})
	if s := e.job(t, "dl").Status; s.Failed != 2 || *s.Terminating != 0 {
		t.Fatalf("status %+v", s)
	}
}

// TestSuspend: "should not create pods when created in suspend state"
// and suspend/resume: Suspended=True (JobSuspended), no pods, no
// startTime; resumed: Suspended=False (JobResumed), pods, startTime;
// suspended again: the active pods are deleted.
func TestSuspend(t *testing.T) {
	e := setup(t)
	j := newJob("sus", ptr.To[int32](2), ptr.To[int32](2))
	j.Spec.Suspend = ptr.To(true)
	e.create(t, j)
	waitFor(t, "Suspended", func() bool {
		c := cond(e.job(t, "sus"), batchv1.JobSuspended)
		return c != nil && c.Reason == "JobSuspended" && c.Message == "Job suspended"
	})
	time.Sleep(50 * time.Millisecond)
	if n := len(e.pods(t, "sus")); n != 0 || e.job(t, "sus").Status.StartTime != nil {
		t.Fatalf("%d pods, startTime %v while suspended", n, e.job(t, "sus").Status.StartTime)
	}
	setSuspend := func(v bool) {
		_, err := e.cs.BatchV1().Jobs("default").Patch(context.Background(), "sus", types.MergePatchType, fmt.Appendf(nil, `{"spec":{"suspend":%v}}`, v), metav1.PatchOptions{})
		if err != nil {
			t.Fatal(err)
		}
	}
	setSuspend(false)
	e.waitBatched(t, "2 pods and Resumed", func() bool {
		j := e.job(t, "sus")
		c := findCondition(j.Status.Conditions, batchv1.JobSuspended)
		return len(e.running(t, "sus")) == 2 && c != nil && c.Status == corev1.ConditionFalse && c.Reason == "JobResumed" && j.Status.StartTime != nil
	})
	setSuspend(true)
	e.waitBatched(t, "pods deleted, Suspended again", func() bool {
		return len(e.running(t, "sus")) == 0 && cond(e.job(t, "sus"), batchv1.JobSuspended) != nil
	})
	waitFor(t, "events", func() bool {
		return e.eventCount(t, "Suspended", "Job suspended") == 2 && e.eventCount(t, "Resumed", "Job resumed") == 1 && len(e.events(t, "SuccessfulDelete")) == 2
	})
}

// TestIndexed: "should create pods for an Indexed job with completion
// indexes and specified hostname": pods <job>-<index>-<5 chars> with the
// completion-index annotation and label, hostname <job>-<index>, the
// JOB_COMPLETION_INDEX env from the label; completedIndexes.
func TestIndexed(t *testing.T) {
	e := setup(t)
	j := newJob("ix", ptr.To[int32](4), ptr.To[int32](4))
	j.Spec.CompletionMode = ptr.To(batchv1.IndexedCompletion)
	e.create(t, j)
	waitFor(t, "4 pods", func() bool { return len(e.running(t, "ix")) == 4 })
	seen := map[string]string{}
	for _, p := range e.pods(t, "ix") {
		ix := p.Annotations[batchv1.JobCompletionIndexAnnotation]
		if p.Labels[batchv1.JobCompletionIndexAnnotation] != ix || p.Spec.Hostname != "ix-"+ix || !strings.HasPrefix(p.Name, "ix-"+ix+"-") || p.GenerateName != "ix-"+ix+"-" {
			t.Errorf("pod %s: index %q, labels %v, hostname %q", p.Name, ix, p.Labels, p.Spec.Hostname)
		}
		env := p.Spec.Containers[0].Env
		if len(env) != 1 || env[0].Name != "JOB_COMPLETION_INDEX" || env[0].ValueFrom.FieldRef.FieldPath != "metadata.labels['batch.kubernetes.io/job-completion-index']" {
			t.Errorf("pod %s env %+v", p.Name, env)
		}
		seen[ix] = p.Name
	}
	if len(seen) != 4 {
		t.Fatalf("indexes %v", seen)
	}
	e.finish(t, seen["0"], 0)
	e.finish(t, seen["1"], 0)
	e.finish(t, seen["3"], 0)
	e.waitBatched(t, "completedIndexes 0,1,3", func() bool {
		s := e.job(t, "ix").Status
		return s.CompletedIndexes == "0,1,3" && s.Succeeded == 3
	})
	e.finish(t, seen["2"], 0)
	e.waitBatched(t, "Complete", func() bool { return cond(e.job(t, "ix"), batchv1.JobComplete) != nil })
	if s := e.job(t, "ix").Status; s.CompletedIndexes != "0-3" || s.Succeeded != 4 {
		t.Fatalf("status %+v", s)
	}
}

// TestBackoffLimitPerIndex: "should execute all indexes despite some
// failing when using backoffLimitPerIndex": index 1 fails twice with
// backoffLimitPerIndex 1 (the replacement carries
// job-index-failure-count 1), the others succeed; failedIndexes "1",
// the Job fails with FailedIndexes.
func TestBackoffLimitPerIndex(t *testing.T) {
	e := setup(t)
	j := newJob("pi", ptr.To[int32](3), ptr.To[int32](3))
	j.Spec.CompletionMode = ptr.To(batchv1.IndexedCompletion)
	j.Spec.BackoffLimitPerIndex = ptr.To[int32](1)
	e.create(t, j)
	waitFor(t, "3 pods", func() bool { return len(e.running(t, "pi")) == 3 })
	byIx := func() map[string]corev1.Pod {
		m := map[string]corev1.Pod{}
		for _, p := range e.running(t, "pi") {
			m[p.Annotations[batchv1.JobCompletionIndexAnnotation]] = p
		}
		return m
	}
	m := byIx()
	failedAt := e.clk.Now()
	e.finish(t, m["1"].Name, 1)
	e.finish(t, m["0"].Name, 0)
	e.waitBatched(t, "completedIndexes 0", func() bool { return e.job(t, "pi").Status.CompletedIndexes == "0" })
	time.Sleep(100 * time.Millisecond)
	if _, ok := byIx()["1"]; ok {
		t.Fatal("index 1 replaced before the back-off")
	}
	e.clk.SetTime(failedAt.Add(DefaultPodFailureBackOff))
	waitFor(t, "index 1 replaced", func() bool { _, ok := byIx()["1"]; return ok })
	r := byIx()["1"]
	if r.Annotations[batchv1.JobIndexFailureCountAnnotation] != "1" {
		t.Fatalf("replacement annotations %v", r.Annotations)
	}
	e.finish(t, r.Name, 1)
	e.waitBatched(t, "failedIndexes 1", func() bool {
		s := e.job(t, "pi").Status
		return s.FailedIndexes != nil && *s.FailedIndexes == "1"
	})
	e.finish(t, byIx()["2"].Name, 0)
	e.waitBatched(t, "Failed FailedIndexes", func() bool {
		c := cond(e.job(t, "pi"), batchv1.JobFailed)
		return c != nil && c.Reason == "FailedIndexes" && c.Message == "Job has failed indexes"
	})
	if s := e.job(t, "pi").Status; s.CompletedIndexes != "0,2" || s.Failed != 2 || s.Succeeded != 2 {
		t.Fatalf("status %+v", s)
	}
}

// TestPodFailurePolicy: "should allow to use the pod failure policy on
// exit code to fail the job early", and Ignore on the DisruptionTarget
// condition: a disrupted pod is not counted and is replaced at once; exit
// code 42 fails the Job with reason PodFailurePolicy and upstream's message.
func TestPodFailurePolicy(t *testing.T) {
	e := setup(t)
	j := newJob("pfp", ptr.To[int32](2), ptr.To[int32](1))
	j.Spec.BackoffLimit = ptr.To[int32](6)
	j.Spec.PodFailurePolicy = &batchv1.PodFailurePolicy{Rules: []batchv1.PodFailurePolicyRule{
		{Action: batchv1.PodFailurePolicyActionFailJob, OnExitCodes: &batchv1.PodFailurePolicyOnExitCodesRequirement{Operator: batchv1.PodFailurePolicyOnExitCodesOpIn, Values: []int32{42}}},
		{Action: batchv1.PodFailurePolicyActionIgnore, OnPodConditions: []batchv1.PodFailurePolicyOnPodConditionsPattern{{Type: corev1.DisruptionTarget, Status: corev1.ConditionTrue}}},
	}}
	e.create(t, j)
	waitFor(t, "pod", func() bool { return len(e.running(t, "pfp")) == 1 })
	first := e.running(t, "pfp")[0].Name
	e.finish(t, first, 137, corev1.PodCondition{Type: corev1.DisruptionTarget, Status: corev1.ConditionTrue, Reason: "EvictionByEvictionAPI"})
	// upstream's back-off record takes every new failure, ignored ones too
	e.waitBatched(t, "the ignored failure seen", func() bool {
		p, _ := e.cs.CoreV1().Pods("default").Get(context.Background(), first, metav1.GetOptions{})
		return p == nil || !hasFin(p)
	})
	e.clk.Step(DefaultPodFailureBackOff)
	waitFor(t, "replaced", func() bool { r := e.running(t, "pfp"); return len(r) == 1 && r[0].Name != first })
	if s := e.job(t, "pfp").Status; s.Failed != 0 {
		t.Fatalf("an ignored failure counted: %+v", s)
	}
	second := e.running(t, "pfp")[0].Name
	e.finish(t, second, 42)
	e.waitBatched(t, "Failed PodFailurePolicy", func() bool {
		c := cond(e.job(t, "pfp"), batchv1.JobFailed)
		return c != nil && c.Reason == "PodFailurePolicy"
	})
	want := fmt.Sprintf("Container c for pod default/%s failed with exit code 42 matching FailJob rule at index 0", second)
	if c := cond(e.job(t, "pfp"), batchv1.JobFailed); c.Message != want {
		t.Fatalf("message %q, want %q", c.Message, want)
	}
	if s := e.job(t, "pfp").Status; s.Failed != 1 {
		t.Fatalf("failed %d, want 1 (the ignored one not counted)", s.Failed)
	}
}

// TestSuccessPolicy: "job with successPolicy": an Indexed Job whose rule
// succeededIndexes "0" is met once index 0 succeeds: SuccessCriteriaMet
// (SuccessPolicy, "Matched rules at index 0"), the other pods deleted,
// then Complete.
func TestSuccessPolicy(t *testing.T) {
	e := setup(t)
	j := newJob("sp", ptr.To[int32](3), ptr.To[int32](3))
	j.Spec.CompletionMode = ptr.To(batchv1.IndexedCompletion)
	j.Spec.SuccessPolicy = &batchv1.SuccessPolicy{Rules: []batchv1.SuccessPolicyRule{{SucceededIndexes: ptr.To("0")}}}
	e.create(t, j)
	waitFor(t, "3 pods", func() bool { return len(e.running(t, "sp")) == 3 })
	for _, p := range e.running(t, "sp") {
		e.bind(t, p.Name) // bound: a deletion waits for the (absent) kubelet
	}
	for _, p := range e.running(t, "sp") {
		if p.Annotations[batchv1.JobCompletionIndexAnnotation] == "0" {
			e.finish(t, p.Name, 0)
		}
	}
	e.waitBatched(t, "SuccessCriteriaMet", func() bool {
		c := cond(e.job(t, "sp"), batchv1.JobSuccessCriteriaMet)
		return c != nil && c.Reason == "SuccessPolicy" && c.Message == "Matched rules at index 0"
	})
	e.waitBatched(t, "others deleted", func() bool { return len(e.running(t, "sp")) == 0 })
	for _, p := range e.pods(t, "sp") {
		if p.DeletionTimestamp != nil {
			e.finish(t, p.Name, 137)
		}
	}
	e.waitBatched(t, "Complete", func() bool {
		c := cond(e.job(t, "sp"), batchv1.JobComplete)
		return c != nil && c.Reason == "SuccessPolicy"
	})
	if s := e.job(t, "sp").Status; s.Succeeded != 1 || s.CompletedIndexes != "0" {
		t.Fatalf("status %+v", s)
	}
}

// TestAdoptAndRelease: "should adopt matching orphans and release
// non-matching pods": an orphan with the Job's labels is adopted (and
// gains the tracking finalizer); a pod relabelled out is released.
func TestAdoptAndRelease(t *testing.T) {
	e := setup(t)
	ctx := context.Background()
	j := e.create(t, newJob("ad", ptr.To[int32](2), ptr.To[int32](2)))
	waitFor(t, "2 pods", func() bool { return len(e.running(t, "ad")) == 2 })
	p := e.running(t, "ad")[0]
	// orphan it: the Job adopts it back.
	if _, err := e.cs.CoreV1().Pods("default").Patch(ctx, p.Name, types.JSONPatchType, []byte(`[{"op":"remove","path":"/metadata/ownerReferences"},{"op":"remove","path":"/metadata/finalizers"}]`), metav1.PatchOptions{}); err != nil {
		t.Fatal(err)
	}
	e.waitBatched(t, "adopted with the finalizer", func() bool {
		cur, _ := e.cs.CoreV1().Pods("default").Get(ctx, p.Name, metav1.GetOptions{})
		ref := metav1.GetControllerOf(cur)
		return ref != nil && ref.UID == j.UID && hasFin(cur)
	})
	// relabel it: released.
	if _, err := e.cs.CoreV1().Pods("default").Patch(ctx, p.Name, types.MergePatchType, []byte(`{"metadata":{"labels":{"batch.kubernetes.io/controller-uid":null,"controller-uid":null}}}`), metav1.PatchOptions{}); err != nil {
		t.Fatal(err)
	}
	e.waitBatched(t, "released", func() bool {
		cur, _ := e.cs.CoreV1().Pods("default").Get(ctx, p.Name, metav1.GetOptions{})
		return metav1.GetControllerOf(cur) == nil
	})
	e.waitBatched(t, "the released pod's finalizer removed, a replacement", func() bool {
		cur, _ := e.cs.CoreV1().Pods("default").Get(ctx, p.Name, metav1.GetOptions{})
		owned := 0
		for _, q := range e.running(t, "ad") {
			if ref := metav1.GetControllerOf(&q); ref != nil && ref.UID == j.UID {
				owned++
			}
		}
		return !hasFin(cur) && owned == 2
	})
}

// TestRestartCountsOnce: the crash windows of finalizer tracking. A
// controller stopped after it wrote a pod's UID to uncountedTerminatedPods
// (finalizer still on), and another after it removed a finalizer but
// before it counted it: the next controller counts each exactly once.
func TestRestartCountsOnce(t *testing.T) {
	e := setup(t)
	ctx := context.Background()
	e.create(t, newJob("rs", ptr.To[int32](3), ptr.To[int32](3)))
	waitFor(t, "3 pods", func() bool { return len(e.running(t, "rs")) == 3 })
	waitFor(t, "active 3", func() bool { return e.job(t, "rs").Status.Active == 3 })
	e.stop()
	ps := e.pods(t, "rs")
	e.finish(t, ps[0].Name, 0)
	e.finish(t, ps[1].Name, 0)
	// Window 1: pod 0 is in uncounted with its finalizer. Window 2: pod 1
	// is in uncounted and its finalizer is gone.
	j := e.job(t, "rs")
	j.Status.UncountedTerminatedPods = &batchv1.UncountedTerminatedPods{Succeeded: []types.UID{ps[0].UID, ps[1].UID}}
	if _, err := e.cs.BatchV1().Jobs("default").UpdateStatus(ctx, j, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.cs.CoreV1().Pods("default").Patch(ctx, ps[1].Name, types.JSONPatchType, []byte(`[{"op":"remove","path":"/metadata/finalizers"}]`), metav1.PatchOptions{}); err != nil {
		t.Fatal(err)
	}
	e.start()
	waitFor(t, "succeeded 2, nothing uncounted", func() bool {
		s := e.job(t, "rs").Status
		return s.Succeeded == 2 && s.UncountedTerminatedPods != nil && len(s.UncountedTerminatedPods.Succeeded) == 0
	})
	e.finish(t, ps[2].Name, 0)
	e.waitBatched(t, "Complete", func() bool { return cond(e.job(t, "rs"), batchv1.JobComplete) != nil })
	if s := e.job(t, "rs").Status; s.Succeeded != 3 {
		t.Fatalf("succeeded %d, want 3", s.Succeeded)
	}
	if n := len(e.pods(t, "rs")); n != 3 {
		t.Fatalf("%d pods, want 3", n)
	}
}

// TestDeleteJobRemovesFinalizers: "should delete a job": the pods of a
// deleted Job lose the tracking finalizer (so the garbage collector can
// delete them).
func TestDeleteJobRemovesFinalizers(t *testing.T) {
	e := setup(t)
	ctx := context.Background()
	e.create(t, newJob("del", ptr.To[int32](2), ptr.To[int32](2)))
	waitFor(t, "2 pods", func() bool { return len(e.running(t, "del")) == 2 })
	if err := e.cs.BatchV1().Jobs("default").Delete(ctx, "del", metav1.DeleteOptions{PropagationPolicy: ptr.To(metav1.DeletePropagationBackground)}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "finalizers removed", func() bool {
		for _, p := range e.pods(t, "del") {
			if hasFin(&p) {
				return false
			}
		}
		return true
	})
	if _, err := e.cs.BatchV1().Jobs("default").Get(ctx, "del", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Fatalf("job still there: %v", err)
	}
}

// TestHostileStatusAndPods: garbage written to a Job's status
// (completedIndexes, failedIndexes, uncounted UIDs of no pod) and an
// orphan with the Job's labels and a bogus completion index never panic
// the controller: the API refuses the status, or the controller reads
// what it can (malformed intervals skipped), removes the index-less pod
// and runs every index to completion.
func TestHostileStatusAndPods(t *testing.T) {
	e := setup(t)
	ctx := context.Background()
	j := newJob("hx", ptr.To[int32](3), ptr.To[int32](3))
	j.Spec.CompletionMode = ptr.To(batchv1.IndexedCompletion)
	j.Spec.BackoffLimitPerIndex = ptr.To[int32](1)
	j.Spec.Suspend = ptr.To(true)
	j = e.create(t, j)
	waitFor(t, "Suspended", func() bool { return cond(e.job(t, "hx"), batchv1.JobSuspended) != nil })
	for {
		cur := e.job(t, "hx")
		cur.Status.CompletedIndexes = "x,5-2,-3,99999999999999999999999,1-,7"
		cur.Status.FailedIndexes = ptr.To("2-1,abc,-")
		_, err := e.cs.BatchV1().Jobs("default").UpdateStatus(ctx, cur, metav1.UpdateOptions{})
		if err == nil || apierrors.IsInvalid(err) {
			break
		}
		if !apierrors.IsConflict(err) {
			t.Fatal(err)
		}
	}
	orphan := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "bogus", Namespace: "default", Labels: j.Spec.Template.Labels,
		Annotations: map[string]string{batchv1.JobCompletionIndexAnnotation: "not-a-number"}},
		Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "busybox"}}}}
	if _, err := e.cs.CoreV1().Pods("default").Create(ctx, orphan, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.cs.BatchV1().Jobs("default").Patch(ctx, "hx", types.MergePatchType, []byte(`{"spec":{"suspend":false}}`), metav1.PatchOptions{}); err != nil {
		t.Fatal(err)
	}
	e.waitBatched(t, "the bogus pod adopted and deleted", func() bool {
		_, err := e.cs.CoreV1().Pods("default").Get(ctx, "bogus", metav1.GetOptions{})
		return apierrors.IsNotFound(err)
	})
	e.waitBatched(t, "3 indexed pods", func() bool { return len(e.running(t, "hx")) == 3 })
	for _, p := range e.running(t, "hx") {
		e.finish(t, p.Name, 0)
	}
	e.waitBatched(t, "Complete", func() bool { return cond(e.job(t, "hx"), batchv1.JobComplete) != nil })
	if s := e.job(t, "hx").Status; s.CompletedIndexes != "0-2" || s.Succeeded != 3 {
		t.Fatalf("status %+v", s)
	}
}
