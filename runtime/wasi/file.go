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
	// pos is the host file's offset when posKnown, kept by Read, Write and
	// Seek (nothing else moves it), so that a write at the offset on a
	// volume with a quota needs no lseek to learn where it lands.
	pos      int64
	posKnown bool
}

// moved records that a read or write at the offset moved it by n.
func (f *regFile) moved(n int) {
	if f.appendMode {
		f.posKnown = false // the write went to the end
	} else if f.posKnown {
		f.pos += int64(n)
	}
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
	if f.posKnown {
		f.pos += int64(n)
	}
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
		cur := int64(-1)
		if !f.appendMode {
			if !f.posKnown {
				if pos, err := f.f.Seek(0, io.SeekCurrent); err == nil {
					f.pos, f.posKnown = pos, true
				}
			}
			if f.posKnown {
				cur = f.pos
			}
		}
		n, err := f.q.write(f.f, f.id, f.appendMode, p, -1, cur)
		f.moved(n)
		return n, fileErr(err)
	}
	n, err := f.f.Write(p)
	f.moved(n)
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
		_, serr := f.f.Seek(pos, io.SeekStart)
		f.pos, f.posKnown = pos, serr == nil
		if err == nil && serr != nil {
			err = fileErr(serr)
		}
		return n, err
	}
	if f.q != nil {
		n, err := f.q.write(f.f, f.id, false, p, off, -1)
		return n, fileErr(err)
	}
	n, err := f.f.WriteAt(p, off)
	return n, fileErr(err)
}

func (f *regFile) Seek(off int64, whence int) (int64, error) {
	n, err := f.f.Seek(off, whence)
	f.pos, f.posKnown = n, err == nil
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
