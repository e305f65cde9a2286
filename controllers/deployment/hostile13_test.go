package deployment

// Hostile users against the Deployment controller (issue 13's attacker).

import (
	"context"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// TestHostile13NameSquatting: someone creates, before the Deployment
// rolls out, a ReplicaSet with the very name its new ReplicaSet would get
// (<name>-<hash>) and another template: the Deployment bumps
// status.collisionCount and uses another hash (upstream's getNewReplicaSet
// on AlreadyExists), and leaves the squatter alone.
func TestHostile13NameSquatting(t *testing.T) {
	e := setup(t)
	ctx := context.Background()
	d := newDeployment("sq", 2, "busybox")
	d.Spec.Paused = true
	d = e.create(t, d)
	hash := ComputeHash(&d.Spec.Template, d.Status.CollisionCount)
	lbl := map[string]string{"squat": "yes"}
	squat := &appsv1.ReplicaSet{ObjectMeta: metav1.ObjectMeta{Name: "sq-" + hash, Namespace: "default"},
		Spec: appsv1.ReplicaSetSpec{Replicas: int32p(0), Selector: &metav1.LabelSelector{MatchLabels: lbl},
			Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: lbl},
				Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "other"}}}}}}
	if _, err := e.cs.AppsV1().ReplicaSets("default").Create(ctx, squat, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	e.update(t, "sq", func(d *appsv1.Deployment) { d.Spec.Paused = false })
	waitFor(t, "rolled out under another name", func() bool {
		d := e.get(t, "sq")
		return d.Status.CollisionCount != nil && *d.Status.CollisionCount >= 1 && d.Status.AvailableReplicas == 2 && d.Status.UpdatedReplicas == 2
	})
	got, err := e.cs.AppsV1().ReplicaSets("default").Get(ctx, "sq-"+hash, metav1.GetOptions{})
	if err != nil || metav1.GetControllerOf(got) != nil || *got.Spec.Replicas != 0 || got.Spec.Template.Spec.Containers[0].Image != "other" {
		t.Errorf("the squatter was touched: %v %+v", err, got)
	}
}

// TestHostile13JunkRevision: an orphan ReplicaSet the Deployment adopts
// carries a revision annotation that is no number (and one past int64):
// the controller ignores it (upstream's MaxRevision skips what it cannot
// parse) and rolls out.
func TestHostile13JunkRevision(t *testing.T) {
	e := setup(t)
	ctx := context.Background()
	lbl := map[string]string{"app": "junk"}
	for i, v := range []string{"abc", "99999999999999999999"} {
		rs := &appsv1.ReplicaSet{ObjectMeta: metav1.ObjectMeta{Name: "orphan" + string(rune('a'+i)), Namespace: "default",
			Labels: lbl, Annotations: map[string]string{RevisionAnnotation: v}},
			Spec: appsv1.ReplicaSetSpec{Replicas: int32p(1), Selector: &metav1.LabelSelector{MatchLabels: lbl},
				Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: lbl},
					Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "old"}}}}}}
		if _, err := e.cs.AppsV1().ReplicaSets("default").Create(ctx, rs, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	e.create(t, newDeployment("junk", 2, "busybox"))
	waitFor(t, "rolled out, orphans adopted and scaled to 0", func() bool {
		d := e.get(t, "junk")
		if d.Status.UpdatedReplicas != 2 || d.Status.AvailableReplicas != 2 || d.Status.Replicas != 2 {
			return false
		}
		for _, n := range []string{"orphana", "orphanb"} {
			rs, err := e.cs.AppsV1().ReplicaSets("default").Get(ctx, n, metav1.GetOptions{})
			if err != nil || *rs.Spec.Replicas != 0 || metav1.GetControllerOf(rs) == nil {
				return false
			}
		}
		return true
	})
	if r := e.get(t, "junk").Annotations[RevisionAnnotation]; r != "1" {
		t.Errorf("revision %q, want 1", r)
	}
}
