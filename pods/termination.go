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
	"strings"

	corev1 "k8s.io/api/core/v1"

	"github.com/wasmpod/wasmpod/logs"
	"github.com/wasmpod/wasmpod/runtime"
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

// terminationMount adds to cfg the directory holding the container's
// termination-message file, created empty, and returns the file's host
// path ("" when there is none). WASI mounts directories only, so where the
// kubelet bind-mounts one file, the file's guest directory (e.g. /dev) is
// a per-container directory here; when a volumeMount already covers that
// directory the volume is left visible and no message is collected.
func (w *Worker) terminationMount(c *ctr, cfg *runtime.ContainerConfig) (string, error) {
	p := c.spec.TerminationMessagePath
	if p == "" || !path.IsAbs(p) {
		return "", nil
	}
	p = path.Clean(p)
	dir, base := path.Dir(p), path.Base(p)
	if dir == "/" {
		return "", nil
	}
	for _, m := range cfg.Mounts {
		mp := path.Clean(m.GuestPath)
		if mp == "/" || dir == mp || strings.HasPrefix(dir, mp+"/") {
			return "", nil
		}
	}
	host := filepath.Join(w.podDir, "termination", c.spec.Name)
	// The previous instance's message was read when it exited.
	if err := os.RemoveAll(host); err != nil {
		return "", err
	}
	if err := os.MkdirAll(host, 0o755); err != nil {
		return "", err
	}
	file := filepath.Join(host, base)
	if err := os.WriteFile(file, nil, 0o666); err != nil {
		return "", err
	}
	q, err := runtime.NewVolumeQuota("termination message of "+c.spec.Name, terminationDirBytes, host)
	if err != nil {
		return "", err
	}
	cfg.Mounts = append(cfg.Mounts, runtime.Mount{HostPath: host, GuestPath: dir, Quota: q})
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

// readTail reads at most the last n bytes of the file at name.
func readTail(name string, n int64) ([]byte, error) {
	f, err := os.Open(name)
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
