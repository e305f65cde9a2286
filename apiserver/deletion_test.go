package apiserver

// Cascading deletion on the API side (deletion.go), as kube-apiserver's
// registry store: upstream test/e2e/apimachinery/garbage_collector.go
// relies on these ("should orphan pods created by rc if delete options say
// so", "should keep the rc around until all its pods are deleted if the
// deleteOptions says so", "should delete RS created by deployment when not
// orphaning"); the controller side is controllers/garbagecollector.

import (
	"context"
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
)

func delCM(t *testing.T, cs kubernetes.Interface, name string, fins ...string) *corev1.ConfigMap {
	t.Helper()
	cm, err := cs.CoreV1().ConfigMaps("default").Create(context.Background(), &corev1.ConfigMap{
		ObjectMeta: metav1.ObjectMeta{Name: name, Finalizers: fins}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return cm
}

func TestDeletePropagation(t *testing.T) {
	e := newEnv(t, HandlerOptions{})
	cs := e.client(t, "http")
	ctx := context.Background()
	pol := func(p metav1.DeletionPropagation) metav1.DeleteOptions {
		return metav1.DeleteOptions{PropagationPolicy: &p}
	}
	get := func(name string) (*corev1.ConfigMap, error) {
		return cs.CoreV1().ConfigMaps("default").Get(ctx, name, metav1.GetOptions{})
	}

	// Foreground: the object stays with deletionTimestamp and the finalizer.
	delCM(t, cs, "fg", "example.com/keep")
	if err := cs.CoreV1().ConfigMaps("default").Delete(ctx, "fg", pol(metav1.DeletePropagationForeground)); err != nil {
		t.Fatal(err)
	}
	cm, err := get("fg")
	if err != nil {
		t.Fatal(err)
	}
	if cm.DeletionTimestamp == nil || !slices.Equal(cm.Finalizers, []string{"example.com/keep", metav1.FinalizerDeleteDependents}) {
		t.Fatalf("foreground: deletionTimestamp %v finalizers %v", cm.DeletionTimestamp, cm.Finalizers)
	}
	// A second delete with Orphan swaps the GC finalizer (a pending
	// deletion of a non-graceful kind still follows the options).
	if err := cs.CoreV1().ConfigMaps("default").Delete(ctx, "fg", pol(metav1.DeletePropagationOrphan)); err != nil {
		t.Fatal(err)
	}
	if cm, _ = get("fg"); !slices.Equal(cm.Finalizers, []string{"example.com/keep", metav1.FinalizerOrphanDependents}) {
		t.Fatalf("orphan after foreground: finalizers %v", cm.Finalizers)
	}
	// Background removes the GC finalizers; the other one keeps it.
	if err := cs.CoreV1().ConfigMaps("default").Delete(ctx, "fg", pol(metav1.DeletePropagationBackground)); err != nil {
		t.Fatal(err)
	}
	if cm, _ = get("fg"); !slices.Equal(cm.Finalizers, []string{"example.com/keep"}) {
		t.Fatalf("background: finalizers %v", cm.Finalizers)
	}

	// Legacy orphanDependents: true is the orphan finalizer; an object
	// without other finalizers deleted in the background goes at once,
	// also when it carried the orphan finalizer.
	delCM(t, cs, "legacy")
	yes := true
	if err := cs.CoreV1().ConfigMaps("default").Delete(ctx, "legacy", metav1.DeleteOptions{OrphanDependents: &yes}); err != nil {
		t.Fatal(err)
	}
	if cm, _ = get("legacy"); cm == nil || !slices.Equal(cm.Finalizers, []string{metav1.FinalizerOrphanDependents}) {
		t.Fatalf("orphanDependents: %+v", cm)
	}
	if err := cs.CoreV1().ConfigMaps("default").Delete(ctx, "legacy", pol(metav1.DeletePropagationBackground)); err != nil {
		t.Fatal(err)
	}
	if _, err := get("legacy"); !apierrors.IsNotFound(err) {
		t.Fatalf("background of an orphan-pending object: %v", err)
	}
	// A finalizer already on the object decides when the options do not.
	delCM(t, cs, "prefin", metav1.FinalizerOrphanDependents)
	if err := cs.CoreV1().ConfigMaps("default").Delete(ctx, "prefin", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	if cm, _ = get("prefin"); cm == nil || cm.DeletionTimestamp == nil {
		t.Fatalf("orphan finalizer present, no options: %+v", cm)
	}

	// Bad options: upstream's ValidateDeleteOptions messages.
	no := false
	bg := metav1.DeletePropagationBackground
	err = cs.CoreV1().ConfigMaps("default").Delete(ctx, "prefin", metav1.DeleteOptions{OrphanDependents: &no, PropagationPolicy: &bg})
	if want := `DeleteOptions.meta.k8s.io "" is invalid: propagationPolicy: Invalid value: "Background": orphanDependents and deletionPropagation cannot be both set`; err == nil || err.Error() != want || !apierrors.IsInvalid(err) {
		t.Fatalf("both set: %v\nwant %s", err, want)
	}
	err = cs.CoreV1().ConfigMaps("default").Delete(ctx, "prefin", pol("Sideways"))
	if want := `DeleteOptions.meta.k8s.io "" is invalid: propagationPolicy: Unsupported value: "Sideways": supported values: "Foreground", "Background", "Orphan", "nil"`; err == nil || err.Error() != want {
		t.Fatalf("bad policy: %v\nwant %s", err, want)
	}

	// ownerReferences are validated for every kind.
	_, err = cs.CoreV1().ConfigMaps("default").Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "child",
		OwnerReferences: []metav1.OwnerReference{{APIVersion: "v1", Kind: "ConfigMap", Name: "p"}}}}, metav1.CreateOptions{})
	if err == nil || err.Error() != (`ConfigMap "child" is invalid: metadata.ownerReferences[0].uid: Required value: must not be empty`) {
		t.Fatalf("owner ref without uid: %v", err)
	}

	// Kinds' defaults: a batch/v1 Job orphans (with upstream's warning), a
	// Deployment is deleted in the background at once.
	job := &batchv1.Job{ObjectMeta: metav1.ObjectMeta{Name: "j"}, Spec: batchv1.JobSpec{
		Template: testPodTemplate(nil, corev1.RestartPolicyNever)}}
	if _, err := cs.BatchV1().Jobs("default").Create(ctx, job, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	req, _ := http.NewRequest(http.MethodDelete, e.srv.URL+"/apis/batch/v1/namespaces/default/jobs/j", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusAccepted || !strings.Contains(resp.Header.Get("Warning"), jobDeleteWarning) {
		t.Fatalf("job delete: %d %q\n%s", resp.StatusCode, resp.Header.Get("Warning"), body)
	}
	j, err := cs.BatchV1().Jobs("default").Get(ctx, "j", metav1.GetOptions{})
	if err != nil || !slices.Equal(j.Finalizers, []string{metav1.FinalizerOrphanDependents}) || j.DeletionTimestamp == nil {
		t.Fatalf("job after default delete: %v %+v", err, j)
	}
	app := map[string]string{"app": "d"}
	dep := &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Name: "d"}, Spec: appsv1.DeploymentSpec{
		Selector: &metav1.LabelSelector{MatchLabels: app}, Template: testPodTemplate(app, corev1.RestartPolicyAlways)}}
	if _, err := cs.AppsV1().Deployments("default").Create(ctx, dep, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := cs.AppsV1().Deployments("default").Delete(ctx, "d", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := cs.AppsV1().Deployments("default").Get(ctx, "d", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Fatalf("deployment default delete: %v", err)
	}
}

// TestDeleteCascadeKubectl: the real kubectl's --cascade values reach the
// server as propagationPolicy (foreground keeps the object, marked, until
// the collector is done; orphan likewise with the orphan finalizer).
func TestDeleteCascadeKubectl(t *testing.T) {
	e := newEnv(t, HandlerOptions{})
	cs := e.client(t, "http")
	k := newKubectl(t, e.srv.URL)
	ctx := context.Background()
	delCM(t, cs, "fg")
	delCM(t, cs, "or")
	delCM(t, cs, "bg")
	if out := k.run(t, "delete", "configmap", "fg", "--cascade=foreground", "--wait=false"); out != "configmap \"fg\" deleted from default namespace\n" {
		t.Fatalf("kubectl delete foreground: %q", out)
	}
	if out := k.run(t, "delete", "configmap", "or", "--cascade=orphan", "--wait=false"); out != "configmap \"or\" deleted from default namespace\n" {
		t.Fatalf("kubectl delete orphan: %q", out)
	}
	k.run(t, "delete", "configmap", "bg", "--cascade=background")
	for name, fin := range map[string]string{"fg": metav1.FinalizerDeleteDependents, "or": metav1.FinalizerOrphanDependents} {
		cm, err := cs.CoreV1().ConfigMaps("default").Get(ctx, name, metav1.GetOptions{})
		if err != nil || cm.DeletionTimestamp == nil || !slices.Equal(cm.Finalizers, []string{fin}) {
			t.Fatalf("%s: %v %+v", name, err, cm)
		}
	}
	if _, err := cs.CoreV1().ConfigMaps("default").Get(ctx, "bg", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Fatalf("bg: %v", err)
	}
	out := k.run(t, "get", "configmap", "fg", "-o", "jsonpath={.metadata.finalizers}")
	if out != `["foregroundDeletion"]` {
		t.Fatalf("kubectl get finalizers: %q", out)
	}
}
