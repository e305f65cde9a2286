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
