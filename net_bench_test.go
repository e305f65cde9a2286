//go:build unix

package wasmpod

// Benchmarks of the pod network (issue 4), each against a baseline measured
// in the same run; they report figures and never assert timing.
//
//	go test -run '^$' -bench 'PodToPod|IdleServers|ServiceHTTP' -benchtime 1x .
//
//   - BenchmarkPodToPodTCP: two pods on one in-process network, Go guests
//     (wasm-examples/testguests/netbench) on wazero with the WasmEdge socket
//     ABI. throughput: the client streams 128 MiB per op in 32 KiB writes to a
//     sink (b.SetBytes: MB/s); connect: 1,000 connects per op, each waiting
//     for the server's close; dial-ns is the time in Dial alone (connect
//     latency proper), ns/connect the whole cycle. The baseline is host-native Go doing the same
//     over real loopback TCP; x-loopback is guest/native throughput (higher
//     is better) or guest/native time per connect (lower is better), both
//     from the guests' own timing, which leaves out their start-up.
//   - BenchmarkIdleServers: 100 pods of the web example's server through
//     wasmpod.New (memory store, one node), all Running and listening; the
//     process's CPU time (getrusage, user+sys) over an idle window, as a
//     percentage of one core, against the same Cluster's with 0 pods,
//     measured first (both are near the noise floor of getrusage's
//     accounting, about 0.1 %).
//   - BenchmarkServiceHTTP: a client guest GETs http://web/, a Service over
//     two server pods; new-conn (keep-alive off, so every request picks an
//     endpoint) and keep-alive (one connection, one endpoint); 200 requests
//     per op. The baseline is host-native net/http over loopback, the client
//     dialling two servers round robin.
//
// The pod-to-pod and Service benchmarks use the engine with the socket
// functions and an in-process network directly (internal/testnet, as
// runtime/wasi/wasisock's tests do): the control plane only configures the
// data path they measure.
//
// Measured on the 2-core machine, connect and HTTP are bound by the guests'
// CPU, not the fabric: a CPU profile puts most of the time in the guests'
// wasm code (docs/ARCHITECTURE.md has the figures).

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/wasmpod/wasmpod/internal/testnet"
	"github.com/wasmpod/wasmpod/internal/testwasm"
	"github.com/wasmpod/wasmpod/logs"
	"github.com/wasmpod/wasmpod/network"
	wruntime "github.com/wasmpod/wasmpod/runtime"
)

const (
	netChunk       = 32 << 10  // bytes per write, guest and native
	netStreamBytes = 128 << 20 // bytes per throughput op
	netConnects    = 1000      // connects per connect op
	netRequests    = 200       // requests per HTTP op
)

var (
	netbenchOnce sync.Once
	netbenchWasm []byte
)

// netbenchModule builds the netbench guest once per test binary.
func netbenchModule(b *testing.B) []byte {
	netbenchOnce.Do(func() { netbenchWasm = testwasm.Build(b, testwasm.GuestDir(b, "netbench")) })
	if netbenchWasm == nil {
		b.Fatal("netbench did not build")
	}
	return netbenchWasm
}

// netEnv is an engine with the socket ABI, the compiled netbench guest and
// an in-process network that denies egress.
type netEnv struct {
	*testnet.Env
	b *testing.B
}

func newNetEnv(b *testing.B) *netEnv {
	b.Helper()
	return &netEnv{Env: testnet.New(b, netbenchModule(b), 0, network.Config{DenyEgress: true}), b: b}
}

// lineWatch is a goroutine-safe output buffer that signals when a line
// starting with a prefix appears.
type lineWatch struct {
	mu      sync.Mutex
	buf     strings.Builder
	partial string
	waiters map[string]chan struct{}
}

func (w *lineWatch) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.buf.Write(p)
	w.partial += string(p)
	for {
		i := strings.IndexByte(w.partial, '\n')
		if i < 0 {
			break
		}
		line := w.partial[:i]
		w.partial = w.partial[i+1:]
		for prefix, ch := range w.waiters {
			if strings.HasPrefix(line, prefix) {
				close(ch)
				delete(w.waiters, prefix)
			}
		}
	}
	return len(p), nil
}

