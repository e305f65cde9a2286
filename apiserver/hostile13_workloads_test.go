package apiserver

// Hostile clients against the workload kinds' API (issue 13's attacker).

import (
	"context"
	"net/http"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
)

// TestHostile13WorkloadStatus: a client writing a workload's /status with
// impossible numbers gets upstream's 422 (ValidateReplicaSetStatusUpdate,
// ValidateDeploymentStatusUpdate, ValidateDaemonSetStatusUpdate): counts
// are non-negative, none above status.replicas, available not above
// ready, collisionCount never decremented. A sound status still goes in.
func TestHostile13WorkloadStatus(t *testing.T) {
	e := newEnv(t, HandlerOptions{})
	cs := e.client(t, "http")
	ctx := context.Background()
	app := map[string]string{"app": "a"}
	sel := &metav1.LabelSelector{MatchLabels: app}
	rs, err := cs.AppsV1().ReplicaSets("default").Create(ctx, &appsv1.ReplicaSet{ObjectMeta: metav1.ObjectMeta{Name: "r"},
		Spec: appsv1.ReplicaSetSpec{Selector: sel, Template: testPodTemplate(app, "Always")}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	d, err := cs.AppsV1().Deployments("default").Create(ctx, &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Name: "d"},
		Spec: appsv1.DeploymentSpec{Selector: sel, Template: testPodTemplate(app, "Always")}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	ds, err := cs.AppsV1().DaemonSets("default").Create(ctx, &appsv1.DaemonSet{ObjectMeta: metav1.ObjectMeta{Name: "ds"},
		Spec: appsv1.DaemonSetSpec{Selector: sel, Template: testPodTemplate(app, "Always")}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name string
		do   func() error
		msg  string
	}{
		{"rs negative", func() error {
			r := rs.DeepCopy()
			r.ResourceVersion = ""
			r.Status = appsv1.ReplicaSetStatus{Replicas: -5}
			_, err := cs.AppsV1().ReplicaSets("default").UpdateStatus(ctx, r, metav1.UpdateOptions{})
			return err
		}, "status.replicas: Invalid value: -5: must be greater than or equal to 0"},
		{"rs ready above replicas", func() error {
			r := rs.DeepCopy()
			r.ResourceVersion = ""
			r.Status = appsv1.ReplicaSetStatus{Replicas: 1, ReadyReplicas: 3, FullyLabeledReplicas: 1}
			_, err := cs.AppsV1().ReplicaSets("default").UpdateStatus(ctx, r, metav1.UpdateOptions{})
			return err
		}, "status.readyReplicas: Invalid value: 3: cannot be greater than status.replicas"},
		{"rs available above ready", func() error {
			r := rs.DeepCopy()
			r.ResourceVersion = ""
			r.Status = appsv1.ReplicaSetStatus{Replicas: 3, ReadyReplicas: 1, AvailableReplicas: 2}
			_, err := cs.AppsV1().ReplicaSets("default").UpdateStatus(ctx, r, metav1.UpdateOptions{})
			return err
		}, "status.availableReplicas: Invalid value: 2: cannot be greater than readyReplicas"},
		{"rs terminating negative", func() error {
			r := rs.DeepCopy()
			r.ResourceVersion = ""
			r.Status = appsv1.ReplicaSetStatus{TerminatingReplicas: ptr.To[int32](-1)}
			_, err := cs.AppsV1().ReplicaSets("default").UpdateStatus(ctx, r, metav1.UpdateOptions{})
			return err
		}, "status.terminatingReplicas: Invalid value: -1: must be greater than or equal to 0"},
		{"deployment updated above replicas", func() error {
			x := d.DeepCopy()
			x.ResourceVersion = ""
			x.Status = appsv1.DeploymentStatus{Replicas: 1, UpdatedReplicas: 2}
			_, err := cs.AppsV1().Deployments("default").UpdateStatus(ctx, x, metav1.UpdateOptions{})
			return err
		}, "status.updatedReplicas: Invalid value: 2: cannot be greater than status.replicas"},
		{"deployment negative unavailable", func() error {
			x := d.DeepCopy()
			x.ResourceVersion = ""
			x.Status = appsv1.DeploymentStatus{UnavailableReplicas: -1}
			_, err := cs.AppsV1().Deployments("default").UpdateStatus(ctx, x, metav1.UpdateOptions{})
			return err
		}, "status.unavailableReplicas: Invalid value: -1: must be greater than or equal to 0"},
		{"daemonset negative", func() error {
			x := ds.DeepCopy()
			x.ResourceVersion = ""
			x.Status = appsv1.DaemonSetStatus{DesiredNumberScheduled: -2}
			_, err := cs.AppsV1().DaemonSets("default").UpdateStatus(ctx, x, metav1.UpdateOptions{})
			return err
		}, "status.desiredNumberScheduled: Invalid value: -2: must be greater than or equal to 0"},
	} {
		t.Run(c.name, func(t *testing.T) {
			err := c.do()
			if !apierrors.IsInvalid(err) || !strings.Contains(err.Error(), c.msg) {
				t.Errorf("got %v, want 422 with %q", err, c.msg)
			}
		})
	}
	// collisionCount may grow, never shrink.
	x := d.DeepCopy()
	x.ResourceVersion = ""
	x.Status = appsv1.DeploymentStatus{Replicas: 2, UpdatedReplicas: 2, ReadyReplicas: 2, AvailableReplicas: 1, CollisionCount: ptr.To[int32](3)}
	x, err = cs.AppsV1().Deployments("default").UpdateStatus(ctx, x, metav1.UpdateOptions{})
	if err != nil {
		t.Fatalf("a sound status: %v", err)
	}
	x.Status.CollisionCount = ptr.To[int32](1)
	if _, err := cs.AppsV1().Deployments("default").UpdateStatus(ctx, x, metav1.UpdateOptions{}); !apierrors.IsInvalid(err) ||
		!strings.Contains(err.Error(), "status.collisionCount: Invalid value: 1: cannot be decremented") {
		t.Errorf("collisionCount decremented: %v", err)
	}
	// Scale with a replicas past int32 is a 400 naming the body, not a 500.
	req, _ := http.NewRequest("PUT", e.srv.URL+"/apis/apps/v1/namespaces/default/replicasets/r/scale",
		strings.NewReader(`{"kind":"Scale","apiVersion":"autoscaling/v1","metadata":{"name":"r"},"spec":{"replicas":2147483648}}`))
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 400 {
		t.Errorf("scale to 2^31: %d, want 400", resp.StatusCode)
	}
}

// TestHostile13PodDeletionCost: controller.kubernetes.io/pod-deletion-cost
// (which ranks a ReplicaSet's victims) must be a 32-bit integer with no
// '+' or leading zero, on pods and on workload templates, as upstream's
// ValidatePodSpecificAnnotations ("must be a 32bit integer"); a pod
// stored with a bad one may still be updated (AllowInvalidPodDeletionCost).
func TestHostile13PodDeletionCost(t *testing.T) {
	e := newEnv(t, HandlerOptions{})
	cs := e.client(t, "http")
	ctx := context.Background()
	const key = "controller.kubernetes.io/pod-deletion-cost"
	for _, v := range []string{"abc", "1e3", "+10", "008", "2147483648", ""} {
		p := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "p", Annotations: map[string]string{key: v}},
			Spec: testPodTemplate(nil, "Always").Spec}
		_, err := cs.CoreV1().Pods("default").Create(ctx, p, metav1.CreateOptions{DryRun: []string{"All"}})
		want := `metadata.annotations[controller.kubernetes.io/pod-deletion-cost]: Invalid value: "` + v + `": must be a 32bit integer`
		if !apierrors.IsInvalid(err) || !strings.Contains(err.Error(), want) {
			t.Errorf("pod with cost %q: %v", v, err)
		}
	}
	for _, v := range []string{"0", "-5", "2147483647", "-2147483648"} {
		p := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "p", Annotations: map[string]string{key: v}},
			Spec: testPodTemplate(nil, "Always").Spec}
		if _, err := cs.CoreV1().Pods("default").Create(ctx, p, metav1.CreateOptions{DryRun: []string{"All"}}); err != nil {
			t.Errorf("pod with cost %q: %v", v, err)
		}
	}
	app := map[string]string{"app": "a"}
	tmpl := testPodTemplate(app, "Always")
	tmpl.Annotations = map[string]string{key: "x"}
	_, err := cs.AppsV1().ReplicaSets("default").Create(ctx, &appsv1.ReplicaSet{ObjectMeta: metav1.ObjectMeta{Name: "r"},
		Spec: appsv1.ReplicaSetSpec{Selector: &metav1.LabelSelector{MatchLabels: app}, Template: tmpl}}, metav1.CreateOptions{})
	if want := `spec.template.annotations[controller.kubernetes.io/pod-deletion-cost]: Invalid value: "x": must be a 32bit integer`; !apierrors.IsInvalid(err) || !strings.Contains(err.Error(), want) {
		t.Errorf("template with cost x: %v", err)
	}
}
