package wasmpod_test

// The ReplicaSet controller with real pods (the toolbox as busybox) and
// the real kubectl with default flags. Upstream behaviours:
// test/e2e/apps/replica_set.go — "should serve a basic image on each
// replica", "Replicaset should have a working scale subresource",
// "should adopt matching pods on creation and release no longer matching
// pods" (ConformanceIt), and the controller's replace-a-deleted-pod loop.

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"regexp"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

const rsManifest = `apiVersion: apps/v1
kind: ReplicaSet
metadata:
  name: frontend
  labels: {app: guestbook}
spec:
  replicas: 2
  selector:
    matchLabels: {tier: frontend}
    matchExpressions:
    - {key: env, operator: NotIn, values: [prod]}
    - {key: app, operator: Exists}
  template:
    metadata:
      labels: {tier: frontend, app: guestbook}
    spec:
      terminationGracePeriodSeconds: 1
      containers:
      - name: php-redis
        image: busybox
        command: ["sh", "-c", "sleep 3600"]
`

// rsPods lists the pods of the ReplicaSet named (controlled by it), not
// being deleted, and whether all of them are Ready.
func rsPods(t *testing.T, e *streamEnv, sel, rsName string) ([]corev1.Pod, bool) {
	t.Helper()
	l, err := e.c.Client().CoreV1().Pods("default").List(context.Background(), metav1.ListOptions{LabelSelector: sel})
	if err != nil {
		t.Fatal(err)
	}
	var out []corev1.Pod
	ready := true
	for _, p := range l.Items {
		ref := metav1.GetControllerOf(&p)
		if p.DeletionTimestamp != nil || ref == nil || ref.Name != rsName {
			continue
		}
		out = append(out, p)
		ready = ready && podReady(&p) == corev1.ConditionTrue
	}
	return out, ready
}

func TestReplicaSetKubectl(t *testing.T) {
	t.Parallel()
	e := newToolboxEnv(t)
	cs := e.c.Client()
	ctx := context.Background()
	if out, errOut, code := e.run(t, rsManifest, "apply", "-f", "-"); code != 0 || !strings.Contains(out, "replicaset.apps/frontend created") {
		t.Fatalf("apply: %d %s%s", code, out, errOut)
	}
	waitReady := func(n int) []corev1.Pod {
		t.Helper()
		var ps []corev1.Pod
		waitFor(t, "ready pods", 90*time.Second, func() bool {
			var ok bool
			ps, ok = rsPods(t, e, "tier=frontend", "frontend")
			if len(ps) != n || !ok {
				return false
			}
			rs, err := cs.AppsV1().ReplicaSets("default").Get(ctx, "frontend", metav1.GetOptions{})
			return err == nil && int(rs.Status.ReadyReplicas) == n && int(rs.Status.Replicas) == n
		})
		return ps
	}
	// kubectl get rs: upstream's columns, the numbers.
	getRS := func(want string) {
		t.Helper()
		out := e.must(t, "get", "rs", "frontend")
		lines := strings.Split(strings.TrimSpace(out), "\n")
		if len(lines) != 2 || !regexp.MustCompile(`^NAME\s+DESIRED\s+CURRENT\s+READY\s+AGE$`).MatchString(lines[0]) ||
			!regexp.MustCompile(`^frontend\s+`+want+`\s+\d+s$`).MatchString(lines[1]) {
			t.Fatalf("kubectl get rs frontend, want %q:\n%s", want, out)
		}
	}
	ps := waitReady(2)
	for _, p := range ps {
		if !regexp.MustCompile(`^frontend-[a-z0-9]{5}$`).MatchString(p.Name) {
			t.Errorf("pod name %q, want frontend-<5 chars>", p.Name)
		}
	}
	getRS(`2\s+2\s+2`)

	// kubectl scale rs (the scale subresource), up.
	if out := e.must(t, "scale", "rs", "frontend", "--replicas=4"); !strings.Contains(out, "replicaset.apps/frontend scaled") {
		t.Fatalf("scale: %q", out)
	}
	ps = waitReady(4)
	getRS(`4\s+4\s+4`)

	// A deleted pod is replaced.
	victim := ps[0].Name
	e.must(t, "delete", "pod", victim, "--wait=false")
	waitFor(t, "a replacement for the deleted pod", 90*time.Second, func() bool {
		ps, ok := rsPods(t, e, "tier=frontend", "frontend")
		if len(ps) != 4 || !ok {
			return false
		}
		for _, p := range ps {
			if p.Name == victim {
				return false
			}
		}
		return true
	})

	// A relabelled pod is released (no owner reference) and replaced.
	ps, _ = rsPods(t, e, "tier=frontend", "frontend")
	released := ps[0].Name
	e.must(t, "label", "pod", released, "tier=debug", "--overwrite")
	waitFor(t, "the relabelled pod released", 30*time.Second, func() bool {
		out := e.must(t, "get", "pod", released, "-o", "jsonpath={.metadata.ownerReferences}")
		return strings.TrimSpace(out) == ""
	})
	waitReady(4)
	if p := getPod(t, cs, released); p.DeletionTimestamp != nil || p.Status.Phase != corev1.PodRunning {
		t.Errorf("released pod %s: phase %s, deleting %v: it must keep running", released, p.Status.Phase, p.DeletionTimestamp)
	}

	// An orphan that matches is adopted, with no extra pod created.
	if out, errOut, code := e.run(t, "", "run", "adoptee", "--image=busybox", "--labels=name=adoptee,app=x", "--restart=Always", "--command", "--", "sh", "-c", "sleep 3600"); code != 0 {
		t.Fatalf("kubectl run: %d %s%s", code, out, errOut)
	}
	adoptRS := strings.NewReplacer("name: frontend", "name: adoptee", "tier: frontend", "name: adoptee", "replicas: 2", "replicas: 1").Replace(rsManifest)
	if out, errOut, code := e.run(t, adoptRS, "apply", "-f", "-"); code != 0 {
		t.Fatalf("apply: %d %s%s", code, out, errOut)
	}
	waitFor(t, "the orphan adopted", 30*time.Second, func() bool {
		ref := metav1.GetControllerOf(getPod(t, cs, "adoptee"))
		return ref != nil && ref.Kind == "ReplicaSet" && ref.Name == "adoptee" && ref.BlockOwnerDeletion != nil && *ref.BlockOwnerDeletion
	})
	waitFor(t, "adoptee status", 30*time.Second, func() bool {
		rs, err := cs.AppsV1().ReplicaSets("default").Get(ctx, "adoptee", metav1.GetOptions{})
		return err == nil && rs.Status.Replicas == 1 && rs.Status.ReadyReplicas == 1
	})
	if out := e.must(t, "get", "pods", "-l", "name=adoptee", "-o", "name"); strings.TrimSpace(out) != "pod/adoptee" {
		t.Errorf("pods of the adopting ReplicaSet:\n%s\nwant only pod/adoptee", out)
	}

	// Events with upstream's words.
	ev := e.must(t, "get", "events", "--field-selector", "involvedObject.name=frontend")
	for _, re := range []string{`Normal\s+SuccessfulCreate\s+replicaset/frontend\s+Created pod: frontend-[a-z0-9]{5}`} {
		if !regexp.MustCompile(re).MatchString(ev) {
			t.Errorf("events lack %s:\n%s", re, ev)
		}
	}

	// Down to 0: every pod goes.
	e.must(t, "scale", "rs", "frontend", "--replicas=0")
	waitFor(t, "all pods gone", 90*time.Second, func() bool {
		l, err := cs.CoreV1().Pods("default").List(ctx, metav1.ListOptions{LabelSelector: "tier=frontend"})
		return err == nil && len(l.Items) == 0
	})
	getRS(`0\s+0\s+0`)
	ev = e.must(t, "get", "events", "--field-selector", "involvedObject.name=frontend,reason=SuccessfulDelete")
	if n := len(regexp.MustCompile(`Deleted pod: frontend-[a-z0-9]{5}`).FindAllString(ev, -1)); n != 4 {
		t.Errorf("%d SuccessfulDelete events for the scale to 0, want 4:\n%s", n, ev)
	}
}

