package apiserver

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os/exec"
	"regexp"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/httpstream"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/portforward"
	"k8s.io/client-go/transport/spdy"

	"github.com/wasmpod/wasmpod/internal/streaming"
)

// pfRunningServer is pfServer with the pod Running (kubectl port-forward
// refuses a pod that is not); upgrades records each port-forward
// request's Upgrade header and WebSocket subprotocols.
func pfRunningServer(t *testing.T, node NodeConnector) (s *Server, pfURL string, upgrades func() []string) {
	t.Helper()
	s, _ = newServer(t)
	s.RegisterNode("node-1", node)
	ctx := context.Background()
	p := testPod("web")
	p.Spec.NodeName = "node-1"
	obj, err := s.Create(ctx, res(t, s, "", "pods"), "default", p)
	if err != nil {
		t.Fatal(err)
	}
	p = obj.(*corev1.Pod)
	p.Status.Phase = corev1.PodRunning
	if _, err := s.Update(ctx, res(t, s, "", "pods"), "default", p, "status"); err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var seen []string
	h := s.Handler(HandlerOptions{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasSuffix(r.URL.Path, "/portforward") {
			mu.Lock()
			seen = append(seen, r.Header.Get("Upgrade")+" "+r.Header.Get("Sec-Websocket-Protocol"))
			mu.Unlock()
		}
		h.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	return s, srv.URL + "/api/v1/namespaces/default/pods/web/portforward", func() []string {
		mu.Lock()
		defer mu.Unlock()
		return append([]string(nil), seen...)
	}
}

// clientGoForward runs client-go's port forwarder (kubectl's) with dialer
// on local ports chosen by the system; it returns them in order.
func clientGoForward(t *testing.T, dialer httpstream.Dialer, ports ...string) []portforward.ForwardedPort {
	t.Helper()
	stop, ready := make(chan struct{}), make(chan struct{})
	var out, errOut bytes.Buffer
	fw, err := portforward.NewOnAddresses(dialer, []string{"127.0.0.1"}, ports, stop, ready, &out, &errOut)
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- fw.ForwardPorts() }()
	t.Cleanup(func() {
		close(stop)
		<-done
	})
	select {
	case <-ready:
	case err := <-done:
		t.Fatalf("port-forward: %v %s", err, errOut.String())
	case <-time.After(10 * time.Second):
		t.Fatal("port-forward not ready")
	}
	got, err := fw.GetPorts()
	if err != nil {
		t.Fatal(err)
	}
	return got
}

// exchange sends msg on a new connection to local port, half-closes, and
// returns all it reads back.
func exchange(t *testing.T, port uint16, msg string) string {
	t.Helper()
	c, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", port))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.WriteString(c, msg); err != nil {
		t.Fatal(err)
	}
	c.(*net.TCPConn).CloseWrite()
	b, err := io.ReadAll(c)
	if err != nil {
		t.Fatalf("read: %v", err)
	}
	return string(b)
}

// TestPortForwardSPDYClientGo: client-go's port forwarder over plain SPDY
// and over SPDY tunnelled in WebSocket (kubectl's first choice), two ports,
// several concurrent connections on each.
func TestPortForwardSPDYClientGo(t *testing.T) {
	_, u, _ := pfRunningServer(t, &pfNode{})
	pfURL, _ := url.Parse(u)
	cfg := &rest.Config{Host: pfURL.Scheme + "://" + pfURL.Host}
	dialers := map[string]func() httpstream.Dialer{
		"plain": func() httpstream.Dialer {
			rt, up, err := spdy.RoundTripperFor(cfg)
			if err != nil {
				t.Fatal(err)
			}
			return spdy.NewDialer(up, &http.Client{Transport: rt}, "POST", pfURL)
		},
		"tunnelled": func() httpstream.Dialer {
			d, err := portforward.NewSPDYOverWebsocketDialer(pfURL, cfg)
			if err != nil {
				t.Fatal(err)
			}
			return d
		},
	}
	for name, mk := range dialers {
		t.Run(name, func(t *testing.T) {
			ports := clientGoForward(t, mk(), "0:8080", "0:8081")
			var wg sync.WaitGroup
			for i := range 6 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					p := ports[i%2]
					msg := strings.Repeat(fmt.Sprintf("conn %d ", i), 5000) // > one SPDY frame
					if got, want := exchange(t, p.Local, msg), fmt.Sprintf("%d:%s", p.Remote, msg); got != want {
						t.Errorf("connection %d to %d: got %d bytes %.40q, want %d bytes", i, p.Remote, len(got), got, len(want))
					}
				}()
			}
			wg.Wait()
		})
	}
}

