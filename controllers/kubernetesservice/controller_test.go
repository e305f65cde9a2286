package kubernetesservice

import (
	"bytes"
	"context"
	"net/http/httptest"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	clocktesting "k8s.io/utils/clock/testing"

	"github.com/wasmpod/wasmpod/apiserver"
	"github.com/wasmpod/wasmpod/internal/kube/kubernetes"
	"github.com/wasmpod/wasmpod/internal/testkubectl"
	"github.com/wasmpod/wasmpod/store/memory"
)

type env struct {
	cs    kubernetes.Interface
	c     *Controller
	url   string
	clock *clocktesting.FakeClock
}

// setup serves an API server on loopback and runs the controller against
// it through client-go.
func setup(t *testing.T) *env {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	clk := clocktesting.NewFakeClock(time.Date(2026, 12, 6, 9, 0, 0, 0, time.UTC))
	st := memory.New()
	s, err := apiserver.New(ctx, st, apiserver.Options{Clock: clk})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(s.Handler(apiserver.HandlerOptions{}))
	cs, err := kubernetes.NewForConfig(apiserver.TCPConfig(srv.URL, ""))
	if err != nil {
		t.Fatal(err)
	}
	c := New(cs)
	done := make(chan struct{})
	go func() {
		defer close(done)
		c.Run(ctx)
	}()
	t.Cleanup(func() {
		cancel()
		<-done
		srv.Close()
		st.Close()
	})
	return &env{cs: cs, c: c, url: srv.URL, clock: clk}
}

// eventually polls cond for up to 30 s.
func eventually(t *testing.T, what string, cond func() (bool, string)) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		ok, state := cond()
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: never happened; last: %s", what, state)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func (e *env) svc() (*corev1.Service, error) {
	return e.cs.CoreV1().Services(Namespace).Get(context.Background(), Name, metav1.GetOptions{})
}

func (e *env) endpoints() string {
	ctx := context.Background()
	ep, err := e.cs.CoreV1().Endpoints(Namespace).Get(ctx, Name, metav1.GetOptions{})
	var out []string
	if err != nil {
		out = append(out, "endpoints: "+err.Error())
	} else {
		for _, ss := range ep.Subsets {
			for _, a := range ss.Addresses {
				for _, p := range ss.Ports {
					out = append(out, "ep "+p.Name+" "+netip.AddrPortFrom(netip.MustParseAddr(a.IP), uint16(p.Port)).String())
				}
			}
		}
		out = append(out, "skip-mirror="+ep.Labels[discoveryv1.LabelSkipMirror])
	}
	sl, err := e.cs.DiscoveryV1().EndpointSlices(Namespace).Get(ctx, Name, metav1.GetOptions{})
	if err != nil {
		out = append(out, "slice: "+err.Error())
	} else {
		for _, ep := range sl.Endpoints {
			for _, a := range ep.Addresses {
				for _, p := range sl.Ports {
					out = append(out, "slice "+*p.Name+" "+netip.AddrPortFrom(netip.MustParseAddr(a), uint16(*p.Port)).String())
				}
			}
		}
		out = append(out, "service-name="+sl.Labels[discoveryv1.LabelServiceName])
	}
	return strings.Join(out, "; ")
}

