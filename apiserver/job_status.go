package apiserver

// job_status.go: validation of a Job's /status writes, as upstream's
// jobStatusStrategy.ValidateUpdate (pkg/registry/batch/job/strategy.go
// getStatusValidationOptions with JobManagedBy on, as it is locked in
// v1.37) over pkg/apis/batch/validation ValidateJobStatusUpdate.
//
// Contracts:
//   - Always: active, succeeded, failed, ready and terminating are
//     non-negative; uncountedTerminatedPods holds no empty and no repeated
//     UID (across succeeded and failed); the failed counter never
//     decreases, nor the succeeded one (except for an Indexed Job whose
//     completions equal its parallelism, which may be scaled down); the
//     terminal Complete, Failed and FailureTarget conditions and
//     SuccessCriteriaMet are never turned off; completionTime, once set,
//     never changes; SuccessCriteriaMet never joins Failed or
//     FailureTarget, nor a Complete Job that did not have it, and a Job
//     with a successPolicy is Complete only with it.
//   - Only when the fields involved change (so that a write unrelated to
//     an already bad status passes, and a status the spec has just
//     outgrown can still be fixed): completedIndexes and failedIndexes
//     parse as increasing intervals below spec.completions, do not
//     overlap, completedIndexes only on Indexed Jobs and failedIndexes
//     only with backoffLimitPerIndex; a finished Job (Complete or Failed)
//     has no active, terminating or uncounted pods and has a startTime;
//     a set startTime changes only while the Job is suspended or in the
//     write that resumes it (its Suspended condition turning off);
//     completionTime goes with Complete=True only and not before
//     startTime; Complete never joins Failed or FailureTarget; Failed
//     needs FailureTarget and Complete needs SuccessCriteriaMet (the
//     controller writes those first); ready is at most active.
//   - The message of each names the field, in upstream's words.

import (
	"fmt"
	"strconv"
	"strings"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apivalidation "k8s.io/apimachinery/pkg/api/validation"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/sets"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"k8s.io/utils/ptr"
)

// jobCondTrue is upstream's IsConditionTrue.
func jobCondTrue(j *batchv1.Job, t batchv1.JobConditionType) bool {
	for _, c := range j.Status.Conditions {
		if c.Type == t && c.Status == corev1.ConditionTrue {
			return true
		}
	}
	return false
}

func jobFinished(j *batchv1.Job) bool {
	return jobCondTrue(j, batchv1.JobComplete) || jobCondTrue(j, batchv1.JobFailed)
}

