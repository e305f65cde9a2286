package pods

import (
	"bufio"
	"bytes"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"sync"
)

// The per-pod file-system work sits on the path of every pod start (a
// Job's short completions start and remove one pod directory each), so
// the worker makes its directories with as few system calls as gives the
// same result as os.MkdirAll.

// podSubdir makes podDir/sub/name (and its parents, as os.MkdirAll
// would) and returns its path. podDir/sub is made once per worker and
// remembered (nothing removes it while the worker runs: only the pod
// directory's removal after the worker finished takes it), so a later
// container or instance costs one mkdir instead of MkdirAll's stat of
// every parent.
func (w *Worker) podSubdir(sub, name string) (string, error) {
	parent, err := w.podPart(sub)
	if err != nil {
		return "", err
	}
	dir := filepath.Join(parent, name)
	if err := os.Mkdir(dir, 0o755); err != nil {
		// Already there (MkdirAll checks that it is a directory), or
		// the parent went away: MkdirAll's answer.
		return dir, os.MkdirAll(dir, 0o755)
	}
	return dir, nil
}

// podPart makes podDir/sub (and podDir) once per worker and returns its
// path.
func (w *Worker) podPart(sub string) (string, error) {
	parent := filepath.Join(w.podDir, sub)
	w.dirMu.Lock()
	made, madePod := w.subdirs[sub], w.subdirs[""]
	w.dirMu.Unlock()
	if made {
		return parent, nil
	}
	fresh, err := mkdirOnce(w.podDir, parent, madePod)
	if err != nil {
		return "", err
	}
	w.dirMu.Lock()
	if w.subdirs == nil {
		w.subdirs = map[string]bool{}
	}
	w.subdirs[""], w.subdirs[sub] = true, true
	if fresh {
		w.subdirs[sub+"/"] = true
	}
	w.dirMu.Unlock()
	return parent, nil
}

// mayExist reports whether podDir/sub/name may exist, making podDir/sub
// (podPart) first: it cannot when this worker made podDir/sub itself
// (its mkdir succeeded: it was empty) and never made name in it
// (madeEntry). A container's first start then has no previous root file
// system or termination-message file to remove, and skips the removal's
// failing system calls.
func (w *Worker) mayExist(sub, name string) (bool, error) {
	if _, err := w.podPart(sub); err != nil {
		return true, err
	}
	w.dirMu.Lock()
	defer w.dirMu.Unlock()
	return !w.subdirs[sub+"/"] || w.subdirs[sub+"/"+name], nil
}

// madeEntry records that this worker made podDir/sub/name.
func (w *Worker) madeEntry(sub, name string) {
	w.dirMu.Lock()
	w.subdirs[sub+"/"+name] = true // podPart made the map
	w.dirMu.Unlock()
}

// logDir makes container name's log directory (podDir/logs/name), once
// per worker: it stays while the pod directory does.
func (w *Worker) logDir(name string) error {
	key := "logs/" + name
	w.dirMu.Lock()
	made := w.subdirs[key]
	w.dirMu.Unlock()
	if made {
		return nil
	}
	if _, err := w.podSubdir("logs", name); err != nil {
		return err
	}
	w.dirMu.Lock()
	w.subdirs[key] = true
	w.dirMu.Unlock()
	return nil
}

// mkdirOnce makes dir, a directory of podDir, trying mkdir(2) on podDir
// (unless madePod: the worker made it already) and dir before falling
// back to os.MkdirAll (RootDir missing, or something not a directory in
// the way). fresh: dir's mkdir succeeded (it is empty).
func mkdirOnce(podDir, dir string, madePod bool) (fresh bool, err error) {
	if !madePod {
		if err := os.Mkdir(podDir, 0o755); err != nil && !errors.Is(err, fs.ErrExist) {
			return false, os.MkdirAll(dir, 0o755)
		}
	}
	if err := os.Mkdir(dir, 0o755); err != nil {
		return false, os.MkdirAll(dir, 0o755)
	}
	return true, nil
}

// processUmask is the process's umask, read once (-1 when it cannot be
// read without changing it: then every created directory is chmodded).
var processUmask = sync.OnceValue(func() int {
	b, err := os.ReadFile("/proc/self/status") // Linux ≥ 4.7
	if err != nil {
		return -1
	}
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		if v, ok := bytes.CutPrefix(sc.Bytes(), []byte("Umask:")); ok {
			m, err := strconv.ParseUint(string(bytes.TrimSpace(v)), 8, 32)
			if err != nil {
				return -1
			}
			return int(m)
		}
	}
	return -1
})

// needsChmod is whether a directory made with mode.Perm() needs a chmod to
// end up with mode: the umask clears some of its bits, or it has bits
// mkdir through an os.Root cannot set (sticky).
func needsChmod(mode fs.FileMode) bool {
	u := processUmask()
	return u < 0 || mode&^fs.ModePerm != 0 || int(mode.Perm())&u != 0
}
