package pods

// termination.go gives containers the kubelet's termination messages: a
// fresh, empty file at the container's terminationMessagePath for each
// instance, whose content becomes state.terminated.message when the
// instance exits; with terminationMessagePolicy FallbackToLogsOnError, an
// empty file and a non-zero exit, the tail of the instance's log instead
// (pkg/kubelet/kuberuntime getTerminationMessage and
// readLastStringFromContainerLogs).

import (
	"errors"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"

	corev1 "k8s.io/api/core/v1"

	"github.com/wasmpod/wasmpod/logs"
	"github.com/wasmpod/wasmpod/runtime"
	"github.com/wasmpod/wasmpod/runtime/wasi"
)

// The kubelet's bounds on a log-derived termination message
// (MaxContainerTerminationMessageLogLines and
// MaxContainerTerminationMessageLogLength).
const (
	terminationLogLines = 80
	terminationLogBytes = 2048
	// terminationDirBytes bounds what a guest may write in its
	// termination-message directory (writes past it get ENOSPC): only the
	// last 4 KiB are read, and the disk is the node's.
	terminationDirBytes = 1 << 20
)

// terminationMount adds to cfg the container's termination-message file,
// created empty for this instance, mounted alone at terminationMessagePath
// (a single-file mount, as the kubelet bind-mounts a host file there
// whatever the volumes), and returns its host path ("" when there is
// none). Its mount point is made where the path's directory is: in a
// volume mounted there, else in the container's read-only "/"
// (rootfsMount). A path that is a directory (a volume's mount path, or a
// directory a volume holds) fails the container's start, as runc's file
// bind mount over a directory does. The guest can write the file, never
// replace it (unlink, rename or symlink over a mount point fail), and the
// message is read from the host file, never through a guest's name.
func (w *Worker) terminationMount(c *ctr, cfg *runtime.ContainerConfig) (string, error) {
	p := c.spec.TerminationMessagePath
	if p == "" || !path.IsAbs(p) || path.Clean(p) == "/" {
		return "", nil
	}
	// One file per container, podDir/termination/<container> (no
	// directory of its own to make and remove at each start).
	dir, err := w.podPart("termination") // podfs.go
	if err != nil {
		return "", err
	}
	file := filepath.Join(dir, c.spec.Name)
	// The previous instance's message was read when it exited. (removeTree:
	// also a directory an earlier agent made there.)
	if may, err := w.mayExist("termination", c.spec.Name); err != nil {
		return "", err
	} else if may {
		if err := removeTree(file); err != nil {
			return "", err
		}
	}
	f, err := os.OpenFile(file, os.O_CREATE|os.O_EXCL|os.O_RDONLY, 0o666)
	if err != nil {
		return "", err
	}
	w.madeEntry("termination", c.spec.Name)
	f.Close()
	// All the guest can write is that file, empty now.
	q := wasi.NewQuotaUsed("termination message of "+c.spec.Name, terminationDirBytes, wasi.InodeCost)
	// Opened by path at each guest use: no guest reaches the directory
	// it is in, and an idle instance then holds no fd for it.
	cfg.Mounts = append(cfg.Mounts, runtime.Mount{HostPath: file, GuestPath: path.Clean(p), FileByPath: true, Quota: q})
	if err := w.rootfsMount(c, cfg); err != nil { // subpath.go
		return "", err
	}
	return file, nil
}

// terminationMessage is the message of an instance that ended with term:
// the last 4 KiB of its termination-message file; with
// FallbackToLogsOnError, a non-zero exit and no message, the last 80 lines
// (at most their last 2 KiB) of its log at logPath.
func (w *Worker) terminationMessage(c *ctr, term *corev1.ContainerStateTerminated, file, logPath string) string {
	fallback := c.spec.TerminationMessagePolicy == corev1.TerminationMessageFallbackToLogsOnError && term.ExitCode != 0
	if file != "" {
		b, err := readTail(file, maxContainerMessageBytes)
		switch {
		case errors.Is(err, fs.ErrNotExist):
		case err != nil:
			return "Error on reading termination log " + file + ": " + err.Error()
		case len(b) > 0:
			return string(b)
		}
	}
	if !fallback {
		return ""
	}
	return logTail(logPath)
}

// readTail reads at most the last n bytes of the file at name (not
// through a symlink there).
func readTail(name string, n int64) ([]byte, error) {
	f, err := openNoFollow(name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if !fi.Mode().IsRegular() {
		return nil, errors.New("not a regular file")
	}
	if off := fi.Size() - n; off > 0 {
		if _, err := f.Seek(off, io.SeekStart); err != nil {
			return nil, err
		}
	}
	return io.ReadAll(io.LimitReader(f, n))
}

// logTail is the text of the last terminationLogLines records of the log
// at path, of which only the last terminationLogBytes are kept.
func logTail(path string) string {
	r, err := logs.OpenReader(path, terminationLogLines, false, nil)
	if err != nil {
		return "Error on reading termination message from logs: " + err.Error()
	}
	defer r.Close()
	var out []byte
	for {
		rec, err := r.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return "Error on reading termination message from logs: " + err.Error()
		}
		ln, err := logs.ParseRecord(rec)
		if err != nil {
			continue
		}
		out = append(out, ln.Text...)
		if !ln.Partial {
			out = append(out, '\n')
		}
		if len(out) > 2*terminationLogBytes {
			out = append(out[:0], out[len(out)-terminationLogBytes:]...)
		}
	}
	if len(out) > terminationLogBytes {
		out = out[len(out)-terminationLogBytes:]
	}
	return string(out)
}
