package cli

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"

	gwebsocket "github.com/gorilla/websocket"
	"github.com/wasmpod/wasmpod/cli/internal/cmdline"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/client-go/transport/websocket"

	"github.com/wasmpod/wasmpod/apiserver"
)

func portForwardCommand() *cmdline.Command {
	return &cmdline.Command{
		Name:      "port-forward",
		Usage:     "Forward one or more local ports to a pod",
		ArgsUsage: "TYPE/NAME [LOCAL_PORT:]REMOTE_PORT [...[LOCAL_PORT_N:]REMOTE_PORT_N]",
		Description: `Forwards local ports to a pod. For a Service, a running pod of the Service is
chosen (ready ones first) and the Service port is translated to the pod's
target port, as kubectl does. Each local connection is a stream to the pod;
the command runs until interrupted.

Examples:
  # Listen on ports 5000 and 6000 locally, forwarding to 5000 and 6000 in the pod
  wasmpod port-forward pod/mypod 5000 6000

  # Listen on port 8888 locally, forwarding to 5000 in the pod
  wasmpod port-forward pod/mypod 8888:5000

  # Listen on a random local port, forwarding to 5000 in the pod
  wasmpod port-forward pod/mypod :5000

  # Listen on port 8443 locally, forwarding to the target port of the Service's port 443
  wasmpod port-forward svc/web 8443:443`,
		Flags: append(append(connFlags(), nsFlags(false)...),
			&cmdline.StringFlag{Name: "address", Value: "localhost", Usage: "addresses to listen on (comma separated); localhost means 127.0.0.1"},
		),
		Action: portForwardAction,
	}
}

// forwardSpec is one LOCAL:REMOTE pair; local 0 picks a free port.
type forwardSpec struct {
	local, remote int
}

func parsePortSpec(s string) (forwardSpec, error) {
	local, remote, hasColon := strings.Cut(s, ":")
	if !hasColon {
		local, remote = s, s
	}
	var f forwardSpec
	r, err := strconv.ParseUint(remote, 10, 16)
	if err != nil || r == 0 {
		return f, fmt.Errorf("error parsing remote port '%s': must be between 1 and 65535", remote)
	}
	f.remote = int(r)
	if local != "" {
		l, err := strconv.ParseUint(local, 10, 16)
		if err != nil {
			return f, fmt.Errorf("error parsing local port '%s': must be between 0 and 65535", local)
		}
		f.local = int(l)
	}
	return f, nil
}

func portForwardAction(c *cmdline.Context) error {
	args := c.Args().Slice()
	if len(args) < 2 {
		return errorf("TYPE/NAME and list of ports are required for port-forward")
	}
	var specs []forwardSpec
	for _, a := range args[1:] {
		f, err := parsePortSpec(a)
		if err != nil {
			return errorf("%v", err)
		}
		specs = append(specs, f)
	}
	k, err := connect(c)
	if err != nil {
		return err
	}
	ns := k.namespace(c)
	ctx := c.Context
	typ, name, found := strings.Cut(args[0], "/")
	if !found {
		typ, name = "pod", args[0]
	}
	var pod *corev1.Pod
	switch typ {
	case "pod", "pods", "po":
		if pod, err = k.cs.CoreV1().Pods(ns).Get(ctx, name, metav1.GetOptions{}); err != nil {
			return k.fail(err)
		}
	case "svc", "service", "services":
		svc, err := k.cs.CoreV1().Services(ns).Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return k.fail(err)
		}
		if pod, err = podForService(ctx, k, svc); err != nil {
			return err
		}
		if specs, err = translateServicePorts(svc, pod, specs); err != nil {
			return err
		}
	default:
		return errorf("cannot port-forward to %s: only pods and services are supported", typ)
	}
	if pod.Status.Phase != corev1.PodRunning {
		return errorf("unable to forward port because pod is not running. Current status=%v", pod.Status.Phase)
	}

	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()
	var addrs []string
	for _, a := range strings.Split(c.String("address"), ",") {
		if a = strings.TrimSpace(a); a == "localhost" {
			a = "127.0.0.1"
		}
		if a != "" {
			addrs = append(addrs, a)
		}
	}
	var lns []net.Listener
	defer func() {
		for _, ln := range lns {
			ln.Close()
		}
	}()
	fw := &forwarder{k: k, ns: pod.Namespace, pod: pod.Name, out: c.App.Writer, errOut: c.App.ErrWriter}
	for _, f := range specs {
		for _, a := range addrs {
			ln, err := net.Listen("tcp", net.JoinHostPort(a, strconv.Itoa(f.local)))
			if err != nil {
				return errorf("unable to listen on port %d: %v", f.local, err)
			}
			lns = append(lns, ln)
			fmt.Fprintf(c.App.Writer, "Forwarding from %s -> %d\n", ln.Addr(), f.remote)
			go fw.serve(ctx, ln, f.remote)
		}
	}
	<-ctx.Done()
	return nil
}

