// Package nodeagent is a node agent as its own process (`wasmpod agent`,
// and cmd/wasmpod-agent alone), joined to
// a control plane over HTTPS: the in-process agent (pods.Agent) with its own
// engine, image resolver, pod network and service proxy, speaking only the
// Kubernetes API, and serving the kubelet API (pods/kubeletapi.go) through
// which the API server reaches its pods (apiserver/remotenode.go).
//
// It imports no part of the control plane (the API server, the store
// backends, the controllers, the scheduler): TestAgentLinksNoControlPlane
// holds cmd/wasmpod-agent to that.
package nodeagent

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"fmt"
	"io"
	"maps"
	"math/big"
	"net"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	goruntime "runtime"
	"slices"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"
	kubeletapis "k8s.io/kubelet/pkg/apis"
	"k8s.io/utils/clock"

	"github.com/wasmpod/wasmpod/images"
	"github.com/wasmpod/wasmpod/internal/kube/kubernetes"
	"github.com/wasmpod/wasmpod/internal/kubeutil"
	"github.com/wasmpod/wasmpod/internal/nodeutil"
	"github.com/wasmpod/wasmpod/internal/tunnel"
	"github.com/wasmpod/wasmpod/network"
	"github.com/wasmpod/wasmpod/nodeagent/certstore"
	"github.com/wasmpod/wasmpod/pods"
	wruntime "github.com/wasmpod/wasmpod/runtime"
	"github.com/wasmpod/wasmpod/runtime/wasi/wasisock"
	"github.com/wasmpod/wasmpod/runtime/wazero"
)

// Options configures a node agent process (Run).
type Options struct {
	// API is the API server and the agent's credential (a kubeconfig's, or
	// --server and --token with the CA). Its CA is the cluster CA that
	// verifies client certificates on the kubelet API.
	API *rest.Config
	// APIServers, when set, are the URLs of the API servers of an HA
	// control plane (API's among them): connections go to the first that
	// accepts one, from the last that did (FailoverConfig). The CLI flag to
	// wire: a repeated --server.
	APIServers []string
	// NodeName is the Node's name (required).
	NodeName string
	// DataDir holds the node's pod state (made 0700). CacheDir holds built
	// images and compiled modules (DefaultCacheDir when empty).
	DataDir, CacheDir string
	// NodeIP is the address the node reports (InternalIP) and its kubelet
	// API is reached at.
	NodeIP netip.Addr
	// KubeletListener is where the kubelet API is served (TLS is added
	// here); its port is reported in status.daemonEndpoints. With
	// ReverseTunnel it may be nil (the Node then reports port 0).
	KubeletListener net.Listener
	// ReverseTunnel keeps a tunnel open to the API server
	// (internal/tunnel, yamux), through which the API server reaches
	// the kubelet API: for an agent that cannot be dialled (behind NAT).
	// It is re-opened when it drops (the CLI's --reverse-tunnel).
	ReverseTunnel bool
	// KubeletCert is the kubelet API's serving certificate; a self-signed
	// one for NodeIP and NodeName when empty (as the kubelet without
	// --tls-cert-file).
	KubeletCert *tls.Certificate
	// PodCIDR is the node's pod range; when empty, the Node's
	// spec.podCIDR, which the control plane's node IPAM controller assigns
	// (assignedPodCIDR). ClusterCIDR is the pods' range of the whole
	// cluster (the pod network's); NodeCIDRMaskSize is only checked with it.
	PodCIDR          string
	ClusterCIDR      string
	NodeCIDRMaskSize int
	// Capacity, Labels and Taints of the Node (pods.AgentConfig). Labels
	// in the kubernetes.io and k8s.io namespaces must be ones a kubelet
	// may set on itself (k8s.io/kubelet's IsKubeletLabel), as the
	// kubelet's --node-labels: the NodeRestriction admission plugin
	// refuses the others. Taints are set when the Node is registered; an
	// existing Node's taints are left alone, as the kubelet's
	// --register-with-taints (NodeRestriction refuses a node's own taint
	// changes).
	Capacity corev1.ResourceList
	Labels   map[string]string
	Taints   []corev1.Taint
	// WasmArch registers the Node by the Krustlet convention for a
	// WebAssembly node in a cluster whose other nodes run containers: the
	// label kubernetes.io/arch=wasm32-wasi and the taints
	// kubernetes.io/arch=wasm32-wasi:NoSchedule and :NoExecute
	// (WasmArchTaints), so that only pods that select and tolerate it
	// land there.
	WasmArch bool
	// HeartbeatInterval is how often the Lease is renewed (10 s).
	HeartbeatInterval time.Duration
	// HostPortAddress is where hostPorts and NodePorts listen (127.0.0.1).
	HostPortAddress netip.Addr
	AllowHostPath   bool
	DenyEgress      bool
	// TunnelListener is the pod network's tunnel port (the CLI's
	// --tunnel-port): pods of other agents reach this node's pods through
	// it, and the agent routes to theirs (overlay.go). Nil: the
	// node's pods reach only each other, Services' endpoints on this node
	// and egress. TunnelCert is the node certificate the tunnels present
	// (CN system:node:<NodeName>, signed by the cluster CA; default: the
	// API credential's client certificate) and TunnelCA the cluster CA's
	// PEM that verifies the peers' (default: the API's CA).
	TunnelListener net.Listener
	TunnelCert     *tls.Certificate
	TunnelCA       []byte
	// RotateCertificates renews the API credential's client certificate,
	// when it is the node's own (CN system:node:<NodeName>), through
	// CertificateSigningRequests at 70–90% of its lifetime (clientcert.go,
	// the kubelet's --rotate-certificates), and keeps the kubelet serving
	// certificate it got from the cluster CA across restarts. Both are
	// kept in CertDir (<DataDir>/pki when empty) as
	// kubelet-client-current.pem and kubelet-server-current.pem.
	RotateCertificates bool
	CertDir            string
	// Clock times the certificates' renewals (the real clock when nil).
	Clock clock.Clock
	// Registry configures pulls of OCI images.
	Registry *images.RegistryConfig
	// Progress receives the agent's log lines.
	Progress io.Writer
}

