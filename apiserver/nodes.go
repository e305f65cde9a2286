package apiserver

import (
	"context"
	"fmt"
	"io"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"

	"github.com/wasmpod/wasmpod/internal/streaming"
)

// NodeConnector is how the API server reaches a node agent for the pod
// subresources that the node serves (the kubelet's API upstream).
type NodeConnector interface {
	// Logs writes a container's log to w as opts asks (container,
	// previous, tail, timestamps, since, follow). With Follow it returns
	// when ctx ends or the container instance has exited and its log is
	// drained.
	Logs(ctx context.Context, pod *corev1.Pod, opts *corev1.PodLogOptions, w io.Writer) error
	// Exec runs opts.Command as a new instance in the pod's sandbox and
	// returns its exit code.
	Exec(ctx context.Context, pod *corev1.Pod, opts *corev1.PodExecOptions, streams ExecStreams) (int, error)
}

// PortForwarder is the optional capability of a NodeConnector to forward
// a connection into a pod (pods/NAME/portforward). A connector without it
// answers port-forward requests with ServiceUnavailable.
type PortForwarder interface {
	// PortForward connects to port on the pod's IP and copies between that
	// connection and conn in both directions: the end of conn's input is
	// passed on as a half-close, and PortForward returns when the pod side
	// has finished sending (or ctx ends). It does not close conn. An error
	// before the connection is made (refused, no network) is returned.
	PortForward(ctx context.Context, pod *corev1.Pod, port int32, conn io.ReadWriteCloser) error
}

// Attacher is the optional capability of a NodeConnector to attach to a
// running container (pods/NAME/attach). A connector without it answers
// attach requests with ServiceUnavailable.
type Attacher interface {
	// Attach copies what the container writes to streams.Stdout and
	// streams.Stderr (both to Stdout with opts.TTY) and, when the
	// container has stdin, streams.Stdin into it. It returns when the
	// container instance has exited and its output is delivered, or ctx
	// ends.
	Attach(ctx context.Context, pod *corev1.Pod, opts *corev1.PodAttachOptions, streams ExecStreams) error
}

// ExecStreams are the attached streams of an exec (internal/streaming's,
// shared with the node agent's kubelet API).
type ExecStreams = streaming.ExecStreams

// TerminalSize is a tty size in characters.
type TerminalSize = streaming.TerminalSize

// RegisterNode connects a node agent; UnregisterNode disconnects it.
func (s *Server) RegisterNode(name string, c NodeConnector) {
	s.mu.Lock()
	s.nodes[name] = c
	s.mu.Unlock()
}

// UnregisterNode disconnects a node agent.
func (s *Server) UnregisterNode(name string) {
	s.mu.Lock()
	delete(s.nodes, name)
	s.mu.Unlock()
}

func (s *Server) podNode(ctx context.Context, ns, name, container string) (*corev1.Pod, NodeConnector, error) {
	obj, err := s.Get(ctx, s.resources["/pods"], ns, name)
	if err != nil {
		return nil, nil, err
	}
	pod := obj.(*corev1.Pod)
	if container != "" && !hasContainer(pod, container) {
		return nil, nil, apierrors.NewBadRequest(fmt.Sprintf("container %s is not valid for pod %s", container, name))
	}
	if container == "" && len(pod.Spec.Containers) > 1 {
		if def := pod.Annotations["kubectl.kubernetes.io/default-container"]; def == "" {
			names := []string{}
			for _, c := range pod.Spec.Containers {
				names = append(names, c.Name)
			}
			return nil, nil, apierrors.NewBadRequest(fmt.Sprintf("a container name must be specified for pod %s, choose one of: %v", name, names))
		}
	}
	if pod.Spec.NodeName == "" {
		return nil, nil, apierrors.NewBadRequest(fmt.Sprintf("pod %s does not have a host assigned", name))
	}
	c, err := s.nodeConnector(ctx, pod.Spec.NodeName) // remotenode.go
	if err != nil {
		return nil, nil, err
	}
	return pod, c, nil
}

func hasContainer(pod *corev1.Pod, name string) bool {
	for _, cs := range [][]corev1.Container{pod.Spec.Containers, pod.Spec.InitContainers} {
		for _, c := range cs {
			if c.Name == name {
				return true
			}
		}
	}
	return false
}

func defaultContainer(pod *corev1.Pod, name string) string {
	if name != "" {
		return name
	}
	if def := pod.Annotations["kubectl.kubernetes.io/default-container"]; def != "" {
		return def
	}
	return pod.Spec.Containers[0].Name
}

// PodLogs writes a pod container's log (GET pods/NAME/log).
func (s *Server) PodLogs(ctx context.Context, ns, name string, opts *corev1.PodLogOptions, w io.Writer) error {
	pod, c, err := s.podNode(ctx, ns, name, opts.Container)
	if err != nil {
		return err
	}
	o := *opts
	o.Container = defaultContainer(pod, o.Container)
	return c.Logs(ctx, pod, &o, w)
}

// PodExec runs a command in a pod (pods/NAME/exec).
func (s *Server) PodExec(ctx context.Context, ns, name string, opts *corev1.PodExecOptions, streams ExecStreams) (int, error) {
	pod, c, err := s.podNode(ctx, ns, name, opts.Container)
	if err != nil {
		return 0, err
	}
	if len(opts.Command) == 0 {
		return 0, apierrors.NewBadRequest("you must specify at least 1 command")
	}
	if pod.Status.Phase == corev1.PodSucceeded || pod.Status.Phase == corev1.PodFailed {
		return 0, apierrors.NewBadRequest(fmt.Sprintf("cannot exec into a container in a completed pod; current phase is %s", pod.Status.Phase))
	}
	o := *opts
	o.Container = defaultContainer(pod, o.Container)
	return c.Exec(ctx, pod, &o, streams)
}
