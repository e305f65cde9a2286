//go:build linux || darwin || freebsd

package pods

import (
	"io/fs"
	"syscall"

	"golang.org/x/sys/unix"
)

// fsStats is statfs(dir): the filesystem's size and the bytes available
// to unprivileged users.
func fsStats(dir string) (capacity, available int64, err error) {
	var st unix.Statfs_t
	if err := unix.Statfs(dir, &st); err != nil {
		return 0, 0, err
	}
	bs := int64(st.Bsize)
	return int64(st.Blocks) * bs, int64(st.Bavail) * bs, nil
}

// allocatedSize is the disk space a file takes (sparse files count what
// they hold).
func allocatedSize(fi fs.FileInfo) int64 {
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		return int64(st.Blocks) * 512
	}
	return fi.Size()
}