// Run runs a node agent until ctx ends: it registers the Node, runs
// the pods bound to it and serves the kubelet API. Pods keep running while
// the API server is unreachable; the agent's informers relist when it is
// back. It returns an error when the configuration is invalid or the Node
// cannot be registered.
func Run(ctx context.Context, o Options) (err error) {
	switch {
	case o.API == nil:
		return errors.New("agent: the API server's configuration is required")
	case o.NodeName == "":
		return errors.New("agent: --node-name is required")
	case o.DataDir == "":
		return errors.New("agent: --data-dir is required")
	case o.KubeletListener == nil && !o.ReverseTunnel:
		return errors.New("agent: the kubelet API's listener is required (or --reverse-tunnel)")
	case !o.NodeIP.IsValid():
		return errors.New("agent: --address (the node's IP) is required")
	}
	if err := checkNodeLabels(o.Labels); err != nil {
		return err
	}
	if len(o.APIServers) > 0 {
		if o.API, err = FailoverConfig(o.API, o.APIServers); err != nil {
			return err
		}
	}
	if o.Clock == nil {
		o.Clock = clock.RealClock{}
	}
	if o.CertDir == "" {
		o.CertDir = filepath.Join(o.DataDir, "pki")
	}
	if o.WasmArch {
		o.Labels = maps.Clone(o.Labels)
		if o.Labels == nil {
			o.Labels = map[string]string{}
		}
		o.Labels[corev1.LabelArchStable] = WasmArch
		for _, t := range WasmArchTaints() {
			if !slices.ContainsFunc(o.Taints, func(x corev1.Taint) bool { return x.MatchTaint(&t) }) {
				o.Taints = append(o.Taints, t)
			}
		}
	}
	if o.CacheDir == "" {
		o.CacheDir = nodeutil.DefaultCacheDir()
	}
	if o.ClusterCIDR == "" {
		o.ClusterCIDR = pods.DefaultClusterCIDR
	}
	if !o.HostPortAddress.IsValid() {
		o.HostPortAddress = netip.MustParseAddr("127.0.0.1")
	}
	logf := func(format string, args ...any) {
		if o.Progress != nil {
			fmt.Fprintf(o.Progress, "wasmpod agent: "+format+"\n", args...)
		}
	}
	if err := nodeutil.PrepareDataDir(o.DataDir); err != nil {
		return err
	}
	var clientCerts *ClientCerts
	if o.RotateCertificates {
		// From here on, every connection reads the client certificate
		// from the cert dir (clientcert.go).
		if clientCerts, o.API, err = NewClientCerts(o.API, o.NodeName, o.CertDir, o.Clock, logf); err != nil {
			return err
		}
		if clientCerts == nil {
			logf("node %s: its credential is not the node's client certificate (CN system:node:%s): not rotated", o.NodeName, o.NodeName)
		}
	}
	if clientCerts == nil {
		// An expired certificate would only be refused, request after
		// request: say so at once (the kubelet exits on one).
		c, file, err := clientCertOf(o.API)
		if err != nil {
			return fmt.Errorf("agent: %w", err)
		}
		if c != nil {
			if err := certstore.CheckValid(c, file, o.Clock.Now()); err != nil {
				return fmt.Errorf("agent: %w: give the node a valid credential (or join again with --join and --token)", err)
			}
		}
	}
	clusterCIDR, _, err := pods.NodePodCIDRs(o.ClusterCIDR, o.NodeCIDRMaskSize, 1)
	if err != nil {
		return err
	}
	apiCfg := rest.CopyConfig(o.API)
	apiCfg.ContentType = "application/vnd.kubernetes.protobuf"
	apiCfg.AcceptContentTypes = "application/vnd.kubernetes.protobuf,application/json"
	client, err := kubernetes.NewForConfig(apiCfg)
	if err != nil {
		return fmt.Errorf("agent: API client: %w", err)
	}
	if err := waitForAPI(ctx, client, o.NodeName, logf); err != nil {
		return err
	}
	runCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	if clientCerts != nil {
		go clientCerts.Run(runCtx, client.CoreV1().RESTClient())
	}
	podCIDR := o.PodCIDR
	if podCIDR == "" {
		// The Node is registered with its taints (and labels) before the
		// wait: they are the registration's (pods.Agent keeps an existing
		// Node's taints).
		bare := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: o.NodeName, Labels: maps.Clone(o.Labels)}, Spec: corev1.NodeSpec{Taints: o.Taints}}
		if podCIDR, err = assignedPodCIDR(ctx, client, bare, podCIDRWait, logf); err != nil {
			return err
		}
	}
	clientCA, err := caOf(o.API)
	if err != nil {
		return err
	}

	eng, err := wazero.New(ctx, wazero.Config{CacheDir: filepath.Join(o.CacheDir, "compiled"), Extensions: wasisock.Functions()})
	if err != nil {
		return err
	}
	defer eng.Close(context.Background())
	engines, closeEngines, err := nodeutil.Engines(ctx, eng, nil, o.CacheDir)
	if err != nil {
		return err
	}
	if closeEngines != nil {
		defer closeEngines()
	}
	var hostFDs network.FDBudget
	if b := nodeutil.HostFDsOf(eng); b != nil {
		hostFDs = wruntime.NewChildBudget("the host fd budget for hostPort connections", max(b.Limit()/2, 1), b)
	}
	netw := network.New(network.Config{
		ServiceCIDR:   netip.MustParsePrefix("10.96.0.0/12"),
		PodCIDRs:      []netip.Prefix{clusterCIDR},
		ClusterDomain: "cluster.local",
		DenyEgress:    o.DenyEgress,
		HostIP:        o.HostPortAddress,
		HostFDs:       hostFDs,
	})
	defer netw.Close()
	shared := kubeutil.NewSharedFactory(client)
	defer shared.Shutdown()
	// The service proxy reads EndpointSlices, which a kube-apiserver's
	// Node authorizer does not let a node read (kube-proxy has a
	// credential of its own, with the ClusterRole system:node-proxier):
	// without them the agent runs its pods with no service proxy, and
	// says so.
	if _, err := client.DiscoveryV1().EndpointSlices("").List(ctx, metav1.ListOptions{Limit: 1}); apierrors.IsForbidden(err) {
		logf("node %s: no service proxy (Services do not reach pods): the agent's credential may not list EndpointSlices: "+
			"bind it the ClusterRole system:node-proxier, as kube-proxy's (%v)", o.NodeName, err)
	} else if err := nodeutil.StartServiceProxy(runCtx, shared, netw); err != nil {
		return fmt.Errorf("agent: %w", err)
	}
	if o.TunnelListener != nil {
		ov, err := startPodOverlay(runCtx, &o, clientCerts, client, shared, netw, logf) // overlay.go
		if err != nil {
			return err
		}
		defer ov.Close()
	}
	// wasmpod.local images: the node's own store, filled from serve's
	// (modules.go).
	modules, err := images.OpenStore(filepath.Join(o.DataDir, "modules"))
	if err != nil {
		return fmt.Errorf("agent: the module store: %w", err)
	}
	resolver := nodeutil.NewMemoResolver(&images.Resolver{CacheDir: filepath.Join(o.CacheDir, "images"), Progress: o.Progress, Opaque: true, Registry: o.Registry,
		Store: modules, StoreSource: apiModules{client.CoreV1().RESTClient()}})
	capacity := corev1.ResourceList{
		corev1.ResourceCPU:    *resource.NewQuantity(int64(goruntime.NumCPU()), resource.DecimalSI),
		corev1.ResourceMemory: pods.DefaultNodeMemory(1),
		corev1.ResourcePods:   *resource.NewQuantity(int64(pods.DefaultMaxPods), resource.DecimalSI),
	}
	for k, v := range o.Capacity {
		capacity[k] = v
	}
	port := 0
	if o.KubeletListener != nil {
		if ta, ok := o.KubeletListener.Addr().(*net.TCPAddr); ok {
			port = ta.Port
		}
	}
	a := pods.NewAgent(pods.AgentConfig{
		Client:            client,
		NodeName:          o.NodeName,
		Capacity:          capacity,
		Labels:            o.Labels,
		Taints:            o.Taints,
		PodCIDR:           podCIDR,
		HeartbeatInterval: o.HeartbeatInterval,
		Network:           netw,
		HostPortAddress:   o.HostPortAddress,
		NodeIP:            o.NodeIP,
		KubeletPort:       int32(port),
		Pods: &pods.Config{
			Engine:        eng,
			Engines:       engines,
			Images:        resolver,
			RootDir:       filepath.Join(o.DataDir, "pods"),
			AllowHostPath: o.AllowHostPath,
			Network:       netw,
		},
	})

	cert := o.KubeletCert
	var serving *ServingCerts
	if cert == nil {
		c, err := selfSignedKubeletCert(o.NodeName, o.NodeIP, time.Now())
		if err != nil {
			return err
		}
		cert = &c
		// The cluster CA's certificate, once issued (servingcert.go).
		serving = NewServingCerts(client.CoreV1().RESTClient(), o.NodeName, net.IP(o.NodeIP.AsSlice()), cert, o.Clock, logf)
		if o.RotateCertificates {
			serving.SetCertDir(o.CertDir)
		}
	}
	tlsCfg, err := pods.KubeletTLSConfig(*cert, clientCA)
	if err != nil {
		return err
	}
	if serving != nil {
		tlsCfg.Certificates, tlsCfg.GetCertificate = nil, serving.GetCertificate
		go serving.Run(runCtx)
	}
	// The API server's serving bounds (apiserver.Default*: header and idle
	// timeouts, header size; the TLS handshake is bounded by the header
	// timeout), held equal by TestKubeletServingBounds.
	srv := kubeletServer(a.KubeletHandler(pods.KubeletAPIConfig{APIServer: o.API}))
	srvErr := make(chan error, 1)
	if o.KubeletListener != nil {
		go func() { srvErr <- srv.Serve(tls.NewListener(o.KubeletListener, tlsCfg)) }()
	}
	if o.ReverseTunnel {
		targets, err := tunnelTargets(o.API, o.APIServers)
		if err != nil {
			return err
		}
		for _, api := range targets {
			runTunnel(runCtx, clientCerts, api, o.NodeName, srv, tlsCfg, logf)
		}
	}
	defer func() {
		sctx, c := context.WithTimeout(context.Background(), 2*time.Second)
		defer c()
		if srv.Shutdown(sctx) != nil {
			srv.Close()
		}
	}()
	where := "https://" + net.JoinHostPort(o.NodeIP.String(), fmt.Sprint(port))
	if o.KubeletListener == nil {
		where = "the reverse tunnel"
	} else if o.ReverseTunnel {
		where += " and the reverse tunnel"
	}
	logf("node %s: kubelet API on %s, pod CIDR %s, API server %s", o.NodeName, where, podCIDR, o.API.Host)
	agentErr := make(chan error, 1)
	go func() { agentErr <- a.Run(runCtx) }()
	select {
	case err := <-agentErr:
		return err
	case err := <-srvErr:
		cancel()
		<-agentErr
		return fmt.Errorf("agent: kubelet API: %w", err)
	}
}

