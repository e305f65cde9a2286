package pods

// Probes, as the kubelet's prober (pkg/kubelet/prober): one goroutine per
// running container instance and probe kind runs the handler every
// periodSeconds after initialDelaySeconds; the outcome goes to the
// worker's goroutine, which decides (probeStatus.observe, pure) and acts:
//
//   - readiness drives the container's ready flag, and so the Ready and
//     ContainersReady conditions and the Service endpoints;
//   - liveness and startup failures (failureThreshold in a row) kill the
//     container — TERM, then kill after the probe-level
//     terminationGracePeriodSeconds or the pod's — with the Unhealthy and
//     Killing events; restartPolicy then restarts it (restartCount + 1);
//   - a startup probe holds liveness and readiness back until it succeeds.
//
// Every failed probe records a Warning Unhealthy event
// ("Readiness probe failed: ..."), as upstream's prober does.

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
)

type probeKind int

const (
	probeStartup probeKind = iota
	probeLiveness
	probeReadiness
)

func (k probeKind) String() string {
	return [...]string{"Startup", "Liveness", "Readiness"}[k]
}

func probeSpec(c *corev1.Container, k probeKind) *corev1.Probe {
	switch k {
	case probeStartup:
		return c.StartupProbe
	case probeLiveness:
		return c.LivenessProbe
	}
	return c.ReadinessProbe
}

// probeCounter is the prober worker's run counting: a result is reported
// once it has come threshold times in a row.
type probeCounter struct {
	last bool
	run  int32
}

// probeStatus is one container instance's probe state (pure; owned by the
// worker's goroutine).
type probeStatus struct {
	// startupPending: a startup probe has not succeeded yet.
	startupPending bool
	// notReady: the readiness result is failure (the zero value, without
	// a readiness probe, is ready).
	notReady bool
	// hold: a liveness or startup failure killed the instance; nothing is
	// probed any more.
	hold     bool
	counters [3]probeCounter
}

// reset starts a new instance's probes: the readiness result starts as
// failure, liveness as success, startup as unknown, as upstream.
func (p *probeStatus) reset(spec *corev1.Container) {
	*p = probeStatus{startupPending: spec.StartupProbe != nil, notReady: spec.ReadinessProbe != nil}
}

// isStarted is the container status's started field for a running container.
func (p *probeStatus) isStarted() bool { return !p.startupPending }

// isReady is the container status's ready field for a running container.
func (p *probeStatus) isReady() bool { return !p.startupPending && !p.notReady && !p.hold }

// probeVerdict is what the worker must do after a probe.
type probeVerdict int

const (
	verdictNone probeVerdict = iota
	verdictChanged
	verdictKill // liveness or startup failed: kill the container
)

// observe records one probe outcome of kind k under spec and returns what
// to do. Outcomes below the threshold change nothing.
func (p *probeStatus) observe(k probeKind, spec *corev1.Probe, ok bool) probeVerdict {
	if p.hold || (k != probeStartup && p.startupPending) {
		return verdictNone
	}
	c := &p.counters[k]
	if c.run > 0 && c.last == ok {
		c.run++
	} else {
		c.last, c.run = ok, 1
	}
	succ, fail := spec.SuccessThreshold, spec.FailureThreshold
	if succ <= 0 {
		succ = 1
	}
	if fail <= 0 {
		fail = 3
	}
	if (ok && c.run < succ) || (!ok && c.run < fail) {
		return verdictNone
	}
	switch k {
	case probeReadiness:
		if p.notReady == ok {
			p.notReady = !ok
			return verdictChanged
		}
	case probeStartup:
		if ok {
			if p.startupPending {
				p.startupPending = false
				return verdictChanged
			}
			return verdictNone
		}
		p.hold = true
		return verdictKill
	case probeLiveness:
		if !ok {
			p.hold = true
			return verdictKill
		}
	}
	return verdictNone
}

// --- the worker side --------------------------------------------------------

// probeMsg is a probe or hook outcome sent to the worker's goroutine.
type probeMsg struct {
	c    *ctr
	in   *instance
	kind probeKind
	ok   bool
	// unknown: the probe could not run (an agent-side error); it counts
	// neither way, as upstream's probe.Unknown.
	unknown bool
	output  string
	// hook, when set, is a hook's outcome (hooks.go) instead of a probe's.
	hook *hookResult
	// eventOnly: only record the hook's failure event.
	eventOnly bool
}

// probeSet is the worker's probe machinery.
type probeSet struct {
	ch chan probeMsg
	// pending are instances started since the last publish: their probes
	// and postStart hooks start once their Running status is published.
	pending []pendingProbe
	// started is each running instance's startup flag, read by its
	// liveness and readiness goroutines.
	started map[*instance]*atomic.Bool
}

