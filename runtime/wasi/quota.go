package wasi

import (
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sync"
)

// Quota bounds the bytes a volume holds, as a size-limited tmpfs does: a
// write, fd_allocate or fd_filestat_set_size that would take the volume
// past its limit fails with ENOSPC (a write that fits in part is short,
// and the next one fails). It is shared by every mount of the volume, in
// every instance (the containers of a pod).
//
// Usage counts, per inode, InodeCost bytes of metadata (files,
// directories and symlinks alike, which bounds how many a guest can make)
// plus a regular file's size, holes included: a sparse file is charged its
// whole length, so a 1 TiB set_size cannot pass a 100 MiB limit. A file
// unlinked while a guest holds it open stays charged until its last fd
// closes, as its blocks stay allocated. Hard links are charged once.
//
// Changes made to the volume by anything but the guests (the host) are not
// seen until the next MeasureDir; the pod worker measures periodically and
// evicts a pod over its limit, as the kubelet does.
//
// A Quota is safe for concurrent use: the size-changing operations of its
// mounts are serialized, so concurrent writers cannot both take the last
// bytes.
type Quota struct {
	name  string
	limit int64

	mu     sync.Mutex
	used   int64
	open   map[fileID]int   // fds open on each regular file
	sizes  map[fileID]int64 // the size of each open regular file
	orphan map[fileID]bool  // unlinked while open: released at last close

	// charge, when set, is also charged every byte the quota counts
	// (ChargeTo): a memory-backed volume's bytes are the pod's memory.
	charge Charger
}

// Charger is a second account a Quota's bytes are charged to, such as a
// pod's memory budget (runtime.Budget).
type Charger interface {
	// Acquire takes n bytes; false (and nothing taken) when they do not fit.
	Acquire(n int64) bool
	// Release returns n bytes taken by Acquire.
	Release(n int64)
	// Available is how many bytes Acquire could take now.
	Available() int64
}

// ChargeTo makes every byte the quota counts also count against c, from
// now on and for what the volume already holds; false (and no change) when
// what it holds does not fit in c.
func (q *Quota) ChargeTo(c Charger) bool {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.charge != nil {
		q.charge.Release(q.used)
		q.charge = nil
	}
	if c == nil {
		return true
	}
	if q.used > 0 && !c.Acquire(q.used) {
		return false
	}
	q.charge = c
	return true
}

// InodeCost is what each file, directory and symlink counts besides its
// size (one block).
const InodeCost = 4096

type fileID struct{ dev, ino uint64 }

// NewQuota returns the quota of a volume of limit bytes whose host
// directory is dir; what dir holds already counts (MeasureDir). name is
// for diagnostics.
func NewQuota(name string, limit int64, dir string) (*Quota, error) {
	used, err := MeasureDir(dir)
	if err != nil {
		return nil, err
	}
	return NewQuotaUsed(name, limit, used), nil
}

// NewQuotaUsed is NewQuota for a directory whose usage (as MeasureDir
// counts it) the caller knows, having just made what it holds: no walk.
func NewQuotaUsed(name string, limit, used int64) *Quota {
	return &Quota{name: name, limit: limit, used: used, open: map[fileID]int{}, sizes: map[fileID]int64{}, orphan: map[fileID]bool{}}
}

// MeasureDir is the usage of the tree under dir as a Quota counts it (dir
// itself excluded; symlinks are not followed).
func MeasureDir(dir string) (int64, error) {
	seen := map[fileID]bool{}
	var used int64
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			if p == dir {
				return err
			}
			return nil // vanished meanwhile
		}
		if p == dir {
			return nil
		}
		fi, err := d.Info()
		if err != nil {
			return nil
		}
		st := statOf(fi)
		if st.Ino != 0 && st.Nlink > 1 {
			id := fileID{st.Dev, st.Ino}
			if seen[id] {
				return nil
			}
			seen[id] = true
		}
		used += InodeCost
		if fi.Mode().IsRegular() {
			used += fi.Size()
		}
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("measuring %s: %w", dir, err)
	}
	return used, nil
}

// Name is the quota's name.
func (q *Quota) Name() string { return q.name }

// Limit is the quota's limit in bytes.
func (q *Quota) Limit() int64 { return q.limit }

// Used is the bytes the volume holds as counted by the quota.
func (q *Quota) Used() int64 {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.used
}

// take charges n bytes (n <= 0: nothing); false when they do not fit.
// q.mu held.
func (q *Quota) take(n int64) bool {
	if n <= 0 {
		return true
	}
	if n > q.limit-q.used {
		return false
	}
	if q.charge != nil && !q.charge.Acquire(n) {
		return false
	}
	q.used += n
	return true
}

