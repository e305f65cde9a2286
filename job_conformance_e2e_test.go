package wasmpod_test

// Upstream's Job behaviours (test/e2e/apps/job.go, Kubernetes v1.37) that
// TestJobKubectl does not cover, with real pods (image busybox: the
// toolbox), the Job controller and client-go: one cluster shared by
// parallel subtests, each in a namespace of its own, each named after the
// upstream behaviour. docs/conformance-apps.md maps every behaviour.

import (
	"context"
	"fmt"
	"math"
	"testing"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/util/retry"
	"k8s.io/utils/ptr"

	"github.com/wasmpod/wasmpod"
	"github.com/wasmpod/wasmpod/internal/kube/kubernetes"
)

// confJob is upstream's e2ejob.NewTestJob: one busybox container "c"
// running the named behaviour, an emptyDir "data" at /data, the given
// restart policy, parallelism, completions and backoffLimit.
func confJob(behavior, name string, rp corev1.RestartPolicy, parallelism, completions, backoffLimit int32) *batchv1.Job {
	var script string
	switch behavior {
	case "notTerminate":
		script = "sleep 1000000"
	case "succeed":
		script = "exit 0"
	case "failOncePerIndex", "notTerminateOncePerIndex":
		// upstream's: a marker file per index on a hostPath shared by the
		// index's pods (perIndexOnHost sets the volume); the first pod of
		// an index creates it and fails (exit 42) or runs until evicted,
		// the next one sees it and succeeds.
		script = "if [ -r /data/foo-$JOB_COMPLETION_INDEX ]; then exit 0; else touch /data/foo-$JOB_COMPLETION_INDEX; exit 42; fi"
		if behavior == "notTerminateOncePerIndex" {
			script = "if [ -r /data/foo-$JOB_COMPLETION_INDEX ]; then exit 0; else touch /data/foo-$JOB_COMPLETION_INDEX; sleep 1000000; fi"
		}
	case "terminateSlowly":
		// upstream's pod-replacement script traps SIGTERM, sleeps 5 s and
		// exits 143; a wasm guest's TERM is the end of its stdin.
		script = "cat >/dev/null; sleep 5; exit 143"
	case "fail":
		script = "exit 1"
	case "failOddSucceedEven":
		// upstream's script, run by the toolbox's expr applet
		script = `if [ $(expr ${JOB_COMPLETION_INDEX} % 2) -ne 0 ]; then exit 1; else exit 0; fi`
	case "failOnce":
		// Fails the first time, succeeds the second: the emptyDir outlives
		// the container's restart in the same pod.
		script = "if [ -r /data/foo ] ; then exit 0 ; else touch /data/foo ; exit 1 ; fi"
	default:
		panic(behavior)
	}
	grace := int64(1)
	return &batchv1.Job{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: batchv1.JobSpec{
			Parallelism:  &parallelism,
			Completions:  &completions,
			BackoffLimit: &backoffLimit,
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"somekey": "somevalue"}},
				Spec: corev1.PodSpec{
					RestartPolicy:                 rp,
					TerminationGracePeriodSeconds: &grace,
					Volumes:                       []corev1.Volume{{Name: "data", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}}},
					Containers: []corev1.Container{{Name: "c", Image: "busybox", Command: []string{"sh", "-c", script},
						VolumeMounts: []corev1.VolumeMount{{Name: "data", MountPath: "/data"}}}},
				},
			},
		},
	}
}

// perIndexOnHost is upstream's setupHostPathDirectory: the "data" volume
// is a host directory (NewTestJobOnNode: our cluster has one node), and
// the notTerminateOncePerIndex pods are ready once their marker exists.
func perIndexOnHost(t *testing.T, j *batchv1.Job) *batchv1.Job {
	j.Spec.Template.Spec.Volumes[0].VolumeSource = corev1.VolumeSource{HostPath: &corev1.HostPathVolumeSource{
		Path: t.TempDir(), Type: ptr.To(corev1.HostPathDirectoryOrCreate)}}
	j.Spec.Template.Spec.Containers[0].ReadinessProbe = &corev1.Probe{PeriodSeconds: 1,
		ProbeHandler: corev1.ProbeHandler{Exec: &corev1.ExecAction{Command: []string{"sh", "-c", "cat /data/foo-$JOB_COMPLETION_INDEX"}}}}
	return j
}