// testCAPEM is a self-signed CA certificate: given to the API server as
// its root CA it turns on the ServiceAccount admission.
func testCAPEM(t *testing.T) []byte {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "rs-test-ca"}, NotBefore: time.Now().Add(-time.Hour),
		NotAfter: time.Now().Add(time.Hour), IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
}

// TestReplicaSetFailureCondition: upstream's "should surface a failure
// condition on a common issue like exceeded quota" (ConformanceIt,
// replica_set.go), with the API's refusal of a pod whose service account
// does not exist (403 Forbidden, as a quota's) in place of the quota,
// which wasmpod's API server does not have: the ReplicaFailure condition
// (FailedCreate, the API's message) and FailedCreate events as kubectl
// describe shows them; once the account exists the pods are created and
// the condition goes.
func TestReplicaSetFailureCondition(t *testing.T) {
	t.Parallel()
	e := newToolboxEnv(t)
	e.c.Server().SetRootCA(testCAPEM(t))
	manifest := strings.NewReplacer("name: frontend", "name: condition-test", "replicas: 2", "replicas: 3",
		"terminationGracePeriodSeconds: 1", "terminationGracePeriodSeconds: 1\n      serviceAccountName: missing").Replace(rsManifest)
	if out, errOut, code := e.run(t, manifest, "apply", "-f", "-"); code != 0 {
		t.Fatalf("apply: %d %s%s", code, out, errOut)
	}
	waitFor(t, "ReplicaFailure", 60*time.Second, func() bool {
		out, _, _ := e.run(t, "", "get", "rs", "condition-test", "-o", `jsonpath={.status.conditions[?(@.type=="ReplicaFailure")].reason}`)
		return out == "FailedCreate"
	})
	out := e.must(t, "describe", "rs", "condition-test")
	for _, re := range []string{
		`(?m)^\s+ReplicaFailure\s+True\s+FailedCreate$`,
		`Warning\s+FailedCreate\s+\S+\s+replicaset-controller\s+Error creating: pods "condition-test-\S*" is forbidden: error looking up service account default/missing: serviceaccount "missing" not found`,
		`(?m)^Replicas:\s+0 current / 3 desired$`,
	} {
		if !regexp.MustCompile(re).MatchString(out) {
			t.Errorf("kubectl describe rs lacks %s:\n%s", re, out)
		}
	}
	e.must(t, "create", "serviceaccount", "missing")
	waitFor(t, "3 pods, the condition gone", 60*time.Second, func() bool {
		rs, err := e.c.Client().AppsV1().ReplicaSets("default").Get(context.Background(), "condition-test", metav1.GetOptions{})
		return err == nil && rs.Status.Replicas == 3 && len(rs.Status.Conditions) == 0
	})
}
