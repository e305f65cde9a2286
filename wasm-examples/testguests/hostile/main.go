//go:build wasip1

// Command hostile is the hostile test guest of the hardening suite: each
// subcommand is one attack or probe against the host through WASI. The first
// argument selects the subcommand; "do" runs several in one process:
//
//	hostile do CMD ARGS... -- CMD ARGS... -- ...
//
// Results are printed on stdout, one line per operation, as
// "OP: ok" or "OP: errno NAME" (NAME is the WASI errno, e.g. EPERM,
// ENOSPC), so tests can assert the exact guest-visible error. Only usage
// errors exit 2; a failed operation is a result, not a failure, and the
// guest goes on (exit 0) unless the subcommand says otherwise.
//
// Subcommands live in a dispatch table. Other files of this package add
// theirs from an init func:
//
//	func init() { register("name", "ARGS: what it does", func(args []string) { ... }) }
//
// Filesystem subcommands (this file and fs.go):
//
//	plant DIR NAME DEPTH UP   make DIR/d1/.../dDEPTH, a symlink "l" there to
//	                          UP times "../", and rename it to DIR/NAME
//	symlink TARGET LINK       create a symlink
//	rename OLD NEW            rename (path_rename)
//	link OLD NEW              hard link (path_link)
//	readlink PATH             print the target
//	cat PATH                  print "cat: ok N" and the contents
//	write PATH TEXT           create/truncate PATH with TEXT
//	mkdir PATH, rmdir PATH, rm PATH
//	ls DIR                    print the names, one "ls: NAME" a line
//	fill PATH CHUNK           append CHUNK-byte blocks until an error; print
//	                          the bytes written and the errno
//	unlinkfill PATH CHUNK     open PATH, unlink it, fill it through the fd, close
//	truncate PATH SIZE        fd_filestat_set_size (sparse growth)
//	allocate PATH OFF LEN     fd_allocate
//	pwrite PATH OFF TEXT      write TEXT at OFF (sparse)
//	exit N                    exit with code N
//	hold                      print "ready", read stdin to EOF, exit 0
package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"sort"
	"strconv"
	"strings"
	"syscall"
)

type mode struct {
	usage string
	run   func(args []string)
}

var modes = map[string]mode{}

// register adds a subcommand; it panics on a duplicate name.
func register(name, usage string, run func(args []string)) {
	if _, dup := modes[name]; dup {
		panic("hostile: duplicate subcommand " + name)
	}
	modes[name] = mode{usage: usage, run: run}
}

func init() {
	register("do", "CMD ARGS... [-- CMD ARGS...]...: run several subcommands", func(args []string) {
		var cur []string
		for _, a := range append(args, "--") {
			if a != "--" {
				cur = append(cur, a)
				continue
			}
			if len(cur) > 0 {
				dispatch(cur)
			}
			cur = nil
		}
	})
	register("exit", "N: exit with code N", func(args []string) {
		os.Exit(atoi(arg(args, 0)))
	})
	register("hold", ": print ready, read stdin to EOF", func(args []string) {
		fmt.Println("ready")
		io.Copy(io.Discard, os.Stdin)
	})
}

func main() {
	if len(os.Args) < 2 {
		usage()
	}
	dispatch(os.Args[1:])
}

func dispatch(argv []string) {
	m, ok := modes[argv[0]]
	if !ok || m.run == nil {
		usage()
	}
	m.run(argv[1:])
}

func usage() {
	names := make([]string, 0, len(modes))
	for n := range modes {
		names = append(names, n)
	}
	sort.Strings(names)
	var b strings.Builder
	b.WriteString("usage: hostile SUBCOMMAND [ARGS...]\n")
	for _, n := range names {
		fmt.Fprintf(&b, "  %s %s\n", n, modes[n].usage)
	}
	fmt.Fprint(os.Stderr, b.String())
	os.Exit(2)
}

// arg returns args[i] or exits 2.
func arg(args []string, i int) string {
	if i >= len(args) {
		fmt.Fprintf(os.Stderr, "hostile: missing argument %d\n", i+1)
		os.Exit(2)
	}
	return args[i]
}

// atoi parses a non-negative integer argument or exits 2.
func atoi(s string) int {
	n, err := strconv.Atoi(s)
	if err != nil || n < 0 {
		fmt.Fprintf(os.Stderr, "hostile: bad number %q\n", s)
		os.Exit(2)
	}
	return n
}

// report prints "OP: ok" or "OP: errno NAME".
func report(op string, err error) {
	if err == nil {
		fmt.Printf("%s: ok\n", op)
		return
	}
	fmt.Printf("%s: errno %s\n", op, errName(err))
}

var errnoNames = map[syscall.Errno]string{
	syscall.EPERM: "EPERM", syscall.ENOENT: "ENOENT", syscall.EACCES: "EACCES",
	syscall.EEXIST: "EEXIST", syscall.EXDEV: "EXDEV", syscall.ENOTDIR: "ENOTDIR",
	syscall.EISDIR: "EISDIR", syscall.EINVAL: "EINVAL", syscall.EMFILE: "EMFILE",
	syscall.ENFILE: "ENFILE", syscall.EFBIG: "EFBIG", syscall.ENOSPC: "ENOSPC",
	syscall.EROFS: "EROFS", syscall.ELOOP: "ELOOP", syscall.ENAMETOOLONG: "ENAMETOOLONG",
	syscall.ENOTEMPTY: "ENOTEMPTY", syscall.EBADF: "EBADF", syscall.ENOMEM: "ENOMEM",
	syscall.ENOTCAPABLE: "ENOTCAPABLE", syscall.EDQUOT: "EDQUOT", syscall.ENOSYS: "ENOSYS",
	syscall.EIO: "EIO", syscall.EAGAIN: "EAGAIN", syscall.ESPIPE: "ESPIPE",
	syscall.E2BIG: "E2BIG", syscall.EOVERFLOW: "EOVERFLOW", syscall.ENOTSUP: "ENOTSUP",
}

// errName names the WASI errno inside err, or prints the error text.
func errName(err error) string {
	var e syscall.Errno
	if errors.As(err, &e) {
		if n, ok := errnoNames[e]; ok {
			return n
		}
		return fmt.Sprintf("%d", uint16(e))
	}
	return strings.ReplaceAll(err.Error(), "\n", " ")
}