// validateJobStatusUpdate is upstream's ValidateJobStatusUpdate with the
// options getStatusValidationOptions picks (see the file comment). j is
// the old Job with the request's status.
func validateJobStatusUpdate(j, old *batchv1.Job) field.ErrorList {
	sp := field.NewPath("status")
	s, os := j.Status, old.Status
	var errs field.ErrorList
	add := func(e ...*field.Error) { errs = append(errs, e...) }
	nonneg := func(v int32, name string) {
		add(apivalidation.ValidateNonnegativeField(int64(v), sp.Child(name))...)
	}
	omit := field.OmitValueType{}
	conds := sp.Child("conditions")

	complete, failed := jobCondTrue(j, batchv1.JobComplete), jobCondTrue(j, batchv1.JobFailed)
	failureTarget, successMet := jobCondTrue(j, batchv1.JobFailureTarget), jobCondTrue(j, batchv1.JobSuccessCriteriaMet)
	finished := complete || failed
	oldComplete, oldFailed := jobCondTrue(old, batchv1.JobComplete), jobCondTrue(old, batchv1.JobFailed)
	oldFailureTarget, oldSuccessMet := jobCondTrue(old, batchv1.JobFailureTarget), jobCondTrue(old, batchv1.JobSuccessCriteriaMet)
	indexed := ptr.Deref(j.Spec.CompletionMode, batchv1.NonIndexedCompletion) == batchv1.IndexedCompletion

	finishedChanged := jobFinished(old) != finished
	completeChanged := oldComplete != complete
	failedChanged := oldFailed != failed
	failureTargetChanged := oldFailureTarget != failureTarget
	successMetChanged := oldSuccessMet != successMet
	completedIdxChanged := os.CompletedIndexes != s.CompletedIndexes
	failedIdxChanged := !ptr.Equal(os.FailedIndexes, s.FailedIndexes)
	activeChanged := os.Active != s.Active
	readyChanged := !ptr.Equal(os.Ready, s.Ready)
	terminatingChanged := !ptr.Equal(os.Terminating, s.Terminating)
	startChanged := !os.StartTime.Equal(s.StartTime)
	completionChanged := !os.CompletionTime.Equal(s.CompletionTime)
	uncountedChanged := !equality.Semantic.DeepEqual(os.UncountedTerminatedPods, s.UncountedTerminatedPods)

	// validateJobStatus
	nonneg(s.Active, "active")
	nonneg(s.Succeeded, "succeeded")
	nonneg(s.Failed, "failed")
	if s.Ready != nil {
		nonneg(*s.Ready, "ready")
	}
	if s.Terminating != nil {
		nonneg(*s.Terminating, "terminating")
	}
	if u := s.UncountedTerminatedPods; u != nil {
		up := sp.Child("uncountedTerminatedPods")
		seen := sets.New[types.UID]()
		for _, l := range []struct {
			name string
			uids []types.UID
		}{{"succeeded", u.Succeeded}, {"failed", u.Failed}} {
			for i, k := range l.uids {
				p := up.Child(l.name).Index(i)
				switch {
				case k == "":
					add(field.Invalid(p, k, "must not be empty"))
				case seen.Has(k):
					add(field.Duplicate(p, k))
				default:
					seen.Insert(k)
				}
			}
		}
	}
	if (completeChanged || failedChanged) && complete && failed {
		add(field.Invalid(conds, omit, "cannot set Complete=True and Failed=true conditions"))
	}
	if (completeChanged || failureTargetChanged) && complete && failureTarget {
		add(field.Invalid(conds, omit, "cannot set Complete=True and FailureTarget=true conditions"))
	}
	if (completeChanged || completionChanged) && s.CompletionTime != nil && !complete {
		add(field.Invalid(sp.Child("completionTime"), s.CompletionTime, "cannot set completionTime when there is no Complete=True condition"))
	}
	if (completeChanged || completionChanged) && s.CompletionTime == nil && complete {
		add(field.Required(sp.Child("completionTime"), "completionTime is required for Complete jobs"))
	}
	if (startChanged || completionChanged) && s.StartTime != nil && s.CompletionTime != nil && s.CompletionTime.Before(s.StartTime) {
		add(field.Invalid(sp.Child("completionTime"), s.CompletionTime, "completionTime cannot be set before startTime"))
	}
	if (failedChanged || failedIdxChanged) && failed && !failureTarget {
		add(field.Invalid(conds, omit, "cannot set Failed=True condition without the FailureTarget=true condition"))
	}
	if (completeChanged || successMetChanged) && complete && !successMet {
		add(field.Invalid(conds, omit, "cannot set Complete=True condition without the SuccessCriteriaMet=true condition"))
	}
	if (finishedChanged || activeChanged) && s.Active > 0 && finished {
		add(field.Invalid(sp.Child("active"), s.Active, "active>0 is invalid for finished job"))
	}
	if (finishedChanged || startChanged) && s.StartTime == nil && finished {
		add(field.Required(sp.Child("startTime"), "startTime is required for finished job"))
	}
	if (finishedChanged || uncountedChanged) && finished && s.UncountedTerminatedPods != nil &&
		len(s.UncountedTerminatedPods.Failed)+len(s.UncountedTerminatedPods.Succeeded) > 0 {
		add(field.Invalid(sp.Child("uncountedTerminatedPods"), s.UncountedTerminatedPods, "uncountedTerminatedPods needs to be empty for finished job"))
	}
	if completedIdxChanged && j.Spec.Completions != nil {
		if _, err := validateIndexesFormat(s.CompletedIndexes, *j.Spec.Completions); err != nil {
			add(field.Invalid(sp.Child("completedIndexes"), s.CompletedIndexes, "error parsing completedIndexes: "+err.Error()))
		}
	}
	if failedIdxChanged && j.Spec.Completions != nil && j.Spec.BackoffLimitPerIndex != nil && s.FailedIndexes != nil {
		if _, err := validateIndexesFormat(*s.FailedIndexes, *j.Spec.Completions); err != nil {
			add(field.Invalid(sp.Child("failedIndexes"), s.FailedIndexes, "error parsing failedIndexes: "+err.Error()))
		}
	}
	if completedIdxChanged && s.CompletedIndexes != "" && !indexed {
		add(field.Invalid(sp.Child("completedIndexes"), s.CompletedIndexes, "cannot set non-empty completedIndexes when non-indexed completion mode"))
	}
	if failedIdxChanged && j.Spec.BackoffLimitPerIndex == nil && s.FailedIndexes != nil {
		add(field.Invalid(sp.Child("failedIndexes"), *s.FailedIndexes, "cannot set non-null failedIndexes when backoffLimitPerIndex is null"))
	}
	if (failedIdxChanged || completedIdxChanged) && j.Spec.Completions != nil && s.FailedIndexes != nil {
		if err := indexesOverlap(s.CompletedIndexes, *s.FailedIndexes, *j.Spec.Completions); err != nil {
			add(field.Invalid(sp.Child("failedIndexes"), *s.FailedIndexes, err.Error()))
		}
	}
	if (finishedChanged || terminatingChanged) && s.Terminating != nil && *s.Terminating > 0 && finished {
		add(field.Invalid(sp.Child("terminating"), s.Terminating, "terminating>0 is invalid for finished job"))
	}
	if (readyChanged || activeChanged) && s.Ready != nil && *s.Ready > s.Active {
		add(field.Invalid(sp.Child("ready"), *s.Ready, "cannot set more ready pods than active"))
	}
	if successMet && failed {
		add(field.Invalid(conds, omit, "cannot set SuccessCriteriaMet=True and Failed=true conditions"))
	}
	if successMet && failureTarget {
		add(field.Invalid(conds, omit, "cannot set SuccessCriteriaMet=True and FailureTarget=true conditions"))
	}
	if j.Spec.SuccessPolicy != nil && !successMet && complete {
		add(field.Invalid(conds, omit, "cannot set Complete=True for Job with SuccessPolicy unless SuccessCriteriaMet=True"))
	}

	// ValidateJobStatusUpdate's transitions
	for _, c := range []struct {
		t        batchv1.JobConditionType
		was, now bool
	}{{batchv1.JobFailed, oldFailed, failed}, {batchv1.JobComplete, oldComplete, complete}, {batchv1.JobFailureTarget, oldFailureTarget, failureTarget}} {
		if c.was && !c.now {
			add(field.Invalid(conds, omit, fmt.Sprintf("cannot disable the terminal %s=True condition", c.t)))
		}
	}
	if s.Failed < os.Failed {
		add(field.Invalid(sp.Child("failed"), s.Failed, "cannot decrease the failed counter"))
	}
	if (!indexed || !ptr.Equal(j.Spec.Completions, j.Spec.Parallelism)) && s.Succeeded < os.Succeeded {
		add(field.Invalid(sp.Child("succeeded"), s.Succeeded, "cannot decrease the succeeded counter"))
	}
	if s.CompletionTime != nil && os.CompletionTime != nil && !s.CompletionTime.Equal(os.CompletionTime) {
		add(field.Invalid(sp.Child("completionTime"), s.CompletionTime, "completionTime cannot be mutated"))
	}
	// A resume (Suspended True -> not True in this write) may set a new
	// startTime: upstream's fix of kubernetes#134521 (PR 134769), so that
	// the controller's "resumed jobs reset StartTime" is not refused.
	resumed := jobCondTrue(old, batchv1.JobSuspended) && !jobCondTrue(j, batchv1.JobSuspended)
	if startChanged && os.StartTime != nil && !ptr.Deref(j.Spec.Suspend, false) && !resumed {
		add(field.Required(sp.Child("startTime"), "startTime cannot be removed for unsuspended job"))
	}
	if oldSuccessMet && !successMet {
		add(field.Invalid(conds, omit, "cannot disable the SuccessCriteriaMet=True condition"))
	}
	if oldComplete && !oldSuccessMet && successMet {
		add(field.Invalid(conds, omit, "cannot set SuccessCriteriaMet=True for Job already has Complete=true conditions"))
	}
	return errs
}