// runTunnel keeps a reverse tunnel to api open; with clientCerts, it is
// re-opened with each renewed client certificate.
func runTunnel(ctx context.Context, clientCerts *ClientCerts, api *rest.Config, node string, srv *http.Server, tlsCfg *tls.Config, logf func(string, ...any)) {
	if clientCerts == nil {
		go tunnel.Run(ctx, api, node, srv, tlsCfg, logf)
		return
	}
	renewed := make(chan struct{}, 1)
	clientCerts.OnRotate(func() {
		select {
		case renewed <- struct{}{}:
		default:
		}
	})
	go func() {
		for ctx.Err() == nil {
			tctx, stop := context.WithCancel(ctx)
			done := make(chan struct{})
			go func() { tunnel.Run(tctx, api, node, srv, tlsCfg, logf); close(done) }()
			select {
			case <-renewed:
			case <-done: // ctx ended or srv closed
				stop()
				return
			}
			stop()
			<-done
		}
	}()
}

// WasmArch is the kubernetes.io/arch of a Node registered with
// Options.WasmArch (Krustlet's wasm32-wasi).
const WasmArch = "wasm32-wasi"

// WasmArchTaints are the taints of a Node registered with
// Options.WasmArch: kubernetes.io/arch=wasm32-wasi with the effects
// NoSchedule and NoExecute, as Krustlet's. A pod for such a node
// tolerates both and selects kubernetes.io/arch: wasm32-wasi.
func WasmArchTaints() []corev1.Taint {
	return []corev1.Taint{
		{Key: corev1.LabelArchStable, Value: WasmArch, Effect: corev1.TaintEffectNoSchedule},
		{Key: corev1.LabelArchStable, Value: WasmArch, Effect: corev1.TaintEffectNoExecute},
	}
}

