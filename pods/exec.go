package pods

import (
	"context"
	"fmt"
	"io"

	corev1 "k8s.io/api/core/v1"
)

// Exec runs argv (argv[0] included) as a new instance of a running
// container's module inside the pod's sandbox: the same module (digest),
// environment, volume mounts, working directory and memory limit as the
// container. stdin, when non-nil, is copied to the instance's stdin (EOF
// closes it); when nil the instance's stdin stays open until it is killed.
// stdout and stderr may be nil (discarded). It returns the instance's exit
// code once it has exited. Cancelling ctx, or the pod's worker finishing,
// kills the instance (exit code 137).
//
// It fails when the pod is not running, the container is not one of the
// pod's, or the container is not running.
func (w *Worker) Exec(ctx context.Context, container string, argv []string, stdin io.Reader, stdout, stderr io.Writer) (int, error) {
	pod := w.Pod()
	ref := fmt.Sprintf("%s/%s", pod.Namespace, pod.Name)
	if len(argv) == 0 {
		return 0, fmt.Errorf("exec in pod %s: command: you must specify at least 1 command", ref)
	}
	var c *ctr
	for _, x := range w.state.ctrs {
		if x.spec.Name == container {
			c = x
		}
	}
	if c == nil {
		return 0, fmt.Errorf("exec in pod %s: container %q not found in pod", ref, container)
	}
	select {
	case <-w.done:
		return 0, fmt.Errorf("exec in pod %s: pod is not running (phase %s)", ref, pod.Status.Phase)
	default:
	}
	if pod.Status.Phase != corev1.PodRunning && pod.Status.Phase != corev1.PodPending {
		return 0, fmt.Errorf("exec in pod %s: pod is not running (phase %s)", ref, pod.Status.Phase)
	}
	if cs := containerStatus(pod, container); cs == nil || cs.State.Running == nil {
		return 0, fmt.Errorf("exec in pod %s: container %q is not running", ref, container)
	}
	w.mu.Lock()
	mod := w.mods[container]
	w.mu.Unlock()
	if mod == nil {
		return 0, fmt.Errorf("exec in pod %s: container %q is not running", ref, container)
	}
	cfg, err := w.containerConfig(c)
	if err != nil {
		return 0, fmt.Errorf("exec in pod %s, container %q: %w", ref, container, err)
	}
	defer closeMounts(cfg.Mounts) // the engine holds its own handles
	cfg.Name += "/exec"
	cfg.Args = append([]string(nil), argv...)
	cfg.Stdin, cfg.Stdout, cfg.Stderr = stdin, stdout, stderr
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	inst, err := w.cfg.Engine.Start(ctx, mod, cfg)
	if err != nil {
		return 0, fmt.Errorf("exec in pod %s, container %q: %w", ref, container, err)
	}
	select {
	case <-inst.Done():
	case <-w.done:
		inst.Kill()
		<-inst.Done()
	}
	return inst.Status().ExitCode, nil
}

// containerStatus finds a container's status (init or app) in the pod.
func containerStatus(pod *corev1.Pod, name string) *corev1.ContainerStatus {
	for _, list := range [][]corev1.ContainerStatus{pod.Status.ContainerStatuses, pod.Status.InitContainerStatuses} {
		for i := range list {
			if list[i].Name == name {
				return &list[i]
			}
		}
	}
	return nil
}