// on returns a channel closed when a line starting with prefix is written
// after this call.
func (w *lineWatch) on(prefix string) <-chan struct{} {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.waiters == nil {
		w.waiters = map[string]chan struct{}{}
	}
	ch := make(chan struct{})
	w.waiters[prefix] = ch
	return ch
}

func (w *lineWatch) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.buf.String()
}

// netGuest is a running netbench instance.
type netGuest struct {
	b     *testing.B
	name  string
	inst  wruntime.Instance
	out   *lineWatch
	stdin *io.PipeWriter
}

// start runs netbench with args in pod pn. Servers wait for TERM; clients
// wait for go().
func (e *netEnv) start(name string, pn network.PodNet, args ...string) *netGuest {
	e.b.Helper()
	out := &lineWatch{}
	pr, pw := io.Pipe()
	g := &netGuest{b: e.b, name: name, out: out, stdin: pw}
	listening, ready := out.on("listening"), out.on("ready")
	inst, err := e.Engine.Start(context.Background(), e.Module, wruntime.ContainerConfig{
		Name: name, Args: append([]string{"netbench"}, args...), Stdin: pr, Stdout: out, Stderr: out, Net: pn})
	if err != nil {
		e.b.Fatal(err)
	}
	g.inst = inst
	e.b.Cleanup(func() {
		pw.Close()
		inst.Kill()
		<-inst.Done()
	})
	// Both kinds print one of these once set up.
	select {
	case <-listening:
	case <-ready:
	case <-inst.Done():
		e.b.Fatalf("%s exited early (%+v):\n%s", name, inst.Status(), out)
	case <-time.After(60 * time.Second):
		e.b.Fatalf("%s: not set up after 60 s:\n%s", name, out)
	}
	return g
}

// run releases a client from its "ready" wait and waits for it to exit 0;
// it returns the guest's own timing of its work and its output.
func (g *netGuest) run() (time.Duration, string) {
	g.b.Helper()
	elapsed := g.out.on("elapsed-ns")
	if _, err := io.WriteString(g.stdin, "go\n"); err != nil {
		g.b.Fatalf("%s: %v", g.name, err)
	}
	select {
	case <-elapsed:
	case <-g.inst.Done():
	case <-time.After(5 * time.Minute):
		g.inst.Kill()
		g.b.Fatalf("%s: still running after 5 min:\n%s", g.name, g.out)
	}
	<-g.inst.Done()
	out := g.out.String()
	if st := g.inst.Status(); st.ExitCode != 0 {
		g.b.Fatalf("%s: exit code %d (%s):\n%s", g.name, st.ExitCode, st.Message, out)
	}
	for _, line := range strings.Split(out, "\n") {
		if v, ok := strings.CutPrefix(line, "elapsed-ns "); ok {
			ns, err := strconv.ParseInt(v, 10, 64)
			if err != nil || ns <= 0 {
				g.b.Fatalf("%s: bad %q", g.name, line)
			}
			return time.Duration(ns), out
		}
	}
	g.b.Fatalf("%s: no elapsed-ns line:\n%s", g.name, out)
	return 0, ""
}

// nativeServe accepts on a loopback listener until it is closed, handling
// each connection on its own goroutine.
func nativeServe(b *testing.B, handle func(net.Conn)) net.Listener {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go handle(c)
		}
	}()
	b.Cleanup(func() { ln.Close() })
	return ln
}

// nativeStream is the guest's "stream" mode, natively over loopback.
func nativeStream(b *testing.B, total int) time.Duration {
	ln := nativeServe(b, func(c net.Conn) { io.Copy(io.Discard, c); c.Close() })
	defer ln.Close()
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	buf := make([]byte, netChunk)
	for i := range buf {
		buf[i] = byte(i)
	}
	start := time.Now()
	for sent := 0; sent < total; {
		k, err := c.Write(buf[:min(netChunk, total-sent)])
		if err != nil {
			b.Fatal(err)
		}
		sent += k
	}
	if err := c.(*net.TCPConn).CloseWrite(); err != nil {
		b.Fatal(err)
	}
	if _, err := io.Copy(io.Discard, c); err != nil {
		b.Fatal(err)
	}
	return time.Since(start)
}

