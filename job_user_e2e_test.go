package wasmpod_test

// The Job controller's batched syncs (syncJobBatchPeriod) as a user sees
// them through real kubectl: `kubectl create job`, a burst of pods that
// finish together (no completion lost to a batch), and an Indexed Job
// whose indexes fail by backoffLimitPerIndex and by a FailIndex rule of
// its podFailurePolicy, with upstream's counters, conditions and columns.

import (
	"regexp"
	"slices"
	"strings"
	"testing"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/utils/ptr"
)

func TestJobKubectlUser(t *testing.T) {
	t.Parallel()
	e := newJobEnv(t)

	t.Run("kubectl create job", func(t *testing.T) {
		t.Parallel()
		if out := e.must(t, "create", "job", "imperative", "--image=busybox", "--", "sh", "-c", "echo made-by-create"); out != "job.batch/imperative created\n" {
			t.Fatalf("create job: %q", out)
		}
		e.must(t, "wait", "--for=condition=Complete", "job/imperative", "--timeout=120s")
		if out := e.must(t, "logs", "job/imperative"); out != "made-by-create\n" {
			t.Errorf("logs: %q", out)
		}
		if get := e.must(t, "get", "job", "imperative", "--no-headers"); !regexp.MustCompile(`^imperative\s+Complete\s+1/1\s`).MatchString(get) {
			t.Errorf("get: %q", get)
		}
	})

	// Twelve pods finishing at about the same time: their completions
	// arrive within one batch period; every one is counted once.
	t.Run("burst of completions", func(t *testing.T) {
		t.Parallel()
		e.apply(t, jobYAML("burst", "  completions: 12\n  parallelism: 12\n  completionMode: Indexed", "echo $JOB_COMPLETION_INDEX"))
		e.must(t, "wait", "--for=condition=Complete", "job/burst", "--timeout=180s")
		j := e.job(t, "burst")
		if j.Status.Succeeded != 12 || j.Status.Failed != 0 || j.Status.Active != 0 || j.Status.CompletedIndexes != "0-11" || ptr.Deref(j.Status.Ready, -1) != 0 ||
			j.Status.UncountedTerminatedPods != nil && len(j.Status.UncountedTerminatedPods.Succeeded) > 0 {
			t.Fatalf("status %+v", j.Status)
		}
		if ps := e.jobPods(t, "burst"); len(ps) != 12 {
			t.Errorf("%d pods, want 12", len(ps))
		}
		// Upstream's order: SuccessCriteriaMet, then Complete.
		var types []batchv1.JobConditionType
		for _, c := range j.Status.Conditions {
			types = append(types, c.Type)
		}
		if !slices.Equal(types, []batchv1.JobConditionType{batchv1.JobSuccessCriteriaMet, batchv1.JobComplete}) {
			t.Errorf("conditions %v", types)
		}
		if get := e.must(t, "get", "job", "burst", "--no-headers"); !regexp.MustCompile(`^burst\s+Complete\s+12/12\s`).MatchString(get) {
			t.Errorf("get: %q", get)
		}
	})

	// Index 0 succeeds, index 1 fails twice (backoffLimitPerIndex 1),
	// index 2 exits 3, which a FailIndex rule fails at once: upstream
	// ends with failedIndexes "1,2", FailureTarget then Failed, reason
	// FailedIndexes.
	t.Run("backoffLimitPerIndex and FailIndex", func(t *testing.T) {
		t.Parallel()
		e.apply(t, jobYAML("per-index-fail", `  completions: 3
  parallelism: 3
  completionMode: Indexed
  backoffLimitPerIndex: 1
  podFailurePolicy:
    rules:
    - action: FailIndex
      onExitCodes: {containerName: c, operator: In, values: [3]}`, `case $JOB_COMPLETION_INDEX in 1) exit 1;; 2) exit 3;; esac`))
		e.must(t, "wait", "--for=condition=Failed", "job/per-index-fail", "--timeout=180s")
		j := e.job(t, "per-index-fail")
		if ptr.Deref(j.Status.FailedIndexes, "") != "1,2" || j.Status.CompletedIndexes != "0" || j.Status.Succeeded != 1 || j.Status.Failed != 3 || j.Status.Active != 0 {
			t.Fatalf("want failedIndexes 1,2, completedIndexes 0, succeeded 1, failed 3: %+v", j.Status)
		}
		c := jobCond(j, batchv1.JobFailed)
		if c == nil || c.Reason != batchv1.JobReasonFailedIndexes || c.Message != "Job has failed indexes" {
			t.Errorf("Failed condition %+v, want reason FailedIndexes", c)
		}
		var types []batchv1.JobConditionType
		for _, c := range j.Status.Conditions {
			if c.Status == corev1.ConditionTrue {
				types = append(types, c.Type)
			}
		}
		if !slices.Equal(types, []batchv1.JobConditionType{batchv1.JobFailureTarget, batchv1.JobFailed}) {
			t.Errorf("conditions %v, want FailureTarget, Failed", types)
		}
		if ps := e.jobPods(t, "per-index-fail"); len(ps) != 4 {
			t.Errorf("%d pods, want 4 (index 1 twice)", len(ps))
		}
		get := e.must(t, "get", "job", "per-index-fail", "--no-headers")
		if !regexp.MustCompile(`^per-index-fail\s+Failed\s+1/3\s`).MatchString(get) {
			t.Errorf("get: %q", get)
		}
		if d := e.must(t, "describe", "job", "per-index-fail"); !regexp.MustCompile(`Pods Statuses:\s+0 Active \(0 Ready\) / 1 Succeeded / 3 Failed\n`).MatchString(d) || !strings.Contains(d, "job-controller  Job has failed indexes") {
			t.Errorf("describe:\n%s", d)
		}
	})
}