func jobCondition(j *batchv1.Job, typ batchv1.JobConditionType) *batchv1.JobCondition {
	for i := range j.Status.Conditions {
		if c := &j.Status.Conditions[i]; c.Type == typ && c.Status == corev1.ConditionTrue {
			return c
		}
	}
	return nil
}

// waitJob polls the Job until cond holds (upstream's e2ejob.WaitFor*).
func waitJob(t *testing.T, cs kubernetes.Interface, ns, name, what string, cond func(*batchv1.Job) bool) *batchv1.Job {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		j, err := cs.BatchV1().Jobs(ns).Get(context.Background(), name, metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if cond(j) {
			return j
		}
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for job %s/%s: %s; %s", ns, name, what, jobJSON(j))
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func jobFailed(j *batchv1.Job) bool { return jobCondition(j, batchv1.JobFailed) != nil }

// jobComplete is upstream's WaitForJobComplete: Complete with reason and
// succeeded == completions.
func jobComplete(reason string, completions int32) func(*batchv1.Job) bool {
	return func(j *batchv1.Job) bool {
		c := jobCondition(j, batchv1.JobComplete)
		return c != nil && c.Reason == reason && j.Status.Succeeded == completions
	}
}

func jobJSON(j *batchv1.Job) string {
	return fmt.Sprintf("active=%d ready=%v terminating=%v succeeded=%d failed=%d completedIndexes=%q failedIndexes=%v conditions=%+v",
		j.Status.Active, ptr.Deref(j.Status.Ready, -1), ptr.Deref(j.Status.Terminating, -1), j.Status.Succeeded, j.Status.Failed,
		j.Status.CompletedIndexes, ptr.Deref(j.Status.FailedIndexes, "<nil>"), j.Status.Conditions)
}

func TestConformanceJob(t *testing.T) {
	cc := newConformanceCluster(t, func(c *wasmpod.Config) { c.AllowHostPath = true })
	cs := cc.cs
	ctx := context.Background()
	create := func(t *testing.T, ns string, j *batchv1.Job) *batchv1.Job {
		t.Helper()
		j, err := cs.BatchV1().Jobs(ns).Create(ctx, j, metav1.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		return j
	}

	// framework.ConformanceIt("should run a job to completion when tasks
	// sometimes fail and are locally restarted"): restartPolicy OnFailure,
	// each pod's container fails once, is restarted in place by the node
	// and then succeeds (the emptyDir's marker file survives the restart).
	t.Run("should run a job to completion when tasks sometimes fail and are locally restarted", func(t *testing.T) {
		t.Parallel()
		ns := confNamespace(t, cs, "job-fail-once-local")
		j := create(t, ns, confJob("failOnce", "fail-once-local", corev1.RestartPolicyOnFailure, 2, 4, 6))
		j = waitJob(t, cs, ns, j.Name, "Complete (CompletionsReached, 4 succeeded)", jobComplete(batchv1.JobReasonCompletionsReached, 4))
		// Each pod restarted its container in place: no pod failed, and
		// the succeeded pods each have a restart.
		if j.Status.Failed != 0 {
			t.Fatalf("failed %d, want 0 (restarts are local): %s", j.Status.Failed, jobJSON(j))
		}
		pods, err := cs.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{LabelSelector: "batch.kubernetes.io/job-name=" + j.Name})
		if err != nil {
			t.Fatal(err)
		}
		if len(pods.Items) != 4 {
			t.Fatalf("%d pods, want 4 (one per completion, none replaced)", len(pods.Items))
		}
		for _, p := range pods.Items {
			if p.Status.Phase != corev1.PodSucceeded || restartCount(&p) != 1 {
				t.Fatalf("pod %s: phase %s, %d restarts, want Succeeded after 1 restart: %s", p.Name, p.Status.Phase, restartCount(&p), fmtStatus(&p))
			}
		}
	})

	// ginkgo.It("should update the status ready field"): suspended, ready
	// is 0; resumed, the two running pods are counted ready; suspended
	// again, back to 0.
	t.Run("should update the status ready field", func(t *testing.T) {
		t.Parallel()
		ns := confNamespace(t, cs, "job-ready")
		j := confJob("notTerminate", "all-ready", corev1.RestartPolicyNever, 2, 4, 6)
		j.Spec.Suspend = ptr.To(true)
		j = create(t, ns, j)
		readyIs := func(n int32) func(*batchv1.Job) bool {
			return func(j *batchv1.Job) bool { return j.Status.Ready != nil && *j.Status.Ready == n }
		}
		waitJob(t, cs, ns, j.Name, "status.ready 0", readyIs(0))
		setSuspend := func(v bool) {
			if err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
				cur, err := cs.BatchV1().Jobs(ns).Get(ctx, j.Name, metav1.GetOptions{})
				if err != nil {
					return err
				}
				cur.Spec.Suspend = ptr.To(v)
				_, err = cs.BatchV1().Jobs(ns).Update(ctx, cur, metav1.UpdateOptions{})
				return err
			}); err != nil {
				t.Fatal(err)
			}
		}
		setSuspend(false)
		got := waitJob(t, cs, ns, j.Name, "status.ready 2", readyIs(2))
		if got.Status.Active != 2 {
			t.Fatalf("active %d with 2 ready: %s", got.Status.Active, jobJSON(got))
		}
		setSuspend(true)
		waitJob(t, cs, ns, j.Name, "status.ready 0 once suspended again", func(j *batchv1.Job) bool {
			return readyIs(0)(j) && j.Status.Active == 0
		})
	})

	// framework.ConformanceIt("should mark indexes as failed when the
	// FailIndex action is matched in podFailurePolicy"): the odd index
	// fails with exit code 1, which the FailIndex rule marks failed
	// without using its backoffLimitPerIndex of 1.
	t.Run("should mark indexes as failed when the FailIndex action is matched in podFailurePolicy", func(t *testing.T) {
		t.Parallel()
		ns := confNamespace(t, cs, "job-fail-index")
		j := confJob("failOddSucceedEven", "matching-fail-index-action", corev1.RestartPolicyNever, 2, 2, 6)
		j.Spec.BackoffLimit = nil
		j.Spec.BackoffLimitPerIndex = ptr.To[int32](1)
		j.Spec.CompletionMode = ptr.To(batchv1.IndexedCompletion)
		j.Spec.PodFailurePolicy = &batchv1.PodFailurePolicy{Rules: []batchv1.PodFailurePolicyRule{{
			Action:      batchv1.PodFailurePolicyActionFailIndex,
			OnExitCodes: &batchv1.PodFailurePolicyOnExitCodesRequirement{Operator: batchv1.PodFailurePolicyOnExitCodesOpIn, Values: []int32{1}},
		}}}
		j = create(t, ns, j)
		j = waitJob(t, cs, ns, j.Name, "Failed", jobFailed)
		if ptr.Deref(j.Status.FailedIndexes, "") != "1" || j.Status.CompletedIndexes != "0" || j.Status.Failed != 1 || j.Status.Succeeded != 1 {
			t.Fatalf("want failedIndexes 1, completedIndexes 0, failed 1, succeeded 1: %s", jobJSON(j))
		}
	})

	// framework.ConformanceIt("should terminate job execution when the
	// number of failed indexes exceeds maxFailedIndexes"): parallelism 1,
	// every pod fails; the first failed index exceeds maxFailedIndexes 0,
	// so no other index runs.
	t.Run("should terminate job execution when the number of failed indexes exceeds maxFailedIndexes", func(t *testing.T) {
		t.Parallel()
		ns := confNamespace(t, cs, "job-max-failed-indexes")
		j := confJob("fail", "with-max-failed-indexes", corev1.RestartPolicyNever, 1, 4, 6)
		j.Spec.BackoffLimit = nil
		j.Spec.BackoffLimitPerIndex = ptr.To[int32](0)
		j.Spec.MaxFailedIndexes = ptr.To[int32](0)
		j.Spec.CompletionMode = ptr.To(batchv1.IndexedCompletion)
		j = create(t, ns, j)
		j = waitJob(t, cs, ns, j.Name, "Failed", jobFailed)
		if ptr.Deref(j.Status.FailedIndexes, "") != "0" || j.Status.Failed != 1 {
			t.Fatalf("want failedIndexes 0, failed 1: %s", jobJSON(j))
		}
		if c := jobCondition(j, batchv1.JobFailed); c.Reason != batchv1.JobReasonMaxFailedIndexesExceeded {
			t.Fatalf("Failed reason %q, want %q", c.Reason, batchv1.JobReasonMaxFailedIndexesExceeded)
		}
	})

	// framework.ConformanceIt("with successPolicy succeededCount rule
	// should succeeded even when some indexes remain pending"): index 0
	// succeeds, which meets succeededCount 1; the Job completes with the
	// SuccessPolicy reason while other indexes still fail and retry.
	t.Run("with successPolicy succeededCount rule should succeeded even when some indexes remain pending", func(t *testing.T) {
		t.Parallel()
		ns := confNamespace(t, cs, "job-success-count")
		j := confJob("failOddSucceedEven", "with-success-policy-succeeded-count", corev1.RestartPolicyNever, 2, 5, math.MaxInt32)
		j.Spec.CompletionMode = ptr.To(batchv1.IndexedCompletion)
		j.Spec.SuccessPolicy = &batchv1.SuccessPolicy{Rules: []batchv1.SuccessPolicyRule{{SucceededCount: ptr.To[int32](1)}}}
		j = create(t, ns, j)
		waitJob(t, cs, ns, j.Name, "SuccessCriteriaMet (SuccessPolicy)", func(j *batchv1.Job) bool {
			c := jobCondition(j, batchv1.JobSuccessCriteriaMet)
			return c != nil && c.Reason == batchv1.JobReasonSuccessPolicy
		})
		j = waitJob(t, cs, ns, j.Name, "Complete (SuccessPolicy, 1 succeeded)", jobComplete(batchv1.JobReasonSuccessPolicy, 1))
		if j.Status.CompletedIndexes != "0" || j.Status.Active != 0 || ptr.Deref(j.Status.Ready, -1) != 0 || ptr.Deref(j.Status.Terminating, -1) != 0 {
			t.Fatalf("want completedIndexes 0, active 0, ready 0, terminating 0: %s", jobJSON(j))
		}
	})

	// ginkgo.It("should allow to use a pod failure policy to ignore failure
	// matching on exit code"): every index's first pod exits 42, which an
	// Ignore rule matches: with backoffLimit pods-1 the failures would fail
	// the Job; ignored, they are not even counted. 2 pods (upstream: 3), as
	// for the evictions below.
	t.Run("should allow to use a pod failure policy to ignore failure matching on exit code", func(t *testing.T) {
		t.Parallel()
		ns := confNamespace(t, cs, "job-ignore-exit-code")
		j := perIndexOnHost(t, confJob("failOncePerIndex", "fail-pod-ignore-on-exit-code", corev1.RestartPolicyNever, 2, 2, 1))
		j.Spec.Template.Spec.Containers[0].ReadinessProbe = nil
		j.Spec.CompletionMode = ptr.To(batchv1.IndexedCompletion)
		j.Spec.PodFailurePolicy = &batchv1.PodFailurePolicy{Rules: []batchv1.PodFailurePolicyRule{{
			Action:      batchv1.PodFailurePolicyActionIgnore,
			OnExitCodes: &batchv1.PodFailurePolicyOnExitCodesRequirement{Operator: batchv1.PodFailurePolicyOnExitCodesOpIn, Values: []int32{42}},
		}}}
		j = create(t, ns, j)
		j = waitJob(t, cs, ns, j.Name, "Complete (CompletionsReached, 2 succeeded)", jobComplete(batchv1.JobReasonCompletionsReached, 2))
		pods, err := cs.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{LabelSelector: "batch.kubernetes.io/job-name=" + j.Name})
		if err != nil {
			t.Fatal(err)
		}
		exited42 := 0
		for _, p := range pods.Items {
			if p.Status.Phase == corev1.PodFailed && len(p.Status.ContainerStatuses) == 1 && p.Status.ContainerStatuses[0].State.Terminated != nil &&
				p.Status.ContainerStatuses[0].State.Terminated.ExitCode == 42 {
				exited42++
			}
		}
		if j.Status.Failed != 0 || exited42 != 2 {
			t.Fatalf("failed %d with %d pods exited 42, want 0 counted of 2: %s", j.Status.Failed, exited42, jobJSON(j))
		}
	})

	// framework.ConformanceIt("should allow to use a pod failure policy to
	// ignore failure matching on DisruptionTarget condition"), and the
	// older upstream table entry "should allow to use a pod failure policy
	// to ignore failure for an evicted pod; matching on the exit code"
	// (exit code 137: the guest ignores TERM and is killed at the end of
	// its grace period): each index's first pod runs until evicted; the
	// Ignore rule matches the eviction, so the failures do not exhaust
	// backoffLimit (pods-1) and the replacements complete. Upstream runs 3
	// pods; 2 here halve the re-creation back-off upstream's controller
	// also applies to ignored failures (10 s doubling: 20 s, not 40 s).
	for _, e := range []struct {
		name, job string
		rule      batchv1.PodFailurePolicyRule
	}{
		{"should allow to use a pod failure policy to ignore failure matching on DisruptionTarget condition", "evicted-pod-ignore-on-disruption-condition",
			batchv1.PodFailurePolicyRule{Action: batchv1.PodFailurePolicyActionIgnore,
				OnPodConditions: []batchv1.PodFailurePolicyOnPodConditionsPattern{{Type: corev1.DisruptionTarget, Status: corev1.ConditionTrue}}}},
		{"should allow to use a pod failure policy to ignore failure for an evicted pod; matching on the exit code", "evicted-pod-ignore-on-exit-code",
			batchv1.PodFailurePolicyRule{Action: batchv1.PodFailurePolicyActionIgnore,
				OnExitCodes: &batchv1.PodFailurePolicyOnExitCodesRequirement{Operator: batchv1.PodFailurePolicyOnExitCodesOpIn, Values: []int32{137}}}},
	} {
		t.Run(e.name, func(t *testing.T) {
			t.Parallel()
			const numPods = 2
			ns := confNamespace(t, cs, e.job)
			j := perIndexOnHost(t, confJob("notTerminateOncePerIndex", e.job, corev1.RestartPolicyNever, numPods, numPods, numPods-1))
			j.Spec.CompletionMode = ptr.To(batchv1.IndexedCompletion)
			j.Spec.PodFailurePolicy = &batchv1.PodFailurePolicy{Rules: []batchv1.PodFailurePolicyRule{e.rule}}
			j = create(t, ns, j)
			waitJob(t, cs, ns, j.Name, "all pods ready", func(j *batchv1.Job) bool { return ptr.Deref(j.Status.Ready, 0) == numPods })
			pods, err := cs.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{LabelSelector: "batch.kubernetes.io/job-name=" + j.Name})
			if err != nil {
				t.Fatal(err)
			}
			if len(pods.Items) != numPods {
				t.Fatalf("%d pods, want %d running", len(pods.Items), numPods)
			}
			for _, p := range pods.Items {
				if err := confEvict(cs, ns, p.Name); err != nil {
					t.Fatalf("evict %s: %v", p.Name, err)
				}
			}
			for _, p := range pods.Items {
				deadline := time.Now().Add(60 * time.Second)
				for {
					if _, err := cs.CoreV1().Pods(ns).Get(ctx, p.Name, metav1.GetOptions{}); err != nil {
						break
					}
					if time.Now().After(deadline) {
						t.Fatalf("evicted pod %s still there", p.Name)
					}
					time.Sleep(100 * time.Millisecond)
				}
			}
			j = waitJob(t, cs, ns, j.Name, "Complete (CompletionsReached)", jobComplete(batchv1.JobReasonCompletionsReached, numPods))
			if j.Status.Failed != 0 {
				t.Fatalf("failed %d, want 0 (the evictions are ignored): %s", j.Status.Failed, jobJSON(j))
			}
		})
	}

	// ginkgo.It("should recreate pods only after they have failed if pod
	// replacement policy is set to Failed"): the deleted pod takes 5 s to
	// terminate; meanwhile it is counted terminating and not replaced;
	// once it has failed, it is counted failed and replaced.
	t.Run("should recreate pods only after they have failed if pod replacement policy is set to Failed", func(t *testing.T) {
		t.Parallel()
		ns := confNamespace(t, cs, "job-replace-failed")
		j := confJob("terminateSlowly", "pod-recreate-failed", corev1.RestartPolicyNever, 1, 1, 1)
		j.Spec.PodReplacementPolicy = ptr.To(batchv1.Failed)
		j = create(t, ns, j)
		waitJob(t, cs, ns, j.Name, "1 active", func(j *batchv1.Job) bool { return j.Status.Active == 1 })
		var pod corev1.Pod
		deadline := time.Now().Add(60 * time.Second)
		for {
			pods, err := cs.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{LabelSelector: "batch.kubernetes.io/job-name=" + j.Name})
			if err != nil {
				t.Fatal(err)
			}
			if len(pods.Items) == 1 && pods.Items[0].Status.Phase == corev1.PodRunning {
				pod = pods.Items[0]
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("no running pod: %d pods", len(pods.Items))
			}
			time.Sleep(100 * time.Millisecond)
		}
		if err := cs.CoreV1().Pods(ns).Delete(ctx, pod.Name, metav1.DeleteOptions{GracePeriodSeconds: ptr.To[int64](30)}); err != nil {
			t.Fatal(err)
		}
		waitJob(t, cs, ns, j.Name, "0 active, 0 failed, 1 terminating", func(j *batchv1.Job) bool {
			return j.Status.Active == 0 && j.Status.Failed == 0 && ptr.Deref(j.Status.Terminating, -1) == 1
		})
		// Not replaced while it terminates (its guest sleeps 5 s after TERM).
		time.Sleep(2 * time.Second)
		if cur, _ := cs.BatchV1().Jobs(ns).Get(ctx, j.Name, metav1.GetOptions{}); cur.Status.Active != 0 || ptr.Deref(cur.Status.Terminating, -1) != 1 {
			t.Fatalf("replaced while terminating: %s", jobJSON(cur))
		}
		waitJob(t, cs, ns, j.Name, "1 active, 1 failed, 0 terminating", func(j *batchv1.Job) bool {
			return j.Status.Active == 1 && j.Status.Failed == 1 && ptr.Deref(j.Status.Terminating, -1) == 0
		})
	})

	// framework.ConformanceIt("with successPolicy should succeeded when all
	// indexes succeeded"): succeededCount 2 of 2 indexes: SuccessCriteriaMet
	// with reason SuccessPolicy, then Complete with it.
	t.Run("with successPolicy should succeeded when all indexes succeeded", func(t *testing.T) {
		t.Parallel()
		ns := confNamespace(t, cs, "job-success-all")
		j := confJob("succeed", "with-success-policy-all-index-succeeded", corev1.RestartPolicyNever, 2, 2, 6)
		j.Spec.CompletionMode = ptr.To(batchv1.IndexedCompletion)
		j.Spec.SuccessPolicy = &batchv1.SuccessPolicy{Rules: []batchv1.SuccessPolicyRule{{SucceededCount: ptr.To[int32](2)}}}
		j = create(t, ns, j)
		waitJob(t, cs, ns, j.Name, "SuccessCriteriaMet (SuccessPolicy)", func(j *batchv1.Job) bool {
			c := jobCondition(j, batchv1.JobSuccessCriteriaMet)
			return c != nil && c.Reason == batchv1.JobReasonSuccessPolicy
		})
		j = waitJob(t, cs, ns, j.Name, "Complete (SuccessPolicy, 2 succeeded)", jobComplete(batchv1.JobReasonSuccessPolicy, 2))
		if j.Status.Active != 0 || ptr.Deref(j.Status.Ready, -1) != 0 || ptr.Deref(j.Status.Terminating, -1) != 0 || j.Status.Failed != 0 {
			t.Fatalf("want active 0, ready 0, terminating 0, failed 0: %s", jobJSON(j))
		}
	})
}
