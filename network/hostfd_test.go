package network

import (
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"os"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/wasmpod/wasmpod/internal/proctest"
)

// countBudget is a host fd budget with a limit (runtime.Budget cannot be
// imported here: the runtime depends on this package).
type countBudget struct {
	mu          sync.Mutex
	limit, used int64
	peak        int64
}

func (b *countBudget) Acquire(n int64) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.used+n > b.limit {
		return false
	}
	b.used += n
	b.peak = max(b.peak, b.used)
	return true
}

func (b *countBudget) Release(n int64) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.used -= n
	if b.used < 0 {
		panic("countBudget: released more than acquired")
	}
}

func (b *countBudget) get() (used, peak int64) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.used, b.peak
}

func hostPortAddr(t testing.TB, n *Network, ip netip.Addr, port int) (io.Closer, string) {
	t.Helper()
	hp, err := n.ListenHostPort(netip.MustParseAddrPort("127.0.0.1:0"), "TCP", ip, port)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { hp.Close() })
	return hp, hp.(interface{ Addr() net.Addr }).Addr().String()
}

// TestHostPortFloodBoundedByFDBudget is the first round's repro at a
// smaller scale: pods listen with the largest backlog on four ports each and
// never accept, every port is a hostPort, and a host client floods them.
// The host connections the Network holds stay within its fd budget and
// the per-listener pending cap, the rest are closed at once, an HTTP server
// of the same process still answers, and once the pods accept and close
// the budget is all given back.
func TestHostPortFloodBoundedByFDBudget(t *testing.T) {
	const (
		budgetFDs = 200
		perPort   = 300
		ports     = 4
	)
	budget := &countBudget{limit: budgetFDs}
	n := newNet(t, Config{HostFDs: budget})
	api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") }))
	defer api.Close()

	var listeners []Socket
	var addrs []string
	for i, ip := range []netip.Addr{ipA, ipB} {
		p := addPod(t, n, "default", []string{"a", "b"}[i], ip)
		for port := 9001; port < 9001+ports/2; port++ {
			l := listenBacklog(t, p, ap(ip, uint16(port)), 4096)
			listeners = append(listeners, l)
			_, a := hostPortAddr(t, n, ip, port)
			addrs = append(addrs, a)
		}
	}
	base := proctest.OpenFDs(t)

	var (
		closed  atomic.Int64
		clients []net.Conn
		wg      sync.WaitGroup
	)
	defer func() {
		for _, c := range clients {
			c.Close()
		}
		wg.Wait()
	}()
	for _, a := range addrs {
		for range perPort {
			c, err := net.DialTimeout("tcp", a, 5*time.Second)
			if err != nil {
				t.Fatalf("dial %s: %v", a, err)
			}
			clients = append(clients, c)
			wg.Add(1)
			go func() {
				defer wg.Done()
				var b [1]byte
				if _, err := c.Read(b[:]); err != nil && !errors.Is(err, net.ErrClosed) {
					closed.Add(1) // EOF or reset: refused by the hostPort
				}
			}()
		}
	}
	total := int64(len(clients))
	wantClosed := total - budgetFDs
	deadline := time.Now().Add(20 * time.Second)
	for closed.Load() < wantClosed {
		if time.Now().After(deadline) {
			used, _ := budget.get()
			t.Fatalf("after %d host connections only %d were refused (want %d); budget in use %d, host fds held %d",
				total, closed.Load(), wantClosed, used, proctest.OpenFDs(t)-base-len(clients))
		}
		time.Sleep(10 * time.Millisecond)
	}
	// The server side of the flood (fds beyond the clients' own) stays
	// within the budget.
	held := proctest.OpenFDs(t) - base - len(clients)
	if held > budgetFDs+16 {
		t.Errorf("the Network holds %d host fds for %d connections, budget %d", held, total, budgetFDs)
	}
	t.Logf("%d host connections: %d refused, %d host fds held (budget %d)", total, closed.Load(), held, budgetFDs)
	if used, peak := budget.get(); used != budgetFDs || peak > budgetFDs {
		t.Errorf("budget used %d peak %d, want %d", used, peak, budgetFDs)
	}
	resp, err := http.Get(api.URL)
	if err != nil {
		t.Fatalf("the process's own server stopped answering: %v", err)
	}
	resp.Body.Close()

	// The pods accept and close what was forwarded: every unit comes back.
	accepted := 0
	for _, l := range listeners {
		for {
			c, err := l.Accept()
			if err != nil {
				wantErr(t, "accept", err, syscall.EAGAIN)
				break
			}
			c.Close()
			accepted++
		}
	}
	if accepted != budgetFDs {
		t.Errorf("pods accepted %d connections, want %d", accepted, budgetFDs)
	}
	deadline = time.Now().Add(10 * time.Second)
	for {
		used, _ := budget.get()
		if used == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("budget still holds %d after every connection ended", used)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestHostPortPendingCapAndBacklog: without a budget, a listener forwards at
// most MaxPendingHostConns connections the pod has not accepted, and never
// more than the pod's backlog; past either, host connections are closed at
// once and never reach the pod later.
func TestHostPortPendingCapAndBacklog(t *testing.T) {
	n := newNet(t, Config{MaxPendingHostConns: 5})
	p := addPod(t, n, "default", "a", ipA)
	big := listenBacklog(t, p, ap(ipA, 80), 4096)
	small := listenBacklog(t, p, ap(ipA, 81), 2)
	_, bigAddr := hostPortAddr(t, n, ipA, 80)
	_, smallAddr := hostPortAddr(t, n, ipA, 81)

	flood := func(addr string, k int) (refused int) {
		var cs []net.Conn
		defer func() {
			for _, c := range cs {
				c.Close()
			}
		}()
		for range k {
			c, err := net.DialTimeout("tcp", addr, 5*time.Second)
			if err != nil {
				t.Fatal(err)
			}
			cs = append(cs, c)
		}
		for _, c := range cs {
			c.SetReadDeadline(time.Now().Add(300 * time.Millisecond))
			var b [1]byte
			_, err := c.Read(b[:])
			var ne net.Error
			if !(errors.As(err, &ne) && ne.Timeout()) {
				refused++
			}
		}
		return refused
	}
	drain := func(l Socket) (k int) {
		for {
			c, err := l.Accept()
			if err != nil {
				wantErr(t, "accept", err, syscall.EAGAIN)
				return k
			}
			c.Close()
			k++
		}
	}
	if r := flood(bigAddr, 12); r != 7 {
		t.Errorf("pending cap 5: %d of 12 refused, want 7", r)
	}
	if k := drain(big); k != 5 {
		t.Errorf("pod accepted %d connections past the pending cap, want 5", k)
	}
	if r := flood(smallAddr, 6); r != 4 {
		t.Errorf("backlog 2: %d of 6 refused, want 4", r)
	}
	time.Sleep(50 * time.Millisecond)
	if k := drain(small); k != 2 {
		t.Errorf("pod accepted %d connections with backlog 2, want 2 (refused ones must not arrive later)", k)
	}
	// Accepting frees the cap: a new round is forwarded again.
	if r := flood(bigAddr, 5); r != 0 {
		t.Errorf("after the pod accepted, %d of 5 refused", r)
	}
}

// TestHostPortSurvivesEMFILE: a hostPort whose accept fails with EMFILE
// (the process is out of fds) backs off and keeps serving once fds are
// free again, rather than stopping for good or spinning.
func TestHostPortSurvivesEMFILE(t *testing.T) {
	n := newNet(t, Config{})
	p := addPod(t, n, "default", "a", ipA)
	l := listen(t, p, ap(ipA, 80))
	_, addr := hostPortAddr(t, n, ipA, 80)

	// Leave the process a single free fd: the client's dial takes it, so
	// the hostPort's accept fails with EMFILE.
	restoreLimit := proctest.LowerFDLimit(t, proctest.FDLimitAbove(t, 16))
	var fillers []*os.File
	restored := false
	restore := func() {
		if !restored {
			restored = true
			for _, f := range fillers {
				f.Close()
			}
			restoreLimit()
		}
	}
	defer restore()
	for {
		f, err := os.Open(os.DevNull)
		if err != nil {
			break
		}
		fillers = append(fillers, f)
	}
	if len(fillers) == 0 {
		t.Skip("could not fill the fd table")
	}
	fillers[len(fillers)-1].Close()
	fillers = fillers[:len(fillers)-1]
	c1, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		restore()
		t.Skipf("dial under a low fd limit: %v", err)
	}
	defer c1.Close()
	time.Sleep(100 * time.Millisecond) // let accept run into EMFILE
	restore()

	c2, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c2.Close()
	deadline := time.After(10 * time.Second)
	for {
		ev, ch := l.Poll()
		if ev&Readable != 0 {
			break
		}
		select {
		case <-ch:
		case <-deadline:
			t.Fatal("the hostPort stopped forwarding after an EMFILE accept")
		}
	}
	s := accept(t, l)
	s.Close()
}

// TestNodePortPendingCap: a NodePort whose endpoint never accepts forwards
// at most MaxPendingHostConns connections and closes the rest at once.
func TestNodePortPendingCap(t *testing.T) {
	budget := &countBudget{limit: 1000}
	n := newNet(t, Config{HostFDs: budget, MaxPendingHostConns: 3})
	p := addPod(t, n, "default", "a", ipA)
	listenBacklog(t, p, ap(ipA, 8080), 4096) // never accepts
	nodePort := freeTCPAndUDPPort(t)
	vip := netip.MustParseAddr("10.96.0.40")
	if err := n.SetService(Service{Name: "web", ClusterIP: vip, Ports: []ServicePort{{Port: 80, NodePort: nodePort, Endpoints: []netip.AddrPort{ap(ipA, 8080)}}}}); err != nil {
		t.Fatal(err)
	}
	var cs []net.Conn
	defer func() {
		for _, c := range cs {
			c.Close()
		}
	}()
	for range 10 {
		c, err := net.DialTimeout("tcp", netip.AddrPortFrom(lo, uint16(nodePort)).String(), 5*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		cs = append(cs, c)
	}
	refused := 0
	for _, c := range cs {
		c.SetReadDeadline(time.Now().Add(300 * time.Millisecond))
		var b [1]byte
		_, err := c.Read(b[:])
		var ne net.Error
		if !(errors.As(err, &ne) && ne.Timeout()) {
			refused++
		}
	}
	if refused != 7 {
		t.Errorf("%d of 10 NodePort connections refused, want 7", refused)
	}
	if used, _ := budget.get(); used != 3 {
		t.Errorf("host fd budget holds %d, want 3", used)
	}
}
