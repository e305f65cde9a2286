package wasisock_test

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/netip"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/wasmpod/wasmpod/internal/testnet"
	"github.com/wasmpod/wasmpod/internal/testwasm"
	"github.com/wasmpod/wasmpod/network"
	"github.com/wasmpod/wasmpod/runtime"
	"github.com/wasmpod/wasmpod/runtime/enginetest"
)

type env struct {
	*testnet.Env
	t *testing.T
}

var (
	probeOnce sync.Once
	probeWasm []byte
)

// newEnv: the netprobe guest on a network that denies egress.
func newEnv(t *testing.T, maxFDs int) *env {
	return newEnvWith(t, maxFDs, network.Config{DenyEgress: true})
}

func newEnvWith(t *testing.T, maxFDs int, cfg network.Config) *env {
	t.Helper()
	probeOnce.Do(func() { probeWasm = testwasm.Build(t, testwasm.GuestDir(t, "netprobe")) })
	if probeWasm == nil {
		t.Fatal("netprobe did not build")
	}
	return &env{Env: testnet.New(t, probeWasm, maxFDs, cfg), t: t}
}

type run struct {
	t    *testing.T
	name string
	inst runtime.Instance
	out  *enginetest.Buffer
}

// start runs netprobe with args in the pod pn (nil: no network).
func (e *env) start(name string, pn network.PodNet, args ...string) *run {
	e.t.Helper()
	out := enginetest.NewBuffer()
	cfg := runtime.ContainerConfig{Name: name, Args: append([]string{"netprobe"}, args...), Stdout: out, Stderr: out}
	if pn != nil {
		cfg.Net = pn
	}
	inst, err := e.Engine.Start(context.Background(), e.Module, cfg)
	if err != nil {
		e.t.Fatal(err)
	}
	r := &run{t: e.t, name: name, inst: inst, out: out}
	e.t.Cleanup(func() {
		inst.Kill()
		<-inst.Done()
	})
	return r
}

// wait waits for the guest to exit and returns its output; it fails the
// test on a timeout or a non-zero exit code other than want.
func (r *run) wait(want int) string {
	r.t.Helper()
	select {
	case <-r.inst.Done():
	case <-time.After(60 * time.Second):
		r.inst.Kill()
		r.t.Fatalf("%s: still running after 60 s; output:\n%s", r.name, r.out)
	}
	st := r.inst.Status()
	if st.ExitCode != want {
		r.t.Fatalf("%s: exit code %d (%s), want %d; output:\n%s", r.name, st.ExitCode, st.Message, want, r.out)
	}
	return r.out.String()
}

