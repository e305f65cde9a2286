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
	// O_APPEND, for the quota to know where a write lands.
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

func (f *regFile) Pwrite(p []byte, off int64) (int, error) {
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
