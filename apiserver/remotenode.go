package apiserver

// remotenode.go: the NodeConnector of a node whose agent runs in another
// process (`wasmpod agent`), reached as kube-apiserver reaches a kubelet:
// over HTTPS at the Node's InternalIP (else its first address) and
// status.daemonEndpoints.kubeletEndpoint.port, with the API server's
// kubelet client certificate (SetKubeletClient), on the kubelet's paths:
//
//	GET  /containerLogs/NS/POD/CONTAINER?follow&previous&tailLines&timestamps&sinceSeconds&sinceTime&limitBytes
//	POST /exec/NS/POD/CONTAINER?command=..&input=1&output=1&error=1&tty=1   (SPDY, client-go's executor)
//	POST /attach/NS/POD/CONTAINER?input=1&output=1&error=1&tty=1
//	POST /portForward/NS/POD                                                (SPDY, portforward.k8s.io)
//	*    PATH (nodes/NAME/proxy/PATH)
//
// The API server has already authorized the caller for the pod or node
// subresource; the agent authenticates the API server's certificate
// (pods/kubeletapi.go). With SetKubeletCA (serve: the cluster CA), the
// agent's serving certificate is verified as kube-apiserver's
// --kubelet-certificate-authority does, for the Node's address (for the
// node's name through its reverse tunnel); agents get theirs from the
// cluster CA through a kubelet-serving CSR (csr.go). The caller's own
// credentials are never passed on.

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"strconv"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/remotecommand"
	"k8s.io/client-go/transport/spdy"
	utilexec "k8s.io/client-go/util/exec"

	httpstreamspdy "k8s.io/apimachinery/pkg/util/httpstream/spdy"
)

// kubeletClient is how the API server reaches remote nodes (Server.kubelet).
type kubeletClient struct {
	mu   sync.RWMutex
	cfg  *rest.Config // nil: remote nodes are not reachable
	http *http.Client // non-streaming requests (logs, node proxy)
}

// SetKubeletClient gives the client certificate the API server presents to
// the kubelet API of remote node agents (kube-apiserver's
// --kubelet-client-certificate): one signed by the cluster CA that the
// agents trust, in the group system:masters. Without it, the pods of a
// node with no agent in this process cannot be reached (503).
func (s *Server) SetKubeletClient(certPEM, keyPEM []byte) error {
	if _, err := tls.X509KeyPair(certPEM, keyPEM); err != nil {
		return fmt.Errorf("kubelet client certificate: %w", err)
	}
	cfg := &rest.Config{TLSClientConfig: rest.TLSClientConfig{Insecure: true, CertData: certPEM, KeyData: keyPEM}}
	cfg.Dial = (&net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}).DialContext
	hc, err := rest.HTTPClientFor(cfg)
	if err != nil {
		return fmt.Errorf("kubelet client: %w", err)
	}
	s.kubelet.mu.Lock()
	s.kubelet.cfg, s.kubelet.http = cfg, hc
	s.kubelet.mu.Unlock()
	return nil
}

// SetKubeletCA makes the kubelet client verify agents' serving
// certificates against caPEM (kube-apiserver's
// --kubelet-certificate-authority): serve gives it the cluster CA, which
// signs the serving certificates agents request (csr.go,
// kubernetes.io/kubelet-serving). It follows SetKubeletClient.
func (s *Server) SetKubeletCA(caPEM []byte) error {
	s.kubelet.mu.Lock()
	defer s.kubelet.mu.Unlock()
	if s.kubelet.cfg == nil {
		return errors.New("kubelet CA: no kubelet client certificate")
	}
	cfg := rest.CopyConfig(s.kubelet.cfg)
	cfg.Insecure, cfg.CAData = false, caPEM
	hc, err := rest.HTTPClientFor(cfg)
	if err != nil {
		return fmt.Errorf("kubelet CA: %w", err)
	}
	s.kubelet.cfg, s.kubelet.http = cfg, hc
	return nil
}

