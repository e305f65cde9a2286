// Package proctest reads a process's use of host resources from Linux's
// /proc for tests and benchmarks: resident set (VmRSS), threads, open file
// descriptors, and bytes read through read(2)/pread(2) (rchar).
//
// The error-returning functions serve callers that watch another process
// (which may be gone); the testing.TB helpers read this process and skip
// the test where /proc does not have the file (not Linux, or a kernel
// without the accounting), and fail it where the file is there but not as
// expected.
package proctest

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strconv"
	"strings"
	"testing"
)

// Usage is one reading of a process's /proc entries.
type Usage struct {
	RSS     int64 // resident set in bytes (VmRSS)
	Threads int   // Threads of /proc/PID/status
	FDs     int   // entries of /proc/PID/fd
}

// dir is /proc/self for pid 0, else /proc/PID.
func dir(pid int) string {
	if pid == 0 {
		return "/proc/self"
	}
	return fmt.Sprintf("/proc/%d", pid)
}

// Read reads the resident set, threads and open fds of process pid (0 for
// this process). A process without VmRSS (a zombie) is an error.
func Read(pid int) (Usage, error) {
	u, err := status(pid)
	if err != nil {
		return Usage{}, err
	}
	if u.FDs, err = OpenFDsOf(pid); err != nil {
		return Usage{}, err
	}
	return u, nil
}

// status reads VmRSS and Threads of /proc/PID/status.
func status(pid int) (Usage, error) {
	path := dir(pid) + "/status"
	b, err := os.ReadFile(path)
	if err != nil {
		return Usage{}, err
	}
	var u Usage
	var haveRSS, haveThreads bool
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		k, v, _ := strings.Cut(sc.Text(), ":")
		switch k {
		case "VmRSS":
			kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			if err != nil {
				return Usage{}, fmt.Errorf("%s: VmRSS: %w", path, err)
			}
			u.RSS, haveRSS = kb<<10, true
		case "Threads":
			n, err := strconv.Atoi(strings.TrimSpace(v))
			if err != nil {
				return Usage{}, fmt.Errorf("%s: Threads: %w", path, err)
			}
			u.Threads, haveThreads = n, true
		}
	}
	if !haveRSS || !haveThreads {
		return Usage{}, fmt.Errorf("%s: no VmRSS or Threads", path)
	}
	return u, nil
}

// OpenFDsOf counts the open file descriptors of process pid (0 for this
// process).
func OpenFDsOf(pid int) (int, error) {
	ents, err := os.ReadDir(dir(pid) + "/fd")
	if err != nil {
		return 0, err
	}
	return len(ents), nil
}

// ReadBytesOf is the bytes process pid (0 for this process) has read
// through read(2) and pread(2): rchar of /proc/PID/io.
func ReadBytesOf(pid int) (int64, error) {
	path := dir(pid) + "/io"
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, err
	}
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, "rchar: "); ok {
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil {
				return 0, fmt.Errorf("%s: rchar: %w", path, err)
			}
			return n, nil
		}
	}
	return 0, fmt.Errorf("%s: no rchar", path)
}

// check skips tb where the /proc file is missing and fails it on any
// other error.
func check(tb testing.TB, err error) {
	tb.Helper()
	if errors.Is(err, fs.ErrNotExist) {
		tb.Skipf("no /proc entry: %v", err)
	}
	if err != nil {
		tb.Fatal(err)
	}
}

// RSS is this process's resident set in bytes.
func RSS(tb testing.TB) int64 {
	tb.Helper()
	u, err := status(0)
	check(tb, err)
	return u.RSS
}

// Threads is this process's thread count.
func Threads(tb testing.TB) int {
	tb.Helper()
	u, err := status(0)
	check(tb, err)
	return u.Threads
}

// OpenFDs counts this process's open file descriptors.
func OpenFDs(tb testing.TB) int {
	tb.Helper()
	n, err := OpenFDsOf(0)
	check(tb, err)
	return n
}

// ReadBytes is the bytes this process has read through read(2) and
// pread(2) (rchar of /proc/self/io).
func ReadBytes(tb testing.TB) int64 {
	tb.Helper()
	n, err := ReadBytesOf(0)
	check(tb, err)
	return n
}
