//go:build !unix

package pods

import "os"

// removeTree is os.RemoveAll (removetree_unix.go does without its
// probing).
func removeTree(path string) error { return os.RemoveAll(path) }