// nodeConnector is the connector of node name: its agent in this process,
// else its kubelet API over HTTPS; a ServiceUnavailable error when
// neither.
func (s *Server) nodeConnector(ctx context.Context, name string) (NodeConnector, error) {
	s.mu.RLock()
	c := s.nodes[name]
	s.mu.RUnlock()
	if c != nil {
		return c, nil
	}
	obj, err := s.Get(ctx, s.resources["/nodes"], "", name)
	if err != nil {
		if apierrors.IsNotFound(err) {
			return nil, apierrors.NewServiceUnavailable(fmt.Sprintf("node %s is not connected", name))
		}
		return nil, err
	}
	node := obj.(*corev1.Node)
	if t := s.tunnelTo(name); t != nil { // tunnel.go: the agent dialled us
		return &remoteNode{name: name, base: "https://" + net.JoinHostPort(name, "10250"), cfg: t.cfg, http: t.http, upgrade: t.upgrade}, nil
	}
	host, port := kubeletEndpoint(node)
	if t, err := s.relayedTunnel(ctx, name, host == "" || port == 0); err != nil {
		return nil, err
	} else if t != nil { // tunnelrelay.go: the agent dialled another replica
		return &remoteNode{name: name, base: "https://" + net.JoinHostPort(name, "10250"), cfg: t.cfg, http: t.http, upgrade: t.upgrade}, nil
	}
	if host == "" || port == 0 {
		return nil, apierrors.NewServiceUnavailable(fmt.Sprintf("node %s is not connected: it reports no kubelet endpoint (an address and status.daemonEndpoints.kubeletEndpoint.port)", name))
	}
	s.kubelet.mu.RLock()
	cfg, hc := s.kubelet.cfg, s.kubelet.http
	s.kubelet.mu.RUnlock()
	if cfg == nil {
		return nil, apierrors.NewServiceUnavailable(fmt.Sprintf("node %s is remote, and this API server has no kubelet client certificate (serve makes one from its CA with --listen, not with --tls-cert-file)", name))
	}
	return &remoteNode{name: name, base: "https://" + net.JoinHostPort(host, strconv.Itoa(int(port))), cfg: cfg, http: hc}, nil
}

// kubeletEndpoint is where a node's kubelet API listens: its InternalIP
// (else ExternalIP, else its first address) and kubelet port.
func kubeletEndpoint(node *corev1.Node) (string, int32) {
	port := node.Status.DaemonEndpoints.KubeletEndpoint.Port
	for _, typ := range []corev1.NodeAddressType{corev1.NodeInternalIP, corev1.NodeExternalIP} {
		for _, a := range node.Status.Addresses {
			if a.Type == typ && a.Address != "" {
				return a.Address, port
			}
		}
	}
	if len(node.Status.Addresses) > 0 {
		return node.Status.Addresses[0].Address, port
	}
	return "", port
}

// remoteNode reaches one node's kubelet API.
type remoteNode struct {
	name string
	base string // https://host:port
	cfg  *rest.Config
	http *http.Client
	// upgrade, for a node reached through its reverse tunnel
	// (tunnel.go), dials the streaming (SPDY) connections through it.
	upgrade http.RoundTripper
}

// spdyTransport is the round tripper and upgrader of a streaming request
// (exec, attach, port-forward) to the node.
func (r *remoteNode) spdyTransport() (http.RoundTripper, spdy.Upgrader, error) {
	if r.upgrade == nil {
		return spdy.RoundTripperFor(r.cfg)
	}
	rt, err := httpstreamspdy.NewRoundTripperWithConfig(httpstreamspdy.RoundTripperConfig{UpgradeTransport: r.upgrade, PingPeriod: 5 * time.Second})
	if err != nil {
		return nil, nil, err
	}
	wrapper, err := rest.HTTPWrappersForConfig(r.cfg, rt)
	if err != nil {
		return nil, nil, err
	}
	return wrapper, rt, nil
}

var (
	_ NodeConnector = (*remoteNode)(nil)
	_ PortForwarder = (*remoteNode)(nil)
	_ Attacher      = (*remoteNode)(nil)
	_ NodeProxier   = (*remoteNode)(nil)
)

func (r *remoteNode) url(path string, q url.Values) *url.URL {
	u, _ := url.Parse(r.base)
	u.Path = path
	u.RawQuery = q.Encode()
	return u
}

func podPath(kind string, pod *corev1.Pod, container string) string {
	p := "/" + kind + "/" + url.PathEscape(pod.Namespace) + "/" + url.PathEscape(pod.Name)
	if container != "" {
		p += "/" + url.PathEscape(container)
	}
	return p
}

// unreachable is the error of a kubelet that cannot be reached.
func (r *remoteNode) unreachable(err error) error {
	return apierrors.NewServiceUnavailable(fmt.Sprintf("error dialing backend: node %s (%s): %v", r.name, r.base, err))
}

