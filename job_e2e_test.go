package wasmpod_test

// The Job and TTL-after-finished controllers with real pods (the toolbox as
// busybox, wasm-examples/pi) and the real kubectl with default flags. Each
// subtest names the upstream behaviour of test/e2e/apps/job.go it covers;
// the fake-clock details (back-off timings, OnFailure restarts, crash
// windows of the tracking) are in controllers/job's unit tests.

import (
	"context"
	"fmt"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/wasmpod/wasmpod"
	"github.com/wasmpod/wasmpod/internal/testwasm"
)

// newJobEnv is a cluster with the toolbox (busybox) and the pi module
// (wasmpod.local/pi:latest) in its module store, served over HTTP.
func newJobEnv(t *testing.T) *streamEnv {
	t.Helper()
	ctx := context.Background()
	dir := t.TempDir()
	store := moduleStore(t, map[string][]byte{"toolbox:latest": exampleModule(t, "toolbox"), "pi:latest": exampleModule(t, "pi")})
	c, err := wasmpod.New(ctx, wasmpod.Config{CacheDir: testwasm.CacheDir(), Modules: store, Nodes: 2})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	srv := httptest.NewServer(c.Handler())
	t.Cleanup(srv.Close)
	kc := filepath.Join(dir, "kubeconfig")
	if err := os.WriteFile(kc, []byte("apiVersion: v1\nkind: Config\nclusters:\n- name: w\n  cluster:\n    server: "+srv.URL+
		"\ncontexts:\n- name: w\n  context:\n    cluster: w\n    user: me\n    namespace: default\ncurrent-context: w\nusers:\n- name: me\n  user: {}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return &streamEnv{c: c, dir: dir, kc: kc}
}

// piJob is kubernetes.io's controllers/job.yaml with its image replaced.
const piJob = `apiVersion: batch/v1
kind: Job
metadata:
  name: pi
spec:
  template:
    spec:
      containers:
      - name: pi
        image: wasmpod.local/pi:latest
        args: ["2000"]
      restartPolicy: Never
  backoffLimit: 4
`

// jobYAML is a Job of the toolbox running script.
func jobYAML(name, extraSpec, script string) string {
	return fmt.Sprintf(`apiVersion: batch/v1
kind: Job
metadata:
  name: %s
spec:
%s
  template:
    spec:
      restartPolicy: Never
      terminationGracePeriodSeconds: 1
      containers:
      - name: c
        image: busybox
        command: ["sh", "-c", %q]
`, name, extraSpec, script)
}

func (e *streamEnv) job(t *testing.T, name string) *batchv1.Job {
	t.Helper()
	j, err := e.c.Client().BatchV1().Jobs("default").Get(context.Background(), name, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return j
}

func (e *streamEnv) jobPods(t *testing.T, name string) []corev1.Pod {
	t.Helper()
	l, err := e.c.Client().CoreV1().Pods("default").List(context.Background(), metav1.ListOptions{LabelSelector: "batch.kubernetes.io/job-name=" + name})
	if err != nil {
		t.Fatal(err)
	}
	sort.Slice(l.Items, func(i, j int) bool { return l.Items[i].Name < l.Items[j].Name })
	return l.Items
}

func jobCond(j *batchv1.Job, ty batchv1.JobConditionType) *batchv1.JobCondition {
	for i := range j.Status.Conditions {
		if c := &j.Status.Conditions[i]; c.Type == ty && c.Status == corev1.ConditionTrue {
			return c
		}
	}
	return nil
}

func (e *streamEnv) apply(t *testing.T, manifest string) {
	t.Helper()
	if out, errOut, code := e.run(t, manifest, "apply", "-f", "-"); code != 0 {
		t.Fatalf("apply: %d %s%s", code, out, errOut)
	}
}

func TestJobKubectl(t *testing.T) {
	t.Parallel()
	e := newJobEnv(t)

	// The upstream example through kubectl apply: Complete, its output
	// through kubectl logs job/pi, kubectl get jobs' columns.
	t.Run("upstream example pi", func(t *testing.T) {
		t.Parallel()
		out, errOut, code := e.run(t, piJob, "apply", "-f", "-")
		if code != 0 || !strings.Contains(out, "job.batch/pi created") {
			t.Fatalf("apply: %d %s%s", code, out, errOut)
		}
		if out := e.must(t, "wait", "--for=condition=Complete", "job/pi", "--timeout=120s"); !strings.Contains(out, "job.batch/pi condition met") {
			t.Fatalf("wait: %q", out)
		}
		logs := e.must(t, "logs", "job/pi")
		if !strings.HasPrefix(logs, "3.14159265358979323846264338327950288419716939937510") || len(strings.TrimSpace(logs)) != 2001 {
			t.Fatalf("logs job/pi: %d bytes %.80q", len(logs), logs)
		}
		get := e.must(t, "get", "jobs", "pi")
		if !regexp.MustCompile(`(?m)^NAME\s+STATUS\s+COMPLETIONS\s+DURATION\s+AGE\n` + `pi\s+Complete\s+1/1\s+\d+s\s+\d+s\n$`).MatchString(get) {
			t.Fatalf("get jobs:\n%s", get)
		}
		j := e.job(t, "pi")
		if j.Status.Succeeded != 1 || j.Status.CompletionTime == nil || jobCond(j, batchv1.JobSuccessCriteriaMet) == nil {
			t.Fatalf("status %+v", j.Status)
		}
		ev := e.must(t, "get", "events", "--field-selector", "involvedObject.kind=Job,involvedObject.name=pi", "-o", "custom-columns=R:.reason,M:.message", "--no-headers")
		if !regexp.MustCompile(`(?m)^SuccessfulCreate\s+Created pod: pi-\w{5}$`).MatchString(ev) || !regexp.MustCompile(`(?m)^Completed\s+Job completed$`).MatchString(ev) {
			t.Fatalf("events:\n%s", ev)
		}
	})

	// "should run a job to completion when tasks succeed"
	t.Run("should run a job to completion when tasks succeed", func(t *testing.T) {
		t.Parallel()
		e.apply(t, jobYAML("all-succeed", "  completions: 4\n  parallelism: 2", "echo ok"))
		e.must(t, "wait", "--for=condition=Complete", "job/all-succeed", "--timeout=120s")
		j := e.job(t, "all-succeed")
		ps := e.jobPods(t, "all-succeed")
		if j.Status.Succeeded != 4 || j.Status.Failed != 0 || len(ps) != 4 {
			t.Fatalf("status %+v, %d pods", j.Status, len(ps))
		}
		for _, p := range ps {
			if p.Status.Phase != corev1.PodSucceeded || len(p.Finalizers) != 0 {
				t.Errorf("pod %s: %s, finalizers %v", p.Name, p.Status.Phase, p.Finalizers)
			}
		}
		if get := e.must(t, "get", "job", "all-succeed", "--no-headers"); !regexp.MustCompile(`^all-succeed\s+Complete\s+4/4\s`).MatchString(get) {
			t.Fatalf("get: %q", get)
		}
	})

	// "should run a job to completion when tasks sometimes fail and are
	// not locally restarted": pods whose name ends in a digit (about a
	// quarter of them) exit 1 under restartPolicy Never; the replacements
	// come after the back-off; succeeded is exactly completions and failed
	// exactly the number of failed pods.
	t.Run("should run a job to completion when tasks sometimes fail and are not locally restarted", func(t *testing.T) {
		t.Parallel()
		e.apply(t, jobYAML("sometimes-fail", "  completions: 3\n  parallelism: 3\n  backoffLimit: 10", `case $HOSTNAME in *[0-9]) exit 1;; esac; echo ok`))
		e.must(t, "wait", "--for=condition=Complete", "job/sometimes-fail", "--timeout=300s")
		j := e.job(t, "sometimes-fail")
		var ok, failed int32
		for _, p := range e.jobPods(t, "sometimes-fail") {
			switch p.Status.Phase {
			case corev1.PodSucceeded:
				ok++
			case corev1.PodFailed:
				failed++
				if last := p.Name[len(p.Name)-1]; last < '0' || last > '9' {
					t.Errorf("pod %s failed", p.Name)
				}
			}
		}
		if j.Status.Succeeded != 3 || ok != 3 || j.Status.Failed != failed {
			t.Fatalf("status succeeded %d failed %d; pods %d succeeded, %d failed", j.Status.Succeeded, j.Status.Failed, ok, failed)
		}
	})

	// backoffLimit under restartPolicy Never: exactly backoffLimit+1 pods
	// fail, then Failed with BackoffLimitExceeded.
	t.Run("should fail to exceed backoffLimit", func(t *testing.T) {
		t.Parallel()
		e.apply(t, jobYAML("backoff", "  backoffLimit: 1", "exit 1"))
		e.must(t, "wait", "--for=condition=Failed", "job/backoff", "--timeout=120s")
		j := e.job(t, "backoff")
		c := jobCond(j, batchv1.JobFailed)
		if c.Reason != "BackoffLimitExceeded" || c.Message != "Job has reached the specified backoff limit" || j.Status.Failed != 2 {
			t.Fatalf("status %+v", j.Status)
		}
		time.Sleep(500 * time.Millisecond)
		if ps := e.jobPods(t, "backoff"); len(ps) != 2 {
			t.Fatalf("%d pods, want backoffLimit+1 = 2", len(ps))
		}
		if get := e.must(t, "get", "job", "backoff", "--no-headers"); !regexp.MustCompile(`^backoff\s+Failed\s+0/1\s`).MatchString(get) {
			t.Fatalf("get: %q", get)
		}
	})

	// "should fail when exceeds active deadline"
	t.Run("should fail when exceeds active deadline", func(t *testing.T) {
		t.Parallel()
		e.apply(t, jobYAML("deadline", "  activeDeadlineSeconds: 2\n  parallelism: 2\n  completions: 2", "sleep 3600"))
		e.must(t, "wait", "--for=condition=Failed", "job/deadline", "--timeout=60s")
		j := e.job(t, "deadline")
		if c := jobCond(j, batchv1.JobFailed); c.Reason != "DeadlineExceeded" || c.Message != "Job was active longer than specified deadline" {
			t.Fatalf("condition %+v", c)
		}
		if j.Status.Active != 0 || j.Status.Failed != 2 || *j.Status.Terminating != 0 {
			t.Fatalf("status %+v", j.Status)
		}
	})

	// "should allow to use the pod failure policy on exit code to fail the
	// job early": exit 42 matches a FailJob rule: no retry.
	t.Run("should allow to use the pod failure policy on exit code to fail the job early", func(t *testing.T) {
		t.Parallel()
		e.apply(t, jobYAML("pfp", `  backoffLimit: 6
  podFailurePolicy:
    rules:
    - action: FailJob
      onExitCodes: {containerName: c, operator: In, values: [42]}`, "exit 42"))
		e.must(t, "wait", "--for=condition=Failed", "job/pfp", "--timeout=60s")
		ps := e.jobPods(t, "pfp")
		c := jobCond(e.job(t, "pfp"), batchv1.JobFailed)
		if len(ps) != 1 || c.Reason != "PodFailurePolicy" ||
			c.Message != fmt.Sprintf("Container c for pod default/%s failed with exit code 42 matching FailJob rule at index 0", ps[0].Name) {
			t.Fatalf("%d pods, condition %+v", len(ps), c)
		}
	})

	// "should create pods for an Indexed job with completion indexes and
	// specified hostname"
	t.Run("should create pods for an Indexed job with completion indexes and specified hostname", func(t *testing.T) {
		t.Parallel()
		e.apply(t, jobYAML("indexed", "  completions: 3\n  parallelism: 3\n  completionMode: Indexed", `echo "index=$JOB_COMPLETION_INDEX host=$(hostname)"`))
		e.must(t, "wait", "--for=condition=Complete", "job/indexed", "--timeout=120s")
		if s := e.job(t, "indexed").Status; s.CompletedIndexes != "0-2" || s.Succeeded != 3 {
			t.Fatalf("status %+v", s)
		}
		for _, p := range e.jobPods(t, "indexed") {
			ix := p.Annotations["batch.kubernetes.io/job-completion-index"]
			if p.Labels["batch.kubernetes.io/job-completion-index"] != ix || !strings.HasPrefix(p.Name, "indexed-"+ix+"-") {
				t.Errorf("pod %s: annotations %v labels %v", p.Name, p.Annotations, p.Labels)
			}
			if got, want := e.must(t, "logs", p.Name), fmt.Sprintf("index=%s host=indexed-%s\n", ix, ix); got != want {
				t.Errorf("logs %s: %q, want %q", p.Name, got, want)
			}
		}
	})

	// "should execute all indexes despite some failing when using
	// backoffLimitPerIndex": every index fails once (its first pod has
	// no failure count yet), all run to success on their retry.
	t.Run("should execute all indexes despite some failing when using backoffLimitPerIndex", func(t *testing.T) {
		t.Parallel()
		y := jobYAML("per-index", "  completions: 2\n  parallelism: 2\n  completionMode: Indexed\n  backoffLimitPerIndex: 1",
			`[ "$FAILS" = 1 ] || exit 1; echo ok`)
		y += "        env:\n        - name: FAILS\n          valueFrom: {fieldRef: {fieldPath: \"metadata.annotations['batch.kubernetes.io/job-index-failure-count']\"}}\n"
		e.apply(t, y)
		e.must(t, "wait", "--for=condition=Complete", "job/per-index", "--timeout=120s")
		s := e.job(t, "per-index").Status
		if s.CompletedIndexes != "0,1" || s.Failed != 2 || s.Succeeded != 2 || s.FailedIndexes == nil || *s.FailedIndexes != "" {
			t.Fatalf("status %+v", s)
		}
	})

	// "should not create pods when created in suspend state", then resume.
	t.Run("should not create pods when created in suspend state", func(t *testing.T) {
		t.Parallel()
		e.apply(t, jobYAML("suspended", "  suspend: true", "echo ok"))
		e.must(t, "wait", "--for=condition=Suspended", "job/suspended", "--timeout=60s")
		if get := e.must(t, "get", "job", "suspended", "--no-headers"); !regexp.MustCompile(`^suspended\s+Suspended\s+0/1\s`).MatchString(get) {
			t.Fatalf("get: %q", get)
		}
		if ps := e.jobPods(t, "suspended"); len(ps) != 0 {
			t.Fatalf("%d pods while suspended", len(ps))
		}
		e.must(t, "patch", "job", "suspended", "--type=merge", "-p", `{"spec":{"suspend":false}}`)
		e.must(t, "wait", "--for=condition=Complete", "job/suspended", "--timeout=60s")
		if c := findJobCondition(e.job(t, "suspended"), batchv1.JobSuspended); c == nil || c.Status != corev1.ConditionFalse || c.Reason != "JobResumed" {
			t.Fatalf("Suspended condition %+v", c)
		}
	})

	// "job with successPolicy": index 0 succeeding is enough; the others
	// are deleted.
	t.Run("job with successPolicy", func(t *testing.T) {
		t.Parallel()
		e.apply(t, jobYAML("success-policy", `  completions: 3
  parallelism: 3
  completionMode: Indexed
  successPolicy:
    rules:
    - succeededIndexes: "0"`, `[ "$JOB_COMPLETION_INDEX" = 0 ] && exit 0; sleep 3600`))
		e.must(t, "wait", "--for=condition=Complete", "job/success-policy", "--timeout=60s")
		j := e.job(t, "success-policy")
		if c := jobCond(j, batchv1.JobSuccessCriteriaMet); c == nil || c.Reason != "SuccessPolicy" || c.Message != "Matched rules at index 0" || j.Status.CompletedIndexes != "0" {
			t.Fatalf("status %+v", j.Status)
		}
	})

	// "should delete a job", and ttlSecondsAfterFinished: a finished Job
	// with ttl 0 is deleted with its pods (Foreground).
	t.Run("should delete a job", func(t *testing.T) {
		t.Parallel()
		e.apply(t, jobYAML("to-delete", "  parallelism: 2\n  completions: 2", "sleep 3600"))
		waitFor(t, "2 running pods", 60*time.Second, func() bool {
			n := 0
			for _, p := range e.jobPods(t, "to-delete") {
				if p.Status.Phase == corev1.PodRunning {
					n++
				}
			}
			return n == 2
		})
		if out := e.must(t, "delete", "job", "to-delete"); !strings.Contains(out, `job.batch "to-delete" deleted`) {
			t.Fatalf("delete: %q", out)
		}
		waitFor(t, "the pods gone", 60*time.Second, func() bool { return len(e.jobPods(t, "to-delete")) == 0 })

		e.apply(t, jobYAML("ttl", "  ttlSecondsAfterFinished: 0", "echo ok"))
		waitFor(t, "the finished Job and its pod deleted", 60*time.Second, func() bool {
			_, err := e.c.Client().BatchV1().Jobs("default").Get(context.Background(), "ttl", metav1.GetOptions{})
			return err != nil && len(e.jobPods(t, "ttl")) == 0
		})
	})

	// "should apply changes to a job status": /status patched (with an
	// annotation) and updated, read back through the subresource. As
	// upstream's v1.37 test, the status written is a custom condition: the
	// startTime of a running Job may no longer change (Job status
	// validation, apiserver/job_status.go).
	t.Run("should apply changes to a job status", func(t *testing.T) {
		t.Parallel()
		e.apply(t, jobYAML("status", "  parallelism: 2\n  completions: 4", "sleep 3600"))
		waitFor(t, "2 pods", 60*time.Second, func() bool { return len(e.jobPods(t, "status")) == 2 })
		custom := batchv1.JobConditionType("CustomConditionType")
		customCond := func(j *batchv1.Job) *batchv1.JobCondition {
			for i := range j.Status.Conditions {
				if j.Status.Conditions[i].Type == custom {
					return &j.Status.Conditions[i]
				}
			}
			return nil
		}
		now1 := metav1.Now().Rfc3339Copy()
		e.must(t, "patch", "job", "status", "--subresource=status", "--type=merge", "-p",
			fmt.Sprintf(`{"metadata":{"annotations":{"patchedstatus":"true"}},"status":{"conditions":[{"type":%q,"status":"True","lastTransitionTime":%q}]}}`,
				custom, now1.UTC().Format(time.RFC3339)))
		j := e.job(t, "status")
		if c := customCond(j); j.Annotations["patchedstatus"] != "true" || c == nil || !c.LastTransitionTime.Equal(&now1) {
			t.Fatalf("after the status patch: annotations %v, conditions %+v, want %s at %v", j.Annotations, j.Status.Conditions, custom, now1)
		}
		now2 := metav1.NewTime(now1.Add(time.Hour))
		for {
			j := e.job(t, "status")
			c := customCond(j)
			if c == nil {
				t.Fatalf("the %s condition is gone: %+v", custom, j.Status.Conditions)
			}
			c.LastTransitionTime = now2
			_, err := e.c.Client().BatchV1().Jobs("default").UpdateStatus(context.Background(), j, metav1.UpdateOptions{})
			if err == nil {
				break
			}
			if !strings.Contains(err.Error(), "the object has been modified") {
				t.Fatal(err)
			}
		}
		got := e.must(t, "get", "job", "status", "--subresource=status", "-o", `jsonpath={.metadata.uid} {.status.conditions[?(@.type=="CustomConditionType")].lastTransitionTime}`)
		if want := fmt.Sprintf("%s %s", j.UID, now2.UTC().Format(time.RFC3339)); got != want {
			t.Fatalf("get --subresource=status: %q, want %q", got, want)
		}
		e.must(t, "delete", "job", "status", "--wait=false")
	})

	// "should manage the lifecycle of a job": a suspended Job labelled,
	// annotated, listed by label across namespaces, deleted as a collection.
	t.Run("should manage the lifecycle of a job", func(t *testing.T) {
		t.Parallel()
		e.apply(t, jobYAML("lifecycle", "  suspend: true", "echo ok"))
		e.must(t, "label", "job", "lifecycle", "e2e-job-label=lifecycle")
		e.must(t, "annotate", "job", "lifecycle", "updated=true")
		if out := e.must(t, "get", "jobs", "-A", "-l", "e2e-job-label=lifecycle", "-o", "jsonpath={.items[*].metadata.name} {.items[*].metadata.annotations.updated}"); out != "lifecycle true" {
			t.Fatalf("list by label: %q", out)
		}
		if out := e.must(t, "delete", "jobs", "-l", "e2e-job-label=lifecycle"); !strings.Contains(out, `job.batch "lifecycle" deleted`) {
			t.Fatalf("delete collection: %q", out)
		}
		if out := e.must(t, "get", "jobs", "-A", "-l", "e2e-job-label=lifecycle", "-o", "name"); out != "" {
			t.Fatalf("after the delete: %q", out)
		}
	})

	// "should adopt matching orphans and release non-matching pods"
	t.Run("should adopt matching orphans and release non-matching pods", func(t *testing.T) {
		t.Parallel()
		e.apply(t, jobYAML("adopt", "  parallelism: 2\n  completions: 2", "sleep 3600"))
		var victim string
		waitFor(t, "2 pods", 60*time.Second, func() bool {
			ps := e.jobPods(t, "adopt")
			if len(ps) == 2 {
				victim = ps[0].Name
			}
			return len(ps) == 2
		})
		j := e.job(t, "adopt")
		e.must(t, "patch", "pod", victim, "--type=json", "-p", `[{"op":"remove","path":"/metadata/ownerReferences"}]`)
		waitFor(t, "adopted", 30*time.Second, func() bool {
			p, err := e.c.Client().CoreV1().Pods("default").Get(context.Background(), victim, metav1.GetOptions{})
			ref := metav1.GetControllerOf(p)
			return err == nil && ref != nil && ref.UID == j.UID
		})
		e.must(t, "label", "pod", victim, "batch.kubernetes.io/controller-uid-", "controller-uid-")
		waitFor(t, "released, finalizer removed", 30*time.Second, func() bool {
			p, err := e.c.Client().CoreV1().Pods("default").Get(context.Background(), victim, metav1.GetOptions{})
			return err == nil && metav1.GetControllerOf(p) == nil && len(p.Finalizers) == 0
		})
		e.must(t, "delete", "job", "adopt", "--wait=false")
	})
}

func findJobCondition(j *batchv1.Job, ty batchv1.JobConditionType) *batchv1.JobCondition {
	for i := range j.Status.Conditions {
		if j.Status.Conditions[i].Type == ty {
			return &j.Status.Conditions[i]
		}
	}
	return nil
}