// checkNodeLabels refuses, as the kubelet does for --node-labels, labels
// in the kubernetes.io and k8s.io namespaces that a kubelet may not set on
// its own Node: the NodeRestriction admission plugin of a real cluster
// would refuse the registration.
func checkNodeLabels(labels map[string]string) error {
	var bad []string
	for k := range labels {
		ns, _, ok := strings.Cut(k, "/")
		if !ok {
			continue
		}
		kube := ns == "kubernetes.io" || strings.HasSuffix(ns, ".kubernetes.io") || ns == "k8s.io" || strings.HasSuffix(ns, ".k8s.io")
		if kube && !kubeletapis.IsKubeletLabel(k) {
			bad = append(bad, k)
		}
	}
	if len(bad) == 0 {
		return nil
	}
	slices.Sort(bad)
	return fmt.Errorf("agent: --node-labels: unknown 'kubernetes.io' or 'k8s.io' labels %s: a node may set only %s, or labels under %s",
		strings.Join(bad, ", "), strings.Join(kubeletapis.KubeletLabels(), ", "), strings.Join(kubeletapis.KubeletLabelNamespaces(), ", "))
}

// waitForAPI waits until the API server answers, as the kubelet keeps
// trying to register: an agent may start before its control plane is
// reachable. A refused credential (401, 403) is no reason to wait: it is
// returned at once.
func waitForAPI(ctx context.Context, client kubernetes.Interface, node string, logf func(string, ...any)) error {
	delay := 500 * time.Millisecond
	for {
		_, err := client.CoreV1().Nodes().Get(ctx, node, metav1.GetOptions{})
		switch {
		case err == nil || apierrors.IsNotFound(err):
			return nil
		case apierrors.IsUnauthorized(err):
			return fmt.Errorf("agent: the API server refuses the agent's credential (401 Unauthorized): check --token or the kubeconfig's user")
		case apierrors.IsForbidden(err):
			return fmt.Errorf("agent: the agent's credential may not read Node %s: %v", node, err)
		}
		logf("waiting for the API server: %v", err)
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(delay):
		}
		delay = min(2*delay, 10*time.Second)
	}
}

