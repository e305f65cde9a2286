//go:build !linux

package wasi

import (
	"errors"
	"os"
)

var errNoFileMounts = errors.New("single-file mounts need Linux (/proc/self/fd)")

func reopen(f *os.File, flag int) (*os.File, error) { return nil, errNoFileMounts }

func dupFile(f *os.File) (*os.File, error) { return nil, errNoFileMounts }
