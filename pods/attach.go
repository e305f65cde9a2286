package pods

// attach.go: attaching to a running container (pods/NAME/attach, kubectl
// attach and kubectl run -i/--attach).
//
// A container with `stdin: true` gets a pipe as its stdin when an instance
// starts; attaches write into it (several at once interleave). With
// `stdinOnce` the pipe is closed — the guest reads EOF — when the first
// attach that brought stdin ends its input or detaches, as upstream; without
// it the pipe stays open across attaches until the instance exits.
//
// Output: an attach streams the instance's stdout and stderr as the
// container writes them from the moment it connects, as upstream, read
// from the instance's CRI log, so the streams keep their identity and a
// slow client never blocks the guest. kubectl run -i first prints the log
// so far, then attaches; so that a line written between the two is neither
// lost nor printed twice, the first attach to an instance that follows a
// log read of it (within attachReplayWindow) starts right after the last
// record that read delivered, or at the log's start when it delivered
// none. Records are timestamped in file order under one lock
// (logs/crilog.go), so the cursor is that record's time and how many
// records of that time the read delivered (a coarse or fake clock gives
// several the same time).
// Such an attach also succeeds when the instance has exited in between:
// it delivers the rest of the output and returns, rather than making
// kubectl fall back to a log read since a time truncated to the second,
// which could print lines twice.

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"

	"github.com/wasmpod/wasmpod/internal/streaming"
	"github.com/wasmpod/wasmpod/logs"
	"github.com/wasmpod/wasmpod/runtime"
)

// attachState is one container instance's attach point.
type attachState struct {
	idx       int32 // the instance (restart count), for its log
	stdin     bool
	stdinOnce bool

	mu     sync.Mutex
	pipe   *io.PipeWriter // the guest's stdin; nil without stdin
	closed bool           // stdin closed (stdinOnce, or the instance ended)
	// logReadAt is when a log read of this instance (not following) last
	// ended, and logReadUpTo where it ended; attached, whether an attach
	// has connected.
	logReadAt   time.Time
	logReadUpTo logCursor
	attached    bool
}

// logCursor is a position in an instance's log: after the n-th record
// timestamped t (zero t: the start).
type logCursor struct {
	t time.Time
	n int
}

func (st *attachState) closeStdin() {
	st.mu.Lock()
	defer st.mu.Unlock()
	if st.pipe != nil && !st.closed {
		st.closed = true
		st.pipe.Close()
	}
}

// attachReplayWindow is how recent a log read must be for the first
// attach to start where it ended.
const attachReplayWindow = 10 * time.Second

// noteLogRead records that a client has just read instance idx of
// container's log to its end, up to upTo, for the attach that kubectl run
// -i makes next.
func (w *Worker) noteLogRead(container string, idx int32, upTo logCursor) {
	w.mu.Lock()
	st := w.attach[container]
	w.mu.Unlock()
	if st != nil && st.idx == idx {
		st.mu.Lock()
		st.logReadAt = w.clk.Now()
		st.logReadUpTo = upTo
		st.mu.Unlock()
	}
}

// attachInstance registers a starting instance of c for attach and, when
// the container has stdin, gives cfg a pipe as the guest's stdin. The
// returned func ends the instance's stdin (call it when the instance has
// exited or failed to start).
func (w *Worker) attachInstance(c *ctr, idx int32, cfg *runtime.ContainerConfig) func() {
	st := &attachState{idx: idx, stdin: c.spec.Stdin, stdinOnce: c.spec.StdinOnce}
	if c.spec.Stdin {
		r, pw := io.Pipe()
		st.pipe = pw
		cfg.Stdin = r
	}
	w.mu.Lock()
	if w.attach == nil {
		w.attach = map[string]*attachState{}
	}
	w.attach[c.spec.Name] = st
	w.mu.Unlock()
	return st.closeStdin
}

