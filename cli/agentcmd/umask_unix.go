//go:build unix

package agentcmd

import "syscall"

// privateUmask makes the files the agent creates private (as serve's).
func privateUmask() { syscall.Umask(0o077) }
