package logs

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"k8s.io/utils/clock"
)

// Rotation defaults: the kubelet's containerLogMaxSize and
// containerLogMaxFiles.
const (
	DefaultMaxSize  = 10 << 20 // 10Mi
	DefaultMaxFiles = 5
)

// TimestampFormat is the suffix of a rotated log file, as the kubelet's
// container log manager names them: <restart>.log.20060102-150405 (UTC).
// Files rotated within the same second get a further .000001, .000002, ...
// so that their names still sort oldest first.
const TimestampFormat = "20060102-150405"

// RotatePolicy bounds the log files of one container instance, as the
// kubelet's LogRotatePolicy: the current file is rotated before a record
// would take it past MaxSize, and at most MaxFiles files (the current one
// included) are kept; the oldest rotated files are removed first.
type RotatePolicy struct {
	// MaxSize in bytes of a log file (0: DefaultMaxSize). A record larger
	// than MaxSize is written alone in its own file.
	MaxSize int64
	// MaxFiles is the number of files kept, at least 2 (0:
	// DefaultMaxFiles).
	MaxFiles int
}

// Validate reports a policy the rotation cannot honour.
func (p RotatePolicy) Validate() error {
	if p.MaxSize < 0 {
		return fmt.Errorf("containerLogMaxSize: Invalid value: %d: must be greater than 0", p.MaxSize)
	}
	if p.MaxFiles < 0 || p.MaxFiles == 1 {
		return fmt.Errorf("containerLogMaxFiles: Invalid value: %d: must be at least 2", p.MaxFiles)
	}
	return nil
}

// WithDefaults fills zero fields with the defaults and raises MaxFiles
// below 2 to 2.
func (p RotatePolicy) WithDefaults() RotatePolicy {
	if p.MaxSize <= 0 {
		p.MaxSize = DefaultMaxSize
	}
	if p.MaxFiles == 0 {
		p.MaxFiles = DefaultMaxFiles
	}
	p.MaxFiles = max(p.MaxFiles, 2)
	return p
}

// RotatingFile is the log file of one container instance, rotated by its
// RotatePolicy. Each Write is one record (File writes a record with one
// call); rotation happens between records, so every rotated file ends
// with a complete record. It is safe for concurrent use.
//
// A file no record was written to for IdleClose is closed, and reopened
// (appending) by the next write: an idle container holds no host fd for
// its log, so that the fds of a node's many idle pods do not bound it.
type RotatingFile struct {
	mu     sync.Mutex
	path   string
	policy RotatePolicy
	clock  clock.PassiveClock
	f      *os.File // nil when closed, or idle (closed is false)
	closed bool
	size   int64
	err    error // a failed rotation, reported with every later write
	// last is the real time of the last write; idle the timer that
	// closes the file once it has been idle for IdleClose.
	last time.Time
	idle *time.Timer
}

// IdleClose is how long a log file is kept open with no record written.
var IdleClose = 10 * time.Second

// OpenRotating opens (creating, or appending to) the log file at path.
func OpenRotating(path string, policy RotatePolicy, clk clock.PassiveClock) (*RotatingFile, error) {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o640)
	if err != nil {
		return nil, err
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, err
	}
	r := &RotatingFile{path: path, policy: policy.WithDefaults(), clock: clk, f: f, size: st.Size(), last: time.Now()}
	r.idle = time.AfterFunc(IdleClose, r.closeIfIdle)
	return r, nil
}

// closeIfIdle closes the file when nothing was written for IdleClose, or
// waits again for the rest of it.
func (r *RotatingFile) closeIfIdle() {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.f == nil {
		return
	}
	if left := IdleClose - time.Since(r.last); left > 0 {
		r.idle.Reset(left)
		return
	}
	_ = r.f.Close()
	r.f = nil
}

// Write appends one record, rotating first when it would take the file
// past MaxSize.
func (r *RotatingFile) Write(p []byte) (int, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return 0, os.ErrClosed
	}
	r.last = time.Now()
	if r.f == nil { // closed while idle
		f, err := os.OpenFile(r.path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o640)
		if err != nil {
			return 0, err
		}
		r.f = f
		r.idle.Reset(IdleClose)
	}
	if r.size > 0 && r.size+int64(len(p)) > r.policy.MaxSize {
		if err := r.rotate(); err != nil {
			r.err = err
		}
	}
	if r.err != nil && r.size >= r.policy.MaxSize {
		// Rotation keeps failing: drop the record rather than grow the
		// file without bound.
		return 0, r.err
	}
	n, err := r.f.Write(p)
	r.size += int64(n)
	return n, err
}

