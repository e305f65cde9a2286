package apiserver

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/wasmpod/wasmpod/internal/proctest"
	"github.com/wasmpod/wasmpod/store/memory"
)

const testToken = "test-token-0123456789abcdef"

// servedAPI is a Server on a real loopback TCP listener (token required,
// unauthenticated connections capped) and a real Unix socket, both built
// as `wasmpod serve` builds them.
type servedAPI struct {
	s      *Server
	tcp    *limitListener
	url    string
	socket string
}

func serveAPI(t *testing.T, maxUnauth int, opts ServingOptions) *servedAPI {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	s, err := New(ctx, memory.New(), Options{})
	if err != nil {
		t.Fatal(err)
	}
	tl, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	sock := filepath.Join(t.TempDir(), "api.sock")
	ul, err := ListenUnix(sock)
	if err != nil {
		t.Fatal(err)
	}
	ll := LimitUnauthenticated(tl, maxUnauth)
	tcpSrv := NewHTTPServer(s.Handler(HandlerOptions{Token: testToken}), opts)
	unixSrv := NewHTTPServer(s.Handler(HandlerOptions{}), opts)
	go tcpSrv.Serve(ll)
	go unixSrv.Serve(ul)
	t.Cleanup(func() {
		cancel()
		tcpSrv.Close()
		unixSrv.Close()
	})
	return &servedAPI{s: s, tcp: ll.(*limitListener), url: "http://" + tl.Addr().String(), socket: sock}
}

// answersWithin checks that a client-go List through cs succeeds within d.
func answersWithin(t *testing.T, what string, cs *kubernetes.Clientset, d time.Duration) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	if _, err := cs.CoreV1().Namespaces().List(ctx, metav1.ListOptions{}); err != nil {
		t.Fatalf("%s did not answer within %v: %v", what, d, err)
	}
}

// TestSlowlorisIdleConnectionFlood: thousands of idle, token-less
// connections neither use up the server's file descriptors nor keep out
// an authenticated client (old or new connection) or the Unix socket.
func TestSlowlorisIdleConnectionFlood(t *testing.T) {
	const maxUnauth, flood = 64, 3000
	a := serveAPI(t, maxUnauth, ServingOptions{})

	// A client that authenticated before the flood keeps its connection.
	early, err := kubernetes.NewForConfig(TCPConfig(a.url, testToken))
	if err != nil {
		t.Fatal(err)
	}
	answersWithin(t, "an authenticated client", early, 5*time.Second)

	before := proctest.OpenFDs(t)
	conns := make([]net.Conn, 0, flood)
	defer func() {
		for _, c := range conns {
			c.Close()
		}
	}()
	addr := strings.TrimPrefix(a.url, "http://")
	for i := 0; i < flood; i++ {
		c, err := net.DialTimeout("tcp", addr, 5*time.Second)
		if err != nil {
			t.Fatalf("dial %d: %v", i, err)
		}
		conns = append(conns, c)
		if i%2 == 0 {
			// Half of them start a request and never finish its header.
			io.WriteString(c, "GET /api/v1/pods HTTP/1.1\r\nHost: x\r\n")
		}
	}
	// Let the server accept the backlog.
	deadline := time.Now().Add(30 * time.Second)
	for {
		n := a.tcp.Unauthenticated()
		if n > maxUnauth {
			t.Fatalf("%d unauthenticated connections held, cap %d", n, maxUnauth)
		}
		// Every client conn is one fd; the server may hold at most the cap.
		if extra := proctest.OpenFDs(t) - before - flood; extra <= maxUnauth+8 {
			break
		} else if time.Now().After(deadline) {
			t.Fatalf("the server holds %d descriptors for %d idle connections (cap %d)", extra, flood, maxUnauth)
		}
		time.Sleep(50 * time.Millisecond)
	}

	answersWithin(t, "the authenticated client's existing connection", early, time.Second)
	fresh, err := kubernetes.NewForConfig(TCPConfig(a.url, testToken))
	if err != nil {
		t.Fatal(err)
	}
	answersWithin(t, "a new authenticated client", fresh, time.Second)
	local, err := kubernetes.NewForConfig(UnixSocketConfig(a.socket))
	if err != nil {
		t.Fatal(err)
	}
	answersWithin(t, "the Unix socket", local, time.Second)
	if n := a.tcp.Unauthenticated(); n > maxUnauth {
		t.Fatalf("%d unauthenticated connections held, cap %d", n, maxUnauth)
	}
}

