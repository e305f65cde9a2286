package wasmpod

import (
	"context"
	"net"
	"net/http"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"

	"github.com/wasmpod/wasmpod/apiserver"
	"github.com/wasmpod/wasmpod/internal/kube/kubernetes"
	"github.com/wasmpod/wasmpod/store/memory"
)

// TestFailoverConfig: one API server (one store) served on two loopback
// addresses, as two replicas; a client of the first with both as its
// servers keeps working when the first goes away, and again when the second
// does and the first is back on its address.
func TestFailoverConfig(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	st := memory.New()
	defer st.Close()
	s, err := apiserver.New(ctx, st, apiserver.Options{})
	if err != nil {
		t.Fatal(err)
	}
	h := s.Handler(apiserver.HandlerOptions{})
	serveOn := func(addr string) (*http.Server, string) {
		t.Helper()
		l, err := net.Listen("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		srv := &http.Server{Handler: h}
		go srv.Serve(l)
		t.Cleanup(func() { srv.Close() })
		return srv, l.Addr().String()
	}
	a, addrA := serveOn("127.0.0.1:0")
	b, addrB := serveOn("127.0.0.1:0")
	cfg, err := FailoverConfig(&rest.Config{Host: "http://" + addrA, QPS: -1}, []string{"http://" + addrA, "http://" + addrB})
	if err != nil {
		t.Fatal(err)
	}
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	create := func(name string) {
		t.Helper()
		if _, err := cs.CoreV1().ConfigMaps("default").Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: name}}, metav1.CreateOptions{}); err != nil {
			t.Fatalf("create %s: %v", name, err)
		}
	}
	// A GET (idempotent: net/http retries it when a kept-alive connection
	// turns out closed, which a POST is not) finds the other server.
	get := func(name string) {
		t.Helper()
		if _, err := cs.CoreV1().ConfigMaps("default").Get(ctx, name, metav1.GetOptions{}); err != nil {
			t.Fatalf("get %s: %v", name, err)
		}
	}
	create("through-a")
	a.Close() // its listener and connections
	get("through-a")
	create("through-b")
	b.Close()
	a, _ = serveOn(addrA)
	get("through-b")
	create("through-a-again")
	cms, err := cs.CoreV1().ConfigMaps("default").List(ctx, metav1.ListOptions{})
	if err != nil || len(cms.Items) != 3 {
		t.Fatalf("list: %v %v", cms, err)
	}
	a.Close()
	if _, err := cs.CoreV1().ConfigMaps("default").Get(ctx, "through-a", metav1.GetOptions{}); err == nil ||
		!strings.Contains(err.Error(), addrA) || !strings.Contains(err.Error(), addrB) {
		t.Errorf("with no server up: %v, want both servers' dial errors", err)
	}

	// Bad input names the flag.
	for _, tc := range []struct {
		host    string
		servers []string
		want    string
	}{
		{"https://" + addrA, []string{"http://" + addrB}, `--failover-server "http://` + addrB + `": want https://HOST:PORT`},
		{"https://" + addrA, []string{addrB}, `want https://HOST:PORT`},
		{"https://" + addrA, []string{"https://" + addrB + "/prefix"}, `want https://HOST:PORT`},
		{"https://" + addrA, nil, "no servers"},
	} {
		if _, err := FailoverConfig(&rest.Config{Host: tc.host}, tc.servers); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("FailoverConfig(%s, %q): %v, want %q", tc.host, tc.servers, err, tc.want)
		}
	}
}
