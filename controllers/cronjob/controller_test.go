package cronjob

// Tests against a real in-process API server through client-go, with a
// fake clock for both the server (creation times) and the controller. No
// Job controller runs: the tests write the Jobs' status themselves, as the
// CronJob controller only creates Jobs and reads their status. Upstream
// behaviours (test/e2e/apps/cronjob.go) are named per test; the e2e with
// the Job controller, real pods and kubectl is ../../cronjob_e2e_test.go.

import (
	"context"
	"encoding/json"
	"fmt"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/util/retry"
	clocktesting "k8s.io/utils/clock/testing"
	"k8s.io/utils/ptr"

	"github.com/wasmpod/wasmpod/apiserver"
	"github.com/wasmpod/wasmpod/internal/apitest"
	"github.com/wasmpod/wasmpod/internal/kube/kubernetes"
	"github.com/wasmpod/wasmpod/store/memory"
)

// t0 is the fake clock's start: 30 s into a minute, so "*/1 * * * ?"
// next fires at t0+30s.
var t0 = time.Date(2026, 3, 2, 10, 0, 30, 0, time.UTC)

type env struct {
	cs  kubernetes.Interface
	dyn dynamic.Interface
	clk *clocktesting.FakeClock
	ns  string
}

// apiClient serves a real API server (memory store, clk) for the test's
// life and returns a client of it.
func apiClient(t *testing.T, clk *clocktesting.FakeClock) kubernetes.Interface {
	return apitest.Client(t, clk)
}

func setup(t *testing.T) *env {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	st := memory.New()
	clk := clocktesting.NewFakeClock(t0)
	s, err := apiserver.New(ctx, st, apiserver.Options{Clock: clk})
	if err != nil {
		t.Fatal(err)
	}
	cfg := s.InProcessConfig(s.Handler(apiserver.HandlerOptions{}))
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	dyn, err := dynamic.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		New(cs, clk).Run(ctx)
	}()
	t.Cleanup(func() {
		cancel()
		<-done
		st.Close()
	})
	return &env{cs: cs, dyn: dyn, clk: clk, ns: "default"}
}

// newCronJob is upstream's newTestCronJob: parallelism, completions and
// backoffLimit 1, an emptyDir, restartPolicy OnFailure.
func newCronJob(name, schedule string, policy batchv1.ConcurrencyPolicy, succeeded, failed *int32) *batchv1.CronJob {
	return &batchv1.CronJob{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: batchv1.CronJobSpec{
			Schedule:                   schedule,
			ConcurrencyPolicy:          policy,
			SuccessfulJobsHistoryLimit: succeeded,
			FailedJobsHistoryLimit:     failed,
			JobTemplate: batchv1.JobTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"tmpl": name}, Annotations: map[string]string{"note": "from-template"}},
				Spec: batchv1.JobSpec{
					Parallelism: ptr.To[int32](1), Completions: ptr.To[int32](1), BackoffLimit: ptr.To[int32](1),
					Template: corev1.PodTemplateSpec{Spec: corev1.PodSpec{
						RestartPolicy: corev1.RestartPolicyOnFailure,
						Volumes:       []corev1.Volume{{Name: "data", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}}},
						Containers: []corev1.Container{{Name: "c", Image: "busybox", Command: []string{"sleep", "300"},
							VolumeMounts: []corev1.VolumeMount{{Name: "data", MountPath: "/data"}}}},
					}},
				},
			},
		},
	}
}

