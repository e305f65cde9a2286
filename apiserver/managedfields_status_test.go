package apiserver

import (
	"context"
	"fmt"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/utils/ptr"
)

// TestStatusOnlyManagedFields: the managedFields of /status writes, which
// manageFields computes without the objects' spec (statusOnly), are what
// the field manager computes over the whole objects, as kube-apiserver
// does: through a pod's life (the kubelet's writes, a second manager's
// condition taken over, a condition removed, a writer sending a stale
// spec), a Deployment's and a Node's status writes.
func TestStatusOnlyManagedFields(t *testing.T) {
	e := newEnv(t, HandlerOptions{})
	s := e.s
	ctx := context.Background()
	as := func(m string) context.Context { return withFieldManagerName(ctx, m) }

	// writeStatus writes obj's status as manager and checks the stored
	// managedFields against the whole-object computation over the same
	// live object.
	writeStatus := func(r *Resource, ns, manager string, obj runtime.Object) runtime.Object {
		t.Helper()
		om, _ := meta.Accessor(obj)
		live, err := s.Get(ctx, r, ns, om.GetName())
		if err != nil {
			t.Fatal(err)
		}
		if _, _, ok := statusOnly(r, "status", live, obj); !ok {
			t.Fatalf("%s %s: statusOnly not taken", r.Kind, om.GetName())
		}
		fm, err := fieldManagerFor(r, "status")
		if err != nil {
			t.Fatal(err)
		}
		l, o := live.DeepCopyObject(), obj.DeepCopyObject()
		l.GetObjectKind().SetGroupVersionKind(r.GVK())
		o.GetObjectKind().SetGroupVersionKind(r.GVK())
		want, _ := meta.Accessor(fm.UpdateNoErrors(l, o, manager))
		out, err := s.Update(as(manager), r, ns, obj.DeepCopyObject(), "status")
		if err != nil {
			t.Fatal(err)
		}
		got, _ := meta.Accessor(out)
		if g, w := entries(got.GetManagedFields()), entries(want.GetManagedFields()); g != w {
			t.Errorf("%s %s by %s: managedFields\n%s\nwant (whole objects)\n%s", r.Kind, om.GetName(), manager, g, w)
		}
		return out
	}

	pods, _ := s.Resource("", "pods")
	p := httpPod("life")
	p.Spec.Containers[0].Ports = []corev1.ContainerPort{{ContainerPort: 8080}}
	p.Spec.Containers[0].Env = []corev1.EnvVar{{Name: "A", Value: "1"}}
	p.Spec.ReadinessGates = []corev1.PodReadinessGate{{ConditionType: "example.com/gate"}}
	obj, err := s.Create(as("creator"), pods, "default", p)
	if err != nil {
		t.Fatal(err)
	}
	p = obj.(*corev1.Pod)
	now := metav1.Now()
	p.Status = corev1.PodStatus{Phase: corev1.PodPending, PodIP: "10.0.0.1", HostIP: "127.0.0.1",
		Conditions: []corev1.PodCondition{{Type: corev1.PodScheduled, Status: corev1.ConditionTrue}, {Type: corev1.PodReady, Status: corev1.ConditionFalse, Reason: "ContainersNotReady"}},
		ContainerStatuses: []corev1.ContainerStatus{{Name: "main", Image: "app.wasm",
			State: corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: "ContainerCreating"}}}}}
	p = writeStatus(pods, "default", "kubelet", p).(*corev1.Pod)
	p.Status.Phase = corev1.PodRunning
	p.Status.ContainerStatuses[0].State = corev1.ContainerState{Running: &corev1.ContainerStateRunning{StartedAt: now}}
	p.Status.ContainerStatuses[0].Started = ptr.To(true)
	p = writeStatus(pods, "default", "kubelet", p).(*corev1.Pod)
	p.Status.Conditions = append(p.Status.Conditions, corev1.PodCondition{Type: "example.com/gate", Status: corev1.ConditionTrue})
	p = writeStatus(pods, "default", "gatekeeper", p).(*corev1.Pod)
	p.Status.Phase = corev1.PodSucceeded
	p.Status.Conditions[2].Status = corev1.ConditionFalse // taken over from gatekeeper
	p.Status.ContainerStatuses[0].State = corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{ExitCode: 0, Reason: "Completed", StartedAt: now, FinishedAt: now}}
	p = writeStatus(pods, "default", "kubelet", p).(*corev1.Pod)
	p.Status.Conditions = p.Status.Conditions[:2] // a removed condition
	p.Status.PodIP = ""
	p = writeStatus(pods, "default", "kubelet", p).(*corev1.Pod)
	stale := p.DeepCopy() // a writer with a stale, different spec
	stale.Spec.Containers[0].Image = "other.wasm"
	stale.Spec.Containers[0].Env = nil
	stale.Status.Message = "done"
	writeStatus(pods, "default", "writer", stale)

	deps, _ := s.Resource("apps", "deployments")
	d := &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "default"},
		Spec: appsv1.DeploymentSpec{Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "web"}},
			Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "web"}}, Spec: httpPod("x").Spec}}}
	obj, err = s.Create(as("kubectl"), deps, "default", d)
	if err != nil {
		t.Fatal(err)
	}
	d = obj.(*appsv1.Deployment)
	for i := range 3 {
		d.Status = appsv1.DeploymentStatus{ObservedGeneration: 1, Replicas: int32(i), UpdatedReplicas: int32(i),
			Conditions: []appsv1.DeploymentCondition{{Type: appsv1.DeploymentProgressing, Status: corev1.ConditionTrue, Reason: fmt.Sprint("R", i)}}}
		if i == 2 {
			d.Status.Conditions = append(d.Status.Conditions, appsv1.DeploymentCondition{Type: appsv1.DeploymentAvailable, Status: corev1.ConditionTrue})
		}
		d = writeStatus(deps, "default", "deployment-controller", d).(*appsv1.Deployment)
	}

	nodes, _ := s.Resource("", "nodes")
	obj, err = s.Create(as("kubelet"), nodes, "", &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "n1"}, Spec: corev1.NodeSpec{PodCIDR: "10.244.0.0/24"}})
	if err != nil {
		t.Fatal(err)
	}
	n := obj.(*corev1.Node)
	n.Status.Conditions = []corev1.NodeCondition{{Type: corev1.NodeReady, Status: corev1.ConditionTrue}}
	n = writeStatus(nodes, "", "kubelet", n).(*corev1.Node)
	n.Status.Conditions[0].Status = corev1.ConditionUnknown
	writeStatus(nodes, "", "node-controller", n)

	// An entry of another apiVersion: the whole objects are used.
	live := p.DeepCopy()
	live.ManagedFields = append(live.ManagedFields, metav1.ManagedFieldsEntry{Manager: "old", Operation: metav1.ManagedFieldsOperationUpdate, APIVersion: "v1beta1"})
	if _, _, ok := statusOnly(pods, "status", live, p); ok {
		t.Error("statusOnly taken with a managedFields entry of another apiVersion")
	}
	if _, _, ok := statusOnly(pods, "", p, p); ok {
		t.Error("statusOnly taken for a write of the main resource")
	}
}

// entries prints managedFields without their times (whether each has one
// is kept).
func entries(es []metav1.ManagedFieldsEntry) string {
	out := ""
	for _, e := range es {
		fields := ""
		if e.FieldsV1 != nil {
			fields = string(e.FieldsV1.Raw)
		}
		out += fmt.Sprintf("%s %s %s %q time=%v %s\n", e.Manager, e.Operation, e.APIVersion, e.Subresource, e.Time != nil, fields)
	}
	return out
}
