//go:build !linux

package wasi

import (
	"io"
	"os"
)

// readDirents reads f's next batch of at most direntBatch entries; their
// inodes are not known without a stat, so they are lazy (stat'ed only if
// returned). eof is true, with no entries, at the end of the directory.
func readDirents(f *os.File) (ents []dirent, eof bool, err error) {
	des, err := f.ReadDir(direntBatch)
	if len(des) == 0 {
		if err == io.EOF || err == nil {
			return nil, true, nil
		}
		return nil, false, err
	}
	for _, de := range des {
		ents = append(ents, dirent{name: de.Name(), typ: filetypeOf(de.Type()), lazy: true})
	}
	return ents, false, nil
}