type pendingProbe struct {
	c  *ctr
	in *instance
}

func newProbeSet() probeSet {
	return probeSet{ch: make(chan probeMsg, 16), started: map[*instance]*atomic.Bool{}}
}

// queueProbes is called when an instance of c has started.
func (w *Worker) queueProbes(c *ctr, in *instance) {
	c.probe.reset(c.spec)
	w.probes.pending = append(w.probes.pending, pendingProbe{c: c, in: in})
}

// launchProbes starts the pending instances' postStart hooks and probe
// goroutines; called after their Running status is published.
func (w *Worker) launchProbes(ctx context.Context) {
	for in := range w.probes.started {
		select {
		case <-in.done():
			delete(w.probes.started, in)
		default:
		}
	}
	for _, p := range w.probes.pending {
		if w.insts[p.c] != p.in {
			continue // already gone
		}
		started := &atomic.Bool{}
		started.Store(!p.c.probe.startupPending)
		w.probes.started[p.in] = started
		c, in := p.c, p.in
		go func() {
			if h := c.spec.Lifecycle; h != nil && h.PostStart != nil {
				if res := w.runHook(ctx, c, in, "PostStart", h.PostStart, 0); res != nil {
					w.sendProbe(probeMsg{c: c, in: in, hook: res})
					return // the worker kills the container
				}
			}
			for k := probeStartup; k <= probeReadiness; k++ {
				if spec := probeSpec(c.spec, k); spec != nil {
					go w.probeLoop(ctx, c, in, k, spec, started)
				}
			}
		}()
	}
	w.probes.pending = w.probes.pending[:0]
}

func (w *Worker) sendProbe(m probeMsg) bool {
	select {
	case w.probes.ch <- m:
		return true
	case <-m.in.done():
		return false
	case <-w.done:
		return false
	}
}

// done is closed when the instance has exited.
func (in *instance) done() <-chan struct{} { return in.inst.Done() }

func secs(v int32, def int32) time.Duration {
	if v <= 0 {
		v = def
	}
	return time.Duration(v) * time.Second
}

// probeLoop probes until the instance exits: the first probe after
// initialDelaySeconds (liveness and readiness wait for the startup probe's
// success), then one every periodSeconds.
func (w *Worker) probeLoop(ctx context.Context, c *ctr, in *instance, k probeKind, spec *corev1.Probe, started *atomic.Bool) {
	wait := time.Duration(spec.InitialDelaySeconds) * time.Second
	period := secs(spec.PeriodSeconds, 10)
	for {
		t := w.clk.NewTimer(wait)
		select {
		case <-t.C():
		case <-in.done():
			t.Stop()
			return
		case <-ctx.Done():
			t.Stop()
			return
		}
		wait = period
		if k == probeStartup && started.Load() {
			return // upstream stops the startup probe once it succeeded
		}
		if k != probeStartup && !started.Load() {
			continue
		}
		ok, unknown, out := w.probeOnce(ctx, c, spec.ProbeHandler, secs(spec.TimeoutSeconds, 1))
		if !w.sendProbe(probeMsg{c: c, in: in, kind: k, ok: ok, unknown: unknown, output: out}) {
			return
		}
	}
}

// onProbe handles a probe or hook outcome on the worker's goroutine.
func (w *Worker) onProbe(m probeMsg) {
	if m.eventOnly {
		w.ctrEvent(m.c, corev1.EventTypeWarning, "Failed"+m.hook.name+"Hook", m.hook.event())
		return
	}
	if w.insts[m.c] != m.in || m.in.termSent {
		return // a stale instance, or one being stopped
	}
	if m.hook != nil {
		w.onHookFailure(m.c, m.in, m.hook)
		return
	}
	c := m.c
	if m.unknown {
		w.ctrEvent(c, corev1.EventTypeWarning, "Unhealthy", fmt.Sprintf("%s probe errored and resulted in unknown state: %s", m.kind, m.output))
		return
	}
	if m.ok && strings.HasPrefix(m.output, probeRedirectWarning) {
		w.ctrEvent(c, corev1.EventTypeWarning, "ProbeWarning", fmt.Sprintf("%s probe warning: %s", m.kind, m.output))
	}
	if !m.ok {
		w.ctrEvent(c, corev1.EventTypeWarning, "Unhealthy", fmt.Sprintf("%s probe failed: %s", m.kind, m.output))
	}
	spec := probeSpec(c.spec, m.kind)
	switch c.probe.observe(m.kind, spec, m.ok) {
	case verdictChanged:
		if m.kind == probeStartup {
			if f := w.probes.started[m.in]; f != nil {
				f.Store(true)
			}
		}
	case verdictKill:
		w.ctrEvent(c, corev1.EventTypeNormal, "Killing", fmt.Sprintf("Container %s failed %s probe, will be restarted", c.spec.Name, strings.ToLower(m.kind.String())))
		grace := w.state.gracePeriod()
		if spec.TerminationGracePeriodSeconds != nil {
			grace = time.Duration(*spec.TerminationGracePeriodSeconds) * time.Second
		}
		w.stopInstance(c, m.in, grace)
	}
}

