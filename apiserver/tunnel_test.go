package apiserver

import (
	"bytes"
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"testing"
	"time"

	"github.com/hashicorp/yamux"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"

	"github.com/wasmpod/wasmpod/internal/streaming"
	rtunnel "github.com/wasmpod/wasmpod/internal/tunnel"
)

// tunnelPair is a yamux session over an in-memory connection: the API
// server's end (client) and the agent's (server), which serves h over TLS
// as the agent does (TunnelListener).
func tunnelPair(t *testing.T, h http.Handler) *yamux.Session {
	t.Helper()
	a, b := net.Pipe()
	cli, err := yamux.Client(a, TunnelConfig())
	if err != nil {
		t.Fatal(err)
	}
	srvSess, err := yamux.Server(b, TunnelConfig())
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewTLSServer(h) // only for its certificate
	ts.Close()
	srv := &http.Server{Handler: h}
	go srv.Serve(tls.NewListener(TunnelListener(srvSess), &tls.Config{Certificates: ts.TLS.Certificates}))
	t.Cleanup(func() { srv.Close(); cli.Close() })
	return cli
}

// tunnelNode is a remoteNode reached through sess, as nodeConnector makes
// one for a node with an open tunnel.
func tunnelNode(t *testing.T, sess *yamux.Session) *remoteNode {
	t.Helper()
	cfg := &rest.Config{TLSClientConfig: rest.TLSClientConfig{Insecure: true}}
	cfg.Dial = func(ctx context.Context, _, _ string) (net.Conn, error) { return rtunnel.OpenStream(sess) }
	hc, err := rest.HTTPClientFor(cfg)
	if err != nil {
		t.Fatal(err)
	}
	tlsCfg, err := rest.TLSConfigFor(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return &remoteNode{name: "n", base: "https://n:10250", cfg: cfg, http: hc, upgrade: &http.Transport{TLSClientConfig: tlsCfg, DialContext: cfg.Dial}}
}

// TestTunnelCarriesStreams: a remote node reached through a tunnel serves
// plain requests, SPDY exec upgrades and port-forward over the session's
// streams. Exec runs 30 times: before tunnelConn, net/http's hijack poisoned
// the TLS connection over a yamux stream in most runs ("use of closed
// network connection", EOF or a hang), passing only when the client's
// first frames won the race.
func TestTunnelCarriesStreams(t *testing.T) {
	mux := http.NewServeMux()
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, _ *http.Request) { io.WriteString(w, "ok") })
	mux.HandleFunc("/exec/", func(w http.ResponseWriter, req *http.Request) {
		q := req.URL.Query()
		opts := &corev1.PodExecOptions{Command: q["command"], Stdout: q.Get("output") == "1", Stderr: q.Get("error") == "1"}
		streaming.ServeExec(w, req, opts, func(ctx context.Context, s ExecStreams) (int, error) {
			io.WriteString(s.Stdout, "hi through the tunnel "+q.Get("command")+"\n")
			return 3, nil
		})
	})
	mux.HandleFunc("/portForward/", func(w http.ResponseWriter, req *http.Request) {
		streaming.ServePortForward(w, req, func(context.Context, int32) error { return nil },
			func(ctx context.Context, port int32, conn io.ReadWriteCloser) error {
				defer conn.Close()
				b, err := io.ReadAll(conn) // until the client's half-close
				if err != nil {
					return err
				}
				_, err = fmt.Fprintf(conn, "port %d got %q", port, b)
				return err
			})
	})
	r := tunnelNode(t, tunnelPair(t, mux))
	resp, err := r.http.Get(r.base + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if string(b) != "ok" {
		t.Fatalf("healthz: %q", b)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	for i := range 30 {
		var out bytes.Buffer
		u := r.url("/exec/ns/p/c", url.Values{"command": {fmt.Sprint(i)}, "output": {"1"}, "error": {"1"}})
		err := r.stream(ctx, u, false, ExecStreams{Stdout: &out, Stderr: io.Discard})
		if want := fmt.Sprintf("hi through the tunnel %d\n", i); out.String() != want || err == nil || err.Error() != "command terminated with exit code 3" {
			t.Fatalf("exec %d through the tunnel: %v, stdout %q, want %q and exit code 3", i, err, out.String(), want)
		}
	}
	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "p"}}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	local, err := net.Dial("tcp", l.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer local.Close()
	remote, err := l.Accept()
	if err != nil {
		t.Fatal(err)
	}
	pfErr := make(chan error, 1)
	go func() {
		pfErr <- r.PortForward(ctx, pod, 8080, remote)
		remote.Close() // as the API server's port-forward handler does
	}()
	if _, err := local.Write([]byte("ping")); err != nil {
		t.Fatal(err)
	}
	local.(*net.TCPConn).CloseWrite()
	got, err := io.ReadAll(local)
	if want := `port 8080 got "ping"`; string(got) != want || err != nil {
		t.Errorf("port-forward through the tunnel: %q, %v; want %q", got, err, want)
	}
	if err := <-pfErr; err != nil {
		t.Errorf("port-forward through the tunnel: %v", err)
	}
}