// waitFor waits until the output contains s.
func (r *run) waitFor(s string) {
	r.t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for !strings.Contains(r.out.String(), s) {
		select {
		case <-r.inst.Done():
			r.t.Fatalf("%s exited (%+v) before printing %q; output:\n%s", r.name, r.inst.Status(), s, r.out)
		case <-time.After(5 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			r.t.Fatalf("%s: no %q after 60 s; output:\n%s", r.name, s, r.out)
		}
	}
}

func mustContain(t *testing.T, out string, subs ...string) {
	t.Helper()
	for _, s := range subs {
		if !strings.Contains(out, s) {
			t.Errorf("output lacks %q:\n%s", s, out)
		}
	}
}

func TestEchoBetweenPods(t *testing.T) {
	e := newEnv(t, 0)
	a := e.Pod("a", "10.244.0.10")
	b := e.Pod("b", "10.244.0.11")
	srv := e.start("a/server", a, "echo-server", ":7000", "1")
	srv.waitFor("listening")
	cli := e.start("b/client", b, "echo-client", "10.244.0.10:7000", "hello over the fabric")
	out := cli.wait(0)
	mustContain(t, out, "connected 10.244.0.11:", "-> 10.244.0.10:7000", "got: hello over the fabric")
	mustContain(t, srv.wait(0), "listening 0.0.0.0:7000", "accepted from 10.244.0.11:")
}

func TestEADDRINUSEWithinPod(t *testing.T) {
	e := newEnv(t, 0)
	p := e.Pod("p", "10.244.0.20")
	mustContain(t, e.start("p/one", p, "bind-twice", ":7001").wait(0), "second listen: listen tcp 0.0.0.0:7001: bind: Address already in use", "EADDRINUSE")

	// Another container of the same pod shares the port space.
	hold := e.start("p/holder", p, "listen-hold", ":7002")
	hold.waitFor("listening")
	mustContain(t, e.start("p/other", p, "listen-hold", "127.0.0.1:7002").wait(1), "listen: listen tcp 127.0.0.1:7002: bind: Address already in use")
	// Another pod does not.
	q := e.Pod("q", "10.244.0.21")
	e.start("q/free", q, "listen-hold", ":7002").waitFor("listening 0.0.0.0:7002")
}

func TestLocalhostBetweenContainers(t *testing.T) {
	e := newEnv(t, 0)
	p := e.Pod("p", "10.244.0.30")
	srv := e.start("p/server", p, "echo-server", "127.0.0.1:7003", "1")
	srv.waitFor("listening")
	mustContain(t, e.start("p/client", p, "echo-client", "localhost:7003", "ping").wait(0), "got: ping", "-> 127.0.0.1:7003")
	srv.wait(0)

	// The loopback listener is not reachable from another pod.
	q := e.Pod("q", "10.244.0.31")
	srv2 := e.start("p/server2", p, "listen-hold", "127.0.0.1:7004")
	srv2.waitFor("listening")
	mustContain(t, e.start("q/dial", q, "dial-once", "10.244.0.30:7004").wait(1), "connect: Connection refused")
	mustContain(t, e.start("p/dial", p, "dial-once", "10.244.0.30:7004").wait(1), "connect: Connection refused")
	mustContain(t, e.start("p/dial-lo", p, "dial-once", "127.0.0.1:7004").wait(0), "connected")
}

func TestUDP(t *testing.T) {
	e := newEnv(t, 0)
	a := e.Pod("a", "10.244.0.40")
	b := e.Pod("b", "10.244.0.41")
	srv := e.start("a/udp", a, "udp-server", ":5300", "1")
	srv.waitFor("listening")
	mustContain(t, e.start("b/udp", b, "udp-client", "10.244.0.40:5300", "quiet please").wait(0), "got: QUIET PLEASE")
	mustContain(t, srv.wait(0), "from 10.244.0.41:", ": quiet please")
}

func TestGetaddrinfo(t *testing.T) {
	e := newEnv(t, 0)
	p := e.Pod("p", "10.244.0.50")
	e.Pod("db-0", "10.244.0.51")
	if err := e.Net.SetService(network.Service{Namespace: "default", Name: "web", ClusterIP: netip.MustParseAddr("10.96.0.50"),
		Ports: []network.ServicePort{{Port: 80}}}); err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string]string{
		"web":                           "10.96.0.50",
		"web.default":                   "10.96.0.50",
		"web.default.svc.cluster.local": "10.96.0.50",
		"localhost":                     "127.0.0.1",
		"10.1.2.3":                      "10.1.2.3",
	} {
		out := e.start("p/lookup-"+name, p, "lookup", name).wait(0)
		if strings.Fields(out)[0] != want {
			t.Errorf("lookup %s = %q, want %s first", name, out, want)
		}
	}
	mustContain(t, e.start("p/lookup-missing", p, "lookup", "nosuchservice").wait(1), "lookup: lookup nosuchservice: no such host")
}

func TestHTTPThroughService(t *testing.T) {
	e := newEnv(t, 0)
	s1 := e.Pod("web-1", "10.244.0.61")
	s2 := e.Pod("web-2", "10.244.0.62")
	c := e.Pod("client", "10.244.0.63")
	e.start("web-1/server", s1, "http-server", ":8080", "from web-1").waitFor("listening")
	e.start("web-2/server", s2, "http-server", ":8080", "from web-2").waitFor("listening")
	if err := e.Net.SetService(network.Service{Namespace: "default", Name: "web", ClusterIP: netip.MustParseAddr("10.96.0.60"),
		Ports: []network.ServicePort{{Port: 80, Endpoints: []netip.AddrPort{
			netip.MustParseAddrPort("10.244.0.61:8080"), netip.MustParseAddrPort("10.244.0.62:8080")}}}}); err != nil {
		t.Fatal(err)
	}
	out := e.start("client/get", c, "http-get", "http://web/", "4").wait(0)
	mustContain(t, out, "body: from web-1", "body: from web-2")
	if n := strings.Count(out, "body: "); n != 4 {
		t.Errorf("%d bodies, want 4:\n%s", n, out)
	}
}

func TestKillWhileBlocked(t *testing.T) {
	e := newEnv(t, 0)
	p := e.Pod("p", "10.244.0.70")
	q := e.Pod("q", "10.244.0.71")
	killed := func(r *run, what string) {
		t.Helper()
		r.waitFor(what)
		time.Sleep(50 * time.Millisecond) // let it enter the host call
		start := time.Now()
		r.inst.Kill()
		select {
		case <-r.inst.Done():
		case <-time.After(5 * time.Second):
			t.Fatalf("%s: not stopped 5 s after Kill; output:\n%s", r.name, r.out)
		}
		if d := time.Since(start); d > time.Second {
			t.Errorf("%s: stopped %v after Kill", r.name, d)
		}
		if st := r.inst.Status(); st.ExitCode != 137 || !st.Killed {
			t.Errorf("%s: status %+v, want killed with 137", r.name, st)
		}
		if strings.Contains(r.out.String(), "returned") {
			t.Errorf("%s: the blocked call returned to the guest:\n%s", r.name, r.out)
		}
	}
	killed(e.start("p/accept", p, "block-accept", "0.0.0.0:7010"), "blocking in accept")
	e.start("q/hold", q, "listen-hold", ":7011").waitFor("listening")
	killed(e.start("p/recv", p, "block-recv", "10.244.0.71:7011"), "blocking in recv")
}

