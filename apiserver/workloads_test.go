package apiserver

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"
)

func testPodTemplate(labels map[string]string, restart corev1.RestartPolicy) corev1.PodTemplateSpec {
	return corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: labels},
		Spec: corev1.PodSpec{RestartPolicy: restart, Containers: []corev1.Container{{Name: "c", Image: "wasmpod.local/x:1"}}}}
}

// TestWorkloadValidationClientGo: the rules the kubectl test does not
// cover, each with upstream's field path and message.
func TestWorkloadValidationClientGo(t *testing.T) {
	e := newEnv(t, HandlerOptions{})
	cs := e.client(t, "http")
	ctx := context.Background()
	app := map[string]string{"app": "a"}
	job := func(mut func(j *batchv1.Job)) *batchv1.Job {
		j := &batchv1.Job{ObjectMeta: metav1.ObjectMeta{Name: "j"}, Spec: batchv1.JobSpec{Template: testPodTemplate(nil, corev1.RestartPolicyNever)}}
		mut(j)
		return j
	}
	cron := func(mut func(c *batchv1.CronJob)) *batchv1.CronJob {
		c := &batchv1.CronJob{ObjectMeta: metav1.ObjectMeta{Name: "c"}, Spec: batchv1.CronJobSpec{Schedule: "@hourly",
			JobTemplate: batchv1.JobTemplateSpec{Spec: batchv1.JobSpec{Template: testPodTemplate(nil, corev1.RestartPolicyOnFailure)}}}}
		mut(c)
		return c
	}
	ds := func(mut func(d *appsv1.DaemonSet)) *appsv1.DaemonSet {
		d := &appsv1.DaemonSet{ObjectMeta: metav1.ObjectMeta{Name: "d"}, Spec: appsv1.DaemonSetSpec{
			Selector: &metav1.LabelSelector{MatchLabels: app}, Template: testPodTemplate(app, corev1.RestartPolicyAlways)}}
		mut(d)
		return d
	}
	for _, c := range []struct {
		name   string
		create func() error
		want   string
	}{
		{"ds-surge-and-unavailable", func() error {
			_, err := cs.AppsV1().DaemonSets("default").Create(ctx, ds(func(d *appsv1.DaemonSet) {
				d.Spec.UpdateStrategy.RollingUpdate = &appsv1.RollingUpdateDaemonSet{MaxSurge: ptr.To(intstr.FromInt32(1))}
			}), metav1.CreateOptions{})
			return err
		}, `spec.updateStrategy.rollingUpdate.maxSurge: Invalid value: 1: may not be set when maxUnavailable is non-zero`},
		{"ds-percent-over-100", func() error {
			_, err := cs.AppsV1().DaemonSets("default").Create(ctx, ds(func(d *appsv1.DaemonSet) {
				d.Spec.UpdateStrategy.RollingUpdate = &appsv1.RollingUpdateDaemonSet{MaxUnavailable: ptr.To(intstr.FromString("150%"))}
			}), metav1.CreateOptions{})
			return err
		}, `spec.updateStrategy.rollingUpdate.maxUnavailable: Invalid value: "150%": must not be greater than 100%`},
		{"ds-active-deadline", func() error {
			_, err := cs.AppsV1().DaemonSets("default").Create(ctx, ds(func(d *appsv1.DaemonSet) {
				d.Spec.Template.Spec.ActiveDeadlineSeconds = ptr.To[int64](5)
			}), metav1.CreateOptions{})
			return err
		}, `spec.template.spec.activeDeadlineSeconds: Forbidden: activeDeadlineSeconds in DaemonSet is not Supported`},
		{"job-indexed-without-completions", func() error {
			_, err := cs.BatchV1().Jobs("default").Create(ctx, job(func(j *batchv1.Job) {
				j.Spec.Parallelism, j.Spec.CompletionMode = ptr.To[int32](2), ptr.To(batchv1.IndexedCompletion)
			}), metav1.CreateOptions{})
			return err
		}, `spec.completions: Required value: when completion mode is Indexed`},
		{"job-per-index-nonindexed", func() error {
			_, err := cs.BatchV1().Jobs("default").Create(ctx, job(func(j *batchv1.Job) { j.Spec.BackoffLimitPerIndex = ptr.To[int32](1) }), metav1.CreateOptions{})
			return err
		}, `spec.backoffLimitPerIndex: Invalid value: 1: requires indexed completion mode`},
		{"job-failure-policy-onfailure", func() error {
			_, err := cs.BatchV1().Jobs("default").Create(ctx, job(func(j *batchv1.Job) {
				j.Spec.Template.Spec.RestartPolicy = corev1.RestartPolicyOnFailure
				j.Spec.PodFailurePolicy = &batchv1.PodFailurePolicy{Rules: []batchv1.PodFailurePolicyRule{{Action: batchv1.PodFailurePolicyActionFailJob,
					OnExitCodes: &batchv1.PodFailurePolicyOnExitCodesRequirement{Operator: batchv1.PodFailurePolicyOnExitCodesOpIn, Values: []int32{42}}}}}
			}), metav1.CreateOptions{})
			return err
		}, `spec.template.spec.restartPolicy: Invalid value: "OnFailure": only "Never" is supported when podFailurePolicy is specified`},
		{"job-wrong-generated-label", func() error {
			_, err := cs.BatchV1().Jobs("default").Create(ctx, job(func(j *batchv1.Job) { j.Spec.Template.Labels = map[string]string{"job-name": "other"} }), metav1.CreateOptions{})
			return err
		}, `spec.template.metadata.labels[job-name]: Invalid value: "other": must be 'j'`},
		{"cronjob-template-selector", func() error {
			_, err := cs.BatchV1().CronJobs("default").Create(ctx, cron(func(c *batchv1.CronJob) {
				c.Spec.JobTemplate.Spec.Selector = &metav1.LabelSelector{MatchLabels: app}
			}), metav1.CreateOptions{})
			return err
		}, "spec.jobTemplate.spec.selector: Invalid value: "},
		{"cronjob-long-name", func() error {
			_, err := cs.BatchV1().CronJobs("default").Create(ctx, cron(func(c *batchv1.CronJob) { c.Name = strings.Repeat("c", 53) }), metav1.CreateOptions{})
			return err
		}, `metadata.name: Invalid value: "` + strings.Repeat("c", 53) + `": must be no more than 52 characters`},
		{"cronjob-local-timezone", func() error {
			_, err := cs.BatchV1().CronJobs("default").Create(ctx, cron(func(c *batchv1.CronJob) { c.Spec.TimeZone = ptr.To("Local") }), metav1.CreateOptions{})
			return err
		}, `spec.timeZone: Invalid value: "Local": timeZone must be an explicit time zone as defined in https://www.iana.org/time-zones`},
	} {
		t.Run(c.name, func(t *testing.T) {
			err := c.create()
			if !apierrors.IsInvalid(err) || !strings.Contains(err.Error(), c.want) {
				t.Errorf("got %v\nwant 422 containing %q", err, c.want)
			}
		})
	}

	// A Job with manualSelector keeps its own selector and labels.
	mj, err := cs.BatchV1().Jobs("default").Create(ctx, job(func(j *batchv1.Job) {
		j.Spec.ManualSelector = ptr.To(true)
		j.Spec.Selector = &metav1.LabelSelector{MatchLabels: app}
		j.Spec.Template.Labels = app
	}), metav1.CreateOptions{})
	if err != nil || len(mj.Spec.Template.Labels) != 1 || len(mj.Spec.Selector.MatchLabels) != 1 {
		t.Errorf("manualSelector job: %v %+v", err, mj)
	}
	// A valid time zone and an Indexed Job with per-index backoff.
	if _, err := cs.BatchV1().CronJobs("default").Create(ctx, cron(func(c *batchv1.CronJob) { c.Spec.TimeZone = ptr.To("Europe/Paris") }), metav1.CreateOptions{}); err != nil {
		t.Errorf("cronjob in Europe/Paris: %v", err)
	}
	ij, err := cs.BatchV1().Jobs("default").Create(ctx, job(func(j *batchv1.Job) {
		j.Name = "indexed"
		j.Spec.Completions, j.Spec.CompletionMode, j.Spec.BackoffLimitPerIndex = ptr.To[int32](3), ptr.To(batchv1.IndexedCompletion), ptr.To[int32](1)
	}), metav1.CreateOptions{})
	if err != nil || *ij.Spec.BackoffLimit != 2147483647 || *ij.Spec.Parallelism != 1 {
		t.Errorf("indexed job with backoffLimitPerIndex: %v, backoffLimit %v", err, ij.Spec.BackoffLimit)
	}
	// A suspended Job that never started may change its scheduling
	// directives; other template fields stay immutable.
	sj, err := cs.BatchV1().Jobs("default").Create(ctx, job(func(j *batchv1.Job) { j.Name = "suspended"; j.Spec.Suspend = ptr.To(true) }), metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	sj.Spec.Template.Spec.NodeSelector = map[string]string{"disk": "ssd"}
	if sj, err = cs.BatchV1().Jobs("default").Update(ctx, sj, metav1.UpdateOptions{}); err != nil {
		t.Errorf("nodeSelector of a suspended job: %v", err)
	}
	sj.Spec.Template.Spec.Containers[0].Image = "wasmpod.local/y:1"
	if _, err = cs.BatchV1().Jobs("default").Update(ctx, sj, metav1.UpdateOptions{}); !apierrors.IsInvalid(err) || !strings.Contains(err.Error(), "spec.template: Invalid value: ") {
		t.Errorf("image of a suspended job: %v", err)
	}
}

// TestScaleHostile: bad requests to the scale subresource get clear
// Status errors naming what is wrong, never a panic or a write.
func TestScaleHostile(t *testing.T) {
	e := newEnv(t, HandlerOptions{MaxBodyBytes: 64 << 10})
	cs := e.client(t, "http")
	ctx := context.Background()
	app := map[string]string{"app": "a"}
	if _, err := cs.AppsV1().Deployments("default").Create(ctx, &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Name: "d"},
		Spec: appsv1.DeploymentSpec{Selector: &metav1.LabelSelector{MatchLabels: app}, Template: testPodTemplate(app, corev1.RestartPolicyAlways)}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	const path = "/apis/apps/v1/namespaces/default/deployments/d/scale"
	do := func(method, p, ctype, body string) (int, metav1.Status) {
		req, _ := http.NewRequest(method, e.srv.URL+p, strings.NewReader(body))
		if ctype != "" {
			req.Header.Set("Content-Type", ctype)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var st metav1.Status
		json.NewDecoder(resp.Body).Decode(&st)
		return resp.StatusCode, st
	}
	for _, c := range []struct {
		name, method, path, ctype, body string
		code                            int
		msg                             string
	}{
		{"wrong kind", "PUT", path, "application/json", `{"kind":"Pod","apiVersion":"v1","metadata":{"name":"d"}}`, 400, `Pod in version "v1" cannot be handled as a Scale: converting (v1.Pod) to (autoscaling.Scale): unknown conversion`},
		{"other name", "PUT", path, "application/json", `{"kind":"Scale","apiVersion":"autoscaling/v1","metadata":{"name":"x"},"spec":{"replicas":1}}`, 400, "the name of the object (x) does not match the name on the URL (d)"},
		// upstream's transformDecodeError wording
		{"not json", "PUT", path, "application/json", `{"kind":`, 400, "the object provided is unrecognized (must be of type Scale): couldn't get version/kind; json parse error: unexpected end of JSON input ({\"kind\":)"},
		{"empty", "PUT", path, "application/json", ``, 400, "the object provided is unrecognized (must be of type Scale): couldn't get version/kind; json parse error: unexpected end of JSON input (<empty>)"},
		{"bad replicas", "PUT", path, "application/json", `{"kind":"Scale","apiVersion":"autoscaling/v1","spec":{"replicas":"two"}}`, 400, `Scale in version "v1" cannot be handled as a Scale: json: cannot unmarshal string into Go struct field ScaleSpec.spec.replicas of type int32`},
		{"unknown field", "PUT", path + "?fieldValidation=Strict", "application/json", `{"kind":"Scale","apiVersion":"autoscaling/v1","spec":{"replicas":2,"bogus":1}}`, 400, `Scale in version "v1" cannot be handled as a Scale: strict decoding error: unknown field "spec.bogus"`},
		{"other version", "PUT", path, "application/json", `{"kind":"Scale","apiVersion":"autoscaling/v2","spec":{"replicas":2}}`, 400, `Scale in version "v2" cannot be handled as a Scale`},
		{"yaml", "PUT", path, "application/yaml", "kind: Scale\napiVersion: autoscaling/v1\nspec: {replicas: x}", 400, `Scale in version "v1" cannot be handled as a Scale`},
		{"unknown media type", "PUT", path, "text/plain", `{}`, 415, "the body of the request was in an unknown format - accepted media types include: application/json"},
		{"too big", "PUT", path, "application/json", `{"kind":"Scale","apiVersion":"autoscaling/v1","metadata":{"name":"d","annotations":{"a":"` + strings.Repeat("x", 100<<10) + `"}}}`, 413, ""},
		{"too deep", "PATCH", path, "application/merge-patch+json", strings.Repeat(`{"a":`, 1000) + "1" + strings.Repeat("}", 1000), 400, ""},
		{"apply patch without kind", "PATCH", path + "?fieldManager=x", "application/apply-patch+yaml", `spec: {replicas: 2}`, 400, "invalid object type: /, Kind="},
		{"apply patch of another kind", "PATCH", path + "?fieldManager=x", "application/apply-patch+yaml", "apiVersion: apps/v1\nkind: Deployment\nspec: {replicas: 2}", 400, "invalid object type: apps/v1, Kind=Deployment"},
		{"apply patch not yaml", "PATCH", path + "?fieldManager=x", "application/apply-patch+yaml", "{", 400, "error decoding patch"},
		{"cbor apply patch", "PATCH", path + "?fieldManager=x", "application/apply-patch+cbor", "", 415, "accepted media types include: application/json-patch+json, application/merge-patch+json, application/strategic-merge-patch+json, application/apply-patch+yaml"},
		{"negative by patch", "PATCH", path, "application/json-patch+json", `[{"op":"replace","path":"/spec/replicas","value":-3}]`, 422, "spec.replicas: Invalid value: -3: must be greater than or equal to 0"},
		{"bad json patch", "PATCH", path, "application/json-patch+json", `[{"op":"frobnicate"}]`, 400, ""},
		{"rename by patch", "PATCH", path, "application/merge-patch+json", `{"metadata":{"name":"e"}}`, 400, "may not change metadata.name"},
		{"stale rv by patch", "PATCH", path, "application/merge-patch+json", `{"metadata":{"resourceVersion":"1"},"spec":{"replicas":2}}`, 409, "the object has been modified"},
		{"delete", "DELETE", path, "", "", 405, ""},
		{"missing", "GET", "/apis/apps/v1/namespaces/default/deployments/nope/scale", "", "", 404, `deployments.apps "nope" not found`},
		{"daemonset", "GET", "/apis/apps/v1/namespaces/default/daemonsets/d/scale", "", "", 404, ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			code, st := do(c.method, c.path, c.ctype, c.body)
			if code != c.code || !strings.Contains(st.Message, c.msg) || st.Kind != "Status" {
				t.Errorf("%s %s: %d %q, want %d containing %q", c.method, c.path, code, st.Message, c.code, c.msg)
			}
		})
	}
	d, err := cs.AppsV1().Deployments("default").Get(ctx, "d", metav1.GetOptions{})
	if err != nil || *d.Spec.Replicas != 1 || d.Generation != 1 {
		t.Errorf("after the refused requests: %v replicas %d generation %d", err, *d.Spec.Replicas, d.Generation)
	}
	// A strategic merge patch works as kubectl's merge patch does.
	if code, st := do("PATCH", path, "application/strategic-merge-patch+json", `{"spec":{"replicas":4}}`); code != 200 {
		t.Errorf("strategic patch: %d %s", code, st.Message)
	}
}
