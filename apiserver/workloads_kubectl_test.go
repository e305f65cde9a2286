package apiserver

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	autoscalingv1 "k8s.io/api/autoscaling/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"
)

// The upstream examples (kubernetes.io's controllers/nginx-deployment.yaml,
// frontend.yaml, daemonset.yaml, job.yaml, cronjob.yaml), images replaced
// by wasm modules.
const (
	exampleDeployment = `apiVersion: apps/v1
kind: Deployment
metadata:
  name: nginx-deployment
  labels:
    app: nginx
spec:
  replicas: 3
  selector:
    matchLabels:
      app: nginx
  template:
    metadata:
      labels:
        app: nginx
    spec:
      containers:
      - name: nginx
        image: wasmpod.local/web:1.14.2
        ports:
        - containerPort: 80
        resources:
          limits:
            memory: 64Mi
`
	exampleReplicaSet = `apiVersion: apps/v1
kind: ReplicaSet
metadata:
  name: frontend
  labels:
    app: guestbook
    tier: frontend
spec:
  replicas: 3
  selector:
    matchLabels:
      tier: frontend
  template:
    metadata:
      labels:
        tier: frontend
    spec:
      containers:
      - name: php-redis
        image: wasmpod.local/web:v5
`
	exampleDaemonSet = `apiVersion: apps/v1
kind: DaemonSet
metadata:
  name: fluentd-elasticsearch
  namespace: kube-system
  labels:
    k8s-app: fluentd-logging
spec:
  selector:
    matchLabels:
      name: fluentd-elasticsearch
  template:
    metadata:
      labels:
        name: fluentd-elasticsearch
    spec:
      tolerations:
      - key: node-role.kubernetes.io/control-plane
        operator: Exists
        effect: NoSchedule
      containers:
      - name: fluentd-elasticsearch
        image: wasmpod.local/fluentd:v2.5.2
      terminationGracePeriodSeconds: 30
`
	exampleJob = `apiVersion: batch/v1
kind: Job
metadata:
  name: pi
spec:
  template:
    spec:
      containers:
      - name: pi
        image: wasmpod.local/pi:5.34.0
        command: ["pi", "2000"]
      restartPolicy: Never
  backoffLimit: 4
`
	exampleCronJob = `apiVersion: batch/v1
kind: CronJob
metadata:
  name: hello
spec:
  schedule: "* * * * *"
  jobTemplate:
    spec:
      template:
        spec:
          containers:
          - name: hello
            image: wasmpod.local/toolbox:1.28
            imagePullPolicy: IfNotPresent
            command:
            - /bin/sh
            - -c
            - date; echo Hello from the Kubernetes cluster
          restartPolicy: OnFailure
`
)

