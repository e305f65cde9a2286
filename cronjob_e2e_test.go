package wasmpod_test

// The CronJob controller with the Job controller, real pods (the toolbox
// as busybox) and the real kubectl with default flags, on the real clock.
// The schedule is yearly (so the real clock never fires it during the
// test) and a schedule time is made due at once by setting
// status.lastScheduleTime two years back (with kubectl patch
// --subresource=status): the latest January 1st runs now. Upstream behaviours
// (test/e2e/apps/cronjob.go): "should delete successful finished jobs
// with limit of one successful job" with real pods and the garbage
// collector, "should set the cronjob-scheduled-timestamp annotation on a
// job", and the upstream cronjob.yaml example run through kubectl apply,
// get, create job --from, wait and logs. The fake-clock behaviours (every
// policy, suspend, missed schedules, time zones) are in
// controllers/cronjob's tests.

import (
	"context"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// helloCronJob is kubernetes.io's controllers/cronjob.yaml (image busybox:
// the toolbox), with a history limit of one successful Job and a yearly
// schedule (upstream's is "* * * * *").
const helloCronJob = `apiVersion: batch/v1
kind: CronJob
metadata:
  name: hello
spec:
  schedule: "0 0 1 1 *"
  successfulJobsHistoryLimit: 1
  jobTemplate:
    spec:
      template:
        spec:
          terminationGracePeriodSeconds: 1
          containers:
          - name: hello
            image: busybox:1.28
            imagePullPolicy: IfNotPresent
            command:
            - /bin/sh
            - -c
            - date; echo Hello from the Kubernetes cluster
          restartPolicy: OnFailure
`

func TestCronJobKubectl(t *testing.T) {
	t.Parallel()
	e := newToolboxEnv(t)
	ctx := context.Background()
	cs := e.c.Client()
	if out, errOut, code := e.run(t, strings.Replace(helloCronJob, "busybox:1.28", "busybox", 1), "apply", "-f", "-"); code != 0 || out != "cronjob.batch/hello created\n" {
		t.Fatalf("apply: %d %q %s", code, out, errOut)
	}
	get := e.must(t, "get", "cronjob", "hello")
	if !regexp.MustCompile(`^NAME\s+SCHEDULE\s+TIMEZONE\s+SUSPEND\s+ACTIVE\s+LAST SCHEDULE\s+AGE\nhello\s+0 0 1 1 \*\s+<none>\s+False\s+0\s+<none>\s+\d+s\n$`).MatchString(get) {
		t.Fatalf("kubectl get cronjob:\n%s", get)
	}

	// By hand: kubectl create job --from, run to completion by the Job
	// controller.
	if out := e.must(t, "create", "job", "hello-manual", "--from=cronjob/hello"); out != "job.batch/hello-manual created\n" {
		t.Fatalf("create job: %q", out)
	}
	e.must(t, "wait", "--for=condition=Complete", "job/hello-manual", "--timeout=120s")
	if logs := e.must(t, "logs", "job/hello-manual"); !strings.HasSuffix(logs, "Hello from the Kubernetes cluster\n") {
		t.Fatalf("logs: %q", logs)
	}
	manualPods := e.jobPods(t, "hello-manual")
	if len(manualPods) != 1 {
		t.Fatalf("%d pods of hello-manual", len(manualPods))
	}

	// The history keeps the Job that started last, by status.startTime,
	// which has whole seconds; within one second the name decides (as
	// upstream's byJobStartTime), and "hello-<minutes>" sorts before
	// "hello-manual". Let the scheduled Job start in a later second than
	// the manual one, so that the manual one is the older.
	mj, err := cs.BatchV1().Jobs("default").Get(ctx, "hello-manual", metav1.GetOptions{})
	if err != nil || mj.Status.StartTime == nil {
		t.Fatalf("hello-manual: %v, startTime %v", err, mj)
	}
	time.Sleep(time.Until(mj.Status.StartTime.Add(time.Second)))

	// By the schedule: the last schedule time two years back makes the
	// latest January 1st due now.
	last := time.Now().AddDate(-2, 0, 0).UTC().Truncate(time.Minute)
	e.must(t, "patch", "cronjob", "hello", "--subresource=status", "--type=merge", "-p", `{"status":{"lastScheduleTime":"`+last.Format(time.RFC3339)+`"}}`)
	var scheduled string
	var scheduledAt time.Time
	waitFor(t, "a scheduled job", 30*time.Second, func() bool {
		cj, err := cs.BatchV1().CronJobs("default").Get(ctx, "hello", metav1.GetOptions{})
		if err != nil || cj.Status.LastScheduleTime == nil || !cj.Status.LastScheduleTime.After(last) {
			return false
		}
		scheduled = "hello-" + strconv.FormatInt(cj.Status.LastScheduleTime.Unix()/60, 10)
		if want := time.Date(time.Now().UTC().Year(), 1, 1, 0, 0, 0, 0, time.UTC); !cj.Status.LastScheduleTime.Time.Equal(want) {
			t.Errorf("lastScheduleTime %v, want %v", cj.Status.LastScheduleTime, want)
		}
		scheduledAt = cj.Status.LastScheduleTime.Time
		return true
	})
	j, err := cs.BatchV1().Jobs("default").Get(ctx, scheduled, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if ts, err := time.Parse(time.RFC3339, j.Annotations[batchv1.CronJobScheduledTimestampAnnotation]); err != nil || !ts.Equal(scheduledAt) {
		t.Errorf("%s annotation %q, want %s", batchv1.CronJobScheduledTimestampAnnotation, j.Annotations[batchv1.CronJobScheduledTimestampAnnotation], scheduledAt.Format(time.RFC3339))
	}
	e.must(t, "wait", "--for=condition=Complete", "job/"+scheduled, "--timeout=120s")

	// Done: not active, lastSuccessfulTime, SawCompletedJob; the older
	// successful Job (the manual one) deleted with its pod, as the history
	// limit of one asks.
	waitFor(t, "the cronjob's status after the job", 30*time.Second, func() bool {
		cj, err := cs.BatchV1().CronJobs("default").Get(ctx, "hello", metav1.GetOptions{})
		return err == nil && len(cj.Status.Active) == 0 && cj.Status.LastSuccessfulTime != nil
	})
	waitFor(t, "hello-manual and its pod deleted", 60*time.Second, func() bool {
		_, jerr := cs.BatchV1().Jobs("default").Get(ctx, "hello-manual", metav1.GetOptions{})
		_, perr := cs.CoreV1().Pods("default").Get(ctx, manualPods[0].Name, metav1.GetOptions{})
		return jerr != nil && perr != nil
	})
	ev := e.must(t, "get", "events", "--field-selector", "involvedObject.kind=CronJob,involvedObject.name=hello", "-o", "custom-columns=R:.reason,M:.message", "--no-headers")
	for _, want := range []string{
		`(?m)^SuccessfulCreate\s+Created job ` + scheduled + `$`,
		`(?m)^SawCompletedJob\s+Saw completed job: ` + scheduled + `, condition: Complete$`,
		`(?m)^SuccessfulDelete\s+Deleted job hello-manual$`,
	} {
		if !regexp.MustCompile(want).MatchString(ev) {
			t.Errorf("events lack %s:\n%s", want, ev)
		}
	}
	get = e.must(t, "get", "cronjob", "hello", "--no-headers")
	if !regexp.MustCompile(`^hello\s+0 0 1 1 \*\s+<none>\s+False\s+0\s+\d+d\s+\d+s\n$`).MatchString(get) {
		t.Errorf("kubectl get cronjob after a run:\n%s", get)
	}
	// Deleting the CronJob (background, as kubectl) takes its Jobs.
	e.must(t, "delete", "cronjob", "hello")
	waitFor(t, "the cronjob's jobs deleted", 60*time.Second, func() bool {
		l, err := cs.BatchV1().Jobs("default").List(ctx, metav1.ListOptions{})
		return err == nil && len(l.Items) == 0
	})
}
