package wasmpod_test

// The garbage collector with real pods (the toolbox as busybox), the
// ReplicaSet controller and the real kubectl with default flags. Upstream
// behaviours: test/e2e/apimachinery/garbage_collector.go "should keep the
// rc around until all its pods are deleted if the deleteOptions says so"
// (foreground), "should orphan pods created by rc if delete options say
// so" and "should delete pods created by rc when not orphaning"
// (background, kubectl's default).

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func TestGarbageCollectorKubectl(t *testing.T) {
	e := newToolboxEnv(t)
	cs := e.c.Client()
	ctx := context.Background()
	manifest := func(name string) string {
		return strings.NewReplacer("frontend", name, "tier: frontend", "tier: "+name, "tier=frontend", "tier="+name).Replace(rsManifest)
	}
	start := func(name string) {
		t.Helper()
		if out, errOut, code := e.run(t, manifest(name), "apply", "-f", "-"); code != 0 {
			t.Fatalf("apply: %d %s%s", code, out, errOut)
		}
		waitFor(t, name+" ready", 90*time.Second, func() bool {
			ps, ok := rsPods(t, e, "tier="+name, name)
			return len(ps) == 2 && ok
		})
	}
	pods := func(name string) int {
		l, err := cs.CoreV1().Pods("default").List(ctx, metav1.ListOptions{LabelSelector: "tier=" + name})
		if err != nil {
			t.Fatal(err)
		}
		return len(l.Items)
	}

	// Foreground: the ReplicaSet is kept, marked, until its pods are gone.
	start("fg")
	e.must(t, "delete", "rs", "fg", "--cascade=foreground", "--wait=false")
	rs, err := cs.AppsV1().ReplicaSets("default").Get(ctx, "fg", metav1.GetOptions{})
	if err != nil || rs.DeletionTimestamp == nil || !slices.Contains(rs.Finalizers, metav1.FinalizerDeleteDependents) {
		t.Fatalf("owner right after a foreground delete: %v %+v", err, rs)
	}
	waitFor(t, "fg gone", 60*time.Second, func() bool {
		_, err := cs.AppsV1().ReplicaSets("default").Get(ctx, "fg", metav1.GetOptions{})
		if !apierrors.IsNotFound(err) {
			return false
		}
		if n := pods("fg"); n != 0 {
			t.Fatalf("the ReplicaSet went before its %d pods", n)
		}
		return true
	})

	// Orphan: the ReplicaSet goes, its pods keep running without the
	// reference.
	start("or")
	e.must(t, "delete", "rs", "or", "--cascade=orphan")
	l, err := cs.CoreV1().Pods("default").List(ctx, metav1.ListOptions{LabelSelector: "tier=or"})
	if err != nil || len(l.Items) != 2 {
		t.Fatalf("orphaned pods: %v %d", err, len(l.Items))
	}
	for _, p := range l.Items {
		if len(p.OwnerReferences) != 0 || p.DeletionTimestamp != nil {
			t.Fatalf("orphaned pod %s: owners %v deletionTimestamp %v", p.Name, p.OwnerReferences, p.DeletionTimestamp)
		}
		if out := e.must(t, "get", "pod", p.Name, "-o", "jsonpath={.status.phase}{.metadata.ownerReferences}"); out != "Running" {
			t.Fatalf("kubectl get orphaned pod: %q", out)
		}
	}

	// Background (kubectl's default): the pods follow the ReplicaSet.
	start("bg")
	e.must(t, "delete", "rs", "bg")
	waitFor(t, "bg pods gone", 60*time.Second, func() bool { return pods("bg") == 0 })
	e.must(t, "delete", "pods", "-l", "tier=or", "--wait=false")
}
