//go:build unix

package cli

import "syscall"

// privateUmask makes the files `serve` creates (store, logs,
// volumes) unreadable by other users (umask 077), whatever the mode asked.
func privateUmask() { syscall.Umask(0o077) }
