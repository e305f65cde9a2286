//go:build !linux

package wasi

import (
	"io/fs"
	"os"
	"time"
)

const (
	oNofollow  = 0
	oDirectory = 0
)

func statOf(fi fs.FileInfo) Filestat {
	m := uint64(fi.ModTime().UnixNano())
	return Filestat{Filetype: filetypeOf(fi.Mode()), Size: uint64(fi.Size()), Nlink: 1, Atim: m, Mtim: m, Ctim: m}
}

// futimes sets times by name (best effort off Linux).
func futimes(f *os.File, atim, mtim *time.Time) error {
	var a, m time.Time
	if atim != nil {
		a = *atim
	}
	if mtim != nil {
		m = *mtim
	}
	return os.Chtimes(f.Name(), a, m)
}
