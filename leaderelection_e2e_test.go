package wasmpod_test

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/utils/ptr"

	"github.com/wasmpod/wasmpod"
	"github.com/wasmpod/wasmpod/internal/testwasm"
	"github.com/wasmpod/wasmpod/store/etcd/etcdtest"
)

// syncBuffer is a Progress writer two goroutines may write.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestHAControlPlaneHandsOver: two control planes on one embedded etcd
// (issue 15 §4). "a", without nodes, starts first and leads both Leases
// (kube-system/kube-scheduler and kube-controller-manager); "b", with the
// one node, follows and runs neither the scheduler nor a controller while
// "a" leads. Both hold the same CA, ServiceAccount key and token, and a
// ServiceAccount token issued by one authenticates on the other. A
// ReplicaSet of 3 and a pod made under "a" are scheduled by it; "a" closes
// (releasing its Leases) and "b" takes over within the retry period; the
// ReplicaSet scaled to 5 and a second pod are handled by "b". Each pod is
// created once, scheduled once (one Scheduled event) and runs with status.
func TestHAControlPlaneHandsOver(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	srv := etcdtest.Start(t, t.TempDir(), etcdtest.Options{})
	le := func(id string) wasmpod.LeaderElectionConfig {
		// Short real durations: client-go's elector takes no clock.
		return wasmpod.LeaderElectionConfig{LeaseDuration: 4 * time.Second, RenewDeadline: 3 * time.Second, RetryPeriod: 250 * time.Millisecond, Identity: id}
	}
	var progA, progB syncBuffer
	dirA, dirB := t.TempDir(), t.TempDir()
	a, err := wasmpod.New(ctx, wasmpod.Config{Etcd: wasmpod.EtcdConfig{Servers: srv.Endpoints()}, NoLocalNodes: true,
		DataDir: dirA, CacheDir: testwasm.CacheDir(), LeaderElection: le("a"), Progress: &progA})
	if err != nil {
		t.Fatal(err)
	}
	aOpen := true
	defer func() {
		if aOpen {
			a.Close()
		}
	}()
	holder := func(c *wasmpod.Cluster, lease string) string {
		l, err := c.Client().CoordinationV1().Leases("kube-system").Get(ctx, lease, metav1.GetOptions{})
		if err != nil || l.Spec.HolderIdentity == nil {
			return ""
		}
		return *l.Spec.HolderIdentity
	}
	leases := []string{wasmpod.SchedulerLease, wasmpod.ControllerManagerLease}
	waitFor(t, "a to lead both leases", 30*time.Second, func() bool {
		return holder(a, leases[0]) == "a" && holder(a, leases[1]) == "a" && strings.Count(progA.String(), "acquired lease") == 2
	})
	b, err := wasmpod.New(ctx, wasmpod.Config{Etcd: wasmpod.EtcdConfig{Servers: srv.Endpoints()}, NodeSpecs: []wasmpod.NodeSpec{{Name: "b-1"}},
		DataDir: dirB, CacheDir: testwasm.CacheDir(), LeaderElection: le("b"), Progress: &progB})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()

	// The cluster's secrets agree.
	for _, f := range []string{"pki/ca.crt", "pki/ca.key", "pki/sa.key", "token"} {
		fa, errA := os.ReadFile(filepath.Join(dirA, f))
		fb, errB := os.ReadFile(filepath.Join(dirB, f))
		if errA != nil || errB != nil || !bytes.Equal(fa, fb) || len(fa) == 0 {
			t.Fatalf("%s differs between the replicas' data dirs (%v, %v)", f, errA, errB)
		}
		if st, err := os.Stat(filepath.Join(dirB, f)); err != nil || st.Mode().Perm() != 0o600 {
			t.Fatalf("%s: %v %v", f, st.Mode(), err)
		}
	}
	var tr *authenticationv1.TokenRequest
	waitFor(t, "the default ServiceAccount (made by a's controller)", 30*time.Second, func() bool {
		tr, err = a.Client().CoreV1().ServiceAccounts("default").CreateToken(ctx, "default", &authenticationv1.TokenRequest{}, metav1.CreateOptions{})
		return err == nil
	})
	rv, err := b.Client().AuthenticationV1().TokenReviews().Create(ctx, &authenticationv1.TokenReview{Spec: authenticationv1.TokenReviewSpec{Token: tr.Status.Token}}, metav1.CreateOptions{})
	if err != nil || !rv.Status.Authenticated || rv.Status.User.Username != "system:serviceaccount:default:default" {
		t.Fatalf("a ServiceAccount token issued by a, reviewed by b: %v %+v", err, rv)
	}

	image := filepath.Join(t.TempDir(), "graceful.wasm")
	if err := os.WriteFile(image, testwasm.Build(t, filepath.Join(testwasm.RepoRoot(t), "wasm-examples", "graceful")), 0o644); err != nil {
		t.Fatal(err)
	}
	podSpec := corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: image}}, TerminationGracePeriodSeconds: ptr.To[int64](1)}
	labels := map[string]string{"app": "ha"}
	rs := &appsv1.ReplicaSet{ObjectMeta: metav1.ObjectMeta{Name: "ha"}, Spec: appsv1.ReplicaSetSpec{Replicas: ptr.To[int32](3),
		Selector: &metav1.LabelSelector{MatchLabels: labels},
		Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: labels}, Spec: podSpec}}}
	if _, err := a.Client().AppsV1().ReplicaSets("default").Create(ctx, rs, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := a.Client().CoreV1().Pods("default").Create(ctx, &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "before"}, Spec: podSpec}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	running := func(n int) func() bool {
		return func() bool {
			pl, err := b.Client().CoreV1().Pods("default").List(ctx, metav1.ListOptions{})
			if err != nil {
				return false
			}
			r := 0
			for _, p := range pl.Items {
				if p.Status.Phase == corev1.PodRunning {
					r++
				}
			}
			return r == n
		}
	}
	waitFor(t, "4 pods Running (made and scheduled under a)", 2*time.Minute, running(4))
	if strings.Contains(progB.String(), "acquired lease") {
		t.Fatalf("b led while a held the leases:\n%s", progB.String())
	}
	for _, l := range leases {
		if h := holder(b, l); h != "a" {
			t.Fatalf("lease %s held by %q, want a", l, h)
		}
	}

	// a stops, releasing its leases: b takes over.
	closed := time.Now()
	if err := a.Close(); err != nil {
		t.Fatal(err)
	}
	aOpen = false
	waitFor(t, "b to lead both leases", 30*time.Second, func() bool {
		return holder(b, leases[0]) == "b" && holder(b, leases[1]) == "b" && strings.Count(progB.String(), "acquired lease") == 2
	})
	t.Logf("b took over %v after a closed (retry period 250ms)", time.Since(closed).Round(time.Millisecond))

	cur, err := b.Client().AppsV1().ReplicaSets("default").Get(ctx, "ha", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	cur.Spec.Replicas = ptr.To[int32](5)
	if _, err := b.Client().AppsV1().ReplicaSets("default").Update(ctx, cur, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := b.Client().CoreV1().Pods("default").Create(ctx, &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "after"}, Spec: podSpec}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "7 pods Running (the last 3 made and scheduled under b)", 2*time.Minute, running(7))
	time.Sleep(time.Second) // room for a wrongly doubled creation or binding to show

	pl, err := b.Client().CoreV1().Pods("default").List(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	owned := 0
	for _, p := range pl.Items {
		if len(p.OwnerReferences) == 1 && p.OwnerReferences[0].Name == "ha" {
			owned++
		}
		if p.Spec.NodeName != "b-1" || p.Status.Phase != corev1.PodRunning || len(p.Status.ContainerStatuses) != 1 || p.Status.ContainerStatuses[0].State.Running == nil {
			t.Errorf("pod %s: node %q, status %+v", p.Name, p.Spec.NodeName, p.Status)
		}
		evs, err := b.Client().CoreV1().Events("default").List(ctx, metav1.ListOptions{FieldSelector: fields.Set{
			"involvedObject.name": p.Name, "involvedObject.uid": string(p.UID), "reason": "Scheduled"}.String()})
		if err != nil {
			t.Fatal(err)
		}
		if len(evs.Items) != 1 || evs.Items[0].Count != 1 {
			var msgs []string
			for _, e := range evs.Items {
				msgs = append(msgs, fmt.Sprintf("%s x%d", e.Message, e.Count))
			}
			t.Errorf("pod %s scheduled %d times: %v", p.Name, len(evs.Items), msgs)
		}
	}
	if len(pl.Items) != 7 || owned != 5 {
		t.Fatalf("%d pods, %d of the ReplicaSet; want 7 and 5", len(pl.Items), owned)
	}
	// The elections' own Events, as upstream's: "<identity> became leader".
	evs, err := b.Client().CoreV1().Events("kube-system").List(ctx, metav1.ListOptions{FieldSelector: "reason=LeaderElection"})
	if err != nil {
		t.Fatal(err)
	}
	became := map[string]bool{}
	for _, e := range evs.Items {
		became[e.InvolvedObject.Name+" "+e.Message] = true
	}
	for _, l := range leases {
		for _, id := range []string{"a", "b"} {
			if !became[l+" "+id+" became leader"] {
				t.Errorf("no event %q on Lease %s; events: %v", id+" became leader", l, became)
			}
		}
	}
}

