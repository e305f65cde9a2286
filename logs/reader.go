package logs

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"sync"
)

// MaxRecordSize bounds one CRI record when reading: a MaxLineSize text with
// its timestamp, stream and tag. A longer "record" is not one this package
// wrote; reading fails with an error naming the file.
const MaxRecordSize = MaxLineSize + 1024

// readBufferSize is the size of a Reader's read buffer and of the chunks
// tail reads backwards.
const readBufferSize = 64 << 10

// Reader reads the records of one container instance's log in order: its
// rotated files, oldest first, then the current file. Its memory is
// bounded (a read buffer and one record) whatever the size of the files.
//
// With follow, Next notices when the current file has been rotated and
// goes on to the files that replaced it, so a follower sees every record
// that was not removed by rotation while it was away. A Reader is not safe
// for concurrent use.
type Reader struct {
	path   string
	follow bool
	lock   sync.Locker // the writer's RotationLock, or nil
	files  []*os.File  // files[0] is being read; the rest come next
	br     *bufio.Reader
	rec    []byte // the record being assembled when it spans reads
}

// snapshotRetries bounds the attempts at a consistent listing of the files
// while a writer rotates them.
const snapshotRetries = 10

// snapshot opens the files of the log at path, oldest first; with after
// set, only those newer than that file (all of them when it is no longer
// there: rotation removes the oldest files first). The listing is taken
// again after opening; when it changed (a rotation in between), the files
// are opened again, so that no rotated file is missed.
func snapshot(path string, after os.FileInfo, lock sync.Locker) ([]*os.File, error) {
	if lock != nil {
		// No rotation while the files are listed and opened: the first
		// listing is the right one.
		lock.Lock()
		defer lock.Unlock()
	}
	var files []*os.File
	for try := 0; ; try++ {
		names, err := filesAfter(path, after)
		if err != nil {
			return nil, err
		}
		files = files[:0]
		for _, n := range names {
			f, err := os.Open(n)
			if errors.Is(err, os.ErrNotExist) {
				continue // removed by a rotation: the listing below differs
			}
			if err != nil {
				closeAll(files)
				return nil, fmt.Errorf("opening log file: %w", err)
			}
			files = append(files, f)
		}
		again, err := filesAfter(path, after)
		if err != nil {
			closeAll(files)
			return nil, err
		}
		if lock != nil || slices.Equal(names, again) || try == snapshotRetries {
			return files, nil
		}
		closeAll(files)
	}
}

// filesAfter lists the files of the log at path that are newer than
// after (all of them when after is nil or no longer there).
func filesAfter(path string, after os.FileInfo) ([]string, error) {
	names, err := Files(path)
	if err != nil {
		return nil, fmt.Errorf("listing log files of %s: %w", path, err)
	}
	if after != nil {
		for i := len(names) - 1; i >= 0; i-- {
			if st, err := os.Stat(names[i]); err == nil && os.SameFile(st, after) {
				return names[i+1:], nil
			}
		}
	}
	return names, nil
}

func closeAll(files []*os.File) {
	for _, f := range files {
		f.Close()
	}
}

// OpenReader opens the log at path (the current file of a container
// instance) for reading. tail < 0 reads every record; tail >= 0 starts at
// the tail-th complete record from the end, found by reading the files
// backwards. lock, when not nil, is the RotationLock of the log's writer
// (without it, a reader racing fast rotations retries its listing a few
// times and may then miss a file). It fails with an error wrapping
// os.ErrNotExist when the log has no file at all.
func OpenReader(path string, tail int64, follow bool, lock sync.Locker) (*Reader, error) {
	files, err := snapshot(path, nil, lock)
	if err != nil {
		return nil, err
	}
	if len(files) == 0 {
		return nil, fmt.Errorf("log %s: %w", path, os.ErrNotExist)
	}
	r := &Reader{path: path, follow: follow, lock: lock, files: files}
	if tail >= 0 {
		idx, off, err := tailStart(files, tail)
		if err != nil {
			r.Close()
			return nil, err
		}
		closeAll(files[:idx])
		r.files = files[idx:]
		if _, err := r.files[0].Seek(off, io.SeekStart); err != nil {
			r.Close()
			return nil, fmt.Errorf("seeking in log file %s: %w", r.files[0].Name(), err)
		}
	}
	r.br = bufio.NewReaderSize(r.files[0], readBufferSize)
	return r, nil
}

// tailStart finds where the last n complete records of files begin: the
// index of a file and an offset in it. Records end with '\n'; bytes after
// the last '\n' (a write in progress) are not a record. The files are read
// backwards in fixed-size chunks.
func tailStart(files []*os.File, n int64) (int, int64, error) {
	buf := make([]byte, readBufferSize)
	// The start of the n-th record from the end follows the (n+1)-th
	// newline from the end.
	need := n + 1
	for i := len(files) - 1; i >= 0; i-- {
		st, err := files[i].Stat()
		if err != nil {
			return 0, 0, fmt.Errorf("log file %s: %w", files[i].Name(), err)
		}
		end := st.Size()
		for end > 0 {
			start := max(end-int64(len(buf)), 0)
			chunk := buf[:end-start]
			if _, err := files[i].ReadAt(chunk, start); err != nil && !errors.Is(err, io.EOF) {
				return 0, 0, fmt.Errorf("reading log file %s: %w", files[i].Name(), err)
			}
			for j := len(chunk) - 1; j >= 0; j-- {
				if chunk[j] != '\n' {
					continue
				}
				need--
				if need == 0 {
					return i, start + int64(j) + 1, nil
				}
			}
			end = start
		}
	}
	return 0, 0, nil
}