// rotate removes the oldest rotated files so that, with the current one
// renamed to its rotated name and a new one opened, there are no more than
// MaxFiles (as the kubelet removes the excess before it rotates). r.mu is
// held.
func (r *RotatingFile) rotate() error {
	rotated, err := RotatedFiles(r.path)
	if err != nil {
		return err
	}
	name := nextRotatedName(r.path, r.clock.Now(), rotated)
	for len(rotated) > r.policy.MaxFiles-2 {
		if err := os.Remove(rotated[0]); err != nil && !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("removing rotated log: %w", err)
		}
		rotated = rotated[1:]
	}
	if err := os.Rename(r.path, name); err != nil {
		return fmt.Errorf("rotating log %s: %w", r.path, err)
	}
	f, err := os.OpenFile(r.path, os.O_CREATE|os.O_WRONLY|os.O_APPEND|os.O_EXCL, 0o640)
	if err != nil {
		// Keep writing to the file under its rotated name rather than
		// lose the records; the next write tries again.
		if back := os.Rename(name, r.path); back != nil {
			return errors.Join(fmt.Errorf("reopening log %s: %w", r.path, err), back)
		}
		return fmt.Errorf("reopening log %s: %w", r.path, err)
	}
	r.f.Close()
	r.f, r.size, r.err = f, 0, nil
	return nil
}

// RotationLock is held while the file rotates. A Reader given it lists
// and opens the log's files under it, so that it never misses a file that
// a rotation renamed or removed meanwhile. Holding it delays writes.
func (r *RotatingFile) RotationLock() sync.Locker { return &r.mu }

// Close closes the current file.
func (r *RotatingFile) Close() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return nil
	}
	r.closed = true
	r.idle.Stop()
	if r.f == nil {
		return nil
	}
	err := r.f.Close()
	r.f = nil
	return err
}

// nextRotatedName is path.<timestamp>, or, when that does not sort after
// every existing rotated file (several rotations in one second, or a
// clock that went back), the newest one's name with its sequence number
// plus one.
func nextRotatedName(path string, now time.Time, existing []string) string {
	name := path + "." + now.UTC().Format(TimestampFormat)
	if len(existing) == 0 || name > existing[len(existing)-1] {
		return name
	}
	last := strings.TrimPrefix(existing[len(existing)-1], path+".")
	stamp, seq, _ := strings.Cut(last, ".")
	n, _ := strconv.Atoi(seq)
	return fmt.Sprintf("%s.%s.%06d", path, stamp, n+1)
}

// isRotatedSuffix reports whether s (what follows "<path>.") is a rotated
// file's suffix: a timestamp, optionally followed by a sequence number.
func isRotatedSuffix(s string) bool {
	stamp, seq, hasSeq := strings.Cut(s, ".")
	if _, err := time.Parse(TimestampFormat, stamp); err != nil {
		return false
	}
	if !hasSeq {
		return true
	}
	if seq == "" {
		return false
	}
	for _, c := range seq {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

// RotatedFiles lists the rotated files of the log at path, oldest first.
func RotatedFiles(path string) ([]string, error) {
	dir, base := filepath.Split(path)
	if dir == "" {
		dir = "."
	}
	ents, err := os.ReadDir(dir)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, nil
		}
		return nil, err
	}
	var out []string
	for _, e := range ents {
		rest, ok := strings.CutPrefix(e.Name(), base+".")
		if ok && e.Type().IsRegular() && isRotatedSuffix(rest) {
			out = append(out, filepath.Join(dir, e.Name()))
		}
	}
	sort.Strings(out)
	return out, nil
}

// Files lists every file of the log at path, oldest first: its rotated
// files, then path itself when it exists (as the kubelet's GetAllLogs).
func Files(path string) ([]string, error) {
	out, err := RotatedFiles(path)
	if err != nil {
		return nil, err
	}
	if _, err := os.Lstat(path); err == nil {
		out = append(out, path)
	} else if !errors.Is(err, os.ErrNotExist) {
		return nil, err
	}
	return out, nil
}

// Remove removes the log at path and its rotated files.
func Remove(path string) error {
	files, err := Files(path)
	if err != nil {
		return err
	}
	var errs []error
	for _, f := range files {
		if err := os.Remove(f); err != nil && !errors.Is(err, os.ErrNotExist) {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}