// spdyConn opens a raw SPDY port-forward connection (plain upgrade).
func spdyConn(t *testing.T, u string) httpstream.Connection {
	t.Helper()
	pfURL, _ := url.Parse(u)
	rt, up, err := spdy.RoundTripperFor(&rest.Config{Host: pfURL.Scheme + "://" + pfURL.Host})
	if err != nil {
		t.Fatal(err)
	}
	conn, proto, err := spdy.NewDialer(up, &http.Client{Transport: rt}, "POST", pfURL).Dial("portforward.k8s.io")
	if err != nil {
		t.Fatal(err)
	}
	if proto != "portforward.k8s.io" {
		t.Fatalf("protocol %q", proto)
	}
	t.Cleanup(func() { conn.Close() })
	return conn
}

func pfStreams(t *testing.T, conn httpstream.Connection, port, id string, data bool) (errS, dataS httpstream.Stream) {
	t.Helper()
	h := http.Header{}
	h.Set(corev1.StreamType, corev1.StreamTypeError)
	h.Set(corev1.PortHeader, port)
	h.Set(corev1.PortForwardRequestIDHeader, id)
	errS, err := conn.CreateStream(h)
	if err != nil {
		t.Fatal(err)
	}
	errS.Close()
	if data {
		h.Set(corev1.StreamType, corev1.StreamTypeData)
		if dataS, err = conn.CreateStream(h); err != nil {
			t.Fatal(err)
		}
	}
	return errS, dataS
}

// TestPortForwardSPDYProtocol speaks the kubelet's stream protocol
// directly: a refused port gives its message on the error stream and the
// connection goes on serving; a pair left incomplete times out with
// upstream's message; streams with bad headers are refused.
func TestPortForwardSPDYProtocol(t *testing.T) {
	defer func(d time.Duration) { streaming.StreamCreationTimeout = d }(streaming.StreamCreationTimeout)
	streaming.StreamCreationTimeout = 300 * time.Millisecond
	_, u, _ := pfRunningServer(t, &pfNode{})
	conn := spdyConn(t, u)

	errS, dataS := pfStreams(t, conn, "9", "1", true)
	dataS.Close()
	msg, err := io.ReadAll(errS)
	if err != nil || !strings.Contains(string(msg), "error forwarding port 9 to pod web") || !strings.Contains(string(msg), "connection refused") {
		t.Fatalf("refused port: error stream %q %v", msg, err)
	}
	// The same connection still forwards.
	errS, dataS = pfStreams(t, conn, "8080", "2", true)
	io.WriteString(dataS, "still up")
	dataS.Close()
	if b, err := io.ReadAll(dataS); err != nil || string(b) != "8080:still up" {
		t.Fatalf("after a refused port: %q %v", b, err)
	}
	if b, _ := io.ReadAll(errS); len(b) != 0 {
		t.Fatalf("error stream of a good forward: %q", b)
	}
	// Only the error stream: given up after streaming.StreamCreationTimeout.
	errS, _ = pfStreams(t, conn, "8080", "3", false)
	msg, _ = io.ReadAll(errS)
	if !strings.Contains(string(msg), "request=3) timed out waiting for streams") {
		t.Fatalf("incomplete pair: %q", msg)
	}
	// Bad headers: the stream is refused (reset), as the kubelet does.
	for _, h := range []http.Header{
		{"Streamtype": {"data"}, "Requestid": {"4"}},                // no port
		{"Streamtype": {"data"}, "Port": {"0"}, "Requestid": {"4"}}, // port 0
		{"Streamtype": {"bogus"}, "Port": {"80"}, "Requestid": {"4"}},
	} {
		st, err := conn.CreateStream(h)
		if err == nil {
			if _, err = st.Read(make([]byte, 1)); err == nil {
				t.Errorf("stream with headers %v accepted", h)
			}
		}
	}
}