// nativeConnect is the guest's "connect" mode, natively over loopback; it
// returns the total time and the time spent in Dial.
func nativeConnect(b *testing.B, n int) (total, dialing time.Duration) {
	ln := nativeServe(b, func(c net.Conn) { c.Close() })
	defer ln.Close()
	addr := ln.Addr().String()
	buf := make([]byte, 1)
	start := time.Now()
	for range n {
		t0 := time.Now()
		c, err := net.Dial("tcp", addr)
		if err != nil {
			b.Fatal(err)
		}
		dialing += time.Since(t0)
		if _, err := c.Read(buf); err != io.EOF {
			b.Fatalf("read: want EOF, got %v", err)
		}
		c.Close()
	}
	return time.Since(start), dialing
}

// outputNs returns the value of the guest's "KEY N" output line (ns).
func outputNs(b *testing.B, out, key string) time.Duration {
	for _, line := range strings.Split(out, "\n") {
		if v, ok := strings.CutPrefix(line, key+" "); ok {
			ns, err := strconv.ParseInt(v, 10, 64)
			if err != nil || ns < 0 {
				b.Fatalf("bad %q", line)
			}
			return time.Duration(ns)
		}
	}
	b.Fatalf("no %s line:\n%s", key, out)
	return 0
}

func BenchmarkPodToPodTCP(b *testing.B) {
	b.Run("throughput", func(b *testing.B) {
		e := newNetEnv(b)
		srv := e.Pod("server", "10.244.0.10")
		cli := e.Pod("client", "10.244.0.11")
		e.start("server/sink", srv, "sink", ":7000")
		total := b.N * netStreamBytes
		c := e.start("client/stream", cli, "stream", "10.244.0.10:7000", strconv.Itoa(total), strconv.Itoa(netChunk))
		b.SetBytes(netStreamBytes)
		b.ResetTimer()
		guestTime, out := c.run()
		b.StopTimer()
		if !strings.Contains(out, fmt.Sprintf("sent %d", total)) {
			b.Fatalf("client output:\n%s", out)
		}
		// The native baseline streams at least 512 MiB, however small b.N.
		nativeTotal := max(total, 4*netStreamBytes)
		native := nativeStream(b, nativeTotal)
		mbps := func(bytes int, d time.Duration) float64 { return float64(bytes) / d.Seconds() / 1e6 }
		guest, loop := mbps(total, guestTime), mbps(nativeTotal, native)
		b.ReportMetric(guest, "guest-MB/s")
		b.ReportMetric(loop, "loopback-MB/s")
		b.ReportMetric(guest/loop, "x-loopback")
	})
	b.Run("connect", func(b *testing.B) {
		e := newNetEnv(b)
		srv := e.Pod("server", "10.244.0.10")
		cli := e.Pod("client", "10.244.0.11")
		e.start("server/closer", srv, "closer", ":7000")
		n := b.N * netConnects
		c := e.start("client/connect", cli, "connect", "10.244.0.10:7000", strconv.Itoa(n))
		b.ResetTimer()
		guestTime, out := c.run()
		b.StopTimer()
		if !strings.Contains(out, fmt.Sprintf("connects %d", n)) {
			b.Fatalf("client output:\n%s", out)
		}
		native, nativeDial := nativeConnect(b, netConnects) // bounded: TIME_WAIT sockets
		guestNs := float64(guestTime.Nanoseconds()) / float64(n)
		loopNs := float64(native.Nanoseconds()) / netConnects
		dialNs := float64(outputNs(b, out, "dial-ns").Nanoseconds()) / float64(n)
		loopDialNs := float64(nativeDial.Nanoseconds()) / netConnects
		b.ReportMetric(guestNs, "ns/connect")
		b.ReportMetric(loopNs, "loopback-ns/connect")
		b.ReportMetric(guestNs/loopNs, "x-loopback")
		b.ReportMetric(dialNs, "dial-ns")
		b.ReportMetric(loopDialNs, "loopback-dial-ns")
		b.ReportMetric(dialNs/loopDialNs, "dial-x-loopback")
	})
}