// podCIDRWait bounds how long an agent waits for its pod range.
var podCIDRWait = time.Minute

// assignedPodCIDR is the Node's spec.podCIDR: an agent whose Node has none
// creates its Node (bare: bare's name, labels and taints, if it does not
// exist yet) and waits for the node
// IPAM controller to assign one (serve's controllers/nodeipam, as
// kube-controller-manager's --allocate-node-cidrs), so that two agents
// joining at once never share a range. A control plane that assigns none
// within wait (a kube-apiserver cluster without --allocate-node-cidrs) is
// an error that says to pass --pod-cidr.
func assignedPodCIDR(ctx context.Context, client kubernetes.Interface, bare *corev1.Node, wait time.Duration, logf func(string, ...any)) (string, error) {
	nodes := client.CoreV1().Nodes()
	name := bare.Name
	n, err := nodes.Get(ctx, name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		n, err = nodes.Create(ctx, bare, metav1.CreateOptions{})
		if apierrors.IsAlreadyExists(err) {
			n, err = nodes.Get(ctx, name, metav1.GetOptions{})
		}
	}
	if err != nil {
		return "", fmt.Errorf("agent: registering Node %s: %w", name, err)
	}
	deadline := time.Now().Add(wait)
	logged := false
	for n.Spec.PodCIDR == "" {
		if time.Now().After(deadline) {
			return "", fmt.Errorf("agent: Node %s got no pod CIDR from the control plane within %s (no node IPAM controller: pass --pod-cidr)", name, wait)
		}
		if !logged {
			logf("node %s: waiting for a pod CIDR from the control plane", name)
			logged = true
		}
		select {
		case <-ctx.Done():
			return "", ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
		if n, err = nodes.Get(ctx, name, metav1.GetOptions{}); err != nil && !apierrors.IsNotFound(err) {
			return "", fmt.Errorf("agent: reading Node %s: %w", name, err)
		} else if err != nil {
			n = &corev1.Node{}
		}
	}
	return n.Spec.PodCIDR, nil
}

// caOf is the PEM CA of an API configuration (its CAData or CAFile).
func caOf(cfg *rest.Config) ([]byte, error) {
	if len(cfg.CAData) > 0 {
		return cfg.CAData, nil
	}
	if cfg.CAFile != "" {
		b, err := os.ReadFile(cfg.CAFile)
		if err != nil {
			return nil, fmt.Errorf("agent: the cluster CA: %w", err)
		}
		return b, nil
	}
	return nil, nil
}

// selfSignedKubeletCert is a serving certificate for the kubelet API signed
// by itself, as the kubelet makes one when it has none.
func selfSignedKubeletCert(node string, ip netip.Addr, now time.Time) (tls.Certificate, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return tls.Certificate{}, err
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		return tls.Certificate{}, err
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: node + "@" + fmt.Sprint(now.Unix())},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(365 * 24 * time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
		DNSNames:              []string{node},
		IPAddresses:           []net.IP{net.IP(ip.AsSlice())},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		return tls.Certificate{}, err
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}, nil
}

// kubeletServer is the kubelet API's http.Server for h, with the API
// server's serving bounds (apiserver.NewHTTPServer's defaults, which
// TestKubeletServingBounds holds it to).
func kubeletServer(h http.Handler) *http.Server {
	return &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 32 * time.Second,
		IdleTimeout:       90 * time.Second,
		MaxHeaderBytes:    1 << 20,
	}
}
