//go:build !linux

package images

import "io/fs"

// sameCtime: only Linux's inode change time is consulted; elsewhere size,
// mtime, mode and identity decide.
func sameCtime(a, b fs.FileInfo) bool { return true }

// statIDs: outside Linux the on-disk record of a build's inputs keeps size,
// mtime and mode only.
func statIDs(fi fs.FileInfo) (dev, ino uint64, ctimeNs int64) { return 0, 0, 0 }