// give releases n bytes. q.mu held.
func (q *Quota) give(n int64) {
	n = min(n, q.used)
	if n <= 0 {
		return
	}
	q.used -= n
	if q.charge != nil {
		q.charge.Release(n)
	}
}

func idOf(st Filestat) (fileID, bool) {
	return fileID{st.Dev, st.Ino}, st.Ino != 0
}

// opened records an fd on a regular file. q.mu held.
//
// While a file is open the quota keeps its size, which only the quota's
// own operations change (under q.mu), so a write costs no fstat.
func (q *Quota) opened(st Filestat) {
	if id, ok := idOf(st); ok {
		q.open[id]++
		q.sizes[id] = int64(st.Size)
	}
}

// size is the size of an open file: kept, or from fstat when the file
// has no inode number (non-Linux).
func (q *Quota) size(f *os.File, id fileID) (int64, error) {
	if n, ok := q.sizes[id]; ok && id.ino != 0 {
		return n, nil
	}
	fi, err := f.Stat()
	if err != nil {
		return 0, err
	}
	return fi.Size(), nil
}

func (q *Quota) setSize(id fileID, n int64) {
	if _, ok := q.sizes[id]; ok {
		q.sizes[id] = n
	}
}

// dropped is told that a name of st went away (st as lstat saw it before):
// if it was the inode's last name, what the inode holds is released, now
// or at its last close if it is open. q.mu held.
//
// Any inode but a directory may have other names (path_link of a symlink
// links the symlink itself); a directory has one name, its link count
// counts its subdirectories.
func (q *Quota) dropped(st Filestat) {
	if st.Filetype == FiletypeDirectory {
		q.give(InodeCost)
		return
	}
	if st.Nlink > 1 {
		return // other names keep it
	}
	if st.Filetype != FiletypeRegularFile {
		q.give(InodeCost)
		return
	}
	if id, ok := idOf(st); ok && q.open[id] > 0 {
		q.orphan[id] = true
		return
	}
	q.give(InodeCost + int64(st.Size))
}

// closing is called before an fd on the regular file id closes. q.mu
// held. An orphan is released with the size the quota kept for it (only
// its fds could change it).
func (q *Quota) closing(id fileID) {
	if id.ino == 0 {
		return // not recorded by opened
	}
	if q.open[id]--; q.open[id] > 0 {
		return
	}
	size := q.sizes[id]
	delete(q.open, id)
	delete(q.sizes, id)
	if q.orphan[id] {
		delete(q.orphan, id)
		q.give(InodeCost + size)
	}
}

// write writes p at off (off < 0: at the file's offset, or its end with
// O_APPEND) within the quota. cur is the file's offset when the caller
// knows it, else -1 (it is then asked of the host, an lseek): only a write
// at the offset without O_APPEND needs it.
func (q *Quota) write(f *os.File, id fileID, appendMode bool, p []byte, off, cur int64) (int, error) {
	q.mu.Lock()
	defer q.mu.Unlock()
	size, err := q.size(f, id)
	if err != nil {
		return 0, err
	}
	start := off
	switch {
	case off >= 0:
	case appendMode:
		start = size
	case cur >= 0:
		start = cur
	default:
		if start, err = f.Seek(0, io.SeekCurrent); err != nil {
			return 0, err
		}
	}
	// Growth is taken before the write (a short write where only part of
	// it fits, as on a full tmpfs) and what was not written given back.
	var grown int64
	if end := start + int64(len(p)); end > size {
		avail := q.limit - q.used
		if q.charge != nil {
			avail = min(avail, q.charge.Available())
		}
		if end-size > avail {
			keep := size + avail - start
			if keep <= 0 {
				return 0, ENOSPC
			}
			p = p[:keep]
		}
		grown = start + int64(len(p)) - size
		if !q.take(grown) {
			return 0, ENOSPC
		}
	}
	var n int
	if off >= 0 {
		n, err = f.WriteAt(p, off)
	} else {
		n, err = f.Write(p)
	}
	// A write of nothing, failed, did not move the end even past it.
	if end := start + int64(n); n > 0 && end > size {
		q.give(grown - (end - size))
		q.setSize(id, end)
	} else {
		q.give(grown)
	}
	return n, err
}

// truncate sets the file's size within the quota.
func (q *Quota) truncate(f *os.File, id fileID, size int64) error {
	q.mu.Lock()
	defer q.mu.Unlock()
	old, err := q.size(f, id)
	if err != nil {
		return err
	}
	if !q.take(size - old) {
		return ENOSPC
	}
	if err := f.Truncate(size); err != nil {
		if size > old {
			q.give(size - old)
		}
		return err
	}
	if size < old {
		q.give(old - size)
	}
	q.setSize(id, size)
	return nil
}
