package apiserver

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	appsv1ac "k8s.io/client-go/applyconfigurations/apps/v1"
	autoscalingv1ac "k8s.io/client-go/applyconfigurations/autoscaling/v1"
	"k8s.io/utils/ptr"
)

// managedEntry is the managedFields entry of manager (nil if none).
func managedEntry(entries []metav1.ManagedFieldsEntry, manager string) *metav1.ManagedFieldsEntry {
	for i := range entries {
		if entries[i].Manager == manager {
			return &entries[i]
		}
	}
	return nil
}

// TestScaleApplyManagedFields: server-side apply of deployments/scale and
// replicasets/scale through client-go's ApplyScale, as kube-apiserver
// serves it (test/integration/apiserver/apply scale_test.go's
// behaviours): spec.replicas is owned across the main resource and the
// scale subresource (managedfields.ScaleHandler with upstream's
// replicasPathInDeployment mapping), scale writes are recorded with
// subresource "scale", and conflicts are raised in both directions.
func TestScaleApplyManagedFields(t *testing.T) {
	e := newEnv(t, HandlerOptions{})
	cs := e.client(t, "http")
	ctx := context.Background()
	app := map[string]string{"app": "sa"}
	d := &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Name: "d"},
		Spec: appsv1.DeploymentSpec{Replicas: ptr.To[int32](1), Selector: &metav1.LabelSelector{MatchLabels: app},
			Template: testPodTemplate(app, corev1.RestartPolicyAlways)}}
	if _, err := cs.AppsV1().Deployments("default").Create(ctx, d, metav1.CreateOptions{FieldManager: "creator"}); err != nil {
		t.Fatal(err)
	}
	scaleTo := func(n int32) *autoscalingv1ac.ScaleApplyConfiguration {
		return autoscalingv1ac.Scale().WithSpec(autoscalingv1ac.ScaleSpec().WithReplicas(n))
	}
	// The creator owns spec.replicas: applying another value conflicts.
	_, err := cs.AppsV1().Deployments("default").ApplyScale(ctx, "d", scaleTo(3), metav1.ApplyOptions{FieldManager: "scaler"})
	if !apierrors.IsConflict(err) || !strings.Contains(err.Error(), `conflict with "creator"`) || !strings.Contains(err.Error(), ".spec.replicas") {
		t.Fatalf("apply scale over the creator's replicas: %v", err)
	}
	sc, err := cs.AppsV1().Deployments("default").ApplyScale(ctx, "d", scaleTo(3), metav1.ApplyOptions{FieldManager: "scaler", Force: true})
	if err != nil || sc.Spec.Replicas != 3 {
		t.Fatalf("forced apply scale: %v %+v", err, sc)
	}
	got, err := cs.AppsV1().Deployments("default").Get(ctx, "d", metav1.GetOptions{})
	if err != nil || *got.Spec.Replicas != 3 || got.Generation != 2 {
		t.Fatalf("after apply scale: %v replicas %d generation %d", err, *got.Spec.Replicas, got.Generation)
	}
	s := managedEntry(got.ManagedFields, "scaler")
	if s == nil || s.Operation != metav1.ManagedFieldsOperationApply || s.Subresource != "scale" || s.APIVersion != "apps/v1" ||
		s.FieldsV1 == nil || string(s.FieldsV1.Raw) != `{"f:spec":{"f:replicas":{}}}` {
		t.Fatalf("scaler's entry: %+v (all: %+v)", s, got.ManagedFields)
	}
	if c := managedEntry(got.ManagedFields, "creator"); c == nil || strings.Contains(string(c.FieldsV1.Raw), `"f:replicas"`) || c.Subresource != "" {
		t.Errorf("creator's entry still owns spec.replicas: %+v", c)
	}
	// The same apply again changes nothing.
	if _, err := cs.AppsV1().Deployments("default").ApplyScale(ctx, "d", scaleTo(3), metav1.ApplyOptions{FieldManager: "scaler"}); err != nil {
		t.Fatal(err)
	}
	again, _ := cs.AppsV1().Deployments("default").Get(ctx, "d", metav1.GetOptions{})
	if again.ResourceVersion != got.ResourceVersion {
		t.Errorf("a repeated apply of the scale wrote: resourceVersion %s -> %s", got.ResourceVersion, again.ResourceVersion)
	}
	// An apply of the Deployment by another manager now conflicts with
	// the scale subresource's owner.
	dac := appsv1ac.Deployment("d", "default").WithSpec(appsv1ac.DeploymentSpec().WithReplicas(5))
	_, err = cs.AppsV1().Deployments("default").Apply(ctx, dac, metav1.ApplyOptions{FieldManager: "other"})
	if !apierrors.IsConflict(err) || !strings.Contains(err.Error(), `conflict with "scaler" with subresource "scale"`) {
		t.Errorf("apply of the deployment over the scaler's replicas: %v", err)
	}
	// A scale Update (kubectl scale's) is recorded under subresource scale too.
	cur, err := cs.AppsV1().Deployments("default").GetScale(ctx, "d", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(cur.ManagedFields) != 0 {
		t.Errorf("GET scale shows managedFields: %+v", cur.ManagedFields)
	}
	cur.Spec.Replicas = 2
	if _, err := cs.AppsV1().Deployments("default").UpdateScale(ctx, "d", cur, metav1.UpdateOptions{FieldManager: "hpa"}); err != nil {
		t.Fatal(err)
	}
	got, _ = cs.AppsV1().Deployments("default").Get(ctx, "d", metav1.GetOptions{})
	if h := managedEntry(got.ManagedFields, "hpa"); h == nil || h.Operation != metav1.ManagedFieldsOperationUpdate || h.Subresource != "scale" ||
		string(h.FieldsV1.Raw) != `{"f:spec":{"f:replicas":{}}}` || *got.Spec.Replicas != 2 {
		t.Errorf("hpa's entry: %+v replicas %d", h, *got.Spec.Replicas)
	}
	if s := managedEntry(got.ManagedFields, "scaler"); s != nil {
		t.Errorf("the scaler still owns spec.replicas after hpa's update: %+v", s)
	}

	// replicasets/scale, with a resourceVersion precondition.
	rs := &appsv1.ReplicaSet{ObjectMeta: metav1.ObjectMeta{Name: "r"},
		Spec: appsv1.ReplicaSetSpec{Selector: &metav1.LabelSelector{MatchLabels: app}, Template: testPodTemplate(app, corev1.RestartPolicyAlways)}}
	if rs, err = cs.AppsV1().ReplicaSets("default").Create(ctx, rs, metav1.CreateOptions{FieldManager: "creator"}); err != nil {
		t.Fatal(err)
	}
	stale := scaleTo(4).WithResourceVersion("1")
	if _, err := cs.AppsV1().ReplicaSets("default").ApplyScale(ctx, "r", stale, metav1.ApplyOptions{FieldManager: "scaler", Force: true}); !apierrors.IsConflict(err) {
		t.Errorf("apply scale with a stale resourceVersion: %v", err)
	}
	sc, err = cs.AppsV1().ReplicaSets("default").ApplyScale(ctx, "r", scaleTo(4).WithResourceVersion(rs.ResourceVersion), metav1.ApplyOptions{FieldManager: "scaler", Force: true})
	if err != nil || sc.Spec.Replicas != 4 {
		t.Fatalf("apply rs scale: %v %+v", err, sc)
	}
	grs, _ := cs.AppsV1().ReplicaSets("default").Get(ctx, "r", metav1.GetOptions{})
	if s := managedEntry(grs.ManagedFields, "scaler"); s == nil || s.Subresource != "scale" || *grs.Spec.Replicas != 4 {
		t.Errorf("rs scaler entry: %+v", grs.ManagedFields)
	}
	// A missing object is 404 (apply does not create through /scale), and
	// the apply needs a fieldManager.
	if _, err := cs.AppsV1().ReplicaSets("default").ApplyScale(ctx, "nope", scaleTo(1), metav1.ApplyOptions{FieldManager: "scaler"}); !apierrors.IsNotFound(err) {
		t.Errorf("apply scale of a missing rs: %v", err)
	}
	code, st := rawDo(t, e, "PATCH", "/apis/apps/v1/namespaces/default/replicasets/r/scale", "application/apply-patch+yaml", "spec: {replicas: 2}")
	if code != 422 || !strings.Contains(st.Message, "fieldManager: Required value") {
		t.Errorf("apply without fieldManager: %d %s", code, st.Message)
	}
	code, st = rawDo(t, e, "PATCH", "/apis/apps/v1/namespaces/default/replicasets/r/scale?fieldManager=x&force=true", "application/apply-patch+yaml",
		"apiVersion: autoscaling/v1\nkind: Scale\nspec: {replicas: -2}")
	if code != 422 || !strings.Contains(st.Message, "spec.replicas: Invalid value: -2") {
		t.Errorf("apply of a negative scale: %d %s", code, st.Message)
	}
	code, st = rawDo(t, e, "PATCH", "/apis/apps/v1/namespaces/default/replicasets/r/scale?fieldManager=x", "application/apply-patch+yaml",
		"apiVersion: autoscaling/v1\nkind: Scale\nspec: {replicas: 2, bogus: 1}")
	if code != 400 || !strings.Contains(st.Message, "bogus") {
		t.Errorf("apply with an unknown field: %d %s", code, st.Message)
	}
}

// rawDo sends one request and decodes the Status it answers.
func rawDo(t *testing.T, e *env, method, path, ctype, body string) (int, metav1.Status) {
	t.Helper()
	req, _ := http.NewRequest(method, e.srv.URL+path, strings.NewReader(body))
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