// TestPortForwardSPDYRealKubectl: an unmodified kubectl port-forward
// tunnels SPDY in WebSocket and forwards connections to two ports; with
// KUBECTL_PORT_FORWARD_WEBSOCKETS=false (as kubectls before 1.31) it
// upgrades to plain SPDY.
func TestPortForwardSPDYRealKubectl(t *testing.T) {
	for _, c := range []struct{ env, upgrade string }{
		{"", "websocket SPDY/3.1+portforward.k8s.io"},
		{"KUBECTL_PORT_FORWARD_WEBSOCKETS=false", "SPDY/3.1 "},
	} {
		t.Run(c.upgrade, func(t *testing.T) {
			_, u, upgrades := pfRunningServer(t, &pfNode{})
			k := newKubectl(t, u[:strings.Index(u, "/api/")])
			cmd := k.cmd("port-forward", "pod/web", ":8080", ":8081")
			if c.env != "" {
				cmd.Env = append(cmd.Env, c.env)
			}
			stdout, _ := cmd.StdoutPipe()
			var stderr syncBuffer
			cmd.Stderr = &stderr
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			defer func() {
				cmd.Process.Kill()
				cmd.Wait()
			}()
			sc := bufio.NewScanner(stdout)
			re := regexp.MustCompile(`^Forwarding from 127\.0\.0\.1:(\d+) -> (\d+)$`)
			local := map[string]uint16{}
			for len(local) < 2 && sc.Scan() {
				if m := re.FindStringSubmatch(sc.Text()); m != nil {
					var p uint16
					fmt.Sscan(m[1], &p)
					local[m[2]] = p
				}
			}
			if len(local) < 2 {
				t.Fatalf("kubectl port-forward did not start: %v\n%s", sc.Err(), stderr.String())
			}
			go io.Copy(io.Discard, stdout)
			for i := range 3 {
				for _, remote := range []string{"8080", "8081"} {
					msg := fmt.Sprintf("kubectl %d", i)
					if got := exchange(t, local[remote], msg); got != remote+":"+msg {
						t.Errorf("via kubectl to %s: %q\n%s", remote, got, stderr.String())
					}
				}
			}
			// One upgrade, of the kind expected (no fallback needed).
			if got := upgrades(); len(got) != 1 || got[0] != c.upgrade {
				t.Errorf("port-forward upgrades: %q", got)
			}
		})
	}
}

// TestPortForwardSPDYRealKubectlRefused: a port the pod does not listen on
// gives kubectl the kubelet's message; kubectl (client-go) then closes
// its connection, as it does against a kubelet.
func TestPortForwardSPDYRealKubectlRefused(t *testing.T) {
	_, u, _ := pfRunningServer(t, &pfNode{})
	k := newKubectl(t, u[:strings.Index(u, "/api/")])
	cmd := k.cmd("port-forward", "pod/web", ":9")
	stdout, _ := cmd.StdoutPipe()
	var stderr syncBuffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	sc := bufio.NewScanner(stdout)
	var local uint16
	for local == 0 && sc.Scan() {
		fmt.Sscanf(sc.Text(), "Forwarding from 127.0.0.1:%d -> 9", &local)
	}
	go io.Copy(io.Discard, stdout)
	// The local connection ends without data (closed, or reset).
	if c, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", local)); err == nil {
		c.SetDeadline(time.Now().Add(10 * time.Second))
		io.WriteString(c, "x")
		if b, _ := io.ReadAll(c); len(b) != 0 {
			t.Errorf("refused port: read %q", b)
		}
		c.Close()
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		_, isExit := err.(*exec.ExitError)
		if !isExit || !strings.Contains(stderr.String(), "error forwarding port 9 to pod web") || !strings.Contains(stderr.String(), "connection refused") {
			t.Errorf("kubectl: %v\n%s", err, stderr.String())
		}
	case <-time.After(20 * time.Second):
		t.Fatalf("kubectl did not end\n%s", stderr.String())
	}
}