// TestKubernetesService: the Service appears at 10.96.0.1:443/https, its
// endpoints follow the API server's address, and what a user deletes or
// changes comes back.
func TestKubernetesService(t *testing.T) {
	e := setup(t)
	ctx := context.Background()
	eventually(t, "the kubernetes Service", func() (bool, string) {
		s, err := e.svc()
		if err != nil {
			return false, err.Error()
		}
		p := s.Spec.Ports
		return s.Spec.ClusterIP == "10.96.0.1" && s.Spec.Type == corev1.ServiceTypeClusterIP && len(p) == 1 &&
			p[0].Name == "https" && p[0].Port == 443 && p[0].Protocol == corev1.ProtocolTCP &&
			s.Labels["component"] == "apiserver" && s.Labels["provider"] == "kubernetes" && len(s.Spec.Selector) == 0, s.String()
	})
	// No address yet: no endpoints.
	if got := e.endpoints(); !strings.Contains(got, `endpoints "kubernetes" not found`) || !strings.Contains(got, `endpointslices.discovery.k8s.io "kubernetes" not found`) {
		t.Fatalf("before SetAddress: %s", got)
	}

	e.c.SetAddress(netip.MustParseAddrPort("127.0.0.1:6443"))
	want := "ep https 127.0.0.1:6443; skip-mirror=true; slice https 127.0.0.1:6443; service-name=kubernetes"
	eventually(t, "endpoints at 127.0.0.1:6443", func() (bool, string) { got := e.endpoints(); return got == want, got })
	eventually(t, "targetPort 6443", func() (bool, string) {
		s, err := e.svc()
		return err == nil && s.Spec.Ports[0].TargetPort.IntValue() == 6443, ""
	})

	e.c.SetAddress(netip.MustParseAddrPort("192.0.2.7:8443"))
	want = "ep https 192.0.2.7:8443; skip-mirror=true; slice https 192.0.2.7:8443; service-name=kubernetes"
	eventually(t, "endpoints at 192.0.2.7:8443", func() (bool, string) { got := e.endpoints(); return got == want, got })

	// A user deletes the Service and the endpoints, and edits nothing else.
	old, _ := e.svc()
	if err := e.cs.CoreV1().Services(Namespace).Delete(ctx, Name, metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := e.cs.CoreV1().Endpoints(Namespace).Delete(ctx, Name, metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the Service recreated", func() (bool, string) {
		s, err := e.svc()
		return err == nil && s.UID != old.UID && s.Spec.ClusterIP == "10.96.0.1", ""
	})
	eventually(t, "the endpoints recreated", func() (bool, string) { got := e.endpoints(); return got == want, got })

	// A changed port is put back.
	s, _ := e.svc()
	s.Spec.Ports[0].Port = 8080
	if _, err := e.cs.CoreV1().Services(Namespace).Update(ctx, s, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	eventually(t, "port 443 restored", func() (bool, string) {
		s, err := e.svc()
		return err == nil && s.Spec.Ports[0].Port == 443, ""
	})

	// No address any more: the endpoints go.
	e.c.SetAddress(netip.AddrPort{})
	eventually(t, "endpoints removed", func() (bool, string) {
		got := e.endpoints()
		return strings.Contains(got, `endpoints "kubernetes" not found`) && strings.Contains(got, `endpointslices.discovery.k8s.io "kubernetes" not found`), got
	})
}

// TestKubernetesServiceRealKubectl: kubectl get svc kubernetes and get
// endpoints kubernetes print what they print against kube-apiserver.
func TestKubernetesServiceRealKubectl(t *testing.T) {
	e := setup(t)
	e.c.SetAddress(netip.MustParseAddrPort("127.0.0.1:6443"))
	eventually(t, "the endpoints", func() (bool, string) { got := e.endpoints(); return strings.HasPrefix(got, "ep https"), got })
	e.clock.Step(5 * time.Minute)

	dir := t.TempDir()
	kc := filepath.Join(dir, "kubeconfig")
	cfg := "apiVersion: v1\nkind: Config\nclusters:\n- name: w\n  cluster:\n    server: " + e.url +
		"\ncontexts:\n- name: w\n  context:\n    cluster: w\n    user: me\n    namespace: default\ncurrent-context: w\nusers:\n- name: me\n  user: {}\n"
	if err := os.WriteFile(kc, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	kubectl := func(args ...string) string {
		t.Helper()
		c := exec.Command(testkubectl.Path(t), append([]string{"--kubeconfig", kc, "--cache-dir", filepath.Join(dir, "cache")}, args...)...)
		c.Env = append(os.Environ(), "HOME="+dir, "KUBECONFIG="+kc)
		var out, errb bytes.Buffer
		c.Stdout, c.Stderr = &out, &errb
		if err := c.Run(); err != nil {
			t.Fatalf("kubectl %s: %v\n%s%s", strings.Join(args, " "), err, out.String(), errb.String())
		}
		return out.String()
	}
	if got, want := kubectl("get", "svc", "kubernetes"), ""+
		"NAME         TYPE        CLUSTER-IP   EXTERNAL-IP   PORT(S)   AGE\n"+
		"kubernetes   ClusterIP   10.96.0.1    <none>        443/TCP   5m\n"; got != want {
		t.Errorf("kubectl get svc kubernetes:\n%s\nwant:\n%s", got, want)
	}
	if got, want := kubectl("get", "endpoints", "kubernetes"), ""+
		"NAME         ENDPOINTS        AGE\n"+
		"kubernetes   127.0.0.1:6443   5m\n"; !strings.HasSuffix(got, want) {
		t.Errorf("kubectl get endpoints kubernetes:\n%s\nwant:\n%s", got, want)
	}
}