func (e *env) create(t *testing.T, cj *batchv1.CronJob) *batchv1.CronJob {
	t.Helper()
	out, err := e.cs.BatchV1().CronJobs(e.ns).Create(context.Background(), cj, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func (e *env) cj(t *testing.T, name string) *batchv1.CronJob {
	t.Helper()
	cj, err := e.cs.BatchV1().CronJobs(e.ns).Get(context.Background(), name, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return cj
}

// jobs lists the namespace's Jobs, by name.
func (e *env) jobs(t *testing.T) []batchv1.Job {
	t.Helper()
	l, err := e.cs.BatchV1().Jobs(e.ns).List(context.Background(), metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	sort.Slice(l.Items, func(i, j int) bool { return l.Items[i].Name < l.Items[j].Name })
	return l.Items
}

func jobNames(js []batchv1.Job) []string {
	var out []string
	for _, j := range js {
		out = append(out, j.Name)
	}
	return out
}

func activeNames(cj *batchv1.CronJob) []string {
	var out []string
	for _, r := range cj.Status.Active {
		out = append(out, r.Name)
	}
	sort.Strings(out)
	return out
}

// minute is the Job name suffix of a scheduled time.
func minute(t time.Time) string { return fmt.Sprint(t.Unix() / 60) }

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// settle gives the controller time to act on something it must not do.
func settle() { time.Sleep(300 * time.Millisecond) }

// events returns "Type Reason: message" of the CronJob's events, sorted.
func (e *env) events(t *testing.T, name string) []string {
	t.Helper()
	l, err := e.cs.CoreV1().Events(e.ns).List(context.Background(), metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, ev := range l.Items {
		if ev.InvolvedObject.Kind == "CronJob" && ev.InvolvedObject.Name == name {
			out = append(out, ev.Type+" "+ev.Reason+": "+ev.Message)
		}
	}
	sort.Strings(out)
	return out
}

func (e *env) waitEvent(t *testing.T, name, want string) {
	t.Helper()
	waitFor(t, "event "+want, func() bool {
		for _, ev := range e.events(t, name) {
			if ev == want {
				return true
			}
		}
		return false
	})
}

func hasEventReason(evs []string, reason string) bool {
	for _, ev := range evs {
		if strings.Contains(ev, " "+reason+": ") {
			return true
		}
	}
	return false
}

// finish gives a Job the status the Job controller would write when it
// ends: Complete (with completionTime) or Failed, at the fake clock's time.
func (e *env) finish(t *testing.T, name string, cond batchv1.JobConditionType) {
	t.Helper()
	ctx := context.Background()
	err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		j, err := e.cs.BatchV1().Jobs(e.ns).Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return err
		}
		now := metav1.NewTime(e.clk.Now())
		start := metav1.NewTime(j.CreationTimestamp.Time)
		j.Status.StartTime = &start
		interim := batchv1.JobSuccessCriteriaMet
		reason := "CompletionsReached"
		if cond == batchv1.JobFailed {
			interim, reason = batchv1.JobFailureTarget, "BackoffLimitExceeded"
			j.Status.Failed = 1
		} else {
			j.Status.Succeeded = 1
			j.Status.CompletionTime = &now
		}
		j.Status.Conditions = []batchv1.JobCondition{
			{Type: interim, Status: corev1.ConditionTrue, Reason: reason, LastProbeTime: now, LastTransitionTime: now},
			{Type: cond, Status: corev1.ConditionTrue, Reason: reason, LastProbeTime: now, LastTransitionTime: now},
		}
		_, err = e.cs.BatchV1().Jobs(e.ns).UpdateStatus(ctx, j, metav1.UpdateOptions{})
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
}

// waitActive waits until the CronJob's status.active names exactly want.
func (e *env) waitActive(t *testing.T, name string, want ...string) *batchv1.CronJob {
	t.Helper()
	sort.Strings(want)
	var cj *batchv1.CronJob
	waitFor(t, fmt.Sprintf("%s active %v", name, want), func() bool {
		cj = e.cj(t, name)
		return strings.Join(activeNames(cj), ",") == strings.Join(want, ",")
	})
	return cj
}

// TestScheduleMultipleJobsConcurrently: "CronJob should schedule multiple
// jobs concurrently" (ConformanceIt, AllowConcurrent) and "should set the
// cronjob-scheduled-timestamp annotation on a job": one Job per minute on
// the fake clock, named <cronjob>-<minutes since the epoch>, with the
// template's labels and annotations, the scheduled-timestamp annotation,
// a controller reference, and status.active / lastScheduleTime; events
// SuccessfulCreate.
func TestScheduleMultipleJobsConcurrently(t *testing.T) {
	e := setup(t)
	cj := e.create(t, newCronJob("concurrent", "*/1 * * * ?", batchv1.AllowConcurrent, nil, nil))
	settle()
	if js := e.jobs(t); len(js) != 0 {
		t.Fatalf("jobs before the first schedule time: %v", jobNames(js))
	}
	m1, m2 := t0.Add(30*time.Second), t0.Add(90*time.Second)
	e.clk.SetTime(m1.Add(time.Second))
	j1 := "concurrent-" + minute(m1)
	got := e.waitActive(t, "concurrent", j1)
	if got.Status.LastScheduleTime == nil || !got.Status.LastScheduleTime.Time.Equal(m1) {
		t.Errorf("lastScheduleTime %v, want %v", got.Status.LastScheduleTime, m1)
	}
	e.clk.SetTime(m2.Add(time.Second))
	j2 := "concurrent-" + minute(m2)
	got = e.waitActive(t, "concurrent", j1, j2)
	if !got.Status.LastScheduleTime.Time.Equal(m2) {
		t.Errorf("lastScheduleTime %v, want %v", got.Status.LastScheduleTime, m2)
	}
	if js := jobNames(e.jobs(t)); strings.Join(js, ",") != j1+","+j2 {
		t.Fatalf("jobs %v, want %s and %s", js, j1, j2)
	}
	j, err := e.cs.BatchV1().Jobs(e.ns).Get(context.Background(), j2, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if j.Labels["tmpl"] != "concurrent" || j.Annotations["note"] != "from-template" {
		t.Errorf("job labels %v annotations %v: not the template's", j.Labels, j.Annotations)
	}
	if ts := j.Annotations[batchv1.CronJobScheduledTimestampAnnotation]; ts != "2026-03-02T10:02:00Z" {
		t.Errorf("%s = %q, want the scheduled time in RFC 3339", batchv1.CronJobScheduledTimestampAnnotation, ts)
	}
	ref := metav1.GetControllerOf(j)
	if ref == nil || ref.Kind != "CronJob" || ref.APIVersion != "batch/v1" || ref.Name != "concurrent" || ref.UID != cj.UID || !ptr.Deref(ref.BlockOwnerDeletion, false) {
		t.Errorf("job's controller reference %+v", ref)
	}
	if *j.Spec.Parallelism != 1 || j.Spec.Template.Spec.Containers[0].Command[1] != "300" {
		t.Errorf("job spec is not the template's: %+v", j.Spec)
	}
	if a := got.Status.Active; a[0].Kind != "Job" || a[0].APIVersion != "batch/v1" || a[0].Namespace != e.ns || a[0].UID == "" {
		t.Errorf("active reference %+v", a[0])
	}
	evs := e.events(t, "concurrent")
	for _, want := range []string{"Normal SuccessfulCreate: Created job " + j1, "Normal SuccessfulCreate: Created job " + j2} {
		if !strings.Contains(strings.Join(evs, "\n"), want) {
			t.Errorf("events %q lack %q", evs, want)
		}
	}
}

// TestNotScheduleWhenSuspended: "CronJob should not schedule jobs when
// suspended" (ConformanceIt): no Job for minutes; on resume the most
// recent missed time runs (once).
func TestNotScheduleWhenSuspended(t *testing.T) {
	e := setup(t)
	cj := newCronJob("suspended", "*/1 * * * ?", batchv1.AllowConcurrent, nil, nil)
	cj.Spec.Suspend = ptr.To(true)
	e.create(t, cj)
	for i := 1; i <= 3; i++ {
		e.clk.SetTime(t0.Add(time.Duration(i) * time.Minute))
		settle()
	}
	if js := e.jobs(t); len(js) != 0 {
		t.Fatalf("a suspended CronJob made jobs: %v", jobNames(js))
	}
	if a := e.cj(t, "suspended").Status.Active; len(a) != 0 {
		t.Fatalf("active %v", a)
	}
	// Resume: the most recent schedule time (10:03) runs, not the three missed.
	if err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		cur := e.cj(t, "suspended")
		cur.Spec.Suspend = ptr.To(false)
		_, err := e.cs.BatchV1().CronJobs(e.ns).Update(context.Background(), cur, metav1.UpdateOptions{})
		return err
	}); err != nil {
		t.Fatal(err)
	}
	want := "suspended-" + minute(time.Date(2026, 3, 2, 10, 3, 0, 0, time.UTC))
	e.waitActive(t, "suspended", want)
	settle()
	if js := jobNames(e.jobs(t)); len(js) != 1 {
		t.Fatalf("jobs after resume %v, want only %s", js, want)
	}
}

// TestForbidConcurrent: "CronJob should not schedule new jobs when
// ForbidConcurrent" (ConformanceIt): while a Job is active the next time
// is skipped (JobAlreadyActive); when it finishes (SawCompletedJob,
// lastSuccessfulTime) the skipped time runs, as upstream.
func TestForbidConcurrent(t *testing.T) {
	e := setup(t)
	e.create(t, newCronJob("forbid", "*/1 * * * ?", batchv1.ForbidConcurrent, nil, nil))
	m1, m2 := t0.Add(30*time.Second), t0.Add(90*time.Second)
	e.clk.SetTime(m1.Add(time.Second))
	j1 := "forbid-" + minute(m1)
	e.waitActive(t, "forbid", j1)
	e.clk.SetTime(m2.Add(time.Second))
	e.waitEvent(t, "forbid", "Normal JobAlreadyActive: Not starting job because prior execution is running and concurrency policy is Forbid")
	if a := activeNames(e.cj(t, "forbid")); len(a) != 1 {
		t.Fatalf("active %v under Forbid", a)
	}
	if js := e.jobs(t); len(js) != 1 {
		t.Fatalf("jobs %v under Forbid", jobNames(js))
	}
	e.clk.SetTime(m2.Add(10 * time.Second))
	e.finish(t, j1, batchv1.JobComplete)
	j2 := "forbid-" + minute(m2)
	got := e.waitActive(t, "forbid", j2)
	e.waitEvent(t, "forbid", "Normal SawCompletedJob: Saw completed job: "+j1+", condition: Complete")
	if lst := got.Status.LastSuccessfulTime; lst == nil || !lst.Time.Equal(m2.Add(10*time.Second)) {
		t.Errorf("lastSuccessfulTime %v, want the job's completionTime %v", lst, m2.Add(10*time.Second))
	}
}

// TestReplaceConcurrent: "CronJob should replace jobs when
// ReplaceConcurrent" (ConformanceIt): at the next time the active Job is
// deleted (SuccessfulDelete) and a new one made.
func TestReplaceConcurrent(t *testing.T) {
	e := setup(t)
	e.create(t, newCronJob("replace", "*/1 * * * ?", batchv1.ReplaceConcurrent, nil, nil))
	m1, m2 := t0.Add(30*time.Second), t0.Add(90*time.Second)
	e.clk.SetTime(m1.Add(time.Second))
	j1 := "replace-" + minute(m1)
	e.waitActive(t, "replace", j1)
	e.clk.SetTime(m2.Add(time.Second))
	j2 := "replace-" + minute(m2)
	e.waitActive(t, "replace", j2)
	waitFor(t, j1+" deleted", func() bool {
		j, err := e.cs.BatchV1().Jobs(e.ns).Get(context.Background(), j1, metav1.GetOptions{})
		return apierrors.IsNotFound(err) || (err == nil && j.DeletionTimestamp != nil)
	})
	e.waitEvent(t, "replace", "Normal SuccessfulDelete: Deleted job "+j1)
}

// TestMoreThan100MissedSchedules: "CronJob should be able to schedule
// after more than 100 missed schedule": with lastScheduleTime 200
// minutes back, the most recent time runs, with the TooManyMissedTimes
// warning, and no MissingJob/UnexpectedJob.
func TestMoreThan100MissedSchedules(t *testing.T) {
	e := setup(t)
	e.create(t, newCronJob("missed", "*/1 * * * ?", batchv1.ForbidConcurrent, nil, nil))
	settle()
	if err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		cur := e.cj(t, "missed")
		cur.Status.LastScheduleTime = &metav1.Time{Time: t0.Add(-200*time.Minute - 30*time.Second)}
		_, err := e.cs.BatchV1().CronJobs(e.ns).UpdateStatus(context.Background(), cur, metav1.UpdateOptions{})
		return err
	}); err != nil {
		t.Fatal(err)
	}
	want := "missed-" + minute(t0.Add(-30*time.Second))
	e.waitActive(t, "missed", want)
	e.waitEvent(t, "missed", "Warning TooManyMissedTimes: too many missed start times. Set or decrease .spec.startingDeadlineSeconds or check clock skew")
	evs := e.events(t, "missed")
	if hasEventReason(evs, "MissingJob") || hasEventReason(evs, "UnexpectedJob") {
		t.Errorf("unexpected events %q", evs)
	}
}

// TestNoUnexpectedWarnings: "CronJob should not emit unexpected
// warnings": two runs, one finished; no Warning events at all.
func TestNoUnexpectedWarnings(t *testing.T) {
	e := setup(t)
	e.create(t, newCronJob("quiet", "*/1 * * * ?", batchv1.AllowConcurrent, nil, nil))
	m1, m2 := t0.Add(30*time.Second), t0.Add(90*time.Second)
	e.clk.SetTime(m1.Add(time.Second))
	j1 := "quiet-" + minute(m1)
	e.waitActive(t, "quiet", j1)
	e.finish(t, j1, batchv1.JobComplete)
	e.waitActive(t, "quiet")
	e.clk.SetTime(m2.Add(time.Second))
	e.waitActive(t, "quiet", "quiet-"+minute(m2))
	settle()
	for _, ev := range e.events(t, "quiet") {
		if strings.HasPrefix(ev, "Warning ") {
			t.Errorf("warning event %q", ev)
		}
	}
}

// TestRemoveDeletedJobsFromActiveList: "CronJob should remove from active
// list jobs that have been deleted": MissingJob.
func TestRemoveDeletedJobsFromActiveList(t *testing.T) {
	e := setup(t)
	e.create(t, newCronJob("forbid", "*/1 * * * ?", batchv1.ForbidConcurrent, nil, nil))
	m1 := t0.Add(30 * time.Second)
	e.clk.SetTime(m1.Add(time.Second))
	j1 := "forbid-" + minute(m1)
	e.waitActive(t, "forbid", j1)
	// As upstream's DeleteResourceAndWaitForGC: background propagation.
	if err := e.cs.BatchV1().Jobs(e.ns).Delete(context.Background(), j1, metav1.DeleteOptions{PropagationPolicy: ptr.To(metav1.DeletePropagationBackground)}); err != nil {
		t.Fatal(err)
	}
	e.waitActive(t, "forbid")
	e.waitEvent(t, "forbid", "Normal MissingJob: Active job went missing: "+j1)
}

// TestHistoryLimits: "CronJob should delete successful finished jobs with
// limit of one successful job" and "should delete failed finished jobs
// with limit of one job": the older finished Job of the kind is deleted
// (oldest start first) once a newer one finishes; the other limit (0)
// deletes every finished Job of its kind.
func TestHistoryLimits(t *testing.T) {
	for _, tc := range []struct {
		name   string
		cond   batchv1.JobConditionType
		sl, fl int32
	}{
		{"successful-jobs-history-limit", batchv1.JobComplete, 1, 0},
		{"failed-jobs-history-limit", batchv1.JobFailed, 0, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := setup(t)
			e.create(t, newCronJob(tc.name, "*/1 * * * ?", batchv1.AllowConcurrent, ptr.To(tc.sl), ptr.To(tc.fl)))
			m1, m2 := t0.Add(30*time.Second), t0.Add(90*time.Second)
			e.clk.SetTime(m1.Add(time.Second))
			j1, j2 := tc.name+"-"+minute(m1), tc.name+"-"+minute(m2)
			e.waitActive(t, tc.name, j1)
			e.finish(t, j1, tc.cond)
			e.waitActive(t, tc.name)
			settle()
			if js := jobNames(e.jobs(t)); strings.Join(js, ",") != j1 {
				t.Fatalf("jobs %v after the first finished, want it kept", js)
			}
			e.clk.SetTime(m2.Add(time.Second))
			e.waitActive(t, tc.name, j2)
			e.clk.SetTime(m2.Add(5 * time.Second))
			e.finish(t, j2, tc.cond)
			waitFor(t, j1+" deleted", func() bool { return strings.Join(jobNames(e.jobs(t)), ",") == j2 })
			e.waitEvent(t, tc.name, "Normal SuccessfulDelete: Deleted job "+j1)
			// A Job of the other kind is deleted at once (limit 0).
			other := batchv1.JobFailed
			if tc.cond == batchv1.JobFailed {
				other = batchv1.JobComplete
			}
			e.clk.SetTime(m2.Add(61 * time.Second))
			j3 := tc.name + "-" + minute(m2.Add(time.Minute))
			e.waitActive(t, tc.name, j3)
			e.finish(t, j3, other)
			waitFor(t, j3+" deleted", func() bool { return strings.Join(jobNames(e.jobs(t)), ",") == j2 })
		})
	}
}

