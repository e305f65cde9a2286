package apiserver

import (
	"context"
	"strings"
	"testing"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"
	"k8s.io/utils/ptr"
)

// TestJobStatusValidation: a Job's /status writes through client-go's
// UpdateStatus are validated as upstream's jobStatusStrategy
// (ValidateJobStatusUpdate with v1.37's options): each bad status is 422
// naming the field in upstream's words, and nothing is stored; the
// controller's own sequence (FailureTarget/SuccessCriteriaMet before the
// terminal condition) passes.
func TestJobStatusValidation(t *testing.T) {
	e := newEnv(t, HandlerOptions{})
	cs := e.client(t, "http")
	ctx := context.Background()
	mk := func(name string, mutate func(*batchv1.Job)) {
		j := &batchv1.Job{ObjectMeta: metav1.ObjectMeta{Name: name},
			Spec: batchv1.JobSpec{Completions: ptr.To[int32](5), Parallelism: ptr.To[int32](2),
				CompletionMode: ptr.To(batchv1.IndexedCompletion),
				Template:       testPodTemplate(map[string]string{"app": name}, corev1.RestartPolicyNever)}}
		if mutate != nil {
			mutate(j)
		}
		if _, err := cs.BatchV1().Jobs("default").Create(ctx, j, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	mk("idx", nil)
	mk("perindex", func(j *batchv1.Job) { j.Spec.BackoffLimitPerIndex = ptr.To[int32](1) })
	mk("plain", func(j *batchv1.Job) { j.Spec.CompletionMode = nil; j.Spec.Completions = nil; j.Spec.Parallelism = nil })

	start := metav1.NewTime(time.Now().Add(-time.Minute).Truncate(time.Second))
	done := metav1.NewTime(start.Add(30 * time.Second))
	cond := func(t batchv1.JobConditionType) batchv1.JobCondition {
		return batchv1.JobCondition{Type: t, Status: corev1.ConditionTrue, LastTransitionTime: start, LastProbeTime: start}
	}
	for _, c := range []struct {
		name, job string
		status    func(*batchv1.JobStatus)
		want      string // "" = accepted
	}{
		{"negative active", "idx", func(s *batchv1.JobStatus) { s.Active = -1 }, "status.active: Invalid value: -1: must be greater than or equal to 0"},
		{"negative terminating", "idx", func(s *batchv1.JobStatus) { s.Terminating = ptr.To[int32](-2) }, "status.terminating: Invalid value: -2: must be greater than or equal to 0"},
		{"more ready than active", "idx", func(s *batchv1.JobStatus) { s.Active, s.Ready = 1, ptr.To[int32](3) }, "status.ready: Invalid value: 3: cannot set more ready pods than active"},
		{"duplicate uncounted", "idx", func(s *batchv1.JobStatus) {
			s.UncountedTerminatedPods = &batchv1.UncountedTerminatedPods{Succeeded: []types.UID{"a"}, Failed: []types.UID{"a"}}
		}, `status.uncountedTerminatedPods.failed[0]: Duplicate value: "a"`},
		{"empty uncounted", "idx", func(s *batchv1.JobStatus) {
			s.UncountedTerminatedPods = &batchv1.UncountedTerminatedPods{Succeeded: []types.UID{""}}
		}, `status.uncountedTerminatedPods.succeeded[0]: Invalid value: "": must not be empty`},
		{"decreasing completedIndexes", "idx", func(s *batchv1.JobStatus) { s.CompletedIndexes = "3,1" },
			`status.completedIndexes: Invalid value: "3,1": error parsing completedIndexes: non-increasing order, previous: 3, current: 1`},
		{"completedIndex beyond completions", "idx", func(s *batchv1.JobStatus) { s.CompletedIndexes = "0-7" },
			`status.completedIndexes: Invalid value: "0-7": error parsing completedIndexes: too large index: "7"`},
		{"completedIndexes not a number", "idx", func(s *batchv1.JobStatus) { s.CompletedIndexes = "x" },
			`error parsing completedIndexes: cannot convert string to integer for index: "x"`},
		{"completedIndexes of a non-indexed job", "plain", func(s *batchv1.JobStatus) { s.CompletedIndexes = "0" },
			`status.completedIndexes: Invalid value: "0": cannot set non-empty completedIndexes when non-indexed completion mode`},
		{"failedIndexes without backoffLimitPerIndex", "idx", func(s *batchv1.JobStatus) { s.FailedIndexes = ptr.To("1") },
			`status.failedIndexes: Invalid value: "1": cannot set non-null failedIndexes when backoffLimitPerIndex is null`},
		{"failedIndexes overlapping completed", "perindex", func(s *batchv1.JobStatus) { s.CompletedIndexes, s.FailedIndexes = "0-2", ptr.To("2,4") },
			`status.failedIndexes: Invalid value: "2,4": failedIndexes and completedIndexes overlap at index: 2`},
		{"failedIndexes bad format", "perindex", func(s *batchv1.JobStatus) { s.FailedIndexes = ptr.To("1-2-3") },
			`error parsing failedIndexes: the fragment "1-2-3" violates the requirement that an index interval can have at most two parts separated by '-'`},
		{"Failed without FailureTarget", "idx", func(s *batchv1.JobStatus) {
			s.StartTime, s.Conditions = &start, []batchv1.JobCondition{cond(batchv1.JobFailed)}
		}, "status.conditions: Invalid value: cannot set Failed=True condition without the FailureTarget=true condition"},
		{"Complete without SuccessCriteriaMet", "idx", func(s *batchv1.JobStatus) {
			s.StartTime, s.CompletionTime, s.Conditions = &start, &done, []batchv1.JobCondition{cond(batchv1.JobComplete)}
		}, "cannot set Complete=True condition without the SuccessCriteriaMet=true condition"},
		{"Complete without completionTime", "idx", func(s *batchv1.JobStatus) {
			s.StartTime, s.Conditions = &start, []batchv1.JobCondition{cond(batchv1.JobSuccessCriteriaMet), cond(batchv1.JobComplete)}
		}, "status.completionTime: Required value: completionTime is required for Complete jobs"},
		{"completionTime without Complete", "idx", func(s *batchv1.JobStatus) { s.StartTime, s.CompletionTime = &start, &done },
			"cannot set completionTime when there is no Complete=True condition"},
		{"completionTime before startTime", "idx", func(s *batchv1.JobStatus) {
			s.StartTime, s.CompletionTime, s.Conditions = &done, &start, []batchv1.JobCondition{cond(batchv1.JobSuccessCriteriaMet), cond(batchv1.JobComplete)}
		}, "completionTime cannot be set before startTime"},
		{"finished without startTime", "idx", func(s *batchv1.JobStatus) {
			s.Conditions = []batchv1.JobCondition{cond(batchv1.JobFailureTarget), cond(batchv1.JobFailed)}
		}, "status.startTime: Required value: startTime is required for finished job"},
		{"finished with active pods", "idx", func(s *batchv1.JobStatus) {
			s.StartTime, s.Active, s.Conditions = &start, 2, []batchv1.JobCondition{cond(batchv1.JobFailureTarget), cond(batchv1.JobFailed)}
		}, "status.active: Invalid value: 2: active>0 is invalid for finished job"},
		{"finished with uncounted pods", "idx", func(s *batchv1.JobStatus) {
			s.StartTime, s.Conditions = &start, []batchv1.JobCondition{cond(batchv1.JobFailureTarget), cond(batchv1.JobFailed)}
			s.UncountedTerminatedPods = &batchv1.UncountedTerminatedPods{Failed: []types.UID{"u1"}}
		}, "uncountedTerminatedPods needs to be empty for finished job"},
		{"Complete and Failed", "idx", func(s *batchv1.JobStatus) {
			s.StartTime, s.CompletionTime = &start, &done
			s.Conditions = []batchv1.JobCondition{cond(batchv1.JobSuccessCriteriaMet), cond(batchv1.JobComplete), cond(batchv1.JobFailed)}
		}, "cannot set Complete=True and Failed=true conditions"},
		{"SuccessCriteriaMet and FailureTarget", "idx", func(s *batchv1.JobStatus) {
			s.Conditions = []batchv1.JobCondition{cond(batchv1.JobSuccessCriteriaMet), cond(batchv1.JobFailureTarget)}
		}, "cannot set SuccessCriteriaMet=True and FailureTarget=true conditions"},
		// The controller's way: start, count, then the terminal condition.
		{"running", "idx", func(s *batchv1.JobStatus) {
			s.StartTime, s.Active, s.Ready, s.Terminating = &start, 2, ptr.To[int32](1), ptr.To[int32](0)
			s.Succeeded, s.CompletedIndexes = 3, "0-2"
			s.UncountedTerminatedPods = &batchv1.UncountedTerminatedPods{Succeeded: []types.UID{"u3"}}
		}, ""},
		{"startTime changed while running", "idx", func(s *batchv1.JobStatus) { s.StartTime = &done },
			"status.startTime: Required value: startTime cannot be removed for unsuspended job"},
		{"succeeded decreased", "idx", func(s *batchv1.JobStatus) { s.Succeeded, s.CompletedIndexes = 2, "0-1" },
			"status.succeeded: Invalid value: 2: cannot decrease the succeeded counter"},
		{"success criteria met", "idx", func(s *batchv1.JobStatus) {
			s.Active, s.Ready, s.Succeeded, s.CompletedIndexes, s.UncountedTerminatedPods = 0, ptr.To[int32](0), 5, "0-4", &batchv1.UncountedTerminatedPods{}
			s.Conditions = []batchv1.JobCondition{cond(batchv1.JobSuccessCriteriaMet)}
		}, ""},
		{"SuccessCriteriaMet turned off", "idx", func(s *batchv1.JobStatus) { s.Conditions = nil },
			"cannot disable the SuccessCriteriaMet=True condition"},
		{"complete", "idx", func(s *batchv1.JobStatus) {
			s.CompletionTime = &done
			s.Conditions = append(s.Conditions, cond(batchv1.JobComplete))
		}, ""},
		{"Complete turned off", "idx", func(s *batchv1.JobStatus) { s.Conditions = s.Conditions[:1]; s.CompletionTime = nil },
			"status.conditions: Invalid value: cannot disable the terminal Complete=True condition"},
		{"completionTime mutated", "idx", func(s *batchv1.JobStatus) { later := metav1.NewTime(done.Add(time.Second)); s.CompletionTime = &later },
			"status.completionTime: Invalid value: "},
		{"failed decreased", "perindex", func(s *batchv1.JobStatus) { s.Failed = 0 }, ""}, // from 0: fine
		{"failed counted", "perindex", func(s *batchv1.JobStatus) { s.Failed, s.FailedIndexes = 2, ptr.To("1") }, ""},
		{"failed decreased below", "perindex", func(s *batchv1.JobStatus) { s.Failed = 1 },
			"status.failed: Invalid value: 1: cannot decrease the failed counter"},
	} {
		j, err := cs.BatchV1().Jobs("default").Get(ctx, c.job, metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		before := j.ResourceVersion
		c.status(&j.Status)
		_, err = cs.BatchV1().Jobs("default").UpdateStatus(ctx, j, metav1.UpdateOptions{})
		if c.want == "" {
			if err != nil {
				t.Errorf("%s: refused: %v", c.name, err)
			}
			continue
		}
		if !apierrors.IsInvalid(err) || !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), `Job.batch "`+c.job+`" is invalid`) {
			t.Errorf("%s: %v, want 422 containing %q", c.name, err, c.want)
		}
		if now := getJobRV(t, cs, c.job); now != before {
			t.Errorf("%s: the refused status was stored (resourceVersion %s -> %s)", c.name, before, now)
		}
	}
	// A later write that keeps failedIndexes as they are passes.
	j, _ := cs.BatchV1().Jobs("default").Get(ctx, "perindex", metav1.GetOptions{})
	j.Status.StartTime, j.Status.Active, j.Status.Ready = &start, 1, ptr.To[int32](1)
	if _, err := cs.BatchV1().Jobs("default").UpdateStatus(ctx, j, metav1.UpdateOptions{}); err != nil {
		t.Errorf("an unrelated status write: %v", err)
	}
}

func getJobRV(t *testing.T, cs *kubernetes.Clientset, name string) string {
	t.Helper()
	j, err := cs.BatchV1().Jobs("default").Get(context.Background(), name, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return j.ResourceVersion
}

// TestJobStatusResumeResetsStartTime: a Job that ran, was suspended and is
// resumed gets a new startTime in the status write that turns its
// Suspended condition off (the controller's "resumed jobs reset
// StartTime"), as upstream since kubernetes#134521; any other change of a
// set startTime of an unsuspended Job is still refused.
func TestJobStatusResumeResetsStartTime(t *testing.T) {
	e := newEnv(t, HandlerOptions{})
	cs := e.client(t, "http")
	ctx := context.Background()
	jobs := cs.BatchV1().Jobs("default")
	j, err := jobs.Create(ctx, &batchv1.Job{ObjectMeta: metav1.ObjectMeta{Name: "sus"},
		Spec: batchv1.JobSpec{Template: testPodTemplate(map[string]string{"app": "sus"}, corev1.RestartPolicyNever)}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t0 := metav1.NewTime(time.Now().Add(-time.Hour).Truncate(time.Second))
	t1 := metav1.NewTime(t0.Add(30 * time.Minute))
	cond := func(s corev1.ConditionStatus, reason string) []batchv1.JobCondition {
		return []batchv1.JobCondition{{Type: batchv1.JobSuspended, Status: s, Reason: reason, LastTransitionTime: t0, LastProbeTime: t0}}
	}
	step := func(name string, mutate func(*batchv1.Job), status bool, want string) {
		t.Helper()
		cur, err := jobs.Get(ctx, "sus", metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		mutate(cur)
		if status {
			_, err = jobs.UpdateStatus(ctx, cur, metav1.UpdateOptions{})
		} else {
			_, err = jobs.Update(ctx, cur, metav1.UpdateOptions{})
		}
		switch {
		case want == "" && err != nil:
			t.Fatalf("%s: %v", name, err)
		case want != "" && (!apierrors.IsInvalid(err) || !strings.Contains(err.Error(), want)):
			t.Fatalf("%s: %v, want 422 containing %q", name, err, want)
		}
	}
	_ = j
	step("started", func(j *batchv1.Job) { j.Status.StartTime = &t0 }, true, "")
	step("suspend", func(j *batchv1.Job) { j.Spec.Suspend = ptr.To(true) }, false, "")
	step("suspended", func(j *batchv1.Job) { j.Status.Conditions = cond(corev1.ConditionTrue, "JobSuspended") }, true, "")
	step("resume", func(j *batchv1.Job) { j.Spec.Suspend = ptr.To(false) }, false, "")
	step("resumed with a new startTime", func(j *batchv1.Job) {
		j.Status.Conditions, j.Status.StartTime = cond(corev1.ConditionFalse, "JobResumed"), &t1
	}, true, "")
	step("startTime changed again", func(j *batchv1.Job) { j.Status.StartTime = &t0 }, true,
		"status.startTime: Required value: startTime cannot be removed for unsuspended job")
}