func writeManifest(t *testing.T, name, body string) string {
	t.Helper()
	f := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(f, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return f
}

// getJSON runs kubectl get -o json into out.
func getJSON(t *testing.T, k *kubectlRunner, out any, args ...string) {
	t.Helper()
	if err := json.Unmarshal([]byte(k.run(t, append(append([]string{"get"}, args...), "-o", "json")...)), out); err != nil {
		t.Fatal(err)
	}
}

// wantTemplateDefaults checks the PodSpec defaults of a template, and the
// two Pod-only defaults left out (enableServiceLinks, requests from limits).
func wantTemplateDefaults(t *testing.T, what string, spec corev1.PodSpec, restart corev1.RestartPolicy) {
	t.Helper()
	c := spec.Containers[0]
	if spec.RestartPolicy != restart || spec.DNSPolicy != corev1.DNSClusterFirst || spec.SchedulerName != "default-scheduler" ||
		!equality.Semantic.DeepEqual(spec.TerminationGracePeriodSeconds, ptr.To[int64](30)) ||
		!equality.Semantic.DeepEqual(spec.SecurityContext, &corev1.PodSecurityContext{}) ||
		c.TerminationMessagePath != "/dev/termination-log" || c.TerminationMessagePolicy != corev1.TerminationMessageReadFile ||
		c.ImagePullPolicy != corev1.PullIfNotPresent {
		t.Errorf("%s: template spec not defaulted as upstream: %+v", what, spec)
	}
	if spec.EnableServiceLinks != nil || c.Resources.Requests != nil {
		t.Errorf("%s: template got Pod-only defaults: enableServiceLinks %v, requests %v", what, spec.EnableServiceLinks, c.Resources.Requests)
	}
}

// TestWorkloadDefaultsKubectl: the upstream examples applied with the real
// kubectl come back with upstream's defaults.
func TestWorkloadDefaultsKubectl(t *testing.T) {
	e := newEnv(t, HandlerOptions{})
	k := newKubectl(t, e.srv.URL)
	for _, m := range []struct{ file, body, want string }{
		{"deploy.yaml", exampleDeployment, "deployment.apps/nginx-deployment created"},
		{"rs.yaml", exampleReplicaSet, "replicaset.apps/frontend created"},
		{"ds.yaml", exampleDaemonSet, "daemonset.apps/fluentd-elasticsearch created"},
		{"job.yaml", exampleJob, "job.batch/pi created"},
		{"cj.yaml", exampleCronJob, "cronjob.batch/hello created"},
	} {
		if out := k.run(t, "apply", "-f", writeManifest(t, m.file, m.body)); strings.TrimSpace(out) != m.want {
			t.Errorf("apply %s: %q, want %q", m.file, out, m.want)
		}
	}

	yaml := k.run(t, "get", "deploy", "nginx-deployment", "-o", "yaml")
	for _, want := range []string{"  generation: 1\n", "  progressDeadlineSeconds: 600\n", "  revisionHistoryLimit: 10\n",
		"  strategy:\n    rollingUpdate:\n      maxSurge: 25%\n      maxUnavailable: 25%\n    type: RollingUpdate\n"} {
		if !strings.Contains(yaml, want) {
			t.Errorf("kubectl get deploy -o yaml lacks %q:\n%s", want, yaml)
		}
	}
	if strings.Contains(yaml, "strategy: {}") {
		t.Errorf("strategy not defaulted:\n%s", yaml)
	}
	var d appsv1.Deployment
	getJSON(t, k, &d, "deploy", "nginx-deployment")
	if *d.Spec.Replicas != 3 || d.Generation != 1 || !equality.Semantic.DeepEqual(d.Status, appsv1.DeploymentStatus{}) {
		t.Errorf("deployment: replicas %d generation %d status %+v", *d.Spec.Replicas, d.Generation, d.Status)
	}
	wantTemplateDefaults(t, "deployment", d.Spec.Template.Spec, corev1.RestartPolicyAlways)

	var rs appsv1.ReplicaSet
	getJSON(t, k, &rs, "rs", "frontend")
	if *rs.Spec.Replicas != 3 || rs.Generation != 1 {
		t.Errorf("replicaset: replicas %d generation %d", *rs.Spec.Replicas, rs.Generation)
	}
	wantTemplateDefaults(t, "replicaset", rs.Spec.Template.Spec, corev1.RestartPolicyAlways)

	var ds appsv1.DaemonSet
	getJSON(t, k, &ds, "-n", "kube-system", "ds", "fluentd-elasticsearch")
	wantDS := appsv1.DaemonSetUpdateStrategy{Type: appsv1.RollingUpdateDaemonSetStrategyType,
		RollingUpdate: &appsv1.RollingUpdateDaemonSet{MaxUnavailable: ptr.To(intstr.FromInt32(1)), MaxSurge: ptr.To(intstr.FromInt32(0))}}
	if !equality.Semantic.DeepEqual(ds.Spec.UpdateStrategy, wantDS) || *ds.Spec.RevisionHistoryLimit != 10 {
		t.Errorf("daemonset: updateStrategy %+v revisionHistoryLimit %d", ds.Spec.UpdateStrategy, *ds.Spec.RevisionHistoryLimit)
	}
	wantTemplateDefaults(t, "daemonset", ds.Spec.Template.Spec, corev1.RestartPolicyAlways)

	var job batchv1.Job
	getJSON(t, k, &job, "job", "pi")
	uid := string(job.UID)
	wantLabels := map[string]string{"batch.kubernetes.io/controller-uid": uid, "batch.kubernetes.io/job-name": "pi", "controller-uid": uid, "job-name": "pi"}
	js := job.Spec
	if *js.Completions != 1 || *js.Parallelism != 1 || *js.BackoffLimit != 4 || *js.CompletionMode != batchv1.NonIndexedCompletion ||
		*js.Suspend || *js.PodReplacementPolicy != batchv1.TerminatingOrFailed || js.ManualSelector != nil {
		t.Errorf("job spec not defaulted as upstream: %+v", js)
	}
	if !equality.Semantic.DeepEqual(js.Selector, &metav1.LabelSelector{MatchLabels: map[string]string{"batch.kubernetes.io/controller-uid": uid}}) ||
		!equality.Semantic.DeepEqual(js.Template.Labels, wantLabels) || !equality.Semantic.DeepEqual(job.Labels, wantLabels) {
		t.Errorf("job selector %v, template labels %v, labels %v", js.Selector, js.Template.Labels, job.Labels)
	}
	wantTemplateDefaults(t, "job", js.Template.Spec, corev1.RestartPolicyNever)

	var cj batchv1.CronJob
	getJSON(t, k, &cj, "cj", "hello")
	if cj.Spec.ConcurrencyPolicy != batchv1.AllowConcurrent || *cj.Spec.Suspend || *cj.Spec.SuccessfulJobsHistoryLimit != 3 || *cj.Spec.FailedJobsHistoryLimit != 1 {
		t.Errorf("cronjob spec not defaulted as upstream: %+v", cj.Spec)
	}
	if cj.Spec.JobTemplate.Spec.BackoffLimit != nil || cj.Spec.JobTemplate.Spec.Selector != nil {
		t.Errorf("cronjob jobTemplate got a Job's defaults: %+v", cj.Spec.JobTemplate.Spec)
	}
	wantTemplateDefaults(t, "cronjob", cj.Spec.JobTemplate.Spec.Template.Spec, corev1.RestartPolicyOnFailure)

	// kubectl's Job from a CronJob's template gets its selector generated.
	if out := k.run(t, "create", "job", "manual", "--from=cronjob/hello"); strings.TrimSpace(out) != "job.batch/manual created" {
		t.Errorf("create job --from=cronjob/hello: %q", out)
	}
	if out := k.run(t, "get", "job", "manual", "-o", "jsonpath={.spec.template.metadata.labels.job-name} {.spec.backoffLimit} {.metadata.ownerReferences[0].name}"); out != "manual 6 hello" {
		t.Errorf("job from cronjob: %q", out)
	}

	// Other kinds have no generation, as upstream.
	k.run(t, "create", "configmap", "plain", "--from-literal=a=b")
	var cm corev1.ConfigMap
	getJSON(t, k, &cm, "cm", "plain")
	if cm.Generation != 0 {
		t.Errorf("configmap generation %d, want none", cm.Generation)
	}
}

// TestWorkloadValidationKubectl: invalid workloads get upstream's
// messages through the real kubectl.
func TestWorkloadValidationKubectl(t *testing.T) {
	e := newEnv(t, HandlerOptions{})
	k := newKubectl(t, e.srv.URL)
	for _, c := range []struct {
		name, body string
		want       []string
	}{
		{"selector-mismatch", strings.Replace(exampleDeployment, "      labels:\n        app: nginx\n    spec:", "      labels:\n        app: other\n    spec:", 1),
			[]string{`The Deployment "nginx-deployment" is invalid: spec.template.metadata.labels: Invalid value: `, "`selector` does not match template `labels`"}},
		{"no-selector", strings.Replace(exampleReplicaSet, "  selector:\n    matchLabels:\n      tier: frontend\n", "", 1),
			[]string{`The ReplicaSet "frontend" is invalid: `, "* spec.selector: Required value\n"}},
		{"empty-selector", strings.Replace(exampleDaemonSet, "    matchLabels:\n      name: fluentd-elasticsearch\n", "    matchLabels: {}\n", 1),
			[]string{`spec.selector: Invalid value: `, `empty selector is invalid for daemonset`}},
		{"negative-replicas", strings.Replace(exampleDeployment, "replicas: 3", "replicas: -1", 1),
			[]string{`spec.replicas: Invalid value: -1: must be greater than or equal to 0`}},
		{"surge-and-unavailable-0", strings.Replace(exampleDeployment, "  replicas: 3\n", "  replicas: 3\n  strategy:\n    rollingUpdate:\n      maxSurge: 0\n      maxUnavailable: 0\n", 1),
			[]string{"spec.strategy.rollingUpdate.maxUnavailable: Invalid value: 0: may not be 0 when `maxSurge` is 0"}},
		{"deployment-restart-never", strings.Replace(exampleDeployment, "      containers:", "      restartPolicy: Never\n      containers:", 1),
			[]string{`spec.template.spec.restartPolicy: Unsupported value: "Never": supported values: "Always"`}},
		{"job-restart-always", strings.Replace(exampleJob, "restartPolicy: Never", "restartPolicy: Always", 1),
			[]string{`The Job "pi" is invalid: spec.template.spec.restartPolicy: Required value: valid values: "OnFailure", "Never"`}},
		{"job-no-containers", strings.Replace(exampleJob, "      containers:\n      - name: pi\n        image: wasmpod.local/pi:5.34.0\n        command: [\"pi\", \"2000\"]\n", "      containers: []\n", 1),
			[]string{`spec.template.spec.containers: Required value`}},
		{"bad-schedule", strings.Replace(exampleCronJob, `"* * * * *"`, `"61 * * * *"`, 1),
			[]string{`The CronJob "hello" is invalid: spec.schedule: Invalid value: "61 * * * *": end of range (61) above maximum (59): 61`}},
		{"bad-timezone", strings.Replace(exampleCronJob, "  schedule:", "  timeZone: Mars/Olympus_Mons\n  schedule:", 1),
			[]string{`spec.timeZone: Invalid value: "Mars/Olympus_Mons": unknown time zone Mars/Olympus_Mons`}},
		{"tz-in-schedule", strings.Replace(exampleCronJob, `"* * * * *"`, `"TZ=UTC * * * * *"`, 1),
			[]string{`spec.schedule: Invalid value: "TZ=UTC * * * * *": cannot use TZ or CRON_TZ in schedule, use timeZone field instead`}},
		{"tz-alone", strings.Replace(exampleCronJob, `"* * * * *"`, `"TZ=UTC"`, 1), // robfig/cron panics on it
			[]string{`spec.schedule: Invalid value: "TZ=UTC": expected a schedule after the time zone: TZ=UTC`}},
		{"concurrency", strings.Replace(exampleCronJob, "  schedule:", "  concurrencyPolicy: Sometimes\n  schedule:", 1),
			[]string{`spec.concurrencyPolicy: Unsupported value: "Sometimes": supported values: "Allow", "Forbid", "Replace"`}},
		{"template-hostnetwork", strings.Replace(exampleDeployment, "      containers:", "      hostNetwork: true\n      containers:", 1),
			[]string{`spec.template.spec.hostNetwork: Forbidden: not supported by wasmpod`}},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, stderr, code := k.fail(t, "apply", "-f", writeManifest(t, c.name+".yaml", c.body))
			for _, w := range c.want {
				if code != 1 || !strings.Contains(stderr, w) {
					t.Errorf("exit %d, stderr:\n%s\nwant exit 1 and %q", code, stderr, w)
				}
			}
		})
	}
}