// stopInstance stops one container instance as the kubelet's killContainer
// does: preStop (hooks.go), then TERM, then kill once grace has passed.
func (w *Worker) stopInstance(c *ctr, in *instance, grace time.Duration) {
	in.termSent = true
	go func() {
		t0 := w.clk.Now()
		if h := c.spec.Lifecycle; h != nil && h.PreStop != nil {
			if r := w.runHook(context.Background(), c, in, "PreStop", h.PreStop, grace); r != nil {
				w.sendProbe(probeMsg{c: c, in: in, hook: r, eventOnly: true})
			}
		}
		left := grace - w.clk.Since(t0)
		if left < minGraceAfterPreStop {
			left = minGraceAfterPreStop
		}
		in.inst.Terminate()
		t := w.clk.NewTimer(left)
		defer t.Stop()
		select {
		case <-t.C():
			in.inst.Kill()
		case <-in.done():
		}
	}()
}

// --- handlers ---------------------------------------------------------------

// maxProbeOutput bounds a probe's output kept for the event, as upstream's
// 10 KiB limit on an HTTP probe's body and exec output.
const maxProbeOutput = 10 * 1024

// limitedBuffer keeps the first maxProbeOutput bytes written to it.
type limitedBuffer struct{ bytes.Buffer }

func (b *limitedBuffer) Write(p []byte) (int, error) {
	if room := maxProbeOutput - b.Len(); room > 0 {
		b.Buffer.Write(p[:min(len(p), room)])
	}
	return len(p), nil
}

// probeOnce runs one handler with the timeout. unknown reports an error
// of the agent (not of the container), counted neither way.
func (w *Worker) probeOnce(ctx context.Context, c *ctr, h corev1.ProbeHandler, timeout time.Duration) (ok, unknown bool, out string) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	switch {
	case h.Exec != nil:
		return w.execProbe(ctx, c, h.Exec.Command, timeout)
	case h.HTTPGet != nil:
		return w.httpProbe(ctx, c, h.HTTPGet)
	case h.TCPSocket != nil:
		port, err := resolvePort(h.TCPSocket.Port, c.spec)
		if err != nil {
			return false, false, err.Error()
		}
		conn, err := w.dialPod(ctx, h.TCPSocket.Host, port)
		if err != nil {
			return false, false, err.Error()
		}
		conn.Close()
		return true, false, ""
	case h.GRPC != nil:
		return w.grpcProbe(ctx, h.GRPC, timeout)
	}
	return false, true, "probe has no handler"
}

func (w *Worker) execProbe(ctx context.Context, c *ctr, cmd []string, timeout time.Duration) (bool, bool, string) {
	var out limitedBuffer
	code, err := w.Exec(ctx, c.spec.Name, cmd, strings.NewReader(""), &out, &out)
	if ctx.Err() == context.DeadlineExceeded {
		return false, false, fmt.Sprintf("command %q timed out", strings.Join(cmd, " "))
	}
	if err != nil {
		return false, true, err.Error()
	}
	return code == 0, false, out.String()
}

// resolvePort resolves a named port against the container's ports.
func resolvePort(p intstr.IntOrString, c *corev1.Container) (int, error) {
	if p.Type == intstr.Int {
		if p.IntVal < 1 || p.IntVal > 65535 {
			return 0, fmt.Errorf("invalid port number: %d", p.IntVal)
		}
		return int(p.IntVal), nil
	}
	for _, cp := range c.Ports {
		if cp.Name == p.StrVal {
			return int(cp.ContainerPort), nil
		}
	}
	if n, err := strconv.Atoi(p.StrVal); err == nil && n > 0 && n < 65536 {
		return n, nil
	}
	return 0, fmt.Errorf("couldn't find port: %v in %v", p.StrVal, c.Name)
}

// NodeDialer connects from the node to a pod IP (or Service VIP) as the
// kubelet's probes do: a listener bound only to the pod's loopback is not
// reachable. *network.Network implements it.
type NodeDialer interface {
	DialFromNode(ctx context.Context, ip netip.Addr, port int) (net.Conn, error)
}

