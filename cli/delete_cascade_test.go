package cli

// wasmpod delete --cascade against a real API server with the garbage
// collector (controllers/garbagecollector) running, as kubectl delete
// --cascade: upstream test/e2e/apimachinery/garbage_collector.go "should
// keep the rc around until all its pods are deleted if the deleteOptions
// says so" and "should orphan pods created by rc if delete options say so".

import (
	"context"
	"slices"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/metadata"

	"github.com/wasmpod/wasmpod/apiserver"
	"github.com/wasmpod/wasmpod/controllers/garbagecollector"
)

func TestDeleteCascade(t *testing.T) {
	e := newEnv(t)
	ctx, cancel := context.WithCancel(context.Background())
	md, err := metadata.NewForConfig(apiserver.UnixSocketConfig(e.server[len("unix://"):]))
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { defer close(done); garbagecollector.New(e.cs, md, nil).Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })

	cms := e.cs.CoreV1().ConfigMaps("default")
	mk := func(name string, fins []string, owner *corev1.ConfigMap) *corev1.ConfigMap {
		cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: name, Finalizers: fins}}
		if owner != nil {
			yes := true
			cm.OwnerReferences = []metav1.OwnerReference{{APIVersion: "v1", Kind: "ConfigMap", Name: owner.Name, UID: owner.UID, BlockOwnerDeletion: &yes}}
		}
		cm, err := cms.Create(ctx, cm, metav1.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		return cm
	}
	waitFor := func(what string, f func() bool) {
		t.Helper()
		for deadline := time.Now().Add(20 * time.Second); !f(); time.Sleep(20 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("timed out waiting for %s", what)
			}
		}
	}
	gone := func(name string) func() bool {
		return func() bool { _, err := cms.Get(ctx, name, metav1.GetOptions{}); return apierrors.IsNotFound(err) }
	}

	// Foreground: the owner stays, marked, while a blocking dependent does.
	fg := mk("fg", nil, nil)
	mk("fg-dep", []string{"example.com/hold"}, fg)
	time.Sleep(200 * time.Millisecond) // the collector has seen the dependent
	if out := e.ok("delete", "configmap", "fg", "--cascade=foreground", "--wait=false"); out != "configmap \"fg\" deleted\n" {
		t.Fatalf("delete --cascade=foreground: %q", out)
	}
	waitFor("fg-dep terminating", func() bool {
		d, err := cms.Get(ctx, "fg-dep", metav1.GetOptions{})
		return err == nil && d.DeletionTimestamp != nil
	})
	o, err := cms.Get(ctx, "fg", metav1.GetOptions{})
	if err != nil || o.DeletionTimestamp == nil || !slices.Equal(o.Finalizers, []string{metav1.FinalizerDeleteDependents}) {
		t.Fatalf("owner during foreground deletion: %v %+v", err, o)
	}
	if _, err := cms.Patch(ctx, "fg-dep", types.MergePatchType, []byte(`{"metadata":{"finalizers":null}}`), metav1.PatchOptions{}); err != nil {
		t.Fatal(err)
	}
	waitFor("fg gone", gone("fg"))

	// Orphan (and the deprecated --cascade=false): dependents stay,
	// without the reference; --wait returns once the owner is gone.
	for _, flag := range []string{"--cascade=orphan", "--cascade=false"} {
		or := mk("or", nil, nil)
		mk("or-dep", nil, or)
		time.Sleep(200 * time.Millisecond)
		out, errOut, code := e.run("delete", "configmap", "or", flag)
		wantErr := ""
		if flag == "--cascade=false" {
			wantErr = "warning: --cascade=false is deprecated (boolean value) and can be replaced with --cascade=orphan.\n"
		}
		if code != 0 || out != "configmap \"or\" deleted\n" || errOut != wantErr {
			t.Fatalf("delete %s: %d %q %q", flag, code, out, errOut)
		}
		d, err := cms.Get(ctx, "or-dep", metav1.GetOptions{})
		if err != nil || len(d.OwnerReferences) != 0 {
			t.Fatalf("%s: dependent %v %+v", flag, err, d)
		}
		e.ok("delete", "configmap", "or-dep")
	}

	// Background (the default): the dependent follows its owner.
	bg := mk("bg", nil, nil)
	mk("bg-dep", nil, bg)
	e.ok("delete", "configmap", "bg")
	waitFor("bg-dep gone", gone("bg-dep"))

	if got := e.fail(1, "delete", "configmap", "x", "--cascade=sideways"); got != "error: invalid cascade value (sideways). Must be \"background\", \"foreground\", or \"orphan\"\n" {
		t.Fatalf("bad --cascade: %q", got)
	}
}