// validateIndexesFormat is upstream's: comma-separated increasing
// intervals ("1,3-5") of indexes below completions; it answers how many
// indexes they hold.
func validateIndexesFormat(s string, completions int32) (int32, error) {
	if s == "" {
		return 0, nil
	}
	var last *int32
	var total int32
	for _, iv := range strings.Split(s, ",") {
		x, y, err := parseIndexInterval(iv, completions)
		if err != nil {
			return 0, err
		}
		if last != nil && *last >= x {
			return 0, fmt.Errorf("non-increasing order, previous: %d, current: %d", *last, x)
		}
		total += y - x + 1
		last = &y
	}
	return total, nil
}

// parseIndexInterval is upstream's: "x" or "x-y" with x < y < completions.
func parseIndexInterval(s string, completions int32) (int32, int32, error) {
	parts := strings.Split(s, "-")
	if len(parts) > 2 {
		return 0, 0, fmt.Errorf("the fragment %q violates the requirement that an index interval can have at most two parts separated by '-'", s)
	}
	num := func(p string) (int32, error) {
		v, err := strconv.Atoi(p)
		if err != nil {
			return 0, fmt.Errorf("cannot convert string to integer for index: %q", p)
		}
		if v >= int(completions) {
			return 0, fmt.Errorf("too large index: %q", p)
		}
		return int32(v), nil
	}
	x, err := num(parts[0])
	if err != nil {
		return 0, 0, err
	}
	if len(parts) == 1 {
		return x, x, nil
	}
	y, err := num(parts[1])
	if err != nil {
		return 0, 0, err
	}
	if x >= y {
		return 0, 0, fmt.Errorf("non-increasing order, previous: %d, current: %d", x, y)
	}
	return x, y, nil
}