// Attach connects to the running instance of container: stdin (may be
// nil) is copied into the container's stdin when it has one; its stdout
// and stderr (both to stdout with tty; either writer may be nil) are
// streamed until the instance exits and its output is delivered, or ctx
// ends.
func (w *Worker) Attach(ctx context.Context, container string, stdin io.Reader, stdout, stderr io.Writer, tty bool) error {
	pod := w.Pod()
	ref := fmt.Sprintf("%s/%s", pod.Namespace, pod.Name)
	known := false
	for _, x := range w.state.ctrs {
		known = known || x.spec.Name == container
	}
	if !known {
		return fmt.Errorf("attach to pod %s: container %q not found in pod", ref, container)
	}
	cs := containerStatus(pod, container)
	w.mu.Lock()
	st := w.attach[container]
	w.mu.Unlock()
	// replay: the first attach after a recent log read of this instance.
	replay := false
	var since logCursor
	if st != nil && cs != nil && st.idx == cs.RestartCount {
		st.mu.Lock()
		if !st.attached && !st.logReadAt.IsZero() && w.clk.Since(st.logReadAt) < attachReplayWindow {
			replay, since = true, st.logReadUpTo
		}
		st.mu.Unlock()
	}
	ended := false
	select {
	case <-w.done:
		ended = true
	default:
	}
	switch {
	case st == nil || cs == nil || st.idx != cs.RestartCount:
		if ended {
			return fmt.Errorf("attach to pod %s: pod is not running (phase %s)", ref, pod.Status.Phase)
		}
		return fmt.Errorf("attach to pod %s: container %q is not running", ref, container)
	case cs.State.Running != nil && !ended:
	case replay && (cs.State.Terminated != nil || ended):
		// Exited since the log read: deliver the rest of its output
		// (its stdin is closed: what the client sends is discarded).
	case ended:
		return fmt.Errorf("attach to pod %s: pod is not running (phase %s)", ref, pod.Status.Phase)
	default:
		return fmt.Errorf("attach to pod %s: container %q is not running", ref, container)
	}
	st.mu.Lock()
	st.attached = true
	st.mu.Unlock()

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	// Output is positioned before any input is written, so that what the
	// guest writes in answer to it cannot come before the attach's start.
	var out *logs.Reader
	if stdout != nil || stderr != nil {
		r, err := w.openOutput(container, st.idx, replay)
		if err != nil {
			return err
		}
		defer r.Close()
		out = r
	}
	if stdin != nil {
		go func() {
			err := io.ErrClosedPipe // no stdin to write to
			if st.pipe != nil {
				_, err = io.Copy(st.pipe, stdin)
				if st.stdinOnce && (err == nil || ctx.Err() != nil) {
					// The attach's input ended (or it detached): the
					// guest reads EOF.
					st.closeStdin()
				}
			}
			if err != nil {
				// Keep reading what the client sends: a stream left
				// unread would hold up the connection's other streams.
				io.Copy(io.Discard, stdin)
			}
		}()
		if st.pipe != nil && st.stdinOnce {
			defer st.closeStdin()
		}
	}
	if out == nil {
		// Input only: stay attached until the instance ends.
		for !w.instanceEnded(container, st.idx) {
			select {
			case <-ctx.Done():
				return nil
			case <-w.logWait():
			case <-w.done:
			case <-time.After(followPoll):
			}
		}
		return nil
	}
	return w.streamOutput(ctx, out, container, st.idx, since, stdout, stderr, tty)
}

// openOutput opens instance idx's log for following: at its current end,
// or with replay at its start.
func (w *Worker) openOutput(name string, idx int32, replay bool) (*logs.Reader, error) {
	path := w.LogPath(name, idx)
	var lock sync.Locker
	w.mu.Lock()
	if rf := w.logFiles[path]; rf != nil {
		lock = rf.RotationLock()
	}
	w.mu.Unlock()
	tail := int64(0)
	if replay {
		tail = -1
	}
	r, err := logs.OpenReader(path, tail, true, lock)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("container %q is not running", name)
	}
	return r, err
}

// streamOutput follows instance idx's log from r's position, skipping
// what comes before since, and writes each record's text to the writer of
// its stream.
func (w *Worker) streamOutput(ctx context.Context, r *logs.Reader, name string, idx int32, since logCursor, stdout, stderr io.Writer, tty bool) error {
	if tty {
		stderr = stdout
	}
	drain := func() error {
		for {
			rec, err := r.Next()
			if errors.Is(err, io.EOF) {
				return nil
			}
			if err != nil {
				return err
			}
			ln, err := logs.ParseRecord(rec)
			if err != nil {
				continue // as Logs: a record that does not parse is skipped
			}
			if ln.Time.Before(since.t) {
				continue
			}
			if since.n > 0 && ln.Time.Equal(since.t) {
				since.n--
				continue
			}
			out := stdout
			if ln.Stream == logs.Stderr {
				out = stderr
			}
			if out == nil {
				continue
			}
			text := ln.Text
			if !ln.Partial {
				text = append(text[:len(text):len(text)], '\n')
			}
			if _, err := out.Write(text); err != nil {
				return err
			}
		}
	}
	tick := time.NewTicker(followPoll)
	defer tick.Stop()
	for {
		// Decide whether the instance has ended before draining, so that
		// nothing written before the exit is missed.
		ended := w.instanceEnded(name, idx)
		wake := w.logWait()
		if err := drain(); err != nil {
			return err
		}
		if ended {
			return nil
		}
		select {
		case <-ctx.Done():
			return nil
		case <-wake:
		case <-w.done:
		case <-tick.C:
		}
	}
}

// Attach implements apiserver.Attacher: TTY resizes are ignored (WASI
// has no terminal).
func (a *Agent) Attach(ctx context.Context, pod *corev1.Pod, opts *corev1.PodAttachOptions, streams streaming.ExecStreams) error {
	wk, err := a.worker(pod)
	if err != nil {
		return err
	}
	if err := wk.Attach(ctx, opts.Container, streams.Stdin, streams.Stdout, streams.Stderr, opts.TTY); err != nil {
		return apierrors.NewBadRequest(err.Error())
	}
	return nil
}
