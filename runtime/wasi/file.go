package wasi

import (
	"io"
	"os"
	"time"
)

// regFile is a regular file (or other non-directory) opened in a mount.
type regFile struct {
	f        *os.File
	readOnly bool
	// q, when set, bounds the volume's bytes (Quota); appendMode is
	// FDFLAG_APPEND, for the quota to know where a write lands. It is set
	// on the host file with setAppend (fcntl where there is one), never
	// with os.O_APPEND at open: Go's WriteAt refuses such a file for good.
	q          *Quota
	appendMode bool
	id         fileID // the file's inode, for q
}

func (f *regFile) Filetype() Filetype {
	st, err := f.Stat()
	if err != nil {
		return FiletypeRegularFile
	}
	return st.Filetype
}

func (f *regFile) Read(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	n, err := f.f.Read(p)
	if err == io.EOF {
		err = nil
	}
	return n, fileErr(err)
}

func (f *regFile) Write(p []byte) (int, error) {
	if f.appendMode && !hostAppend {
		// No O_APPEND on the host file: the write goes to the end.
		if _, err := f.f.Seek(0, io.SeekEnd); err != nil {
			return 0, fileErr(err)
		}
	}
	if f.q != nil {
		n, err := f.q.write(f.f, f.id, f.appendMode, p, -1)
		return n, fileErr(err)
	}
	n, err := f.f.Write(p)
	return n, fileErr(err)
}

func (f *regFile) Pread(p []byte, off int64) (int, error) {
	n, err := f.f.ReadAt(p, off)
	if err == io.EOF {
		err = nil
	}
	return n, fileErr(err)
}

// Pwrite writes p at off; on a file in append mode it appends p whatever
// off, leaving the position as it was: wasmtime's behaviour, and Linux's
// pwrite(2) on an O_APPEND file.
func (f *regFile) Pwrite(p []byte, off int64) (int, error) {
	if f.appendMode {
		pos, err := f.f.Seek(0, io.SeekCurrent)
		if err != nil {
			return 0, fileErr(err)
		}
		n, err := f.Write(p)
		if _, serr := f.f.Seek(pos, io.SeekStart); err == nil && serr != nil {
			err = fileErr(serr)
		}
		return n, err
	}
	if f.q != nil {
		n, err := f.q.write(f.f, f.id, false, p, off)
		return n, fileErr(err)
	}
	n, err := f.f.WriteAt(p, off)
	return n, fileErr(err)
}

func (f *regFile) Seek(off int64, whence int) (int64, error) {
	n, err := f.f.Seek(off, whence)
	return n, fileErr(err)
}

func (f *regFile) Stat() (Filestat, error) {
	fi, err := f.f.Stat()
	if err != nil {
		return Filestat{}, err
	}
	return statOf(fi), nil
}

func (f *regFile) Truncate(size int64) error {
	if f.readOnly {
		return EROFS
	}
	if f.q != nil {
		return fileErr(f.q.truncate(f.f, f.id, size))
	}
	return fileErr(f.f.Truncate(size))
}

func (f *regFile) Sync() error {
	if f.readOnly {
		return nil
	}
	return fileErr(f.f.Sync())
}

func (f *regFile) SetTimes(atim, mtim *time.Time) error {
	if f.readOnly {
		return EROFS
	}
	return futimes(f.f, atim, mtim)
}

func (f *regFile) Poll() (Events, <-chan struct{}) { return Readable | Writable, nil }
func (f *regFile) Close() error {
	if f.q != nil {
		f.q.mu.Lock()
		f.q.closing(f.id)
		f.q.mu.Unlock()
	}
	return f.f.Close()
}

// fileErr maps a file error; writing a read-only fd is EBADF.
func fileErr(err error) error {
	if err == nil {
		return nil
	}
	return ErrnoOf(err)
}
