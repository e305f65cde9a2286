package images

import (
	"io/fs"
	"syscall"
)

// sameCtime compares inode change times, which move on every write or
// rename even when the mtime is set back (touch -m, an editor restoring it).
func sameCtime(a, b fs.FileInfo) bool {
	sa, ok1 := a.Sys().(*syscall.Stat_t)
	sb, ok2 := b.Sys().(*syscall.Stat_t)
	if !ok1 || !ok2 {
		return true
	}
	return sa.Ctim == sb.Ctim
}

// statIDs returns the device, inode and inode change time (ns) of a stat,
// for the on-disk record of a build's inputs.
func statIDs(fi fs.FileInfo) (dev, ino uint64, ctimeNs int64) {
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		return uint64(st.Dev), st.Ino, st.Ctim.Nano()
	}
	return 0, 0, 0
}
