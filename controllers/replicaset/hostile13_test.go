package replicaset

// Hostile users against the ReplicaSet controller (issue 13's attacker):
// each test names the abuse and the upstream behaviour it holds to.

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// TestHostile13LongName: a ReplicaSet named with 253 characters (a valid
// DNS subdomain) still gets its pods: upstream's generateName truncates the
// base to 58 characters before the 5 random ones
// (names.SimpleNameGenerator, maxGeneratedNameLength), so the pods are
// <first 58 chars><5 random>.
func TestHostile13LongName(t *testing.T) {
	e := setup(t)
	ctx := context.Background()
	name := strings.Repeat("a", 240) + ".b" + strings.Repeat("c", 11)
	sel := &metav1.LabelSelector{MatchLabels: map[string]string{"app": "long"}}
	if _, err := e.cs.AppsV1().ReplicaSets("default").Create(ctx, newRS(name, 2, sel, map[string]string{"app": "long"}), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "2 pods", func() bool {
		if f := e.events(t, "FailedCreate"); len(f) > 0 {
			t.Fatalf("FailedCreate: %q", f[0])
		}
		return len(e.pods(t, "app=long")) == 2
	})
	for _, p := range e.pods(t, "app=long") {
		if len(p.Name) != 63 || !strings.HasPrefix(p.Name, name[:58]) {
			t.Errorf("pod name %q (%d chars), want the first 58 of the ReplicaSet's and 5 random", p.Name, len(p.Name))
		}
	}
}

// TestHostile13OverlappingSelectors: two ReplicaSets with the same
// selector and orphans that match both ("two controllers fighting over one
// pod"): each pod ends with exactly one controller reference (the API
// refuses a second one: "Only one reference can have Controller set to
// true"), each ReplicaSet settles at its replicas, nobody flaps.
func TestHostile13OverlappingSelectors(t *testing.T) {
	e := setup(t)
	ctx := context.Background()
	lbl := map[string]string{"app": "fight"}
	for _, n := range []string{"o1", "o2", "o3", "o4", "o5"} {
		p := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: n, Labels: lbl},
			Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "busybox"}}}}
		if _, err := e.cs.CoreV1().Pods("default").Create(ctx, p, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	sel := &metav1.LabelSelector{MatchLabels: lbl}
	for _, n := range []string{"left", "right"} {
		if _, err := e.cs.AppsV1().ReplicaSets("default").Create(ctx, newRS(n, 2, sel, lbl), metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	settled := func() bool {
		owners := map[string]int{}
		for _, p := range e.pods(t, "app=fight") {
			var ctl []string
			for _, r := range p.OwnerReferences {
				if r.Controller != nil && *r.Controller {
					ctl = append(ctl, r.Name)
				}
			}
			if len(ctl) > 1 {
				t.Fatalf("pod %s has %d controllers: %v", p.Name, len(ctl), ctl)
			}
			if len(ctl) == 1 {
				owners[ctl[0]]++
			} else {
				owners[""]++
			}
		}
		return owners["left"] == 2 && owners["right"] == 2 && owners[""] == 0 &&
			e.rs(t, "left").Status.Replicas == 2 && e.rs(t, "right").Status.Replicas == 2
	}
	waitFor(t, "2 pods each, none orphaned", settled)
	time.Sleep(300 * time.Millisecond)
	if !settled() {
		t.Fatal("not settled")
	}
	// A second controller reference is refused by the API.
	p := e.pods(t, "app=fight")[0]
	p.OwnerReferences = append(p.OwnerReferences, *metav1.NewControllerRef(e.rs(t, "left"), controllerKind))
	p.OwnerReferences[len(p.OwnerReferences)-1].UID = "other-uid"
	_, err := e.cs.CoreV1().Pods("default").Update(ctx, &p, metav1.UpdateOptions{})
	if !apierrors.IsInvalid(err) || !strings.Contains(err.Error(), "Only one reference can have Controller set to true") {
		t.Errorf("two controller references: %v", err)
	}
}

// TestHostile13OwnerRefNoUID: a pod whose controller reference names the
// ReplicaSet without a uid is refused by the API ("uid must not be
// empty"), and one naming it with a wrong uid is neither counted nor
// adopted (it is another controller's, as upstream's ClaimObject).
func TestHostile13OwnerRefNoUID(t *testing.T) {
	e := setup(t)
	ctx := context.Background()
	lbl := map[string]string{"app": "nouid"}
	rs, err := e.cs.AppsV1().ReplicaSets("default").Create(ctx, newRS("nouid", 1, &metav1.LabelSelector{MatchLabels: lbl}, lbl), metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, "1 pod", func() bool { return len(e.pods(t, "app=nouid")) == 1 })
	ref := *metav1.NewControllerRef(rs, controllerKind)
	ref.UID = ""
	p := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "x", Labels: lbl, OwnerReferences: []metav1.OwnerReference{ref}},
		Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "busybox"}}}}
	if _, err := e.cs.CoreV1().Pods("default").Create(ctx, p, metav1.CreateOptions{}); !apierrors.IsInvalid(err) || !strings.Contains(err.Error(), "ownerReferences[0].uid: Required value: must not be empty") {
		t.Errorf("no uid: %v", err)
	}
	p.OwnerReferences[0].UID = "not-the-rs"
	if _, err := e.cs.CoreV1().Pods("default").Create(ctx, p, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	time.Sleep(300 * time.Millisecond)
	if n := len(e.pods(t, "app=nouid")); n != 2 {
		t.Errorf("%d pods, want the ReplicaSet's and the foreign one", n)
	}
	if st := e.rs(t, "nouid").Status; st.Replicas != 1 {
		t.Errorf("status.replicas %d, want 1", st.Replicas)
	}
}