// kubeletError turns a kubelet's error answer into an API error: its
// Status when it sent one, else its code and text.
func kubeletError(resp *http.Response) error {
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 16<<10))
	var st metav1.Status
	if json.Unmarshal(b, &st) == nil && st.Kind == "Status" {
		return &apierrors.StatusError{ErrStatus: st}
	}
	return apierrors.NewGenericServerResponse(resp.StatusCode, resp.Request.Method, corev1.Resource("pods"), "", string(b), 0, false)
}

// Logs implements NodeConnector: GET /containerLogs, copied to w.
func (r *remoteNode) Logs(ctx context.Context, pod *corev1.Pod, opts *corev1.PodLogOptions, w io.Writer) error {
	q := url.Values{}
	if opts.Follow {
		q.Set("follow", "true")
	}
	if opts.Previous {
		q.Set("previous", "true")
	}
	if opts.Timestamps {
		q.Set("timestamps", "true")
	}
	if opts.TailLines != nil {
		q.Set("tailLines", strconv.FormatInt(*opts.TailLines, 10))
	}
	if opts.SinceSeconds != nil {
		q.Set("sinceSeconds", strconv.FormatInt(*opts.SinceSeconds, 10))
	}
	if opts.SinceTime != nil {
		q.Set("sinceTime", opts.SinceTime.UTC().Format(time.RFC3339))
	}
	if opts.LimitBytes != nil {
		q.Set("limitBytes", strconv.FormatInt(*opts.LimitBytes, 10))
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, r.url(podPath("containerLogs", pod, opts.Container), q).String(), nil)
	if err != nil {
		return err
	}
	resp, err := r.http.Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return r.unreachable(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return kubeletError(resp)
	}
	buf := make([]byte, 32<<10)
	for {
		n, err := resp.Body.Read(buf)
		if n > 0 {
			if _, werr := w.Write(buf[:n]); werr != nil {
				return werr
			}
		}
		if err == io.EOF {
			return nil
		}
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return err
		}
	}
}

// streamQuery is the kubelet's query of an exec or attach.
func streamQuery(stdin, stdout, stderr, tty bool) url.Values {
	q := url.Values{}
	for k, on := range map[string]bool{"input": stdin, "output": stdout, "error": stderr, "tty": tty} {
		if on {
			q.Set(k, "1")
		}
	}
	return q
}

// stream runs a remote command on the kubelet with client-go's SPDY
// executor (remotecommand v5..v1).
func (r *remoteNode) stream(ctx context.Context, u *url.URL, tty bool, streams ExecStreams) error {
	transport, upgrader, err := r.spdyTransport()
	if err != nil {
		return err
	}
	ex, err := remotecommand.NewSPDYExecutorForTransports(transport, upgrader, http.MethodPost, u)
	if err != nil {
		return err
	}
	so := remotecommand.StreamOptions{Stdin: streams.Stdin, Stdout: streams.Stdout, Stderr: streams.Stderr, Tty: tty}
	if tty && streams.Resize != nil {
		so.TerminalSizeQueue = resizeQueue{ctx: ctx, c: streams.Resize}
	}
	return ex.StreamWithContext(ctx, so)
}

type resizeQueue struct {
	ctx context.Context
	c   <-chan TerminalSize
}

func (q resizeQueue) Next() *remotecommand.TerminalSize {
	select {
	case <-q.ctx.Done():
		return nil
	case sz, ok := <-q.c:
		if !ok {
			return nil
		}
		return &remotecommand.TerminalSize{Width: sz.Width, Height: sz.Height}
	}
}

// streamError maps an executor's error: the kubelet's Status when it
// sent one, ServiceUnavailable when it could not be reached.
func (r *remoteNode) streamError(ctx context.Context, err error) error {
	var se *apierrors.StatusError
	if errors.As(err, &se) {
		return se
	}
	if ctx.Err() != nil {
		return ctx.Err()
	}
	// Refused, unreachable, a failed upgrade or a broken stream.
	return r.unreachable(err)
}

