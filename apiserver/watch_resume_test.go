package apiserver

import (
	"context"
	"fmt"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/watch"
)

// TestWatchResumedWithSelector: a selector watch resumed from a revision
// (a node agent's informer after a partition) gets, for the events it
// missed, what upstream's filter on the previous object gives: the
// deletion of a pod bound to its node while it was away, a pod bound to it
// meanwhile as one ADDED (not a DELETED of its unbound creation first),
// and nothing of pods of other nodes.
func TestWatchResumedWithSelector(t *testing.T) {
	s, _ := newServer(t)
	ctx := context.Background()
	pods := res(t, s, "", "pods")
	bind := func(name, node string) {
		t.Helper()
		if err := s.Bind(ctx, "default", &corev1.Binding{ObjectMeta: metav1.ObjectMeta{Name: name}, Target: corev1.ObjectReference{Name: node}}); err != nil {
			t.Fatal(err)
		}
	}
	for _, n := range []string{"gone", "stays"} {
		if _, err := s.Create(ctx, pods, "default", testPod(n)); err != nil {
			t.Fatal(err)
		}
		bind(n, "n1")
	}
	list, err := s.List(ctx, pods, "default", metav1.ListOptions{FieldSelector: "spec.nodeName=n1"})
	if err != nil {
		t.Fatal(err)
	}
	lm, _ := meta.ListAccessor(list)
	resumeAt := lm.GetResourceVersion()

	// While the watcher is away: "gone" is deleted, "new" is created and
	// bound to n1, "other" is created and bound to n2.
	zero := int64(0)
	if _, err := s.Delete(ctx, pods, "default", "gone", metav1.DeleteOptions{GracePeriodSeconds: &zero}); err != nil {
		t.Fatal(err)
	}
	for _, p := range []struct{ name, node string }{{"new", "n1"}, {"other", "n2"}} {
		if _, err := s.Create(ctx, pods, "default", testPod(p.name)); err != nil {
			t.Fatal(err)
		}
		bind(p.name, p.node)
	}

	w, err := s.Watch(ctx, pods, "default", metav1.ListOptions{FieldSelector: "spec.nodeName=n1", ResourceVersion: resumeAt})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Stop()
	var got []string
	timeout := time.After(5 * time.Second)
	for len(got) < 2 {
		select {
		case ev := <-w.ResultChan():
			m, _ := meta.Accessor(ev.Object)
			got = append(got, fmt.Sprintf("%s %s", ev.Type, m.GetName()))
		case <-timeout:
			t.Fatalf("resumed watch: %v, want [DELETED gone, ADDED new]", got)
		}
	}
	if got[0] != string(watch.Deleted)+" gone" || got[1] != string(watch.Added)+" new" {
		t.Fatalf("resumed watch: %v, want [DELETED gone, ADDED new]", got)
	}
	// Live events after the replay keep the usual filtering: "new" moves
	// off n1 by its deletion, "other" changes without concern to n1.
	if _, err := s.Delete(ctx, pods, "default", "new", metav1.DeleteOptions{GracePeriodSeconds: &zero}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Delete(ctx, pods, "default", "other", metav1.DeleteOptions{GracePeriodSeconds: &zero}); err != nil {
		t.Fatal(err)
	}
	select {
	case ev := <-w.ResultChan():
		if m, _ := meta.Accessor(ev.Object); ev.Type != watch.Deleted || m.GetName() != "new" {
			t.Fatalf("live event: %s %s, want DELETED new", ev.Type, m.GetName())
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no live DELETED of new")
	}
	select {
	case ev := <-w.ResultChan():
		m, _ := meta.Accessor(ev.Object)
		t.Fatalf("an event of another node's pod: %s %s", ev.Type, m.GetName())
	case <-time.After(200 * time.Millisecond):
	}
}