// TestStartingDeadlineSeconds: a schedule time the controller sees more
// than startingDeadlineSeconds late is not run; the next one is.
func TestStartingDeadlineSeconds(t *testing.T) {
	e := setup(t)
	cj := newCronJob("deadline", "*/1 * * * ?", batchv1.AllowConcurrent, nil, nil)
	cj.Spec.StartingDeadlineSeconds = ptr.To[int64](10)
	e.create(t, cj)
	m1, m2 := t0.Add(30*time.Second), t0.Add(90*time.Second)
	e.clk.SetTime(m1.Add(20 * time.Second)) // 20 s late for 10:01
	settle()
	if js := e.jobs(t); len(js) != 0 {
		t.Fatalf("a job for a time past its starting deadline: %v", jobNames(js))
	}
	e.clk.SetTime(m2.Add(5 * time.Second)) // 5 s late for 10:02
	e.waitActive(t, "deadline", "deadline-"+minute(m2))
}

// TestTimeZone: "CronJob should support timezone": a bad time zone is
// refused by the API; spec.timeZone Asia/Kolkata (+05:30) runs "0 9 * *
// *" at 03:30 UTC, the scheduled-timestamp annotation in that zone.
func TestTimeZone(t *testing.T) {
	e := setup(t)
	bad := newCronJob("cronjob-with-timezone", "*/1 * * * ?", batchv1.AllowConcurrent, nil, nil)
	bad.Spec.TimeZone = ptr.To("bad-time-zone")
	_, err := e.cs.BatchV1().CronJobs(e.ns).Create(context.Background(), bad, metav1.CreateOptions{})
	if !apierrors.IsInvalid(err) || !strings.Contains(err.Error(), `spec.timeZone: Invalid value: "bad-time-zone": unknown time zone bad-time-zone`) {
		t.Fatalf("bad time zone: %v", err)
	}
	cj := newCronJob("kolkata", "0 9 * * *", batchv1.AllowConcurrent, nil, nil)
	cj.Spec.TimeZone = ptr.To("Asia/Kolkata")
	e.create(t, cj)
	at := time.Date(2026, 3, 3, 3, 30, 0, 0, time.UTC) // 09:00 in Kolkata
	e.clk.SetTime(at.Add(-time.Second))
	settle()
	if js := e.jobs(t); len(js) != 0 {
		t.Fatalf("jobs before 09:00 Kolkata: %v", jobNames(js))
	}
	e.clk.SetTime(at.Add(time.Second))
	name := "kolkata-" + minute(at)
	e.waitActive(t, "kolkata", name)
	j, err := e.cs.BatchV1().Jobs(e.ns).Get(context.Background(), name, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if ts := j.Annotations[batchv1.CronJobScheduledTimestampAnnotation]; ts != "2026-03-03T09:00:00+05:30" {
		t.Errorf("scheduled timestamp %q, want 2026-03-03T09:00:00+05:30", ts)
	}
}

// TestScheduleChange: a new schedule takes effect at its own next time
// (upstream's updateCronJob requeues at it).
func TestScheduleChange(t *testing.T) {
	e := setup(t)
	e.create(t, newCronJob("hourly", "@hourly", batchv1.AllowConcurrent, nil, nil))
	e.clk.SetTime(t0.Add(5 * time.Minute))
	settle()
	if js := e.jobs(t); len(js) != 0 {
		t.Fatalf("@hourly ran at 10:05: %v", jobNames(js))
	}
	if err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		cur := e.cj(t, "hourly")
		cur.Spec.Schedule = "*/10 * * * *"
		_, err := e.cs.BatchV1().CronJobs(e.ns).Update(context.Background(), cur, metav1.UpdateOptions{})
		return err
	}); err != nil {
		t.Fatal(err)
	}
	settle()
	at := time.Date(2026, 3, 2, 10, 10, 0, 0, time.UTC)
	e.clk.SetTime(at.Add(time.Second))
	e.waitActive(t, "hourly", "hourly-"+minute(at))
	// @hourly again: next at 11:00.
	if err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		cur := e.cj(t, "hourly")
		cur.Spec.Schedule = "@hourly"
		_, err := e.cs.BatchV1().CronJobs(e.ns).Update(context.Background(), cur, metav1.UpdateOptions{})
		return err
	}); err != nil {
		t.Fatal(err)
	}
	settle() // the controller has seen the new schedule
	e.clk.SetTime(time.Date(2026, 3, 2, 10, 30, 1, 0, time.UTC))
	settle()
	if n := len(e.jobs(t)); n != 1 {
		t.Fatalf("%d jobs at 10:30 with @hourly", n)
	}
	at = time.Date(2026, 3, 2, 11, 0, 0, 0, time.UTC)
	e.clk.SetTime(at.Add(time.Second))
	e.waitActive(t, "hourly", "hourly-"+minute(time.Date(2026, 3, 2, 10, 10, 0, 0, time.UTC)), "hourly-"+minute(at))
}

