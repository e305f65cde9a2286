package apiserver

import (
	"context"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
)

// TestEvictionClientGo: pods/eviction through client-go (JSON and
// protobuf bodies): a bound pod is marked DisruptionTarget and deleted
// gracefully, an unbound one goes at once, deleteOptions are honoured,
// and discovery tells kubectl drain where eviction lives.
func TestEvictionClientGo(t *testing.T) {
	e := newEnv(t, HandlerOptions{})
	for _, ct := range []string{"application/json", "application/vnd.kubernetes.protobuf"} {
		cfg := TCPConfig(e.srv.URL, "")
		cfg.ContentType = ct
		cs, err := kubernetes.NewForConfig(cfg)
		if err != nil {
			t.Fatal(err)
		}
		ctx := context.Background()
		// Pods are made in JSON (this server reads protobuf bodies of
		// reviews and evictions only); evictions go in ct.
		pods := cs.CoreV1().Pods("default")
		jsonPods := e.client(t, "http").CoreV1().Pods("default")
		bound := httpPod("bound")
		bound.Spec.NodeName = "node-1"
		if _, err := jsonPods.Create(ctx, bound, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		if _, err := jsonPods.Create(ctx, httpPod("unbound"), metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		if err := cs.PolicyV1().Evictions("default").Evict(ctx, &policyv1.Eviction{ObjectMeta: metav1.ObjectMeta{Name: "bound", Namespace: "default"}}); err != nil {
			t.Fatalf("%s: evict bound: %v", ct, err)
		}
		p, err := pods.Get(ctx, "bound", metav1.GetOptions{})
		if err != nil || p.DeletionTimestamp == nil || *p.DeletionGracePeriodSeconds != 30 {
			t.Fatalf("%s: evicted bound pod: %+v %v", ct, p, err)
		}
		var cond *corev1.PodCondition
		for i := range p.Status.Conditions {
			if p.Status.Conditions[i].Type == corev1.DisruptionTarget {
				cond = &p.Status.Conditions[i]
			}
		}
		if cond == nil || cond.Status != corev1.ConditionTrue || cond.Reason != "EvictionByEvictionAPI" || cond.Message != "Eviction API: evicting" {
			t.Errorf("%s: DisruptionTarget condition: %+v", ct, p.Status.Conditions)
		}
		// A shorter grace period through deleteOptions finishes it.
		zero := int64(0)
		if err := pods.EvictV1(ctx, &policyv1.Eviction{ObjectMeta: metav1.ObjectMeta{Name: "bound"}, DeleteOptions: &metav1.DeleteOptions{GracePeriodSeconds: &zero}}); err != nil {
			t.Fatalf("%s: evict with grace 0: %v", ct, err)
		}
		if _, err := pods.Get(ctx, "bound", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
			t.Fatalf("%s: after grace 0: %v", ct, err)
		}
		// A stale resourceVersion precondition is a conflict; a current
		// one works although the condition moves the version.
		u, _ := pods.Get(ctx, "unbound", metav1.GetOptions{})
		stale := "1"
		err = pods.EvictV1(ctx, &policyv1.Eviction{ObjectMeta: metav1.ObjectMeta{Name: "unbound"}, DeleteOptions: &metav1.DeleteOptions{Preconditions: &metav1.Preconditions{ResourceVersion: &stale}}})
		wantStatus(t, err, 409, metav1.StatusReasonConflict, "")
		if err := pods.EvictV1(ctx, &policyv1.Eviction{ObjectMeta: metav1.ObjectMeta{Name: "unbound"}, DeleteOptions: &metav1.DeleteOptions{Preconditions: &metav1.Preconditions{ResourceVersion: &u.ResourceVersion}}}); err != nil {
			t.Fatalf("%s: evict unbound: %v", ct, err)
		}
		if _, err := pods.Get(ctx, "unbound", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
			t.Fatalf("%s: unbound after eviction: %v", ct, err)
		}
		err = pods.EvictV1(ctx, &policyv1.Eviction{ObjectMeta: metav1.ObjectMeta{Name: "gone"}})
		wantStatus(t, err, 404, metav1.StatusReasonNotFound, `pods "gone" not found`)
	}
	do(t, e, "POST", "/api/v1/namespaces/default/pods/a/eviction", "application/json", `{"apiVersion":"policy/v1","kind":"Eviction","metadata":{"name":"b"}}`).
		want(t, 400, metav1.StatusReasonBadRequest, "name in URL does not match name in Eviction object")
	do(t, e, "GET", "/api/v1/namespaces/default/pods/a/eviction", "", "").want(t, 405, metav1.StatusReasonMethodNotAllowed, "")

	res, err := e.client(t, "http").Discovery().ServerResourcesForGroupVersion("v1")
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, r := range res.APIResources {
		if r.Name == "pods/eviction" {
			found = r.Group == "policy" && r.Version == "v1" && r.Kind == "Eviction" && strings.Join(r.Verbs, ",") == "create"
		}
	}
	if !found {
		t.Errorf("discovery: no pods/eviction in policy/v1: %+v", res.APIResources)
	}
}

// TestEvictionRealKubectlDrain: kubectl drain cordons the node and evicts
// its pods through pods/eviction.
func TestEvictionRealKubectlDrain(t *testing.T) {
	e := newEnv(t, HandlerOptions{})
	cs := e.client(t, "http")
	ctx := context.Background()
	if _, err := cs.CoreV1().Nodes().Create(ctx, &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "node-1"}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"web-1", "web-2"} {
		p := httpPod(name)
		p.Spec.NodeName = "node-1"
		zero := int64(0)
		p.Spec.TerminationGracePeriodSeconds = &zero
		if _, err := cs.CoreV1().Pods("default").Create(ctx, p, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	k := newKubectl(t, e.srv.URL)
	var out, errb syncBuffer
	c := k.cmd("drain", "node-1", "--force")
	c.Stdout, c.Stderr = &out, &errb
	if err := c.Run(); err != nil {
		t.Fatalf("kubectl drain: %v\n%s%s", err, out.String(), errb.String())
	}
	t.Logf("stdout:\n%s\nstderr:\n%s", out.String(), errb.String())
	for _, want := range []string{"node/node-1 cordoned", "evicting pod default/web-1", "evicting pod default/web-2", "pod/web-1 evicted", "pod/web-2 evicted", "node/node-1 drained"} {
		if !strings.Contains(out.String()+errb.String(), want) {
			t.Errorf("kubectl drain output lacks %q", want)
		}
	}
	if l, _ := cs.CoreV1().Pods("default").List(ctx, metav1.ListOptions{}); len(l.Items) != 0 {
		t.Errorf("pods left after drain: %d", len(l.Items))
	}
	if n, _ := cs.CoreV1().Nodes().Get(ctx, "node-1", metav1.GetOptions{}); !n.Spec.Unschedulable {
		t.Errorf("node not cordoned")
	}
	if reqs := e.requests(); !strings.Contains(reqs, "POST /api/v1/namespaces/default/pods/web-1/eviction") {
		t.Errorf("drain did not use pods/eviction:\n%s", reqs)
	}
}
