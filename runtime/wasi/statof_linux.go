package wasi

import (
	"io/fs"
	"os"
	"syscall"
	"time"
)

func statOf(fi fs.FileInfo) Filestat {
	st := Filestat{Filetype: filetypeOf(fi.Mode()), Size: uint64(fi.Size()), Nlink: 1,
		Mtim: uint64(fi.ModTime().UnixNano())}
	st.Atim, st.Ctim = st.Mtim, st.Mtim
	if s, ok := fi.Sys().(*syscall.Stat_t); ok {
		st.Dev = uint64(s.Dev)
		st.Ino = uint64(s.Ino)
		st.Nlink = uint64(s.Nlink)
		st.Atim = uint64(syscall.TimespecToNsec(statAtim(s)))
		st.Ctim = uint64(syscall.TimespecToNsec(statCtim(s)))
	}
	return st
}

// futimes sets the times of an open file; nil leaves a time unchanged.
func futimes(f *os.File, atim, mtim *time.Time) error {
	ts := []syscall.Timespec{{Nsec: utimeOmit}, {Nsec: utimeOmit}}
	if atim != nil {
		ts[0] = syscall.NsecToTimespec(atim.UnixNano())
	}
	if mtim != nil {
		ts[1] = syscall.NsecToTimespec(mtim.UnixNano())
	}
	return futimens(int(f.Fd()), ts)
}
