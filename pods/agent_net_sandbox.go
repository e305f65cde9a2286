package pods

// The pod's sandbox: its network namespace and its hostPorts.
//
// As the kubelet, a pod's hostPorts are bound when its sandbox is created,
// before any of its containers starts. A port that cannot be bound (another
// process holds it, another wasmpod, a pod of another node of the same
// process, which share the host's addresses) fails the sandbox: the ports
// already bound are released, the pod gets the Warning event
// FailedCreatePodSandBox ("Failed to create pod sandbox: cannot open
// hostport 8080 for pod web_default: listen tcp4 127.0.0.1:8080: bind:
// address already in use", the hostport manager's message), stays Pending
// with its containers Waiting in ContainerCreating, and the sandbox is
// created again after the kubelet's pod sync back-off (sandboxBackOff),
// until it succeeds or the pod is deleted.

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/wait"
)

// The retry of a failed sandbox is the kubelet's pod worker back-off after
// a failed sync (pkg/kubelet: backOffPeriod 10 s, jittered by up to half of
// it, workerBackOffPeriodJitterFactor 0.5): a fixed period, not an
// exponential one, so a pod starts within 15 s of its port being freed.
const (
	sandboxBackOff       = 10 * time.Second
	sandboxBackOffJitter = 0.5
)

// hostPortSet is the pod's bound hostPorts.
type hostPortSet []io.Closer

func (s hostPortSet) close() {
	for _, c := range s {
		c.Close()
	}
}

// createSandbox sets up the pod's network namespace and hostPorts,
// retrying a failure with back-off. It returns false when the pod ended
// before its sandbox was created (terminated, evicted, past its
// activeDeadlineSeconds, or ctx done, whose error it returns); the pod is
// then terminal and published.
func (w *Worker) createSandbox(ctx context.Context) (bool, error) {
	s := w.state
	for {
		err := w.resolveRuntime(ctx) // runtimeclass.go: the RuntimeClass's handler
		if err == nil {
			err = w.setupSandbox()
		}
		if err == nil {
			return true, nil
		}
		w.event(corev1.EventTypeWarning, "FailedCreatePodSandBox", "Failed to create pod sandbox: "+err.Error())
		w.publish() // Pending, containers Waiting (ContainerCreating)
		now := w.clk.Now()
		wake := wait.Jitter(sandboxBackOff, sandboxBackOffJitter)
		var deadline time.Time
		if d := s.pod.Spec.ActiveDeadlineSeconds; d != nil {
			deadline = s.startTime.Add(time.Duration(*d) * time.Second)
			wake = min(wake, deadline.Sub(now))
		}
		var ctxErr error
		stop := false
		if wake > 0 {
			// Nothing runs: a termination ends the pod at once, whatever the grace.
			// A pod waiting for an IP tries again as soon as one is released.
			stop, ctxErr = w.waitToRetry(ctx, wake, w.ipFreed())
		}
		switch {
		case stop:
		case !deadline.IsZero() && !w.clk.Now().Before(deadline):
			// As the kubelet's active deadline handler: the pod fails
			// whether or not its sandbox exists.
			s.beginTermination(w.clk.Now(), "DeadlineExceeded", 0)
		default:
			continue // the back-off expired: try again
		}
		s.terminal = true
		w.publish()
		return false, ctxErr
	}
}

// setupSandbox creates the network namespace, then binds the hostPorts;
// on failure nothing of the sandbox is left.
func (w *Worker) setupSandbox() error {
	if err := w.setupNetwork(); err != nil {
		return err
	}
	if err := w.openHostPorts(); err != nil {
		w.teardownNetwork()
		return err
	}
	return nil
}

// allocateIP gives the pod an IP from the node's pod CIDR when it has none
// (the node agent gives one before the pod's first status write when it
// can); a full range is the sandbox's error (ipam.go).
func (w *Worker) allocateIP() error {
	if w.cfg.ips == nil {
		return nil
	}
	w.mu.Lock()
	uid, have := w.pod.UID, w.pod.Status.PodIP
	w.mu.Unlock()
	if have != "" {
		return nil
	}
	ip, err := w.cfg.ips.allocate(uid, "")
	if err != nil {
		return err
	}
	w.mu.Lock()
	w.pod.Status.PodIP, w.pod.Status.PodIPs = ip, []corev1.PodIP{{IP: ip}}
	w.mu.Unlock()
	return nil
}