// Exec implements NodeConnector: POST /exec with client-go's SPDY
// executor; the command's exit code comes back as the kubelet's
// NonZeroExitCode Status.
func (r *remoteNode) Exec(ctx context.Context, pod *corev1.Pod, opts *corev1.PodExecOptions, streams ExecStreams) (int, error) {
	q := streamQuery(streams.Stdin != nil, streams.Stdout != nil, streams.Stderr != nil, opts.TTY)
	q["command"] = opts.Command
	err := r.stream(ctx, r.url(podPath("exec", pod, opts.Container), q), opts.TTY, streams)
	if err == nil {
		return 0, nil
	}
	var ce utilexec.CodeExitError
	if errors.As(err, &ce) {
		return ce.Code, nil
	}
	return 0, r.streamError(ctx, err)
}

// Attach implements Attacher: POST /attach.
func (r *remoteNode) Attach(ctx context.Context, pod *corev1.Pod, opts *corev1.PodAttachOptions, streams ExecStreams) error {
	q := streamQuery(streams.Stdin != nil, streams.Stdout != nil, streams.Stderr != nil, opts.TTY)
	if err := r.stream(ctx, r.url(podPath("attach", pod, opts.Container), q), opts.TTY, streams); err != nil {
		return r.streamError(ctx, err)
	}
	return nil
}

// portForwardProtocol is the kubelet's SPDY port-forward protocol.
const portForwardProtocol = "portforward.k8s.io"

// PortForward implements PortForwarder: one SPDY connection to the
// kubelet's /portForward per forwarded connection, with the error and
// data stream pair of the protocol.
func (r *remoteNode) PortForward(ctx context.Context, pod *corev1.Pod, port int32, conn io.ReadWriteCloser) error {
	transport, upgrader, err := r.spdyTransport()
	if err != nil {
		return err
	}
	d := spdy.NewDialer(upgrader, &http.Client{Transport: transport}, http.MethodPost, r.url(podPath("portForward", pod, ""), nil))
	sc, proto, err := d.Dial(portForwardProtocol)
	if err != nil {
		return r.unreachable(err)
	}
	defer sc.Close()
	if proto != portForwardProtocol {
		return apierrors.NewInternalError(fmt.Errorf("node %s: port-forward protocol %q, want %q", r.name, proto, portForwardProtocol))
	}
	h := http.Header{}
	h.Set(corev1.StreamType, corev1.StreamTypeError)
	h.Set(corev1.PortHeader, strconv.Itoa(int(port)))
	h.Set(corev1.PortForwardRequestIDHeader, "0")
	errStream, err := sc.CreateStream(h)
	if err != nil {
		return r.unreachable(err)
	}
	errStream.Close() // nothing is sent on it
	errc := make(chan []byte, 1)
	go func() {
		b, _ := io.ReadAll(io.LimitReader(errStream, 16<<10))
		errc <- b
	}()
	h.Set(corev1.StreamType, corev1.StreamTypeData)
	data, err := sc.CreateStream(h)
	if err != nil {
		return r.unreachable(err)
	}
	go func() {
		io.Copy(data, conn)
		data.Close() // a half-close: the pod sees the end of input
	}()
	done := make(chan struct{})
	go func() {
		defer close(done)
		io.Copy(conn, data)
	}()
	select {
	case <-done:
	case <-ctx.Done():
		sc.Close()
		<-done
		return nil
	}
	select {
	case b := <-errc:
		if len(b) > 0 {
			return errors.New(string(b))
		}
	case <-time.After(time.Second):
	}
	return nil
}

// ServeNodeProxy implements NodeProxier: the request goes to the
// kubelet's path with its method, query and body, without the caller's
// credentials.
func (r *remoteNode) ServeNodeProxy(w http.ResponseWriter, req *http.Request, path string) {
	target, _ := url.Parse(r.base)
	p := &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.Out.URL.Scheme, pr.Out.URL.Host = target.Scheme, target.Host
			pr.Out.URL.Path, pr.Out.URL.RawPath = path, ""
			pr.Out.Host = target.Host
			pr.Out.Header.Del("Authorization")
			for k := range pr.Out.Header {
				if len(k) > len("Impersonate-") && http.CanonicalHeaderKey(k[:len("Impersonate-")]) == "Impersonate-" {
					pr.Out.Header.Del(k)
				}
			}
		},
		Transport:     r.http.Transport,
		FlushInterval: -1,
		ErrorHandler: func(w http.ResponseWriter, _ *http.Request, err error) {
			writeError(w, r.unreachable(err))
		},
	}
	p.ServeHTTP(w, req)
}