// TestAlreadyExists: a Job of the scheduled name made before a lost
// status write (ours) is listed, not made twice; another owner's Job of
// that name is left alone.
func TestAlreadyExists(t *testing.T) {
	e := setup(t)
	cj := e.create(t, newCronJob("mine", "*/1 * * * ?", batchv1.AllowConcurrent, nil, nil))
	m1 := t0.Add(30 * time.Second)
	name := "mine-" + minute(m1)
	req, err := jobFromTemplate(cj, m1)
	if err != nil {
		t.Fatal(err)
	}
	pre, err := e.cs.BatchV1().Jobs(e.ns).Create(context.Background(), req, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	e.clk.SetTime(m1.Add(time.Second))
	got := e.waitActive(t, "mine", name)
	if got.Status.Active[0].UID != pre.UID {
		t.Errorf("active %+v, want the existing job", got.Status.Active)
	}
	if evs := e.events(t, "mine"); hasEventReason(evs, "SuccessfulCreate") {
		t.Errorf("events %q: the job was not created by this sync", evs)
	}
}

// TestCronJobAPIOperations: "CronJob should support CronJob API
// operations" (ConformanceIt): create, get, list, watch, patch, update,
// /status patch, update and get, delete, deletecollection.
func TestCronJobAPIOperations(t *testing.T) {
	e := setup(t)
	ctx := context.Background()
	cjc := e.cs.BatchV1().CronJobs(e.ns)
	tmpl := newCronJob("test-api", "* */1 * * ?", batchv1.AllowConcurrent, ptr.To[int32](1), ptr.To[int32](0))
	tmpl.Labels = map[string]string{"special-label": "u1"}
	created, err := cjc.Create(ctx, tmpl, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	got, err := cjc.Get(ctx, created.Name, metav1.GetOptions{})
	if err != nil || got.UID != created.UID {
		t.Fatalf("get: %v %v", err, got)
	}
	list, err := cjc.List(ctx, metav1.ListOptions{LabelSelector: "special-label=u1"})
	if err != nil || len(list.Items) != 1 {
		t.Fatalf("list: %v %d", err, len(list.Items))
	}
	w, err := cjc.Watch(ctx, metav1.ListOptions{ResourceVersion: list.ResourceVersion, LabelSelector: "special-label=u1"})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Stop()
	all, err := e.cs.BatchV1().CronJobs("").List(ctx, metav1.ListOptions{LabelSelector: "special-label=u1"})
	if err != nil || len(all.Items) != 1 {
		t.Fatalf("cluster-wide list: %v %d", err, len(all.Items))
	}
	patched, err := cjc.Patch(ctx, created.Name, types.MergePatchType, []byte(`{"metadata":{"annotations":{"patched":"true"}}}`), metav1.PatchOptions{})
	if err != nil || patched.Annotations["patched"] != "true" {
		t.Fatalf("patch: %v %v", err, patched)
	}
	var updated *batchv1.CronJob
	if err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		cur, err := cjc.Get(ctx, created.Name, metav1.GetOptions{})
		if err != nil {
			return err
		}
		cur.Annotations["updated"] = "true"
		updated, err = cjc.Update(ctx, cur, metav1.UpdateOptions{})
		return err
	}); err != nil || updated.Annotations["updated"] != "true" {
		t.Fatalf("update: %v", err)
	}
	timeout := time.After(10 * time.Second)
	for saw := false; !saw; {
		select {
		case ev, ok := <-w.ResultChan():
			if !ok {
				t.Fatal("watch closed")
			}
			if ev.Type != watch.Modified {
				t.Fatalf("watch event %s", ev.Type)
			}
			saw = ev.Object.(*batchv1.CronJob).Annotations["patched"] == "true"
		case <-timeout:
			t.Fatal("no watch event")
		}
	}
	now1 := metav1.NewTime(e.clk.Now().Add(-time.Hour).Truncate(time.Second))
	st, _ := json.Marshal(batchv1.CronJobStatus{LastScheduleTime: &now1})
	ps, err := cjc.Patch(ctx, created.Name, types.MergePatchType, []byte(`{"metadata":{"annotations":{"patchedstatus":"true"}},"status":`+string(st)+`}`), metav1.PatchOptions{}, "status")
	if err != nil || !ps.Status.LastScheduleTime.Equal(&now1) {
		t.Fatalf("patch /status: %v %+v", err, ps)
	}
	// As upstream's test: the patch's metadata.annotations are kept through
	// /status (cronJobStatusStrategy resets only spec).
	if ps.Annotations["patchedstatus"] != "true" {
		t.Fatalf("patch /status dropped the annotation: %v", ps.Annotations)
	}
	now2 := metav1.NewTime(e.clk.Now().Add(-30 * time.Minute).Truncate(time.Second))
	var us *batchv1.CronJob
	if err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		cur, err := cjc.Get(ctx, created.Name, metav1.GetOptions{})
		if err != nil {
			return err
		}
		cur.Status.LastScheduleTime = &now2
		us, err = cjc.UpdateStatus(ctx, cur, metav1.UpdateOptions{})
		return err
	}); err != nil || !us.Status.LastScheduleTime.Equal(&now2) {
		t.Fatalf("update /status: %v", err)
	}
	gs, err := e.dyn.Resource(schema.GroupVersionResource{Group: "batch", Version: "v1", Resource: "cronjobs"}).Namespace(e.ns).Get(ctx, created.Name, metav1.GetOptions{}, "status")
	if err != nil {
		t.Fatal(err)
	}
	if uid, _, _ := unstructured.NestedString(gs.Object, "metadata", "uid"); uid != string(created.UID) {
		t.Fatalf("get /status uid %q", uid)
	}
	tmpl.Name = "for-removal"
	if _, err := cjc.Create(ctx, tmpl, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := cjc.Delete(ctx, "for-removal", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := cjc.Get(ctx, "for-removal", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Fatalf("after delete: %v", err)
	}
	if err := cjc.DeleteCollection(ctx, metav1.DeleteOptions{}, metav1.ListOptions{LabelSelector: "special-label=u1"}); err != nil {
		t.Fatal(err)
	}
	if l, err := cjc.List(ctx, metav1.ListOptions{LabelSelector: "special-label=u1"}); err != nil || len(l.Items) != 0 {
		t.Fatalf("after deletecollection: %v %d", err, len(l.Items))
	}
}

// TestJobNames: <cronjob>-<minutes since the epoch>, 11 characters of
// suffix for the 52-character name limit the API enforces.
func TestJobNames(t *testing.T) {
	cj := &batchv1.CronJob{ObjectMeta: metav1.ObjectMeta{Name: strings.Repeat("a", 52)}}
	n := jobName(cj, time.Date(2026, 3, 2, 10, 1, 0, 0, time.UTC))
	if !regexp.MustCompile(`^a{52}-\d{8}$`).MatchString(n) || len(n) > 63 {
		t.Fatalf("job name %q", n)
	}
	if jobName(cj, time.Date(2026, 3, 2, 10, 1, 59, 0, time.UTC)) != n {
		t.Fatal("the same minute must give the same name")
	}
}