// TestHAConfigErrors: leader election durations that cannot work, and a
// replica whose data dir holds a secret other than the cluster's, are
// refused with errors naming the setting or the file.
func TestHAConfigErrors(t *testing.T) {
	ctx := context.Background()
	srv := etcdtest.Start(t, t.TempDir(), etcdtest.Options{})
	for _, tc := range []struct {
		le   wasmpod.LeaderElectionConfig
		want string
	}{
		{wasmpod.LeaderElectionConfig{LeaseDuration: 10 * time.Second, RenewDeadline: 10 * time.Second}, "leaderElection.leaseDuration (--leader-elect-lease-duration) 10s must be greater than renewDeadline"},
		{wasmpod.LeaderElectionConfig{RenewDeadline: 2 * time.Second, RetryPeriod: 2 * time.Second}, "leaderElection.renewDeadline (--leader-elect-renew-deadline) 2s must be greater than 1.2 times retryPeriod"},
		{wasmpod.LeaderElectionConfig{LeaseDuration: 500 * time.Millisecond, RenewDeadline: 400 * time.Millisecond, RetryPeriod: 100 * time.Millisecond}, "the lease duration at least 1s"},
	} {
		_, err := wasmpod.New(ctx, wasmpod.Config{Etcd: wasmpod.EtcdConfig{Servers: srv.Endpoints()}, NoLocalNodes: true, DataDir: t.TempDir(), CacheDir: testwasm.CacheDir(), LeaderElection: tc.le})
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%+v: %v, want an error with %q", tc.le, err, tc.want)
		}
	}

	a, err := wasmpod.New(ctx, wasmpod.Config{Etcd: wasmpod.EtcdConfig{Servers: srv.Endpoints()}, NoLocalNodes: true, DataDir: t.TempDir(), CacheDir: testwasm.CacheDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "token"), []byte("0123456789abcdef0123456789abcdef\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err = wasmpod.New(ctx, wasmpod.Config{Etcd: wasmpod.EtcdConfig{Servers: srv.Endpoints()}, NoLocalNodes: true, DataDir: dir, CacheDir: testwasm.CacheDir()})
	if want := filepath.Join(dir, "token") + " differs from the cluster's token"; err == nil || !strings.Contains(err.Error(), want) {
		t.Fatalf("a data dir with another token: %v, want %q", err, want)
	}
	if b, _ := os.ReadFile(filepath.Join(dir, "token")); string(b) != "0123456789abcdef0123456789abcdef\n" {
		t.Errorf("the refused data dir's token was changed: %q", b)
	}
	if _, err := os.Stat(filepath.Join(dir, "pki", "ca.key")); err == nil {
		t.Error("the cluster's CA key was written into the refused data dir")
	}
}
