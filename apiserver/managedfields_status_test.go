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

// TestTrimmedManagedFields: the managedFields of /status writes, which
// manageFields computes over status and managedFields alone (trimmed), are
// what the field manager computes over the whole objects, as
// kube-apiserver does: through a pod's life (the kubelet's writes, a
// second manager's condition taken over, a condition removed, a writer
// sending a stale spec), a Deployment's and a Node's status writes; and so
// are those of writes of the main resource, computed without status and
// without an unchanged spec (a finalizer removed by patch, labels, a
// changed spec, a status sent to the main resource).
func TestTrimmedManagedFields(t *testing.T) {
	e := newEnv(t, HandlerOptions{})
	s := e.s
	ctx := context.Background()
	as := func(m string) context.Context { return withFieldManagerName(ctx, m) }

	var write func(r *Resource, ns, manager string, obj runtime.Object, sub string) runtime.Object
	// writeStatus writes obj's status as manager and checks the stored
	// managedFields against the whole-object computation over the same
	// live object.
	writeStatus := func(r *Resource, ns, manager string, obj runtime.Object) runtime.Object {
		t.Helper()
		return write(r, ns, manager, obj, "status")
	}
	write = func(r *Resource, ns, manager string, obj runtime.Object, sub string) runtime.Object {
		t.Helper()
		om, _ := meta.Accessor(obj)
		live, err := s.Get(ctx, r, ns, om.GetName())
		if err != nil {
			t.Fatal(err)
		}
		if _, _, ok := trimmed(r, sub, live, obj); !ok {
			t.Fatalf("%s %s: trimmed not taken", r.Kind, om.GetName())
		}
		fm, err := fieldManagerFor(r, sub)
		if err != nil {
			t.Fatal(err)
		}
		l, o := live.DeepCopyObject(), obj.DeepCopyObject()
		l.GetObjectKind().SetGroupVersionKind(r.GVK())
		o.GetObjectKind().SetGroupVersionKind(r.GVK())
		want, _ := meta.Accessor(fm.UpdateNoErrors(l, o, manager))
		out, err := s.Update(as(manager), r, ns, obj.DeepCopyObject(), sub)
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
	if _, _, ok := trimmed(pods, "status", live, p); ok {
		t.Error("trimmed taken with a managedFields entry of another apiVersion")
	}
	if _, _, ok := trimmed(pods, "", live, p); ok {
		t.Error("trimmed taken for the main resource with a live managedFields entry of another apiVersion")
	}
	if _, _, ok := trimmed(pods, "", p, live); ok {
		t.Error("trimmed taken for the main resource with a sent managedFields entry of another apiVersion")
	}

	// Writes of the main resource: a pod with the Job controller's
	// finalizer, removed by its patch; labels by another manager; a
	// changed spec; a status sent to the main resource (not kept).
	jp := httpPod("job-pod")
	jp.Finalizers = []string{"batch.kubernetes.io/job-tracking", "example.com/other"}
	jp.Labels["job-name"] = "j"
	obj, err = s.Create(as("job-controller"), pods, "default", jp)
	if err != nil {
		t.Fatal(err)
	}
	jp = obj.(*corev1.Pod)
	jp.Status = corev1.PodStatus{Phase: corev1.PodSucceeded, Conditions: []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionFalse}}}
	jp = writeStatus(pods, "default", "kubelet", jp).(*corev1.Pod)
	jp.Finalizers = jp.Finalizers[1:]
	jp = write(pods, "default", "job-controller", jp, "").(*corev1.Pod)
	jp.Labels["extra"] = "x"
	jp.Annotations = map[string]string{"a": "b"}
	jp = write(pods, "default", "labeller", jp, "").(*corev1.Pod)
	jp.Spec.ActiveDeadlineSeconds = ptr.To[int64](30)
	jp.Spec.Tolerations = append(jp.Spec.Tolerations, corev1.Toleration{Key: "k", Operator: corev1.TolerationOpExists})
	jp = write(pods, "default", "editor", jp, "").(*corev1.Pod)
	jp.Status.Message = "sent to the main resource"
	delete(jp.Labels, "extra")
	jp.Finalizers = nil
	write(pods, "default", "job-controller", jp, "")
	if _, _, ok := trimmed(pods, "scale", jp, jp); ok {
		t.Error("trimmed taken for another subresource")
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
