//go:build !linux

package wazero

import "syscall"

func utimespec(ns int64) syscall.Timespec { return syscall.Timespec{} }

func futimens(fd int, ts []syscall.Timespec) error { return syscall.ENOSYS }

const (
	oNofollow  = 0
	oDirectory = 0
)
