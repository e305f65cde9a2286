package cli

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/wasmpod/wasmpod/apiserver"
	"github.com/wasmpod/wasmpod/internal/kube/kubernetes"
	"github.com/wasmpod/wasmpod/store/etcd/etcdtest"
)

// TestServeLeaderElectFlagErrors: bad --leader-elect-* durations (and
// their leaderElection block in --config) are refused with exit 2 and a
// message naming the flag, before serve reaches etcd (none answers here).
func TestServeLeaderElectFlagErrors(t *testing.T) {
	isolate(t)
	noEtcd := []string{"--etcd-servers", "http://127.0.0.1:1"}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--leader-elect-lease-duration", "20s"}, "--leader-elect-lease-duration needs --etcd-servers"},
		{append([]string{"--leader-elect-retry-period", "-1s"}, noEtcd...), "--leader-elect-retry-period -1s: must be positive"},
		{append([]string{"--leader-elect-renew-deadline", "0s"}, noEtcd...), "--leader-elect-renew-deadline 0s: must be positive"},
		{append([]string{"--leader-elect-lease-duration", "10s", "--leader-elect-renew-deadline", "10s"}, noEtcd...),
			"leaderElection.leaseDuration (--leader-elect-lease-duration) 10s must be greater than renewDeadline (--leader-elect-renew-deadline) 10s"},
		{append([]string{"--leader-elect-renew-deadline", "2s", "--leader-elect-retry-period", "2s"}, noEtcd...),
			"leaderElection.renewDeadline (--leader-elect-renew-deadline) 2s must be greater than 1.2 times retryPeriod (--leader-elect-retry-period) 2s"},
		{append([]string{"--leader-elect-lease-duration", "500ms", "--leader-elect-renew-deadline", "400ms", "--leader-elect-retry-period", "100ms"}, noEtcd...), "the lease duration at least 1s"},
		{append([]string{"--config", writeTemp(t, "leaderElection: {leaseDuration: soon}\n")}, noEtcd...), "leaderElection.leaseDuration: invalid duration \"soon\""},
		{append([]string{"--config", writeTemp(t, "leaderElection: {leaseDuration: 10s, renewDeadline: 10s}\n")}, noEtcd...), "(--leader-elect-lease-duration) 10s must be greater than renewDeadline"},
		{append([]string{"--config", writeTemp(t, "leaderElection: {leaderElect: maybe}\n")}, noEtcd...), "leaderElect"},
	} {
		var stderr bytes.Buffer
		code := runServe(t, append([]string{"wasmpod", "serve", "--data-dir", t.TempDir()}, tc.args...), &stderr)
		if code != 2 || !strings.Contains(stderr.String(), tc.want) {
			t.Errorf("%v: exit %d, stderr %q; want 2 and %q", tc.args, code, stderr.String(), tc.want)
		}
	}
}

// TestServeLeaderElectOnEtcd: on a real etcd, serve elects its scheduler
// and controllers through Leases of the flags' duration by default, and
// with --leader-elect=false (or leaderElect: false in --config) runs them
// without an election: no Lease, and a pod is still placed.
func TestServeLeaderElectOnEtcd(t *testing.T) {
	home := isolate(t)
	srv := etcdtest.Start(t, t.TempDir(), etcdtest.Options{})
	for i, tc := range []struct {
		args  []string
		elect bool
	}{
		{[]string{"--leader-elect-lease-duration", "3s", "--leader-elect-renew-deadline", "2s", "--leader-elect-retry-period", "500ms"}, true},
		{[]string{"--leader-elect=false"}, false},
		{[]string{"--config", writeTemp(t, "leaderElection: {leaderElect: false}\n")}, false},
	} {
		data := filepath.Join(home, fmt.Sprintf("data-%d", i))
		sock := filepath.Join(data, "wasmpod.sock")
		ctx, cancel := context.WithCancel(context.Background())
		var serveErr syncBuffer
		done := make(chan int, 1)
		go func() {
			done <- runAppContext(ctx, App(&bytes.Buffer{}, &serveErr), append([]string{"wasmpod", "serve", "--data-dir", data,
				"--cache-dir", filepath.Join(home, "cache"), "--etcd-servers", strings.Join(srv.Endpoints(), ","), "--etcd-prefix", fmt.Sprintf("/c%d", i)}, tc.args...))
		}()
		cs, err := kubernetes.NewForConfig(apiserver.UnixSocketConfig(sock))
		if err != nil {
			t.Fatal(err)
		}
		// A pod placed on the node proves the scheduler runs.
		var placed bool
		for deadline := time.Now().Add(time.Minute); time.Now().Before(deadline) && !placed; time.Sleep(100 * time.Millisecond) {
			select {
			case code := <-done:
				cancel()
				t.Fatalf("%v: serve exited %d: %s", tc.args, code, serveErr.String())
			default:
			}
			p, err := cs.CoreV1().Pods("default").Get(context.Background(), "p", metav1.GetOptions{})
			if apierrors.IsNotFound(err) {
				_, _ = cs.CoreV1().Pods("default").Create(context.Background(), &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "p"},
					Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "busybox", Command: []string{"true"}}}}}, metav1.CreateOptions{})
				continue
			}
			placed = err == nil && p.Spec.NodeName != ""
		}
		if !placed {
			t.Errorf("%v: the pod was not placed; serve stderr:\n%s", tc.args, serveErr.String())
		}
		lease, err := cs.CoordinationV1().Leases("kube-system").Get(context.Background(), "kube-scheduler", metav1.GetOptions{})
		switch {
		case tc.elect && (err != nil || lease.Spec.LeaseDurationSeconds == nil || *lease.Spec.LeaseDurationSeconds != 3):
			t.Errorf("%v: Lease kube-system/kube-scheduler: %+v, %v; want one of 3 s", tc.args, lease, err)
		case tc.elect && !strings.Contains(serveErr.String(), "acquired lease kube-system/kube-controller-manager"):
			t.Errorf("%v: no election in serve's stderr:\n%s", tc.args, serveErr.String())
		case !tc.elect && !apierrors.IsNotFound(err):
			t.Errorf("%v: Lease kube-system/kube-scheduler: %v; want none (no election)", tc.args, err)
		case !tc.elect && strings.Contains(serveErr.String(), "leader election"):
			t.Errorf("%v: an election with --leader-elect=false:\n%s", tc.args, serveErr.String())
		}
		cancel()
		select {
		case code := <-done:
			if code != 0 {
				t.Errorf("%v: serve exit %d: %s", tc.args, code, serveErr.String())
			}
		case <-time.After(time.Minute):
			t.Fatal("serve did not stop")
		}
	}
}

func writeTemp(t *testing.T, body string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "serve.yaml")
	if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}