func BenchmarkServiceHTTP(b *testing.B) {
	for _, keepAlive := range []bool{false, true} {
		name := "new-conn"
		if keepAlive {
			name = "keep-alive"
		}
		b.Run(name, func(b *testing.B) {
			e := newNetEnv(b)
			s1 := e.Pod("web-1", "10.244.0.21")
			s2 := e.Pod("web-2", "10.244.0.22")
			cl := e.Pod("client", "10.244.0.23")
			e.start("web-1/server", s1, "http-server", ":8080", "web-1")
			e.start("web-2/server", s2, "http-server", ":8080", "web-2")
			if err := e.Net.SetService(network.Service{Namespace: "default", Name: "web", ClusterIP: netip.MustParseAddr("10.96.0.20"),
				Ports: []network.ServicePort{{Port: 80, Endpoints: []netip.AddrPort{
					netip.MustParseAddrPort("10.244.0.21:8080"), netip.MustParseAddrPort("10.244.0.22:8080")}}}}); err != nil {
				b.Fatal(err)
			}
			n := b.N * netRequests
			c := e.start("client/load", cl, "http-load", "http://web/", strconv.Itoa(n), strconv.FormatBool(keepAlive))
			b.ResetTimer()
			guestTime, out := c.run()
			b.StopTimer()
			want := "answers 2" // both endpoints
			if keepAlive {
				want = "answers 1" // one connection
			}
			if !strings.Contains(out, fmt.Sprintf("requests %d", n)) || !strings.Contains(out, want) {
				b.Fatalf("client output lacks %q:\n%s", want, out)
			}
			native := nativeHTTP(b, netRequests, keepAlive)
			guestRate := float64(n) / guestTime.Seconds()
			loopRate := netRequests / native.Seconds()
			b.ReportMetric(guestRate, "req/s")
			b.ReportMetric(loopRate, "loopback-req/s")
			b.ReportMetric(guestRate/loopRate, "x-loopback")
		})
	}
}

// nativeHTTP is the guest's "http-load" mode natively: two net/http servers
// on loopback, the client dialling them round robin.
func nativeHTTP(b *testing.B, n int, keepAlive bool) time.Duration {
	var addrs []string
	for _, text := range []string{"web-1", "web-2"} {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			b.Fatal(err)
		}
		srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, text) })}
		go srv.Serve(ln)
		defer srv.Close()
		addrs = append(addrs, ln.Addr().String())
	}
	var next atomic.Uint64
	var d net.Dialer
	tr := &http.Transport{
		DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
			return d.DialContext(ctx, network, addrs[next.Add(1)%2])
		},
		DisableKeepAlives: !keepAlive,
	}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr, Timeout: 10 * time.Second}
	get := func() {
		resp, err := client.Get("http://web/")
		if err != nil {
			b.Fatal(err)
		}
		_, err = io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil || resp.StatusCode != http.StatusOK {
			b.Fatalf("native GET: %v %s", err, resp.Status)
		}
	}
	get() // as the guest does before its timed part
	start := time.Now()
	for range n {
		get()
	}
	return time.Since(start)
}

