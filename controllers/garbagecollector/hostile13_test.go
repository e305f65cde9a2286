package garbagecollector

// Hostile users against the garbage collector (issue 13's attacker).

import (
	"context"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/wasmpod/wasmpod/controllers/replicaset"
)

// TestHostile13Cycles: ownerReference cycles never wedge a foreground
// deletion (upstream's attemptToDeleteItem makes a dependent's blocking
// references to owners that wait for it non-blocking): A and B owning each
// other with blockOwnerDeletion both go. (An object that owns itself with
// blockOwnerDeletion stays in foreground deletion for ever: upstream's
// processDeletingDependentsItem skips a blocking dependent that is itself
// deleting dependents, so it does the same.)
func TestHostile13Cycles(t *testing.T) {
	e := setup(t)
	ctx := context.Background()
	cms := e.cs.CoreV1().ConfigMaps("default")
	a := e.cm(t, "default", "a", nil)
	b := e.cm(t, "default", "b", nil, ownerRef("ConfigMap", "v1", "a", a.UID, true))
	a.OwnerReferences = []metav1.OwnerReference{ownerRef("ConfigMap", "v1", "b", b.UID, true)}
	if _, err := cms.Update(ctx, a, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	fg := metav1.DeletePropagationForeground
	if err := cms.Delete(ctx, "a", metav1.DeleteOptions{PropagationPolicy: &fg}); err != nil {
		t.Fatal(err)
	}
	for _, n := range []string{"a", "b"} {
		waitFor(t, n+" gone", e.gone("default", n))
	}
}

// TestHostile13Churn: ReplicaSets deleted while they scale up, over and
// over under one name ("rapid create/delete churn", "deleting a RS while
// it scales"): no pod outlives its ReplicaSet.
func TestHostile13Churn(t *testing.T) {
	e := setup(t)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); replicaset.New(e.cs, nil).Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
	lbl := map[string]string{"app": "churn"}
	rsc := e.cs.AppsV1().ReplicaSets("default")
	for i := range 8 {
		n := int32(100)
		rs := &appsv1.ReplicaSet{ObjectMeta: metav1.ObjectMeta{Name: "churn"}, Spec: appsv1.ReplicaSetSpec{Replicas: &n,
			Selector: &metav1.LabelSelector{MatchLabels: lbl},
			Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: lbl},
				Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "busybox"}}}}}}
		for {
			_, err := rsc.Create(ctx, rs, metav1.CreateOptions{})
			if err == nil {
				break
			}
			time.Sleep(5 * time.Millisecond) // the last one is still going (foreground)
		}
		time.Sleep(time.Duration(i*20) * time.Millisecond)
		p := metav1.DeletePropagationBackground
		if i%2 == 1 {
			p = metav1.DeletePropagationForeground
		}
		if err := rsc.Delete(ctx, "churn", metav1.DeleteOptions{PropagationPolicy: &p}); err != nil {
			t.Fatal(err)
		}
	}
	waitFor(t, "no pods, no ReplicaSet", func() bool {
		l, err := e.cs.CoreV1().Pods("default").List(ctx, metav1.ListOptions{})
		r, err2 := rsc.List(ctx, metav1.ListOptions{})
		if err != nil || err2 != nil {
			return false
		}
		return len(l.Items) == 0 && len(r.Items) == 0
	})
}
