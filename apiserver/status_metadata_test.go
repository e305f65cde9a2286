package apiserver

import (
	"context"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/intstr"
)

// TestStatusWriteKeepsMetadata: a /status write of a built-in kind keeps the
// request's labels and annotations (upstream's status strategies reset only
// spec), except a Deployment's labels (deploymentStatusStrategy resets
// metadata.labels too); the spec never changes through /status.
func TestStatusWriteKeepsMetadata(t *testing.T) {
	e := newEnv(t, HandlerOptions{})
	cs := e.client(t, "http")
	ctx := context.Background()
	one := int32(1)
	tmpl := corev1.PodTemplateSpec{
		ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "a"}},
		Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "busybox"}}},
	}
	sel := &metav1.LabelSelector{MatchLabels: map[string]string{"app": "a"}}
	if _, err := cs.AppsV1().ReplicaSets("default").Create(ctx, &appsv1.ReplicaSet{
		ObjectMeta: metav1.ObjectMeta{Name: "rs", Labels: map[string]string{"l": "0"}},
		Spec:       appsv1.ReplicaSetSpec{Replicas: &one, Selector: sel, Template: tmpl},
	}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := cs.AppsV1().Deployments("default").Create(ctx, &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: "d", Labels: map[string]string{"l": "0"}},
		Spec:       appsv1.DeploymentSpec{Replicas: &one, Selector: sel, Template: tmpl},
	}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	patch := []byte(`{"metadata":{"labels":{"l":"1"},"annotations":{"a":"1"}},"spec":{"replicas":5},"status":{"replicas":0}}`)
	rs, err := cs.AppsV1().ReplicaSets("default").Patch(ctx, "rs", types.MergePatchType, patch, metav1.PatchOptions{}, "status")
	if err != nil {
		t.Fatal(err)
	}
	if rs.Labels["l"] != "1" || rs.Annotations["a"] != "1" || *rs.Spec.Replicas != 1 {
		t.Fatalf("replicasets/status: labels %v annotations %v replicas %d; want l=1, a=1, spec unchanged", rs.Labels, rs.Annotations, *rs.Spec.Replicas)
	}
	d, err := cs.AppsV1().Deployments("default").Patch(ctx, "d", types.MergePatchType, patch, metav1.PatchOptions{}, "status")
	if err != nil {
		t.Fatal(err)
	}
	if d.Labels["l"] != "0" || d.Annotations["a"] != "1" || *d.Spec.Replicas != 1 {
		t.Fatalf("deployments/status: labels %v annotations %v replicas %d; want l=0 kept, a=1, spec unchanged", d.Labels, d.Annotations, *d.Spec.Replicas)
	}
}

// TestPDBStatusValidated: a poddisruptionbudgets/status write is validated
// as upstream's ValidatePodDisruptionBudgetStatusUpdate: counts are
// non-negative (the eviction path trusts disruptionsAllowed).
func TestPDBStatusValidated(t *testing.T) {
	e := newEnv(t, HandlerOptions{})
	cs := e.client(t, "http")
	ctx := context.Background()
	min := intstr.FromInt32(1)
	if _, err := cs.PolicyV1().PodDisruptionBudgets("default").Create(ctx, &policyv1.PodDisruptionBudget{
		ObjectMeta: metav1.ObjectMeta{Name: "pdb"},
		Spec:       policyv1.PodDisruptionBudgetSpec{MinAvailable: &min, Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "a"}}},
	}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	_, err := cs.PolicyV1().PodDisruptionBudgets("default").Patch(ctx, "pdb", types.MergePatchType,
		[]byte(`{"status":{"disruptionsAllowed":-1,"expectedPods":-2}}`), metav1.PatchOptions{}, "status")
	want := `PodDisruptionBudget.policy "pdb" is invalid: [status.disruptionsAllowed: Invalid value: -1: must be greater than or equal to 0, status.expectedPods: Invalid value: -2: must be greater than or equal to 0]`
	if !apierrors.IsInvalid(err) || err.Error() != want {
		t.Fatalf("negative PDB status: %v\nwant %s", err, want)
	}
	if p, err := cs.PolicyV1().PodDisruptionBudgets("default").Patch(ctx, "pdb", types.MergePatchType,
		[]byte(`{"status":{"disruptionsAllowed":1,"expectedPods":2}}`), metav1.PatchOptions{}, "status"); err != nil || p.Status.DisruptionsAllowed != 1 {
		t.Fatalf("valid PDB status: %v", err)
	}
}