// indexesOverlap is upstream's validateFailedIndexesNotOverlapCompleted:
// the first index both lists hold, walking their intervals in order
// (intervals that do not parse are skipped: the format check reports
// them).
func indexesOverlap(completed, failed string, completions int32) error {
	if completed == "" || failed == "" {
		return nil
	}
	cs, fs := strings.Split(completed, ","), strings.Split(failed, ",")
	ci, fi := 0, 0
	cx, cy, cerr := parseIndexInterval(cs[0], completions)
	fx, fy, ferr := parseIndexInterval(fs[0], completions)
	for ci < len(cs) && fi < len(fs) {
		switch {
		case cerr != nil:
			if ci++; ci < len(cs) {
				cx, cy, cerr = parseIndexInterval(cs[ci], completions)
			}
		case ferr != nil:
			if fi++; fi < len(fs) {
				fx, fy, ferr = parseIndexInterval(fs[fi], completions)
			}
		case cx <= fy && fx <= cy:
			return fmt.Errorf("failedIndexes and completedIndexes overlap at index: %d", max(cx, fx))
		case cx <= fx:
			if ci++; ci < len(cs) {
				cx, cy, cerr = parseIndexInterval(cs[ci], completions)
			}
		default:
			if fi++; fi < len(fs) {
				fx, fy, ferr = parseIndexInterval(fs[fi], completions)
			}
		}
	}
	return nil
}
