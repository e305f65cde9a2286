package wasmpod

// The joined agent's kubeconfig and its client certificate across
// rotations, restarts and expiry (issue 15 §1; nodeagent/certstore,
// bootstrap.LoadOrBootstrap).

import (
	"context"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/kubernetes"
	clocktesting "k8s.io/utils/clock/testing"

	"github.com/wasmpod/wasmpod/bootstrap"
	"github.com/wasmpod/wasmpod/internal/testwasm"
	"github.com/wasmpod/wasmpod/nodeagent"
)

// TestJoinedKubeconfigFollowsRotation: an agent joined with a token keeps
// a kubeconfig naming <cert-dir>/kubelet-client-current.pem, as the
// kubelet's bootstrap writes it. After a rotation and the expiry of the
// joined certificate (fake clock), the agent restarted without its token
// and with --rotate-certificates=false works on the renewed certificate.
// Once that one expired too, the kept credential is refused with the file
// and the expiry named, by the join and by the agent itself; given its
// token, the agent joins again and runs. (The renewal re-opens the pod
// network's tunnels: network/overlay's TestOverlayReconnectAfterRotation.)
func TestJoinedKubeconfigFollowsRotation(t *testing.T) {
	clk := clocktesting.NewFakeClock(time.Now().Truncate(time.Second))
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	const signing = 30 * 24 * time.Hour
	p := newJoinPlane(t, ctx, clk, "kc-1", func(c *Config) { c.ClusterSigningDuration = signing })
	tok, err := bootstrap.CreateToken(ctx, p.admin, bootstrap.TokenOptions{TTL: 200 * 24 * time.Hour, Now: clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	hash, _ := bootstrap.CACertHash(p.ca.pem)
	dataDir := t.TempDir()
	path := filepath.Join(dataDir, "kubeconfig")
	certDir := filepath.Join(dataDir, "pki")
	cur := nodeagent.CurrentCertPath(certDir, nodeagent.ClientCertPrefix)
	jo := bootstrap.Options{Server: p.ts.URL, Token: tok, NodeName: "kc-1", CACertHashes: []string{hash}, Now: clk.Now}
	cfg, err := bootstrap.LoadOrBootstrap(ctx, path, jo)
	if err != nil {
		t.Fatal(err)
	}
	if kc, _ := os.ReadFile(path); !strings.Contains(string(kc), "client-certificate: "+cur) || strings.Contains(string(kc), "client-certificate-data") {
		t.Fatalf("the kubeconfig does not name %s:\n%s", cur, kc)
	}
	o := AgentOptions{API: cfg, NodeName: "kc-1", DataDir: dataDir, ReverseTunnel: true, PodCIDR: "10.244.15.0/24", RotateCertificates: true, Clock: clk}
	first1 := o // with a pod network tunnel, re-opened on the renewal
	if first1.TunnelListener, err = net.Listen("tcp", "127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	logs, stop := runAgentUntil(t, first1)
	poll := func(what string, cond func() bool) {
		t.Helper()
		if err := wait.PollUntilContextCancel(ctx, 50*time.Millisecond, true, func(context.Context) (bool, error) { return cond(), nil }); err != nil {
			t.Fatalf("%s: %v\nagent log:\n%s", what, err, logs)
		}
	}
	poll("the agent", func() bool { return strings.Contains(logs.String(), "client certificate valid until") })
	first := storedLeaf(t, certDir, nodeagent.ClientCertPrefix)
	life := first.NotAfter.Sub(first.NotBefore)
	clk.SetTime(first.NotBefore.Add(life * 91 / 100))
	var second = first
	poll("the renewed certificate", func() bool {
		second = storedLeaf(t, certDir, nodeagent.ClientCertPrefix)
		return second != nil && !second.Equal(first) && strings.Contains(logs.String(), "client certificate renewed") &&
			strings.Contains(logs.String(), "pod network tunnels re-opened with the renewed certificate")
	})
	stop()

	// The joined certificate expired; restarted without the token and
	// without rotation, the agent reads the renewed one through its
	// kubeconfig.
	clk.SetTime(first.NotAfter.Add(time.Minute))
	jo.Token = ""
	if cfg, err = bootstrap.LoadOrBootstrap(ctx, path, jo); err != nil {
		t.Fatalf("the restart's credential: %v", err)
	}
	o.API, o.RotateCertificates = cfg, false
	leases := kubernetes.NewForConfigOrDie(p.admin).CoordinationV1().Leases("kube-node-lease")
	l0, err := leases.Get(ctx, "kc-1", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	logs, stop = runAgentUntil(t, o)
	poll("the restarted agent's tunnel and Lease", func() bool {
		l, err := leases.Get(ctx, "kc-1", metav1.GetOptions{})
		return strings.Contains(logs.String(), "reverse tunnel to "+p.ts.URL+" open") && err == nil && l.ResourceVersion != l0.ResourceVersion
	})
	if b, err := kubernetes.NewForConfigOrDie(p.admin).CoreV1().RESTClient().Get().AbsPath("/api/v1/nodes/kc-1/proxy/healthz").DoRaw(ctx); err != nil || string(b) != "ok" {
		t.Errorf("the kubelet API through the tunnel: %q %v", b, err)
	}
	if strings.Contains(logs.String(), "Unauthorized") {
		t.Errorf("the restarted agent was refused:\n%s", logs)
	}
	stop()

	// The renewed certificate expired too.
	clk.SetTime(second.NotAfter.Add(time.Minute))
	expiry := "expired at " + second.NotAfter.UTC().Format(time.RFC3339)
	if _, err := bootstrap.LoadOrBootstrap(ctx, path, jo); err == nil || !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), cur) || !strings.Contains(err.Error(), expiry) {
		t.Fatalf("the expired credential without a token: %v, want %s, %s and %q named", err, path, cur, expiry)
	}
	for _, rotate := range []bool{false, true} {
		x := o
		x.RotateCertificates, x.Progress, x.CacheDir, x.NodeIP = rotate, &lockedBuffer{}, testwasm.CacheDir(), netip.MustParseAddr("127.0.0.1")
		if err := RunAgent(ctx, x); err == nil || !strings.Contains(err.Error(), cur) || !strings.Contains(err.Error(), expiry) {
			t.Errorf("an agent (rotation %v) with the expired credential: %v, want %s and %q named", rotate, err, cur, expiry)
		}
	}
	// With its token, the agent joins again.
	jo.Token = tok
	if cfg, err = bootstrap.LoadOrBootstrap(ctx, path, jo); err != nil {
		t.Fatalf("joining again: %v", err)
	}
	if third := storedLeaf(t, certDir, nodeagent.ClientCertPrefix); !third.NotAfter.After(clk.Now()) {
		t.Fatalf("joined again with a certificate valid until %s (clock %s)", third.NotAfter, clk.Now())
	}
	// (A process of its own, as a restarted agent is: not the idle
	// connections client-go's shared transport kept from the run before,
	// authenticated by the certificate that expired since.)
	cfg.Dial = (&net.Dialer{}).DialContext
	o.API = cfg
	logs, _ = runAgentUntil(t, o)
	poll("the agent joined again", func() bool { return strings.Contains(logs.String(), "reverse tunnel to "+p.ts.URL+" open") })
}