// podForService picks a running pod of the Service, ready ones first, as
// kubectl's AttachablePodForObject.
func podForService(ctx context.Context, k *conn, svc *corev1.Service) (*corev1.Pod, error) {
	if len(svc.Spec.Selector) == 0 {
		return nil, errorf("cannot attach to *v1.Service: invalid service '%s': Service is defined without a selector", svc.Name)
	}
	list, err := k.cs.CoreV1().Pods(svc.Namespace).List(ctx, metav1.ListOptions{LabelSelector: labels.SelectorFromSet(svc.Spec.Selector).String()})
	if err != nil {
		return nil, k.fail(err)
	}
	var cands []*corev1.Pod
	for i := range list.Items {
		p := &list.Items[i]
		if p.DeletionTimestamp == nil && p.Status.Phase == corev1.PodRunning {
			cands = append(cands, p)
		}
	}
	if len(cands) == 0 {
		return nil, errorf("no running pods found for service %s", svc.Name)
	}
	ready := func(p *corev1.Pod) bool {
		for _, c := range p.Status.Conditions {
			if c.Type == corev1.PodReady {
				return c.Status == corev1.ConditionTrue
			}
		}
		return false
	}
	sort.SliceStable(cands, func(i, j int) bool {
		if ready(cands[i]) != ready(cands[j]) {
			return ready(cands[i])
		}
		return cands[i].Name < cands[j].Name
	})
	return cands[0], nil
}

// translateServicePorts maps Service ports to the pod's target ports; a
// spec without a local port keeps the Service port locally (kubectl's
// translateServicePortToTargetPort).
func translateServicePorts(svc *corev1.Service, pod *corev1.Pod, specs []forwardSpec) ([]forwardSpec, error) {
	out := make([]forwardSpec, 0, len(specs))
	for _, f := range specs {
		var sp *corev1.ServicePort
		for i := range svc.Spec.Ports {
			if int(svc.Spec.Ports[i].Port) == f.remote {
				sp = &svc.Spec.Ports[i]
			}
		}
		if sp == nil {
			return nil, errorf("Service %s does not have a service port %d", svc.Name, f.remote)
		}
		target := int(sp.Port)
		switch {
		case sp.TargetPort.Type == intstr.Int && sp.TargetPort.IntVal != 0:
			target = int(sp.TargetPort.IntVal)
		case sp.TargetPort.Type == intstr.String && sp.TargetPort.StrVal != "":
			target = 0
			for _, c := range pod.Spec.Containers {
				for _, cp := range c.Ports {
					if cp.Name == sp.TargetPort.StrVal {
						target = int(cp.ContainerPort)
					}
				}
			}
			if target == 0 {
				return nil, errorf("Pod '%s' does not have a named port '%s'", pod.Name, sp.TargetPort.StrVal)
			}
		}
		out = append(out, forwardSpec{local: f.local, remote: target})
	}
	return out, nil
}

type forwarder struct {
	k           *conn
	ns, pod     string
	out, errOut io.Writer
	mu          sync.Mutex
}

func (fw *forwarder) printf(w io.Writer, format string, a ...any) {
	fw.mu.Lock()
	defer fw.mu.Unlock()
	fmt.Fprintf(w, format, a...)
}

func (fw *forwarder) serve(ctx context.Context, ln net.Listener, remote int) {
	go func() {
		<-ctx.Done()
		ln.Close()
	}()
	_, local, _ := net.SplitHostPort(ln.Addr().String())
	for {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		fw.printf(fw.out, "Handling connection for %s\n", local)
		go func() {
			defer c.Close()
			if err := fw.forward(ctx, c, remote); err != nil {
				fw.printf(fw.errOut, "error: an error occurred forwarding %s -> %d: %v\n", local, remote, err)
			}
		}()
	}
}

// forward carries one local connection over its own WebSocket.
func (fw *forwarder) forward(ctx context.Context, local net.Conn, remote int) error {
	u := fw.k.cs.CoreV1().RESTClient().Get().Resource("pods").Namespace(fw.ns).Name(fw.pod).
		SubResource("portforward").Param("ports", strconv.Itoa(remote)).URL()
	rt, holder, err := websocket.RoundTripperFor(fw.k.cfg)
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return err
	}
	ws, err := websocket.Negotiate(rt, holder, req, apiserver.PortForwardProtocols...)
	if err != nil {
		return fmt.Errorf("%s", fw.k.message(err))
	}
	defer ws.Close()
	v5 := ws.Subprotocol() == apiserver.PortForwardProtocols[0]
	var wmu sync.Mutex
	send := func(b []byte) error {
		wmu.Lock()
		defer wmu.Unlock()
		return ws.WriteMessage(gwebsocket.BinaryMessage, b)
	}
	// local → pod
	go func() {
		buf := make([]byte, 32*1024+1)
		for {
			n, err := local.Read(buf[1:])
			if n > 0 {
				buf[0] = 0
				if send(buf[:1+n]) != nil {
					return
				}
			}
			if err != nil {
				if v5 {
					send([]byte{255, 0})
				}
				return
			}
		}
	}()
	// pod → local, skipping the two port-prefix messages.
	prefixes := 0
	var remoteErr string
	for {
		typ, data, err := ws.ReadMessage()
		if err != nil {
			break
		}
		if typ != gwebsocket.BinaryMessage || len(data) == 0 {
			continue
		}
		if prefixes < 2 && len(data) == 3 && data[0] == byte(prefixes) {
			prefixes++
			continue
		}
		switch data[0] {
		case 0:
			if _, err := local.Write(data[1:]); err != nil {
				return nil
			}
		case 1:
			remoteErr += string(data[1:])
		}
	}
	if remoteErr != "" {
		return fmt.Errorf("%s", remoteErr)
	}
	return nil
}
