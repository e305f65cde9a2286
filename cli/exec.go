package cli

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/wasmpod/wasmpod/cli/internal/cmdline"
	"golang.org/x/term"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/remotecommand"
	utilexec "k8s.io/client-go/util/exec"

	"github.com/wasmpod/wasmpod/internal/kube/kubernetes/scheme"
)

func execCommand() *cmdline.Command {
	return &cmdline.Command{
		Name:      "exec",
		Usage:     "Execute a command in a container",
		ArgsUsage: "POD [-c CONTAINER] -- COMMAND [args...]",
		Description: `Starts a new instance of a WebAssembly module inside the pod's sandbox (the
container's volumes, network, environment and working directory) with COMMAND
as its argv, and streams its standard input and output. The command's exit
code becomes wasmpod's exit code.

Which module runs: the container's own module when COMMAND's first word names
it (the container's command[0], or its image's base name, e.g. "toolbox" for
an image toolbox.wasm); else, for sh, ls, cat, tar and the other applets of
wasm-examples/toolbox (a busybox-like program with a POSIX shell), the
toolbox; anything else exits 127 ("executable file not found in $PATH"). So
"exec POD -- sh -c '...'" and "exec -it POD -- sh" work in any pod.

Examples:
  # (With the pod of wasm-examples/toolbox running under "wasmpod serve":
  #  wasmpod apply -f wasm-examples/toolbox/pod.yaml)
  # List the pod's /data volume
  wasmpod exec toolbox -- toolbox ls /data

  # Print the container's environment
  wasmpod exec toolbox -c toolbox -- toolbox env

  # Pass standard input to the command: write a file in the pod's volume
  echo hello | wasmpod exec -i toolbox -- toolbox tee /data/notes.txt

  # Read it back; the command's exit code is wasmpod's
  wasmpod exec toolbox -- toolbox cat /data/notes.txt`,
		Flags: append(append(connFlags(), nsFlags(false)...),
			&cmdline.StringFlag{Name: "container", Aliases: []string{"c"}, Usage: "container name; if omitted, the one named by the kubectl.kubernetes.io/default-container annotation, else the first container"},
			&cmdline.BoolFlag{Name: "stdin", Aliases: []string{"i"}, Usage: "pass stdin to the container"},
			&cmdline.BoolFlag{Name: "tty", Aliases: []string{"t"}, Usage: "stdin is a TTY"},
			&cmdline.BoolFlag{Name: "quiet", Aliases: []string{"q"}, Usage: "only print output from the remote session"},
		),
		Action: execAction,
	}
}

func execAction(c *cmdline.Context) error {
	args := c.Args().Slice()
	dash := -1
	for i, a := range args {
		if a == "--" {
			dash = i
			break
		}
	}
	if len(args) == 0 || dash == 0 {
		return errorf("pod name must be specified; see 'wasmpod exec -h'")
	}
	if dash < 0 && len(args) == 1 {
		return errorf("you must specify at least one command for the container")
	}
	if dash < 0 {
		return errorf("exec [POD] [COMMAND] is not supported anymore. Use exec [POD] -- [COMMAND] instead; see 'wasmpod exec -h'")
	}
	if dash > 1 {
		return errorf("exactly one pod name is expected before --, got %v", args[:dash])
	}
	command := args[dash+1:]
	if len(command) == 0 {
		return errorf("you must specify at least one command for the container")
	}
	name := args[0]
	if typ, n, ok := strings.Cut(name, "/"); ok {
		if typ != "pod" && typ != "pods" && typ != "po" {
			return errorf("cannot exec into %s: only pods are supported", typ)
		}
		name = n
	}
	k, err := connect(c)
	if err != nil {
		return err
	}
	ns := k.namespace(c)
	ctx := c.Context
	pod, err := k.cs.CoreV1().Pods(ns).Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		return k.fail(err)
	}
	if pod.Status.Phase == corev1.PodSucceeded || pod.Status.Phase == corev1.PodFailed {
		return errorf("cannot exec into a container in a completed pod; current phase is %s", pod.Status.Phase)
	}
	container := c.String("container")
	if container == "" {
		var warn io.Writer = c.App.ErrWriter
		if c.Bool("quiet") {
			warn = nil
		}
		if container, err = defaultContainerName(pod, warn, false); err != nil {
			return err
		}
	}
	stdin := c.Bool("stdin")
	tty := c.Bool("tty")
	in := c.App.Reader
	var stdinFd = -1
	if f, ok := in.(*os.File); ok {
		stdinFd = int(f.Fd())
	}
	if tty && (!stdin || stdinFd < 0 || !term.IsTerminal(stdinFd)) {
		if !c.Bool("quiet") {
			fmt.Fprintln(c.App.ErrWriter, "Unable to use a TTY - input is not a terminal or the right kind of file")
		}
		tty = false
	}
	opts := &corev1.PodExecOptions{Container: container, Command: command, Stdin: stdin, Stdout: true, Stderr: !tty, TTY: tty}
	req := k.cs.CoreV1().RESTClient().Post().Resource("pods").Namespace(ns).Name(name).SubResource("exec").
		VersionedParams(opts, scheme.ParameterCodec)
	ex, err := remotecommand.NewWebSocketExecutor(k.cfg, "GET", req.URL().String())
	if err != nil {
		return k.fail(err)
	}
	so := remotecommand.StreamOptions{Stdout: c.App.Writer, Tty: tty}
	if stdin {
		so.Stdin = in
	}
	if !tty {
		so.Stderr = c.App.ErrWriter
	}
	if tty {
		old, err := term.MakeRaw(stdinFd)
		if err == nil {
			defer term.Restore(stdinFd, old)
		}
		q := newSizeQueue(stdinFd)
		defer q.stop()
		so.TerminalSizeQueue = q
	}
	err = ex.StreamWithContext(ctx, so)
	var ce utilexec.CodeExitError
	if errors.As(err, &ce) {
		return &cmdError{msg: fmt.Sprintf("command terminated with exit code %d", ce.Code), code: ce.Code}
	}
	return k.fail(err)
}

// sizeQueue reports the local terminal's size at start and on each resize
// (notifyResize: SIGWINCH on Unix, polling on Windows).
type sizeQueue struct {
	fd         int
	ch         chan struct{}
	done       chan struct{}
	stopResize func()
	sent       bool
}

func newSizeQueue(fd int) *sizeQueue {
	q := &sizeQueue{fd: fd, ch: make(chan struct{}, 1), done: make(chan struct{})}
	q.stopResize = notifyResize(fd, q.ch)
	return q
}

func (q *sizeQueue) stop() {
	q.stopResize()
	close(q.done)
}

// Next implements remotecommand.TerminalSizeQueue.
func (q *sizeQueue) Next() *remotecommand.TerminalSize {
	if q.sent {
		select {
		case <-q.ch:
		case <-q.done:
			return nil
		}
	}
	q.sent = true
	w, h, err := term.GetSize(q.fd)
	if err != nil {
		return nil
	}
	return &remotecommand.TerminalSize{Width: uint16(w), Height: uint16(h)}
}
