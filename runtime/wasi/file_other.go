//go:build !unix

package wasi

// hostAppend: without fcntl the host file keeps its flags; Write seeks
// to the end first in append mode.
const hostAppend = false

// setAppend turns append mode on or off.
func (f *regFile) setAppend(on bool) error {
	f.appendMode = on
	return nil
}

// parentIno is the inode of d's parent directory: not known here.
func parentIno(*dirFile) uint64 { return 0 }