// dialPod connects to port of the pod (host empty or the pod's IP), or of
// another pod, from the node through the pod network, as upstream's
// probes reach the pod IP: a server listening only on the pod's 127.0.0.1
// is refused. (A Network without DialFromNode is dialed as port-forward.)
func (w *Worker) dialPod(ctx context.Context, host string, port int) (net.Conn, error) {
	d, ok := w.cfg.Network.(PodDialer)
	if !ok || w.podNet == nil {
		return nil, fmt.Errorf("dial tcp :%d: the pod has no network", port)
	}
	ip := w.podIP
	if host != "" && host != w.podIP.String() {
		// Another pod of the pod network, never the host's network: a
		// probe or hook is written by whoever may create pods, and the
		// server's own ports (its loopback) are not theirs to reach.
		a, err := netip.ParseAddr(host)
		if err != nil {
			return nil, fmt.Errorf("dial tcp %s: a probe or hook host must be a pod IP (names are not resolved)", net.JoinHostPort(host, strconv.Itoa(port)))
		}
		ip = a
	}
	if nd, ok := w.cfg.Network.(NodeDialer); ok {
		return nd.DialFromNode(ctx, ip, port)
	}
	return d.DialPod(ctx, ip, port)
}

// probeRedirectWarning starts the output of an HTTP probe whose final
// answer was a redirect (one to another host is not followed): upstream's
// probe.Warning, a success reported with a ProbeWarning event.
const probeRedirectWarning = "Probe terminated redirects, Response body: "

// httpProbe is upstream's HTTP prober: GET with the probe's headers
// (User-Agent kube-probe/1.37, Accept */*), 200–399 is success, redirects
// followed on the same host (a redirect elsewhere is a success with the
// redirect's status), the body read up to 10 KiB.
func (w *Worker) httpProbe(ctx context.Context, c *ctr, g *corev1.HTTPGetAction) (bool, bool, string) {
	port, err := resolvePort(g.Port, c.spec)
	if err != nil {
		return false, false, err.Error()
	}
	scheme := strings.ToLower(string(g.Scheme))
	if scheme == "" {
		scheme = "http"
	}
	host := g.Host
	if host == "" {
		host = w.podIP.String()
	}
	path := g.Path
	if !strings.HasPrefix(path, "/") {
		path = "/" + path
	}
	u := &url.URL{Scheme: scheme, Host: net.JoinHostPort(host, strconv.Itoa(port))}
	if pu, err := url.Parse(path); err == nil {
		u.Path, u.RawQuery = pu.Path, pu.RawQuery
	} else {
		u.Path = path
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return false, false, err.Error()
	}
	req.Header.Set("User-Agent", "kube-probe/1.37")
	req.Header.Set("Accept", "*/*")
	for _, h := range g.HTTPHeaders {
		if strings.EqualFold(h.Name, "Host") {
			req.Host = h.Value
			continue
		}
		req.Header.Add(h.Name, h.Value)
	}
	tr := &http.Transport{
		DisableKeepAlives: true,
		TLSClientConfig:   &tls.Config{InsecureSkipVerify: true}, // as upstream's prober
		DialContext: func(ctx context.Context, _, addr string) (net.Conn, error) {
			h, p, err := net.SplitHostPort(addr)
			if err != nil {
				return nil, err
			}
			n, _ := strconv.Atoi(p)
			if ip, err := netip.ParseAddr(h); err == nil && ip == w.podIP {
				h = ""
			}
			return w.dialPod(ctx, h, n)
		},
	}
	defer tr.CloseIdleConnections()
	redirectedElsewhere := false
	client := &http.Client{Transport: tr, CheckRedirect: func(r *http.Request, via []*http.Request) error {
		if r.URL.Hostname() != via[0].URL.Hostname() {
			redirectedElsewhere = true
			return http.ErrUseLastResponse
		}
		if len(via) >= 10 {
			return errors.New("stopped after 10 redirects")
		}
		return nil
	}}
	resp, err := client.Do(req)
	if err != nil {
		return false, false, err.Error()
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, maxProbeOutput))
	if resp.StatusCode >= 200 && resp.StatusCode < 400 {
		if redirectedElsewhere || resp.StatusCode >= 300 {
			// upstream's probe.Warning: a success, with a ProbeWarning event
			return true, false, probeRedirectWarning + string(body)
		}
		return true, false, string(body)
	}
	return false, false, fmt.Sprintf("HTTP probe failed with statuscode: %d", resp.StatusCode)
}
