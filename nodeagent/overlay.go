package nodeagent

// overlay.go: the pod network across agents (issue 15 §5). An
// agent with a tunnel listener publishes its tunnel port in its own Node's
// annotation TunnelPortAnnotation, watches the Nodes, and routes each other
// Node's spec.podCIDRs to that Node's InternalIP and tunnel port through
// network/overlay's mTLS tunnels, authenticated by the node certificates
// of the cluster CA; when the node's client certificate is renewed, the
// open tunnels are made again with it (Overlay.Reconnect).

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/wasmpod/wasmpod/internal/kube/informers"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"

	"github.com/wasmpod/wasmpod/internal/kube/kubernetes"
	"github.com/wasmpod/wasmpod/internal/kubeutil"
	"github.com/wasmpod/wasmpod/network"
	"github.com/wasmpod/wasmpod/network/overlay"
)

// TunnelPortAnnotation is the Node annotation where an agent publishes the
// port of its pod network tunnel (at the Node's InternalIP).
const TunnelPortAnnotation = "wasmpod.io/tunnel-port"

// tunnelCertOf is the agent's node certificate for the tunnel: the given
// one, or the API credential's client certificate (what a join with a
// token gives: system:node:<name>, signed by the cluster CA).
func tunnelCertOf(o *Options) (tls.Certificate, error) {
	if o.TunnelCert != nil {
		return *o.TunnelCert, nil
	}
	c, _, err := clientCertOf(o.API)
	if err != nil {
		return tls.Certificate{}, err
	}
	if c == nil {
		return tls.Certificate{}, errors.New("the API credential has no client certificate (join with a token, or give the node certificate)")
	}
	return *c, nil
}

// startPodOverlay starts the agent's end of the pod network tunnels and
// keeps its peers and its own Node's annotation in step with the Nodes.
func startPodOverlay(ctx context.Context, o *Options, clientCerts *ClientCerts, client kubernetes.Interface, shared informers.SharedInformerFactory, netw *network.Network, logf func(string, ...any)) (*overlay.Overlay, error) {
	var cert tls.Certificate
	var err error
	var current func() *tls.Certificate
	if clientCerts != nil && o.TunnelCert == nil {
		cert, current = *clientCerts.Current(), clientCerts.Current
	} else {
		cert, err = tunnelCertOf(o)
	}
	if err != nil {
		return nil, fmt.Errorf("agent: the pod network tunnel needs the node's certificate: %w", err)
	}
	caPEM := o.TunnelCA
	if len(caPEM) == 0 {
		if caPEM, err = caOf(o.API); err != nil {
			return nil, err
		}
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(caPEM) {
		return nil, errors.New("agent: the pod network tunnel needs the cluster CA (PEM)")
	}
	ov, err := overlay.New(overlay.Config{Network: netw, NodeName: o.NodeName, Certificate: cert, CurrentCertificate: current, CA: pool, Listener: o.TunnelListener,
		Logf: func(f string, a ...any) { logf("node %s: "+f, append([]any{o.NodeName}, a...)...) }})
	if err != nil {
		return nil, fmt.Errorf("agent: %w", err)
	}
	if current != nil {
		// Open tunnels keep the certificate of their handshake: make them
		// again with the renewed one (their flows reset, as kubelet
		// connections are closed on a rotation).
		clientCerts.OnRotate(func() {
			logf("node %s: pod network tunnels re-opened with the renewed certificate", o.NodeName)
			ov.Reconnect()
		})
	}
	port := o.TunnelListener.Addr().(*net.TCPAddr).Port
	want := strconv.Itoa(port)
	nodes := shared.Core().V1().Nodes()
	kick := make(chan struct{}, 1)
	resync := func() {
		select {
		case kick <- struct{}{}:
		default:
		}
	}
	nodes.Informer().AddEventHandler(kubeutil.OnEvery(func(*corev1.Node) { resync() }))
	shared.Start(ctx.Done())
	go func() {
		var published bool
		for {
			select {
			case <-ctx.Done():
				return
			case <-kick:
			case <-time.After(10 * time.Second): // retry a failed annotation
			}
			if ctx.Err() != nil {
				return
			}
			if !nodes.Informer().HasSynced() {
				continue
			}
			all, _ := nodes.Lister().List(labels.Everything())
			if err := ov.SetPeers(tunnelPeers(all, o.NodeName, logf)); err != nil {
				logf("node %s: pod network routes: %v", o.NodeName, err)
			}
			self, err := nodes.Lister().Get(o.NodeName)
			if err != nil || self.Annotations[TunnelPortAnnotation] == want {
				continue
			}
			patch := fmt.Sprintf(`{"metadata":{"annotations":{%q:%q}}}`, TunnelPortAnnotation, want)
			if _, err := client.CoreV1().Nodes().Patch(ctx, o.NodeName, types.MergePatchType, []byte(patch), metav1.PatchOptions{}); err != nil {
				logf("node %s: publishing the tunnel port: %v", o.NodeName, err)
			} else if !published {
				published = true
				logf("node %s: pod network tunnel on port %d", o.NodeName, port)
			}
		}
	}()
	return ov, nil
}

// tunnelPeers are the Nodes other than self that publish a tunnel port,
// an InternalIP and a pod range.
func tunnelPeers(nodes []*corev1.Node, self string, logf func(string, ...any)) []overlay.Peer {
	var out []overlay.Peer
	for _, n := range nodes {
		if n.Name == self {
			continue
		}
		v, ok := n.Annotations[TunnelPortAnnotation]
		if !ok {
			continue
		}
		port, err := strconv.ParseUint(v, 10, 16)
		if err != nil || port == 0 {
			logf("node %s: annotation %s=%q is not a port: no route to its pods", n.Name, TunnelPortAnnotation, v)
			continue
		}
		var ip netip.Addr
		for _, a := range n.Status.Addresses {
			if a.Type == corev1.NodeInternalIP {
				if x, err := netip.ParseAddr(a.Address); err == nil {
					ip = x
					break
				}
			}
		}
		cidrs := n.Spec.PodCIDRs
		if len(cidrs) == 0 && n.Spec.PodCIDR != "" {
			cidrs = []string{n.Spec.PodCIDR}
		}
		var prefixes []netip.Prefix
		for _, c := range cidrs {
			if p, err := netip.ParsePrefix(c); err == nil {
				prefixes = append(prefixes, p)
			}
		}
		if !ip.IsValid() || len(prefixes) == 0 {
			continue
		}
		out = append(out, overlay.Peer{Node: n.Name, Addr: netip.AddrPortFrom(ip, uint16(port)), PodCIDRs: prefixes})
	}
	slices.SortFunc(out, func(a, b overlay.Peer) int { return strings.Compare(a.Node, b.Node) })
	return out
}