// TestPortForwardSPDYHostile: a client that upgrades and then sends
// nothing, half a frame, or garbage holds nothing beyond the idle timeout:
// the connection is closed and the goroutines end.
func TestPortForwardSPDYHostile(t *testing.T) {
	defer func(d time.Duration) { streaming.StreamIdleTimeout = d }(streaming.StreamIdleTimeout)
	streaming.StreamIdleTimeout = 500 * time.Millisecond
	_, u, _ := pfRunningServer(t, &pfNode{})
	pfURL, _ := url.Parse(u)
	// Warm up the server's connection machinery, then measure.
	conn := spdyConn(t, u)
	conn.Close()
	time.Sleep(200 * time.Millisecond)
	base := runtime.NumGoroutine()

	sends := map[string][]byte{
		"nothing":    nil,
		"half frame": {0x00, 0x00, 0x00, 0x01, 0x00, 0xff, 0xff, 0xff, 'x'}, // data frame, 16 MiB announced
		"garbage":    bytes.Repeat([]byte{0x80, 0x03, 0x00, 0x01, 0xff, 0xff, 0xff, 0xff}, 64),
	}
	var clients []net.Conn
	for name, b := range sends {
		c, err := net.Dial("tcp", pfURL.Host)
		if err != nil {
			t.Fatal(err)
		}
		clients = append(clients, c)
		fmt.Fprintf(c, "POST %s HTTP/1.1\r\nHost: %s\r\nConnection: Upgrade\r\nUpgrade: SPDY/3.1\r\nX-Stream-Protocol-Version: portforward.k8s.io\r\n\r\n", pfURL.Path, pfURL.Host)
		br := bufio.NewReader(c)
		resp, err := http.ReadResponse(br, nil)
		if err != nil || resp.StatusCode != http.StatusSwitchingProtocols {
			t.Fatalf("%s: upgrade: %v %v", name, resp, err)
		}
		c.Write(b)
		c.SetReadDeadline(time.Now().Add(10 * time.Second))
		// The server closes the connection (after a GOAWAY or at once).
		t0 := time.Now()
		if _, err := io.Copy(io.Discard, br); err != nil {
			t.Errorf("%s: connection not closed by the server: %v", name, err)
		}
		if d := time.Since(t0); d > 5*time.Second {
			t.Errorf("%s: closed after %v", name, d)
		}
	}
	// The same silence inside a WebSocket tunnel.
	ws, _, err := (&websocket.Dialer{Subprotocols: []string{"SPDY/3.1+portforward.k8s.io"}}).Dial("ws"+strings.TrimPrefix(u, "http"), nil)
	if err != nil {
		t.Fatal(err)
	}
	ws.SetReadDeadline(time.Now().Add(10 * time.Second))
	t0 := time.Now()
	for {
		if _, _, err := ws.ReadMessage(); err != nil {
			if ne, ok := err.(net.Error); ok && ne.Timeout() {
				t.Errorf("tunnel: not closed by the server")
			}
			break
		}
	}
	if d := time.Since(t0); d > 5*time.Second {
		t.Errorf("tunnel: closed after %v", d)
	}
	ws.Close()
	for _, c := range clients {
		c.Close()
	}
	deadline := time.Now().Add(5 * time.Second)
	for runtime.NumGoroutine() > base && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	if n := runtime.NumGoroutine(); n > base {
		buf := make([]byte, 1<<20)
		t.Errorf("%d goroutines, %d before\n%s", n, base, buf[:runtime.Stack(buf, true)])
	}
}

// TestPortForwardSPDYPendingBound: a client that opens error streams and
// never their data streams holds at most streaming.MaxPendingPortForwardPairs
// requests; the next one is told so on its stream.
func TestPortForwardSPDYPendingBound(t *testing.T) {
	_, u, _ := pfRunningServer(t, &pfNode{})
	conn := spdyConn(t, u)
	for i := range streaming.MaxPendingPortForwardPairs {
		pfStreams(t, conn, "8080", fmt.Sprint(i), false)
	}
	errS, _ := pfStreams(t, conn, "8080", "one-too-many", false)
	b, _ := io.ReadAll(errS)
	if want := fmt.Sprintf("too many port-forward requests in progress on this connection (at most %d)", streaming.MaxPendingPortForwardPairs); string(b) != want {
		t.Errorf("request %d: %q, want %q", streaming.MaxPendingPortForwardPairs+1, b, want)
	}
}