// TestWorkloadUpdateRulesKubectl: immutable selectors and Job templates,
// and metadata.generation counting spec changes only.
func TestWorkloadUpdateRulesKubectl(t *testing.T) {
	e := newEnv(t, HandlerOptions{})
	k := newKubectl(t, e.srv.URL)
	cs := e.client(t, "http")
	ctx := context.Background()
	k.run(t, "apply", "-f", writeManifest(t, "d.yaml", exampleDeployment))
	k.run(t, "apply", "-f", writeManifest(t, "j.yaml", exampleJob))

	gen := func() int64 {
		d, err := cs.AppsV1().Deployments("default").Get(ctx, "nginx-deployment", metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		return d.Generation
	}
	k.run(t, "apply", "-f", writeManifest(t, "d2.yaml", strings.Replace(exampleDeployment, "replicas: 3", "replicas: 4", 1)))
	if g := gen(); g != 2 {
		t.Errorf("generation after a spec change: %d, want 2", g)
	}
	k.run(t, "label", "deploy", "nginx-deployment", "tier=web")
	if g := gen(); g != 2 {
		t.Errorf("generation after a label change: %d, want 2", g)
	}
	d, _ := cs.AppsV1().Deployments("default").Get(ctx, "nginx-deployment", metav1.GetOptions{})
	d.Status.ObservedGeneration, d.Status.Replicas = 2, 4
	if _, err := cs.AppsV1().Deployments("default").UpdateStatus(ctx, d, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	if g := gen(); g != 2 {
		t.Errorf("generation after a status write: %d, want 2", g)
	}
	k.run(t, "annotate", "deploy", "nginx-deployment", "note=x")
	if g := gen(); g != 3 {
		t.Errorf("generation after an annotation change: %d, want 3 (upstream's deployment strategy counts annotations)", g)
	}
	// kubectl replace with the manifest as written (no defaults) does not
	// change the spec: no spurious generation for the defaulted fields.
	rsFile := writeManifest(t, "rs.yaml", exampleReplicaSet)
	k.run(t, "create", "-f", rsFile)
	k.run(t, "replace", "-f", rsFile)
	if rs, err := cs.AppsV1().ReplicaSets("default").Get(ctx, "frontend", metav1.GetOptions{}); err != nil || rs.Generation != 1 {
		t.Errorf("generation after replace with the same spec: %v %d, want 1", err, rs.Generation)
	}

	// A selector change: the selector and template labels both change.
	sel := strings.Replace(exampleDeployment, "    matchLabels:\n      app: nginx\n", "    matchLabels:\n      app: nginx\n      track: stable\n", 1)
	sel = strings.Replace(sel, "      labels:\n        app: nginx\n    spec:", "      labels:\n        app: nginx\n        track: stable\n    spec:", 1)
	_, stderr, code := k.fail(t, "apply", "-f", writeManifest(t, "d5.yaml", sel))
	if code != 1 || !strings.Contains(stderr, `The Deployment "nginx-deployment" is invalid: spec.selector: Invalid value: `) || !strings.Contains(stderr, "field is immutable") {
		t.Errorf("selector change: exit %d\n%s", code, stderr)
	}

	// A Job's template is immutable; its parallelism is not.
	_, stderr, code = k.fail(t, "apply", "-f", writeManifest(t, "j2.yaml", strings.Replace(exampleJob, `["pi", "2000"]`, `["pi", "3000"]`, 1)))
	if code != 1 || !strings.Contains(stderr, `The Job "pi" is invalid: spec.template: Invalid value: `) || !strings.Contains(stderr, "field is immutable") {
		t.Errorf("job template change: exit %d\n%s", code, stderr)
	}
	if out := k.run(t, "patch", "job", "pi", "-p", `{"spec":{"parallelism":2}}`); !strings.Contains(out, "job.batch/pi patched") {
		t.Errorf("job parallelism patch: %s", out)
	}
	j, err := cs.BatchV1().Jobs("default").Get(ctx, "pi", metav1.GetOptions{})
	if err != nil || *j.Spec.Parallelism != 2 || j.Generation != 2 {
		t.Errorf("job after parallelism patch: %v %+v", err, j)
	}
}

// TestScaleKubectl: kubectl scale through the scale subresource, its
// discovery and its errors.
func TestScaleKubectl(t *testing.T) {
	e := newEnv(t, HandlerOptions{})
	k := newKubectl(t, e.srv.URL)
	cs := e.client(t, "http")
	ctx := context.Background()
	k.run(t, "apply", "-f", writeManifest(t, "d.yaml", exampleDeployment))
	k.run(t, "apply", "-f", writeManifest(t, "rs.yaml", exampleReplicaSet))

	// Discovery, legacy: the subresource names its autoscaling/v1 kind.
	rl, err := cs.Discovery().ServerResourcesForGroupVersion("apps/v1")
	if err != nil {
		t.Fatal(err)
	}
	found := map[string]bool{}
	for _, r := range rl.APIResources {
		if strings.HasSuffix(r.Name, "/scale") && r.Group == "autoscaling" && r.Version == "v1" && r.Kind == "Scale" {
			found[r.Name] = true
		}
	}
	if !found["deployments/scale"] || !found["replicasets/scale"] {
		t.Errorf("apps/v1 discovery: scale subresources %v", found)
	}

	if out := k.run(t, "scale", "deployment/nginx-deployment", "--replicas=5"); strings.TrimSpace(out) != "deployment.apps/nginx-deployment scaled" {
		t.Errorf("kubectl scale: %q", out)
	}
	d, err := cs.AppsV1().Deployments("default").Get(ctx, "nginx-deployment", metav1.GetOptions{})
	if err != nil || *d.Spec.Replicas != 5 || d.Generation != 2 {
		t.Fatalf("after scale: %v replicas %d generation %d", err, *d.Spec.Replicas, d.Generation)
	}
	if out := k.run(t, "scale", "rs", "frontend", "--current-replicas=3", "--replicas=1"); strings.TrimSpace(out) != "replicaset.apps/frontend scaled" {
		t.Errorf("kubectl scale --current-replicas: %q", out)
	}
	_, stderr, code := k.fail(t, "scale", "rs", "frontend", "--current-replicas=3", "--replicas=2")
	if code != 1 || !strings.Contains(stderr, "Expected replicas to be 3, was 1") {
		t.Errorf("failed precondition: exit %d\n%s", code, stderr)
	}

	var sc autoscalingv1.Scale
	if err := json.Unmarshal([]byte(k.run(t, "get", "--raw", "/apis/apps/v1/namespaces/default/deployments/nginx-deployment/scale")), &sc); err != nil {
		t.Fatal(err)
	}
	if sc.Kind != "Scale" || sc.APIVersion != "autoscaling/v1" || sc.Spec.Replicas != 5 || sc.Status.Selector != "app=nginx" || sc.UID != d.UID {
		t.Errorf("GET scale: %+v", sc)
	}

	// Server-side checks, through client-go's typed scale calls.
	sc.Spec.Replicas = -1
	_, err = cs.AppsV1().Deployments("default").UpdateScale(ctx, "nginx-deployment", &sc, metav1.UpdateOptions{})
	if err == nil || !strings.Contains(err.Error(), `Scale.autoscaling "nginx-deployment" is invalid: spec.replicas: Invalid value: -1: must be greater than or equal to 0`) {
		t.Errorf("negative replicas: %v", err)
	}
	sc.Spec.Replicas, sc.ResourceVersion = 2, "1"
	_, err = cs.AppsV1().Deployments("default").UpdateScale(ctx, "nginx-deployment", &sc, metav1.UpdateOptions{})
	if err == nil || !strings.Contains(err.Error(), "the object has been modified") {
		t.Errorf("stale resourceVersion: %v", err)
	}
	if _, _, code := k.fail(t, "scale", "deployment/missing", "--replicas=1"); code != 1 {
		t.Errorf("scale of a missing deployment: exit %d", code)
	}
	if _, stderr, _ := k.fail(t, "get", "--raw", "/apis/apps/v1/namespaces/default/daemonsets/x/scale"); !strings.Contains(stderr, "NotFound") && !strings.Contains(stderr, "could not find") {
		t.Errorf("daemonset scale: %s", stderr)
	}
}

// TestScaleRBACKubectl: deployments/scale is its own RBAC resource: view
// may read it, not write it; edit may scale.
func TestScaleRBACKubectl(t *testing.T) {
	_, admin, alice, bob := newRBACEnv(t)
	admin.run(t, "apply", "-f", writeManifest(t, "d.yaml", exampleDeployment))
	admin.run(t, "create", "rolebinding", "alice-view", "--clusterrole=view", "--user=alice")
	admin.run(t, "create", "rolebinding", "bob-edit", "--clusterrole=edit", "--user=bob")
	if out := alice.run(t, "get", "--raw", "/apis/apps/v1/namespaces/default/deployments/nginx-deployment/scale"); !strings.Contains(out, `"replicas":3`) {
		t.Errorf("view: get scale: %s", out)
	}
	alice.wantFail(t, `User "alice" cannot patch resource "deployments/scale" in API group "apps" in the namespace "default"`,
		"scale", "deployment", "nginx-deployment", "--replicas=1")
	if out := bob.run(t, "scale", "deployment", "nginx-deployment", "--replicas=1"); strings.TrimSpace(out) != "deployment.apps/nginx-deployment scaled" {
		t.Errorf("edit: kubectl scale: %q", out)
	}
	if out := admin.run(t, "get", "deploy", "nginx-deployment", "-o", "jsonpath={.spec.replicas} {.metadata.generation}"); out != "1 2" {
		t.Errorf("after bob's scale: replicas and generation %q, want \"1 2\"", out)
	}
}
