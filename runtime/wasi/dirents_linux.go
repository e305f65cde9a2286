//go:build linux

package wasi

import (
	"encoding/binary"
	"os"
	"syscall"
)

// readDirents reads f's next batch of entries with one getdents64 call into
// a buffer of direntBufSize bytes, skipping "." and "..": names, inodes and
// d_type as the kernel reports them, nothing is stat'ed (a d_type of
// DT_UNKNOWN leaves the entry lazy, stat'ed only if returned). eof is true,
// with no entries, at the end of the directory.
func readDirents(f *os.File) (ents []dirent, eof bool, err error) {
	rc, err := f.SyscallConn()
	if err != nil {
		return nil, false, err
	}
	bp := direntBufs.Get().(*[]byte)
	defer direntBufs.Put(bp)
	buf := *bp
	for len(ents) == 0 {
		var n int
		var serr error
		if err := rc.Control(func(fd uintptr) {
			for {
				if n, serr = syscall.Getdents(int(fd), buf); serr != syscall.EINTR {
					return
				}
			}
		}); err != nil {
			return nil, false, err
		}
		if serr != nil {
			return nil, false, os.NewSyscallError("getdents64", serr)
		}
		if n <= 0 {
			return nil, true, nil
		}
		ents = parseDirents(buf[:n], ents)
	}
	return ents, false, nil
}

// parseDirents appends the linux_dirent64 records of b (d_ino u64, d_off
// s64, d_reclen u16, d_type u8, NUL-terminated d_name) to ents.
func parseDirents(b []byte, ents []dirent) []dirent {
	for len(b) >= 19 {
		reclen := int(binary.NativeEndian.Uint16(b[16:]))
		if reclen < 19 || reclen > len(b) {
			break
		}
		rec := b[:reclen]
		b = b[reclen:]
		name := rec[19:]
		for i, c := range name {
			if c == 0 {
				name = name[:i]
				break
			}
		}
		if string(name) == "." || string(name) == ".." || len(name) == 0 {
			continue
		}
		ent := dirent{name: string(name), ino: binary.NativeEndian.Uint64(rec[0:])}
		switch rec[18] {
		case syscall.DT_REG:
			ent.typ = FiletypeRegularFile
		case syscall.DT_DIR:
			ent.typ = FiletypeDirectory
		case syscall.DT_LNK:
			ent.typ = FiletypeSymbolicLink
		case syscall.DT_CHR:
			ent.typ = FiletypeCharacterDevice
		case syscall.DT_BLK:
			ent.typ = FiletypeBlockDevice
		case syscall.DT_SOCK:
			ent.typ = FiletypeSocketStream
		case syscall.DT_FIFO:
			ent.typ = FiletypeUnknown // as statOf reports a FIFO
		default:
			ent.lazy = true
		}
		ents = append(ents, ent)
	}
	return ents
}