// TestHostile13MaxReplicas: spec.replicas 2147483647 creates at most
// BurstReplicas (500) per sync, in slow-start batches, and nothing in the
// controller loops or allocates per desired replica; scaling back to 0
// then deletes what was made.
func TestHostile13MaxReplicas(t *testing.T) {
	e := setup(t)
	ctx := context.Background()
	lbl := map[string]string{"app": "max"}
	if _, err := e.cs.AppsV1().ReplicaSets("default").Create(ctx, newRS("max", 2147483647, &metav1.LabelSelector{MatchLabels: lbl}, lbl), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the first burst", func() bool { return e.creates.Load() >= 500 })
	e.scale(t, "max", 0)
	waitFor(t, "all gone", func() bool {
		return len(e.pods(t, "app=max")) == 0 && e.rs(t, "max").Status.Replicas == 0
	})
	if n := e.creates.Load(); n > 1500 {
		t.Errorf("%d creations", n)
	}
}

// TestHostile13TemplateMetadataTooBig: a template whose labels make every
// pod's metadata exceed the API's bound on pod metadata
// (api.MaxPodMetadataBytes) is refused when the ReplicaSet is created,
// naming spec.template.metadata, instead of being stored and then failing
// every pod creation for ever (FailedCreate, ReplicaFailure).
func TestHostile13TemplateMetadataTooBig(t *testing.T) {
	e := setup(t)
	ctx := context.Background()
	lbl := map[string]string{"app": "big"}
	tl := map[string]string{"app": "big"}
	for i := range 1500 {
		tl[fmt.Sprintf("%s.example.com/k%04d", strings.Repeat("p", 200), i)] = strings.Repeat("v", 63)
	}
	_, err := e.cs.AppsV1().ReplicaSets("default").Create(ctx, newRS("big", 1, &metav1.LabelSelector{MatchLabels: lbl}, tl), metav1.CreateOptions{})
	if !apierrors.IsInvalid(err) || !strings.Contains(err.Error(), "spec.template.metadata: Too long: may not be more than") {
		t.Fatalf("create: %v", err)
	}
}