func processCPU(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// cpuPercent is the process's CPU use over d, in percent of one core.
func cpuPercent(b *testing.B, d time.Duration) float64 {
	before, t0 := processCPU(b), time.Now()
	time.Sleep(d)
	return float64(processCPU(b)-before) / float64(time.Since(t0)) * 100
}

func BenchmarkIdleServers(b *testing.B) {
	const pods = 100
	const window = 2500 * time.Millisecond
	ctx := context.Background()
	dir := b.TempDir()
	wasmPath := filepath.Join(dir, "server.wasm")
	if err := os.WriteFile(wasmPath, testwasm.Build(b, filepath.Join(testwasm.RepoRoot(b), "wasm-examples", "web", "server")), 0o644); err != nil {
		b.Fatal(err)
	}
	var listening atomic.Int64
	c, err := New(ctx, Config{
		DataDir:  filepath.Join(dir, "data"),
		CacheDir: testwasm.CacheDir(), // compiled modules survive the run
		// 100 pods × 64Mi (the web example's limit) exceeds the default 4Gi.
		NodeCapacity: corev1.ResourceList{corev1.ResourceMemory: resource.MustParse("16Gi")},
		OnLog: func(_ *corev1.Pod, _ string, stream logs.Stream, line string) {
			if strings.Contains(line, " listening on ") {
				listening.Add(1)
			}
		},
	})
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()

	time.Sleep(time.Second) // let the node's start-up work settle
	baseline := cpuPercent(b, window)

	for i := range pods {
		if _, err := c.Apply(ctx, idleServerPod(fmt.Sprintf("web-%d", i), wasmPath)); err != nil {
			b.Fatal(err)
		}
	}
	deadline := time.Now().Add(time.Minute)
	for listening.Load() < pods {
		if time.Now().After(deadline) {
			b.Fatalf("%d of %d servers listening after 1 min; pods:\n%s", listening.Load(), pods, notRunningPods(ctx, c))
		}
		time.Sleep(20 * time.Millisecond)
	}
	for i := range pods {
		if _, err := c.WaitPod(ctx, "default", fmt.Sprintf("web-%d", i), PodRunning); err != nil {
			b.Fatal(err)
		}
	}
	time.Sleep(500 * time.Millisecond) // status writes and events settle

	// One op is one slice of the idle window; CPU % is a rate, so the
	// slices add up to one window however b.N splits it (250 ms at least).
	slice := max(window/time.Duration(b.N), 250*time.Millisecond)
	var busy, wall time.Duration
	b.ResetTimer()
	for range b.N {
		before, t0 := processCPU(b), time.Now()
		time.Sleep(slice)
		busy += processCPU(b) - before
		wall += time.Since(t0)
	}
	b.StopTimer()
	// Still all running: none crashed or restarted during the window.
	list, err := c.Client().CoreV1().Pods("default").List(ctx, metav1.ListOptions{})
	if err != nil {
		b.Fatal(err)
	}
	running := 0
	for _, p := range list.Items {
		if p.Status.Phase == corev1.PodRunning && len(p.Status.ContainerStatuses) == 1 && p.Status.ContainerStatuses[0].RestartCount == 0 {
			running++
		}
	}
	if running != pods {
		b.Fatalf("%d of %d pods still running without restarts", running, pods)
	}
	pct := float64(busy) / float64(wall) * 100
	b.ReportMetric(pct, "cpu-%-of-core")
	b.ReportMetric(baseline, "baseline-cpu-%-of-core")
}

// notRunningPods is one line per pod of the default namespace that is not Running
// and Ready, for failure messages.
func notRunningPods(ctx context.Context, c *Cluster) string {
	list, err := c.Client().CoreV1().Pods("default").List(ctx, metav1.ListOptions{})
	if err != nil {
		return err.Error()
	}
	var sb strings.Builder
	for _, p := range list.Items {
		if p.Status.Phase == corev1.PodRunning {
			continue
		}
		fmt.Fprintf(&sb, "%s %s node=%q %s %s", p.Name, p.Status.Phase, p.Spec.NodeName, p.Status.Reason, p.Status.Message)
		for _, cs := range p.Status.ContainerStatuses {
			fmt.Fprintf(&sb, " [%s %+v]", cs.Name, cs.State)
		}
		for _, cond := range p.Status.Conditions {
			if cond.Status != corev1.ConditionTrue {
				fmt.Fprintf(&sb, " %s=%s(%s)", cond.Type, cond.Status, cond.Message)
			}
		}
		sb.WriteString("\n")
	}
	return sb.String()
}

// idleServerPod is one pod of the web example's server.
func idleServerPod(name, wasmPath string) *corev1.Pod {
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default", Labels: map[string]string{"app": "web"}},
		Spec: corev1.PodSpec{
			Containers: []corev1.Container{{
				Name:  "server",
				Image: wasmPath,
				Ports: []corev1.ContainerPort{{Name: "http", ContainerPort: 8080}},
				Env: []corev1.EnvVar{{Name: "POD_NAME", ValueFrom: &corev1.EnvVarSource{
					FieldRef: &corev1.ObjectFieldSelector{FieldPath: "metadata.name"}}}},
				Resources: corev1.ResourceRequirements{Limits: corev1.ResourceList{
					corev1.ResourceMemory: resource.MustParse("64Mi")}},
			}},
		},
	}
}