// TestUnauthenticatedCapEvictsOldest: past the cap the oldest
// unauthenticated connection is closed; an authenticated one never is.
func TestUnauthenticatedCapEvictsOldest(t *testing.T) {
	a := serveAPI(t, 3, ServingOptions{})
	addr := strings.TrimPrefix(a.url, "http://")
	dial := func() net.Conn {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		return c
	}
	get := func(c net.Conn, br *bufio.Reader, token string) int {
		req, _ := http.NewRequest("GET", a.url+"/api/v1/namespaces", nil)
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		if err := req.Write(c); err != nil {
			t.Fatal(err)
		}
		c.SetReadDeadline(time.Now().Add(10 * time.Second))
		resp, err := http.ReadResponse(br, req)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp.StatusCode
	}
	authed := dial()
	abr := bufio.NewReader(authed)
	if code := get(authed, abr, testToken); code != 200 {
		t.Fatalf("authenticated request: %d", code)
	}
	wrong := dial()
	wbr := bufio.NewReader(wrong)
	if code := get(wrong, wbr, "not-the-token-0123456789"); code != 401 {
		t.Fatalf("wrong token: %d", code)
	}
	// wrong is still unauthenticated; two more fill the cap of 3.
	idle := []net.Conn{dial(), dial()}
	waitFor(t, func() bool { return a.tcp.Unauthenticated() == 3 })
	dial() // evicts wrong, the oldest
	if _, err := wbr.ReadByte(); err == nil {
		t.Fatal("the oldest unauthenticated connection was not closed")
	}
	dial() // evicts idle[0]
	idle[0].SetReadDeadline(time.Now().Add(10 * time.Second))
	if _, err := idle[0].Read(make([]byte, 1)); err == nil || errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("the next oldest unauthenticated connection was not closed: %v", err)
	}
	if code := get(authed, abr, testToken); code != 200 {
		t.Fatalf("authenticated connection after evictions: %d", code)
	}
	if n := a.tcp.Unauthenticated(); n != 3 {
		t.Fatalf("unauthenticated = %d, want 3", n)
	}
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not met within 10s")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestHalfSentHeaderIsClosed: a client that never finishes its request
// header is cut off at ReadHeaderTimeout, on TCP and on the Unix socket.
func TestHalfSentHeaderIsClosed(t *testing.T) {
	a := serveAPI(t, 0, ServingOptions{ReadHeaderTimeout: 300 * time.Millisecond})
	for _, ep := range []struct{ network, addr string }{
		{"tcp", strings.TrimPrefix(a.url, "http://")}, {"unix", a.socket},
	} {
		c, err := net.Dial(ep.network, ep.addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		io.WriteString(c, "GET /api/v1/pods HTTP/1.1\r\nHost: x\r\nX-Slow: ")
		c.SetReadDeadline(time.Now().Add(20 * time.Second))
		_, err = io.ReadAll(c) // the server may answer 408 first; then EOF
		if errors.Is(err, os.ErrDeadlineExceeded) {
			t.Fatalf("%s: a half-sent header kept the connection open for 20s (ReadHeaderTimeout 300ms)", ep.network)
		}
	}
}

// TestIdleConnectionIsClosed: a keep-alive connection left idle is
// closed at IdleTimeout.
func TestIdleConnectionIsClosed(t *testing.T) {
	a := serveAPI(t, 0, ServingOptions{IdleTimeout: 300 * time.Millisecond})
	c, err := net.Dial("unix", a.socket)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	io.WriteString(c, "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
	br := bufio.NewReader(c)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	c.SetReadDeadline(time.Now().Add(20 * time.Second))
	if _, err := br.ReadByte(); errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatal("an idle keep-alive connection stayed open for 20s (IdleTimeout 300ms)")
	}
}

// TestHeaderTooLarge: headers past MaxHeaderBytes get 431.
func TestHeaderTooLarge(t *testing.T) {
	a := serveAPI(t, 0, ServingOptions{MaxHeaderBytes: 4 << 10})
	req, _ := http.NewRequest("GET", a.url+"/api/v1/namespaces", nil)
	req.Header.Set("Authorization", "Bearer "+testToken)
	req.Header.Set("X-Big", strings.Repeat("a", 64<<10))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusRequestHeaderFieldsTooLarge {
		t.Fatalf("got %d, want 431", resp.StatusCode)
	}
}

func TestCheckToken(t *testing.T) {
	for _, tc := range []struct {
		tok, err string
	}{
		{"", "blank"},
		{"   ", "blank"},
		{"x", "1 characters; at least 16"},
		{"s3cret", "at least 16"},
		{"aaaaaaaaaaaaaaaaaaaaaaaa", "too easy to guess"},
		{"abababababababababababab", "too easy to guess"},
		{"1234567890123456", "too easy to guess"}, // digits only: 53 bits
		{"has a space in it 0123456789", "printable ASCII"},
		{"tab\there-0123456789abcdef", "printable ASCII"},
		{"0123456789abcdef", ""}, // 16 hex digits: 16 distinct, ~83-bit estimate
		{"e2e-token-9f8a7b6c5d4e3f21", ""},
		{"Zm9vYmFyYmF6cXV4MTIzNDU2Nzg5MA", ""},
	} {
		err := CheckToken(tc.tok)
		switch {
		case tc.err == "" && err != nil:
			t.Errorf("CheckToken(%q) = %v, want nil", tc.tok, err)
		case tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err)):
			t.Errorf("CheckToken(%q) = %v, want an error containing %q", tc.tok, err, tc.err)
		}
	}
}
