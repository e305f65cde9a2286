package pods

import (
	"context"
	"fmt"
	"io"
	"path"
	"strings"

	"github.com/wasmpod/wasmpod/images"

	corev1 "k8s.io/api/core/v1"
)

// Exec runs argv (argv[0] included) as a new instance of a module inside
// the pod's sandbox, with the container's environment, volume mounts,
// working directory, network and memory limit. The module is chosen from
// argv[0] (execTarget): the container's own module, or the toolbox for a
// toolbox applet; any other command exits 127 with the OCI runtime's
// "executable file not found in $PATH" message on stderr (ociExecFailed). stdin, when non-nil, is copied to the instance's stdin (EOF
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
	// A live image change (setImages) rewrites the spec's image and the
	// instance's digest under w.mu: take both under it.
	w.mu.Lock()
	mod := w.mods[container]
	spec, image := *c.spec, c.image
	w.mu.Unlock()
	if mod == nil {
		return 0, fmt.Errorf("exec in pod %s: container %q is not running", ref, container)
	}
	switch execTarget(&spec, argv) {
	case execToolbox:
		img, err := w.toolbox(ctx, argv[0])
		if err == nil && img.Digest != image {
			mod, err = w.engine().Compile(ctx, img.Digest, img.Bytes)
		}
		if err != nil {
			if stderr != nil {
				fmt.Fprintf(stderr, "%sexec: %q: executable file not found in $PATH (%v): unknown\n", ociExecFailed, argv[0], err)
			}
			return 127, nil
		}
	case execNotFound:
		if stderr != nil {
			fmt.Fprintf(stderr, "%sexec: %q: executable file not found in $PATH: unknown\n", ociExecFailed, argv[0])
		}
		return 127, nil
	}
	cfg, err := w.containerConfig(c)
	if err != nil {
		return 0, fmt.Errorf("exec in pod %s, container %q: %w", ref, container, err)
	}
	defer closeMounts(cfg.Mounts) // the engine holds its own handles
	cfg.Name += "/exec"
	cfg.Args = append([]string(nil), argv...)
	cfg.Stdin, cfg.Stdout, cfg.Stderr = stdin, stdout, stderr
	if execTTY(ctx) && !hasEnvVar(cfg.Env, "TERM") {
		cfg.Env = append(cfg.Env, "TERM=xterm") // as a runtime sets it for a TTY
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	inst, err := w.engine().Start(ctx, mod, cfg)
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

// ociExecFailed starts the message of an exec whose command cannot start,
// as runc's through containerd or Docker ("OCI runtime exec failed: exec
// failed: unable to start container process: exec: "foo": executable file
// not found in $PATH: unknown"), which upstream users see from kubectl
// exec and in exec probe and hook failures.
const ociExecFailed = "OCI runtime exec failed: exec failed: unable to start container process: "

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

// The exec argv rule. argv[0] names
//   - the container's own module when it is, exactly, the container's
//     argv[0] (command[0], or the container's name when it has no command),
//     or its base name without ".wasm" is the image's base name (the last
//     path element of the image, without tag, digest or ".wasm":
//     go://./testguests/probe, probe.wasm and wasmpod.local/probe:v1 are all
//     "probe"); when the container's image is the toolbox alias (busybox),
//     argv[0] must be one of its applets (or "toolbox");
//   - else the toolbox when its base name is a toolbox applet (sh, ls, tar,
//     ...: toolboxApplets), run in the same sandbox;
//   - else nothing: exit 127, `OCI runtime exec failed: exec failed: unable
//     to start container process: exec: "foo": executable file not found in
//     $PATH: unknown`.
type execKind int

const (
	execOwn execKind = iota
	execToolbox
	execNotFound
)

// toolboxApplets are the applets of wasm-examples/toolbox that exec may run.
var toolboxApplets = map[string]bool{}

func init() {
	for _, n := range strings.Fields(`sh ash echo cat ls mkdir rm rmdir cp mv touch sleep date env grep wc head
		tail tar sed find test [ true false wget tee hostname pwd printenv basename dirname httpd`) {
		toolboxApplets[n] = true
	}
}

func execTarget(c *corev1.Container, argv []string) execKind {
	own := c.Name
	if len(c.Command) > 0 {
		own = c.Command[0]
	}
	base := strings.TrimSuffix(path.Base(argv[0]), ".wasm")
	switch {
	case images.AliasOf(c.Image) == "toolbox":
		if toolboxApplets[base] || base == "toolbox" {
			return execOwn
		}
	case argv[0] == own, base == imageBase(c.Image):
		return execOwn
	case toolboxApplets[base]:
		return execToolbox
	}
	return execNotFound
}

// imageBase is the last path element of an image reference, without
// scheme, tag, digest or ".wasm".
func imageBase(ref string) string {
	if _, rest, ok := strings.Cut(ref, "://"); ok {
		ref = rest
	}
	if i := strings.IndexByte(ref, '@'); i >= 0 {
		ref = ref[:i]
	}
	ref = strings.TrimRight(ref, "/")
	b := path.Base(ref)
	if i := strings.LastIndexByte(b, ':'); i > 0 {
		b = b[:i]
	}
	b = strings.TrimSuffix(b, ".wasm")
	if b == "." || b == ".." || b == "/" {
		return ""
	}
	return b
}

// toolbox resolves the toolbox module (images.ResolveToolbox) for exec.
func (w *Worker) toolbox(ctx context.Context, what string) (*images.Image, error) {
	return images.ResolveToolbox(ctx, w.cfg.Images.Resolve, what)
}

// resolveImage resolves a container's image; an alias (busybox) is the
// toolbox.
func (w *Worker) resolveImage(ctx context.Context, ref string) (*images.Image, error) {
	if images.AliasOf(ref) == "toolbox" {
		return images.ResolveToolbox(ctx, w.cfg.Images.Resolve, ref)
	}
	return w.cfg.Images.Resolve(ctx, ref, w.state.pod.Annotations[AnnotationManifestDir])
}

type execTTYKey struct{}

// WithExecTTY marks ctx as an exec with a TTY: the instance gets TERM.
func WithExecTTY(ctx context.Context, tty bool) context.Context {
	if !tty {
		return ctx
	}
	return context.WithValue(ctx, execTTYKey{}, true)
}

func execTTY(ctx context.Context) bool { v, _ := ctx.Value(execTTYKey{}).(bool); return v }

func hasEnvVar(env []string, k string) bool {
	for _, kv := range env {
		if strings.HasPrefix(kv, k+"=") {
			return true
		}
	}
	return false
}