func TestEMFILE(t *testing.T) {
	e := newEnv(t, 32)
	p := e.Pod("p", "10.244.0.80")
	out := e.start("p/emfile", p, "emfile").wait(0)
	mustContain(t, out, "EMFILE")
	// stdio and the root preopen take 4 fds.
	mustContain(t, out, "opened 28 sockets")
}

func TestNoNetwork(t *testing.T) {
	e := newEnv(t, 0)
	out := e.start("nonet", nil, "emfile").wait(0)
	mustContain(t, out, "opened 0 sockets, then: Not supported")
	mustContain(t, e.start("nonet-lookup", nil, "lookup", "web").wait(1), "lookup web")
}

func TestBadInput(t *testing.T) {
	e := newEnv(t, 0)
	p := e.Pod("p", "10.244.0.90")
	out := e.start("p/bad", p, "badinput").wait(0)
	for _, want := range []string{
		"open-family-99: 5 ",          // EAFNOSUPPORT
		"open-type-9: 67 ",            // EPROTOTYPE
		"open-bad-result-ptr: 21 ",    // EFAULT
		"bind-buflen-7: 28 ",          // EINVAL
		"bind-bad-buf-ptr: 21 ",       // EFAULT
		"bind-bad-addr-ptr: 21 ",      // EFAULT
		"bind-port-70000: 28 ",        // EINVAL
		"bind-not-a-socket: 57 ",      // ENOTSOCK
		"bind-bad-fd: 8 ",             // EBADF
		"setsockopt-bad-level: 50 ",   // ENOPROTOOPT
		"setsockopt-bad-name: 50 ",    // ENOPROTOOPT
		"setsockopt-short-len: 28 ",   // EINVAL
		"getsockopt-bad-ptr: 21 ",     // EFAULT
		"connect-refused: 14 ",        // ECONNREFUSED
		"getpeeraddr-notconn: 53 ",    // ENOTCONN
		"getlocaladdr-short-buf: 28 ", // EINVAL
		"recv-huge-iovec: 21 ",        // EFAULT
		"send-huge-iovec: 21 ",        // EFAULT
		"send-iovs-count-huge: 28 ",   // EINVAL
		"sendto-bad-addr: 21 ",        // EFAULT
		"getaddrinfo-bad-res: 21 ",    // EFAULT
		"getaddrinfo-huge-name: 28 ",  // EINVAL
		"done: ok",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q", want)
		}
	}
	if t.Failed() {
		t.Log(out)
	}
	_ = fmt.Sprint
}

// TestEgressFromGuest: a guest's connect out of the cluster completes in
// the background (EINPROGRESS, then SO_ERROR), as the guest library waits
// for it; a refused one surfaces as ECONNREFUSED. The egress dialer is
// routed to a real listener on loopback.
func TestEgressFromGuest(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				io.Copy(c, c)
				c.Close()
			}()
		}
	}()
	closed, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	refusedAddr := closed.Addr().String()
	closed.Close()
	routes := map[string]string{"203.0.113.7:80": ln.Addr().String(), "203.0.113.8:80": refusedAddr}
	e := newEnvWith(t, 0, network.Config{Dial: func(ctx context.Context, network, address string) (net.Conn, error) {
		if address == "203.0.113.9:80" { // a black hole: the connect never completes
			<-ctx.Done()
			return nil, ctx.Err()
		}
		to, ok := routes[address]
		if !ok {
			return nil, syscall.EHOSTUNREACH
		}
		var d net.Dialer
		return d.DialContext(ctx, network, to)
	}})
	p := e.Pod("p", "10.244.0.40")
	out := e.start("p/egress", p, "echo-client", "203.0.113.7:80", "hello, outside").wait(0)
	mustContain(t, out, "connected 10.244.0.40:", "-> 203.0.113.7:80", "got: hello, outside")
	mustContain(t, e.start("p/refused", p, "dial-once", "203.0.113.8:80").wait(1), "connect: Connection refused")
	// The guest's context deadline ends a connect that never completes,
	// reported as Go's dialer does.
	mustContain(t, e.start("p/timeout", p, "dial-timeout", "203.0.113.9:80", "200").wait(1), "dial: dial tcp 203.0.113.9:80: i/o timeout")
}
