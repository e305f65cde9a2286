package apiserver

import (
	"context"
	"encoding/json"
	"regexp"
	"strings"
	"testing"
	"time"

	autoscalingv1 "k8s.io/api/autoscaling/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/utils/ptr"
)

const exampleHPAV1 = `apiVersion: autoscaling/v1
kind: HorizontalPodAutoscaler
metadata:
  name: php-v1
spec:
  scaleTargetRef:
    apiVersion: apps/v1
    kind: Deployment
    name: php-apache
  minReplicas: 2
  maxReplicas: 5
  targetCPUUtilizationPercentage: 60
`

// TestHPAV1: autoscaling/v1 is served alongside v2 (v2 preferred), as
// kube-apiserver serves it: discovery and the OpenAPI documents list it;
// real kubectl creates a v1 HPA that reads back at v2 with its CPU target
// as a metric, gets, patches and prints it at v1; a v2 HPA with what v1
// cannot express (a memory metric, a behavior, conditions) reads at v1 with
// upstream's round-trip annotations, and an update of that v1 object keeps
// them all at v2; writes at v1 record managedFields entries at v1; a v1
// watch sees v1 objects; v1 bodies are validated
// (unknown fields with Strict, /status replicas).
func TestHPAV1(t *testing.T) {
	e := newEnv(t, HandlerOptions{})
	k := newKubectl(t, e.srv.URL)
	ctx := context.Background()
	cs := e.client(t, "http")

	if out := k.run(t, "api-versions"); !strings.Contains(out, "autoscaling/v1\n") || !strings.Contains(out, "autoscaling/v2\n") {
		t.Fatalf("kubectl api-versions:\n%s", out)
	}
	g, err := cs.Discovery().ServerGroups()
	if err != nil {
		t.Fatal(err)
	}
	for _, grp := range g.Groups {
		if grp.Name == "autoscaling" && (grp.PreferredVersion.Version != "v2" || len(grp.Versions) != 2 || grp.Versions[1].Version != "v1") {
			t.Fatalf("autoscaling group: %+v", grp)
		}
	}
	rl, err := cs.Discovery().ServerResourcesForGroupVersion("autoscaling/v1")
	if err != nil || len(rl.APIResources) != 2 || rl.APIResources[0].Name != "horizontalpodautoscalers" || rl.APIResources[1].Name != "horizontalpodautoscalers/status" {
		t.Fatalf("autoscaling/v1 resources: %v %+v", err, rl)
	}
	if b, err := cs.RESTClient().Get().AbsPath("/openapi/v3/apis/autoscaling/v1").DoRaw(ctx); err != nil ||
		!strings.Contains(string(b), "io.k8s.api.autoscaling.v1.HorizontalPodAutoscaler") || !strings.Contains(string(b), "targetCPUUtilizationPercentage") {
		t.Fatalf("OpenAPI v3 of autoscaling/v1: %v\n%.300s", err, b)
	}

	// kubectl create at v1, read back at v2.
	k.run(t, "create", "-f", writeManifest(t, "v1.yaml", exampleHPAV1))
	v2, err := cs.AutoscalingV2().HorizontalPodAutoscalers("default").Get(ctx, "php-v1", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(v2.Spec.Metrics) != 1 || v2.Spec.Metrics[0].Resource == nil || v2.Spec.Metrics[0].Resource.Name != corev1.ResourceCPU ||
		*v2.Spec.Metrics[0].Resource.Target.AverageUtilization != 60 || *v2.Spec.MinReplicas != 2 || v2.Spec.MaxReplicas != 5 || len(v2.Annotations) != 0 {
		t.Fatalf("the v1 HPA read at v2: %+v %v", v2.Spec, v2.Annotations)
	}
	// kubectl's short-name expansion (client-go restmapper/shortcut.go)
	// keeps the group and drops the version, so "hpa.v1.autoscaling" is
	// read at the preferred v2, as against kube-apiserver; the full name
	// keeps v1.
	if out := k.run(t, "get", "horizontalpodautoscalers.v1.autoscaling", "php-v1", "-o", "jsonpath={.apiVersion} {.spec.targetCPUUtilizationPercentage} {.spec.minReplicas}"); out != "autoscaling/v1 60 2" {
		t.Fatalf("kubectl get horizontalpodautoscalers.v1.autoscaling -o jsonpath: %q", out)
	}
	out := k.run(t, "get", "horizontalpodautoscalers.v1.autoscaling")
	if !regexp.MustCompile(`(?m)^NAME\s+REFERENCE\s+TARGETS\s+MINPODS\s+MAXPODS\s+REPLICAS\s+AGE\n` + `php-v1\s+Deployment/php-apache\s+cpu: <unknown>/60%\s+2\s+5\s+0\s+\S+$`).MatchString(out) {
		t.Fatalf("kubectl get horizontalpodautoscalers.v1.autoscaling:\n%s", out)
	}
	k.run(t, "patch", "horizontalpodautoscalers.v1.autoscaling", "php-v1", "--type=merge", "-p", `{"spec":{"targetCPUUtilizationPercentage":70}}`)
	k.run(t, "patch", "horizontalpodautoscalers.v1.autoscaling", "php-v1", "-p", `{"spec":{"maxReplicas":6}}`) // strategic
	v2, _ = cs.AutoscalingV2().HorizontalPodAutoscalers("default").Get(ctx, "php-v1", metav1.GetOptions{})
	if *v2.Spec.Metrics[0].Resource.Target.AverageUtilization != 70 || v2.Spec.MaxReplicas != 6 {
		t.Fatalf("after the v1 patches: %+v", v2.Spec)
	}
	// Writes at v1 record their managedFields entries at v1, as upstream.
	versions := map[string]string{}
	for _, en := range v2.ManagedFields {
		versions[en.Manager+"/"+string(en.Operation)] = en.APIVersion
	}
	if versions["kubectl-create/Update"] != "autoscaling/v1" || versions["kubectl-patch/Update"] != "autoscaling/v1" {
		t.Fatalf("managedFields of writes at v1: %v", versions)
	}

	// What v1 cannot express rides in the annotations and survives a v1
	// read-modify-write.
	hpas2 := cs.AutoscalingV2().HorizontalPodAutoscalers("default")
	rich := &autoscalingv2.HorizontalPodAutoscaler{ObjectMeta: metav1.ObjectMeta{Name: "rich", Annotations: map[string]string{"team": "a"}},
		Spec: autoscalingv2.HorizontalPodAutoscalerSpec{MaxReplicas: 4,
			ScaleTargetRef: autoscalingv2.CrossVersionObjectReference{APIVersion: "apps/v1", Kind: "Deployment", Name: "php-apache"},
			Metrics: []autoscalingv2.MetricSpec{cpuUtilization(50), {Type: autoscalingv2.ResourceMetricSourceType, Resource: &autoscalingv2.ResourceMetricSource{
				Name: corev1.ResourceMemory, Target: autoscalingv2.MetricTarget{Type: autoscalingv2.AverageValueMetricType, AverageValue: ptr.To(resource.MustParse("100Mi"))}}}},
			Behavior: &autoscalingv2.HorizontalPodAutoscalerBehavior{ScaleDown: &autoscalingv2.HPAScalingRules{StabilizationWindowSeconds: ptr.To[int32](60)}}}}
	if _, err := hpas2.Create(ctx, rich, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	cur, _ := hpas2.Get(ctx, "rich", metav1.GetOptions{})
	cur.Status = autoscalingv2.HorizontalPodAutoscalerStatus{CurrentReplicas: 1, DesiredReplicas: 2,
		CurrentMetrics: []autoscalingv2.MetricStatus{{Type: autoscalingv2.ResourceMetricSourceType,
			Resource: &autoscalingv2.ResourceMetricStatus{Name: corev1.ResourceCPU, Current: autoscalingv2.MetricValueStatus{AverageUtilization: ptr.To[int32](42)}}}},
		Conditions: []autoscalingv2.HorizontalPodAutoscalerCondition{{Type: autoscalingv2.AbleToScale, Status: corev1.ConditionTrue, Reason: "ReadyForNewScale",
			LastTransitionTime: metav1.NewTime(time.Unix(1700000000, 0))}}}
	if _, err := hpas2.UpdateStatus(ctx, cur, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	hpas1 := cs.AutoscalingV1().HorizontalPodAutoscalers("default")
	v1, err := hpas1.Get(ctx, "rich", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if *v1.Spec.TargetCPUUtilizationPercentage != 50 || *v1.Status.CurrentCPUUtilizationPercentage != 42 || v1.Annotations["team"] != "a" {
		t.Fatalf("rich at v1: %+v %+v", v1.Spec, v1.Status)
	}
	var others []autoscalingv1.MetricSpec
	if err := json.Unmarshal([]byte(v1.Annotations[hpaMetricSpecsAnnotation]), &others); err != nil || len(others) != 1 ||
		others[0].Resource.Name != corev1.ResourceMemory || others[0].Resource.TargetAverageValue.String() != "100Mi" {
		t.Fatalf("metrics annotation %q: %v", v1.Annotations[hpaMetricSpecsAnnotation], err)
	}
	if b := v1.Annotations[hpaBehaviorAnnotation]; !strings.Contains(b, `"ScaleDown":{"StabilizationWindowSeconds":60,"SelectPolicy":"Max"`) {
		t.Fatalf("behavior annotation %q", b)
	}
	if c := v1.Annotations[hpaConditionsAnnotation]; !strings.Contains(c, `"type":"AbleToScale"`) || !strings.Contains(c, `"reason":"ReadyForNewScale"`) {
		t.Fatalf("conditions annotation %q", c)
	}
	if _, ok := v1.Annotations[hpaMetricStatusesAnnotation]; !ok {
		t.Fatalf("no current-metrics annotation: %v", v1.Annotations)
	}
	v1.Spec.MaxReplicas = 8
	if _, err := hpas1.Update(ctx, v1, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	after, _ := hpas2.Get(ctx, "rich", metav1.GetOptions{})
	if after.Spec.MaxReplicas != 8 || len(after.Spec.Metrics) != 2 || after.Spec.Metrics[1].Resource.Name != corev1.ResourceCPU ||
		after.Spec.Metrics[0].Resource.Name != corev1.ResourceMemory || after.Spec.Behavior == nil ||
		*after.Spec.Behavior.ScaleDown.StabilizationWindowSeconds != 60 || len(after.Status.Conditions) != 1 ||
		len(after.Annotations) != 1 || after.Annotations["team"] != "a" {
		t.Fatalf("rich after a v1 update: %+v %+v %v", after.Spec, after.Status, after.Annotations)
	}

	// A v1 watch sees v1 objects.
	w, err := hpas1.Watch(ctx, metav1.ListOptions{FieldSelector: "metadata.name=php-v1"})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Stop()
	k.run(t, "patch", "horizontalpodautoscalers.v1.autoscaling", "php-v1", "--type=merge", "-p", `{"spec":{"targetCPUUtilizationPercentage":75}}`)
	deadline := time.After(30 * time.Second)
	for done := false; !done; {
		select {
		case ev := <-w.ResultChan():
			h, ok := ev.Object.(*autoscalingv1.HorizontalPodAutoscaler)
			if !ok {
				t.Fatalf("watch event %s: %T", ev.Type, ev.Object)
			}
			done = ev.Type == watch.Modified && *h.Spec.TargetCPUUtilizationPercentage == 75
		case <-deadline:
			t.Fatal("no v1 MODIFIED event with the new target")
		}
	}

	// Validation of v1 bodies.
	_, stderr, code := k.fail(t, "create", "-f", writeManifest(t, "bad.yaml", strings.Replace(exampleHPAV1, "  maxReplicas: 5\n", "  maxReplicas: 5\n  bogus: 1\n", 1)))
	if code != 1 || !strings.Contains(stderr, `unknown field "bogus"`) {
		t.Fatalf("kubectl create with an unknown field: exit %d\n%s", code, stderr)
	}
	_, stderr, code = k.fail(t, "create", "-f", writeManifest(t, "bad2.yaml", strings.Replace(strings.Replace(exampleHPAV1, "name: php-v1", "name: bad2", 1), "maxReplicas: 5", "maxReplicas: 0", 1)))
	if code != 1 || !strings.Contains(stderr, `spec.maxReplicas: Required value`) {
		t.Fatalf("kubectl create with maxReplicas 0: exit %d\n%s", code, stderr)
	}
	v1, _ = hpas1.Get(ctx, "php-v1", metav1.GetOptions{})
	v1.Status.DesiredReplicas = -1
	if _, err := hpas1.UpdateStatus(ctx, v1, metav1.UpdateOptions{}); !apierrors.IsInvalid(err) || !strings.Contains(err.Error(), "status.desiredReplicas") {
		t.Fatalf("v1 /status with desiredReplicas -1: %v", err)
	}
	if err := hpas1.Delete(ctx, "php-v1", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	if l, err := hpas1.List(ctx, metav1.ListOptions{}); err != nil || len(l.Items) != 1 || l.Items[0].Name != "rich" || l.APIVersion != "" && l.APIVersion != "autoscaling/v1" {
		t.Fatalf("v1 list after delete: %v %+v", err, l)
	}
}

// hpaEntry is obj's managedFields entry of manager with operation op
// (nil when there is none).
func hpaEntry(m metav1.Object, manager string, op metav1.ManagedFieldsOperationType) *metav1.ManagedFieldsEntry {
	for _, e := range m.GetManagedFields() {
		if e.Manager == manager && e.Operation == op && e.Subresource == "" {
			return &e
		}
	}
	return nil
}

// TestHPAV1ServerSideApply: kubectl apply --server-side of an
// autoscaling/v1 HorizontalPodAutoscaler works as against kube-apiserver
// (it was 415): it creates the object, whose applier's managedFields entry
// is at autoscaling/v1; a second apply changes a field and removes one it
// no longer applies; managers at v2 and at v1 that apply another value to
// a field the v1 applier owns get kubectl's conflict, found in each
// manager's version (.spec.maxReplicas for a v2 manager,
// .spec.targetCPUUtilizationPercentage for a v1 one), and take it with
// --force-conflicts, the v1 applier's entry losing it; a status write at
// v2 (the HPA controller's) keeps the v1 entries; an apply at v1 of a v2
// configuration is upstream's 400.
func TestHPAV1ServerSideApply(t *testing.T) {
	e := newEnv(t, HandlerOptions{})
	k := newKubectl(t, e.srv.URL)
	ctx := context.Background()
	cs := e.client(t, "http")
	hpas1 := cs.AutoscalingV1().HorizontalPodAutoscalers("default")
	hpas2 := cs.AutoscalingV2().HorizontalPodAutoscalers("default")
	get := func() (*autoscalingv1.HorizontalPodAutoscaler, *autoscalingv2.HorizontalPodAutoscaler) {
		t.Helper()
		v1, err := hpas1.Get(ctx, "php-v1", metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		v2, err := hpas2.Get(ctx, "php-v1", metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		return v1, v2
	}
	owns := func(m metav1.Object, manager string, field string) bool {
		t.Helper()
		en := hpaEntry(m, manager, metav1.ManagedFieldsOperationApply)
		return en != nil && en.FieldsV1 != nil && strings.Contains(string(en.FieldsV1.Raw), `"f:`+field+`"`)
	}

	if out := k.run(t, "apply", "--server-side", "-f", writeManifest(t, "v1.yaml", exampleHPAV1)); !strings.Contains(out, "horizontalpodautoscaler.autoscaling/php-v1 serverside-applied") {
		t.Fatalf("kubectl apply --server-side at v1: %q", out)
	}
	v1, v2 := get()
	if *v1.Spec.TargetCPUUtilizationPercentage != 60 || *v1.Spec.MinReplicas != 2 || v1.Spec.MaxReplicas != 5 ||
		len(v2.Spec.Metrics) != 1 || *v2.Spec.Metrics[0].Resource.Target.AverageUtilization != 60 || len(v2.Annotations) != 0 {
		t.Fatalf("after the first apply: v1 %+v, v2 %+v %v", v1.Spec, v2.Spec, v2.Annotations)
	}
	en := hpaEntry(v1, "kubectl", metav1.ManagedFieldsOperationApply)
	if en == nil || en.APIVersion != "autoscaling/v1" || !owns(v1, "kubectl", "targetCPUUtilizationPercentage") || !owns(v1, "kubectl", "minReplicas") {
		t.Fatalf("the applier's entry: %+v", v1.ManagedFields)
	}
	rv := v1.ResourceVersion
	k.run(t, "apply", "--server-side", "-f", writeManifest(t, "v1.yaml", exampleHPAV1))
	if v1, _ = get(); v1.ResourceVersion != rv {
		t.Fatalf("the same apply again wrote: resourceVersion %s -> %s", rv, v1.ResourceVersion)
	}

	// A change, and minReplicas no longer applied (back to its default).
	changed := strings.Replace(strings.Replace(exampleHPAV1, "targetCPUUtilizationPercentage: 60", "targetCPUUtilizationPercentage: 65", 1), "  minReplicas: 2\n", "", 1)
	k.run(t, "apply", "--server-side", "-f", writeManifest(t, "v1.yaml", changed))
	v1, v2 = get()
	if *v1.Spec.TargetCPUUtilizationPercentage != 65 || *v1.Spec.MinReplicas != 1 || *v2.Spec.Metrics[0].Resource.Target.AverageUtilization != 65 ||
		owns(v1, "kubectl", "minReplicas") || !owns(v1, "kubectl", "targetCPUUtilizationPercentage") {
		t.Fatalf("after the second apply: %+v %+v", v1.Spec, v1.ManagedFields)
	}

	// A v2 manager conflicts on maxReplicas, then forces it.
	v2cfg := `apiVersion: autoscaling/v2
kind: HorizontalPodAutoscaler
metadata:
  name: php-v1
spec:
  scaleTargetRef:
    apiVersion: apps/v1
    kind: Deployment
    name: php-apache
  maxReplicas: 9
`
	_, stderr, code := k.fail(t, "apply", "--server-side", "--field-manager=other", "-f", writeManifest(t, "v2.yaml", v2cfg))
	if code != 1 || !strings.Contains(stderr, `conflict with "kubectl"`) || !strings.Contains(stderr, ".spec.maxReplicas") {
		t.Fatalf("a v2 manager's conflicting apply: exit %d\n%s", code, stderr)
	}
	k.run(t, "apply", "--server-side", "--field-manager=other", "--force-conflicts", "-f", writeManifest(t, "v2.yaml", v2cfg))
	v1, _ = get()
	if o := hpaEntry(v1, "other", metav1.ManagedFieldsOperationApply); v1.Spec.MaxReplicas != 9 || o == nil || o.APIVersion != "autoscaling/v2" ||
		!owns(v1, "other", "maxReplicas") || owns(v1, "kubectl", "maxReplicas") || !owns(v1, "kubectl", "targetCPUUtilizationPercentage") {
		t.Fatalf("after the forced v2 apply: %+v %+v", v1.Spec, v1.ManagedFields)
	}

	// A v1 manager conflicts on the CPU target, then forces it.
	v1cfg := strings.Replace(changed, "targetCPUUtilizationPercentage: 65", "targetCPUUtilizationPercentage: 90", 1)
	v1cfg = strings.Replace(v1cfg, "  maxReplicas: 5\n", "  maxReplicas: 9\n", 1)
	_, stderr, code = k.fail(t, "apply", "--server-side", "--field-manager=third", "-f", writeManifest(t, "v1b.yaml", v1cfg))
	if code != 1 || !strings.Contains(stderr, `conflict with "kubectl"`) || !strings.Contains(stderr, ".spec.targetCPUUtilizationPercentage") ||
		strings.Contains(stderr, ".spec.maxReplicas") {
		t.Fatalf("a v1 manager's conflicting apply: exit %d\n%s", code, stderr)
	}
	k.run(t, "apply", "--server-side", "--field-manager=third", "--force-conflicts", "-f", writeManifest(t, "v1b.yaml", v1cfg))
	v1, v2 = get()
	if *v1.Spec.TargetCPUUtilizationPercentage != 90 || *v2.Spec.Metrics[0].Resource.Target.AverageUtilization != 90 ||
		!owns(v1, "third", "targetCPUUtilizationPercentage") || owns(v1, "kubectl", "targetCPUUtilizationPercentage") || !owns(v1, "kubectl", "scaleTargetRef") {
		t.Fatalf("after the forced v1 apply: %+v %+v", v1.Spec, v1.ManagedFields)
	}

	// The HPA controller's status write at v2 keeps the v1 entries.
	v2.Status = autoscalingv2.HorizontalPodAutoscalerStatus{CurrentReplicas: 2, DesiredReplicas: 3}
	if _, err := hpas2.UpdateStatus(ctx, v2, metav1.UpdateOptions{FieldManager: "horizontal-pod-autoscaler"}); err != nil {
		t.Fatal(err)
	}
	v1, _ = get()
	if v1.Status.DesiredReplicas != 3 || !owns(v1, "kubectl", "scaleTargetRef") || !owns(v1, "third", "targetCPUUtilizationPercentage") || !owns(v1, "other", "maxReplicas") {
		t.Fatalf("after a v2 status write: %+v", v1.ManagedFields)
	}

	// A v2 configuration sent to the v1 path.
	var status int
	res := cs.RESTClient().Patch(types.ApplyPatchType).AbsPath("/apis/autoscaling/v1/namespaces/default/horizontalpodautoscalers/php-v1").
		Param("fieldManager", "x").Body([]byte(v2cfg)).Do(ctx).StatusCode(&status)
	if b, _ := res.Raw(); status != 400 || !strings.Contains(string(b), `"message":"invalid object type: autoscaling/v2, Kind=HorizontalPodAutoscaler"`) {
		t.Fatalf("a v2 configuration at v1: %d %s", status, b)
	}
}