// ipFreed is closed when an address is released for the pod, which found
// none; nil when it does not wait for one.
func (w *Worker) ipFreed() <-chan struct{} {
	if w.cfg.ips == nil {
		return nil
	}
	return w.cfg.ips.wait(w.pod.UID)
}

func (w *Worker) closeHostPorts() {
	w.hostPorts.close()
	w.hostPorts = nil
}

// openHostPorts binds the pod's hostPorts (its containers' and init
// containers', in spec order) into the pod's IP. The first one that cannot
// be bound is the error, and those bound before it are closed. A node
// without HostPorts, or a pod without an IP, cannot map any: that is the
// Warning event FailedToStartHostPort and the pod runs without them.
func (w *Worker) openHostPorts() error {
	pod := w.Pod()
	type key struct {
		addr  netip.AddrPort
		proto string
	}
	seen := map[key]bool{}
	var opened hostPortSet
	warn := func(msg string) { w.event(corev1.EventTypeWarning, "FailedToStartHostPort", msg) }
	for _, cs := range [][]corev1.Container{pod.Spec.InitContainers, pod.Spec.Containers} {
		for _, c := range cs {
			for _, p := range c.Ports {
				if p.HostPort <= 0 {
					continue
				}
				proto := string(p.Protocol)
				if proto == "" {
					proto = string(corev1.ProtocolTCP)
				}
				if w.cfg.HostPorts == nil {
					warn(fmt.Sprintf("hostPort %d/%s of container %s: node %s has no pod network", p.HostPort, proto, c.Name, w.cfg.NodeName))
					continue
				}
				podIP, err := netip.ParseAddr(pod.Status.PodIP)
				if err != nil {
					warn(fmt.Sprintf("hostPort %d/%s of container %s: the pod has no IP", p.HostPort, proto, c.Name))
					continue
				}
				host := w.cfg.HostPortAddress
				if !host.IsValid() {
					host = netip.AddrFrom4([4]byte{127, 0, 0, 1})
				}
				if p.HostIP != "" {
					if h, err := netip.ParseAddr(p.HostIP); err == nil {
						host = h
					}
				}
				k := key{netip.AddrPortFrom(host, uint16(p.HostPort)), proto}
				if seen[k] {
					continue // the same host port twice in the pod: bound once
				}
				seen[k] = true
				cl, err := w.cfg.HostPorts.ListenHostPort(k.addr, proto, podIP, int(p.ContainerPort))
				if err != nil {
					opened.close()
					return fmt.Errorf("cannot open hostport %d for pod %s_%s: %w", p.HostPort, pod.Name, pod.Namespace, listenError(err))
				}
				opened = append(opened, cl)
			}
		}
	}
	w.hostPorts = opened
	return nil
}

// listenError is the socket's own error inside a host port's ("listen tcp4
// 127.0.0.1:8080: bind: address already in use"), as upstream's message
// has it, or err itself.
func listenError(err error) error {
	var op *net.OpError
	if errors.As(err, &op) {
		return op
	}
	return err
}

// waitToRetry waits d on the worker's clock before a set-up step is tried
// again, or less when early (nil: never) is closed first. It returns stop
// when the pod was asked to end first (a termination, an eviction, which
// it begins, or ctx, whose error it returns).
func (w *Worker) waitToRetry(ctx context.Context, d time.Duration, early <-chan struct{}) (stop bool, ctxErr error) {
	t := w.clk.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C():
		return false, nil
	case <-early:
		return false, nil
	case <-w.termCh:
		return true, nil
	case msg := <-w.evictCh:
		w.beginEviction(msg)
		return true, nil
	case <-ctx.Done():
		return true, ctx.Err()
	}
}