// Next returns the next complete record, without its newline. The slice
// is valid until the next call. At the end of what is written so far it
// returns io.EOF; with follow a later call may find more. Without follow,
// an unterminated last record (a write in progress) is not returned.
func (r *Reader) Next() ([]byte, error) {
	r.rec = r.rec[:0]
	for {
		if len(r.files) == 0 {
			return nil, io.EOF
		}
		line, err := r.br.ReadSlice('\n')
		if err == nil {
			if len(r.rec) == 0 {
				return line[:len(line)-1], nil
			}
			r.rec = append(r.rec, line[:len(line)-1]...)
			return r.rec, nil
		}
		if len(r.rec)+len(line) > MaxRecordSize {
			return nil, fmt.Errorf("log file %s: a record longer than %d bytes", r.files[0].Name(), MaxRecordSize)
		}
		r.rec = append(r.rec, line...)
		if errors.Is(err, bufio.ErrBufferFull) {
			continue
		}
		if !errors.Is(err, io.EOF) {
			return nil, fmt.Errorf("reading log file %s: %w", r.files[0].Name(), err)
		}
		// The end of files[0] for now.
		more, err := r.advance()
		if err != nil {
			return nil, err
		}
		if !more {
			// Give the unfinished bytes back to be read again later.
			if len(r.rec) > 0 {
				if _, err := r.files[0].Seek(-int64(len(r.rec)), io.SeekCurrent); err != nil {
					return nil, fmt.Errorf("seeking in log file %s: %w", r.files[0].Name(), err)
				}
				r.br.Reset(r.files[0])
				r.rec = r.rec[:0]
			}
			return nil, io.EOF
		}
	}
}

// advance moves past the end of files[0] when a newer file follows it:
// the next file of the snapshot, or, with follow, the files that replaced
// the current one after a rotation. It reports whether there is more to
// read.
func (r *Reader) advance() (bool, error) {
	if len(r.files) > 1 {
		// A rotated file ends with a complete record; anything left is
		// not one.
		r.files[0].Close()
		r.files = r.files[1:]
		r.rec = r.rec[:0]
		r.br.Reset(r.files[0])
		return true, nil
	}
	if !r.follow {
		return false, nil
	}
	cur := r.files[0]
	rotated, err := r.rotatedAway(cur)
	if err != nil || !rotated {
		return false, err
	}
	// Once renamed the file gets no more writes: read what it got in the
	// meantime first.
	for {
		line, err := r.br.ReadSlice('\n')
		if len(r.rec)+len(line) > MaxRecordSize {
			return false, fmt.Errorf("log file %s: a record longer than %d bytes", cur.Name(), MaxRecordSize)
		}
		r.rec = append(r.rec, line...)
		if err == nil {
			// A record completed: return to Next with it (the reader
			// is positioned after it; the rotation is noticed again at
			// the next EOF).
			return true, r.unread()
		}
		if errors.Is(err, bufio.ErrBufferFull) {
			continue
		}
		if !errors.Is(err, io.EOF) {
			return false, fmt.Errorf("reading log file %s: %w", cur.Name(), err)
		}
		break
	}
	next, err := r.newer(cur)
	if err != nil {
		return false, err
	}
	if len(next) == 0 {
		return false, nil
	}
	cur.Close()
	r.files = next
	r.rec = r.rec[:0]
	r.br.Reset(r.files[0])
	return true, nil
}

// unread puts the record assembled in r.rec back in front of the reader,
// so that Next reads it whole.
func (r *Reader) unread() error {
	f := r.files[0]
	if _, err := f.Seek(-int64(len(r.rec))-int64(r.br.Buffered()), io.SeekCurrent); err != nil {
		return fmt.Errorf("seeking in log file %s: %w", f.Name(), err)
	}
	r.br.Reset(f)
	r.rec = r.rec[:0]
	return nil
}

// rotatedAway reports whether the log's path no longer names f.
func (r *Reader) rotatedAway(f *os.File) (bool, error) {
	pst, err := os.Stat(r.path)
	if errors.Is(err, os.ErrNotExist) {
		return false, nil // between the rename and the new file
	}
	if err != nil {
		return false, err
	}
	fst, err := f.Stat()
	if err != nil {
		return false, fmt.Errorf("log file %s: %w", f.Name(), err)
	}
	return !os.SameFile(pst, fst), nil
}

// newer opens the files that came after f.
func (r *Reader) newer(f *os.File) ([]*os.File, error) {
	fst, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("log file %s: %w", f.Name(), err)
	}
	return snapshot(r.path, fst, r.lock)
}

// Close closes the files still open.
func (r *Reader) Close() error {
	closeAll(r.files)
	r.files = nil
	return nil
}
