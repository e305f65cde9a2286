package pods

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"

	"github.com/wasmpod/wasmpod/logs"
)

// followPoll is how often Logs with follow re-reads the log file when no
// notification arrived (a partial line, or a write racing the wake-up). It
// is real time, independent of Config.Clock.
const followPoll = 200 * time.Millisecond

// logOutputBuffer is the size of the buffer between the log files and the
// caller's writer.
const logOutputBuffer = 32 << 10

// Logs writes a container's log, read from its CRI log files, to out as
// kubelet's log endpoint does:
//   - the current instance, or with Previous the one before it (error
//     `previous terminated container "c" in pod "p" not found` when there
//     is none);
//   - TailLines: only the last N records;
//   - SinceSeconds / SinceTime: only records at or after that time
//     (SinceSeconds counts back from Config.Clock's now);
//   - Timestamps: each record prefixed with its RFC 3339 (nanosecond)
//     timestamp and a space;
//   - LimitBytes: at most that many bytes in all;
//   - Follow: keep streaming new records until the instance has exited and
//     its file is drained, or ctx ends (then it returns nil).
//
// An empty Container means the pod's only container.
func (w *Worker) Logs(ctx context.Context, opts *corev1.PodLogOptions, out io.Writer) error {
	if opts == nil {
		opts = &corev1.PodLogOptions{}
	}
	pod := w.Pod()
	name := opts.Container
	if name == "" {
		if len(pod.Spec.Containers) != 1 {
			return fmt.Errorf("a container name must be specified for pod %s", pod.Name)
		}
		name = pod.Spec.Containers[0].Name
	}
	known := false
	for _, c := range w.state.ctrs {
		known = known || c.spec.Name == name
	}
	if !known {
		return fmt.Errorf("container %s is not valid for pod %s", name, pod.Name)
	}
	cs := containerStatus(pod, name)
	var idx int32
	if cs != nil {
		idx = cs.RestartCount
	}
	if opts.Previous {
		if cs == nil || idx == 0 {
			return fmt.Errorf("previous terminated container %q in pod %q not found", name, pod.Name)
		}
		idx--
	}
	path := w.LogPath(name, idx)
	tail := int64(-1)
	if opts.TailLines != nil {
		tail = *opts.TailLines
	}
	follow := opts.Follow && !opts.Previous
	var lock sync.Locker
	w.mu.Lock()
	if rf := w.logFiles[path]; rf != nil {
		lock = rf.RotationLock()
	}
	w.mu.Unlock()
	r, err := logs.OpenReader(path, tail, follow, lock)
	if errors.Is(err, fs.ErrNotExist) {
		switch {
		case opts.Previous:
			return fmt.Errorf("previous terminated container %q in pod %q not found", name, pod.Name)
		case cs == nil || cs.State.Waiting != nil:
			reason := "ContainerCreating"
			if cs != nil {
				reason = cs.State.Waiting.Reason
			}
			return fmt.Errorf("container %q in pod %q is waiting to start: %s", name, pod.Name, reason)
		}
	}
	if err != nil {
		return fmt.Errorf("logs of container %q in pod %q: %w", name, pod.Name, err)
	}
	defer r.Close()

	// Output is buffered, and flushed whenever the reader has caught up
	// with the file, so that memory stays bounded and a follower sees
	// each line soon after it is written.
	bw := bufio.NewWriterSize(out, logOutputBuffer)
	lw := &logWriter{out: bw, timestamps: opts.Timestamps, limit: -1}
	if opts.LimitBytes != nil {
		lw.limit = *opts.LimitBytes
	}
	switch {
	case opts.SinceTime != nil:
		lw.since = opts.SinceTime.Time
	case opts.SinceSeconds != nil:
		lw.since = w.clk.Now().Add(-time.Duration(*opts.SinceSeconds) * time.Second)
	}
	// As the kubelet, without follow at most TailLines records are written
	// (records appended since the tail was found are not).
	left := int64(-1)
	if tail >= 0 && !follow {
		left = tail
	}
	// drain writes every record available now.
	drain := func() error {
		for ; left != 0; left-- {
			rec, err := r.Next()
			if errors.Is(err, io.EOF) {
				return bw.Flush()
			}
			if err == nil {
				err = lw.write(rec)
			}
			if err != nil {
				if ferr := bw.Flush(); ferr != nil && errors.Is(err, errLimit) {
					return ferr
				}
				return err
			}
		}
		return bw.Flush()
	}
	if err := drain(); err != nil || !follow {
		err = lw.done(err)
		if err == nil && !opts.Previous {
			// For the attach that kubectl run -i makes next.
			w.noteLogRead(name, idx, logCursor{lw.last, lw.lastN})
		}
		return err
	}
	tick := time.NewTicker(followPoll)
	defer tick.Stop()
	for {
		// Decide whether the instance has ended before draining, so that
		// nothing written before the exit is missed.
		ended := w.instanceEnded(name, idx)
		wake := w.logWait()
		if err := drain(); err != nil {
			return lw.done(err)
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

// instanceEnded reports whether instance idx of the container has exited
// (or will never run).
func (w *Worker) instanceEnded(name string, idx int32) bool {
	select {
	case <-w.done:
		return true
	default:
	}
	// The status is published after an instance starts, and the guest
	// may write before it is: a status that has not caught up with
	// instance idx (no status, an older restartCount, or Waiting with no
	// termination behind it) is not an end.
	cs := containerStatus(w.Pod(), name)
	switch {
	case cs == nil || cs.RestartCount < idx:
		return false
	case cs.RestartCount > idx:
		return true
	case cs.State.Terminated != nil:
		return true
	case cs.State.Waiting != nil:
		return cs.LastTerminationState.Terminated != nil
	}
	return false
}

// errLimit stops reading once LimitBytes are written.
var errLimit = errors.New("log limit reached")

type logWriter struct {
	out        io.Writer
	timestamps bool
	since      time.Time
	limit      int64  // -1: none
	buf        []byte // the line being written
	// last is the time of the last record written (zero: none yet) and
	// lastN how many records of that time were written: the cursor an
	// attach after this read starts from (attach.go).
	last  time.Time
	lastN int
}

func (l *logWriter) write(rec []byte) error {
	ln, err := logs.ParseRecord(rec)
	if err != nil {
		// As the kubelet: a record that does not parse is skipped.
		return nil
	}
	if !l.since.IsZero() && ln.Time.Before(l.since) {
		return nil
	}
	b := l.buf[:0]
	if l.timestamps {
		b = ln.Time.UTC().AppendFormat(b, time.RFC3339Nano)
		b = append(b, ' ')
	}
	b = append(b, ln.Text...)
	if !ln.Partial {
		b = append(b, '\n')
	}
	l.buf = b
	if l.limit >= 0 {
		if int64(len(b)) > l.limit {
			b = b[:l.limit]
		}
		l.limit -= int64(len(b))
	}
	if _, err := l.out.Write(b); err != nil {
		return err
	}
	if ln.Time.Equal(l.last) {
		l.lastN++
	} else {
		l.last, l.lastN = ln.Time, 1
	}
	if l.limit == 0 {
		return errLimit
	}
	return nil
}

func (l *logWriter) done(err error) error {
	if errors.Is(err, errLimit) {
		return nil
	}
	return err
}

// logPolicy is the rotation policy of the containers' logs.
func (c *Config) logPolicy() logs.RotatePolicy {
	return logs.RotatePolicy{MaxSize: c.ContainerLogMaxSize, MaxFiles: c.ContainerLogMaxFiles}.WithDefaults()
}

// removeOldInstanceLogs removes from a container's log directory the logs
// (rotated files included) of the instances before keep.
func removeOldInstanceLogs(dir string, keep int32) error {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return err
	}
	var errs []error
	for _, e := range ents {
		num, rest, _ := strings.Cut(e.Name(), ".")
		n, err := strconv.ParseInt(num, 10, 32)
		if err != nil || int32(n) >= keep || !strings.HasPrefix(rest, "log") || !e.Type().IsRegular() {
			continue
		}
		if err := os.Remove(filepath.Join(dir, e.Name())); err != nil && !errors.Is(err, fs.ErrNotExist) {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}
