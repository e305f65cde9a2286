//go:build wasip1

package main

import (
	"fmt"
	"strings"
)

var errnoNames = strings.Fields(`OK E2BIG EACCES EADDRINUSE EADDRNOTAVAIL EAFNOSUPPORT EAGAIN EALREADY
EBADF EBADMSG EBUSY ECANCELED ECHILD ECONNABORTED ECONNREFUSED ECONNRESET EDEADLK EDESTADDRREQ
EDOM EDQUOT EEXIST EFAULT EFBIG EHOSTUNREACH EIDRM EILSEQ EINPROGRESS EINTR EINVAL EIO EISCONN
EISDIR ELOOP EMFILE EMLINK EMSGSIZE EMULTIHOP ENAMETOOLONG ENETDOWN ENETRESET ENETUNREACH ENFILE
ENOBUFS ENODEV ENOENT ENOEXEC ENOLCK ENOLINK ENOMEM ENOMSG ENOPROTOOPT ENOSPC ENOSYS ENOTCONN
ENOTDIR ENOTEMPTY ENOTRECOVERABLE ENOTSOCK ENOTSUP ENOTTY ENXIO EOVERFLOW EOWNERDEAD EPERM EPIPE
EPROTO EPROTONOSUPPORT EPROTOTYPE ERANGE EROFS ESPIPE ESRCH ESTALE ETIMEDOUT ETXTBSY EXDEV
ENOTCAPABLE`)

func errnoName(e uint32) string {
	if int(e) < len(errnoNames) {
		return errnoNames[e]
	}
	return fmt.Sprintf("E%d", e)
}

// rightNames are the rights bits in order.
var rightNames = strings.Fields(`FD_DATASYNC FD_READ FD_SEEK FD_FDSTAT_SET_FLAGS FD_SYNC FD_TELL
FD_WRITE FD_ADVISE FD_ALLOCATE PATH_CREATE_DIRECTORY PATH_CREATE_FILE PATH_LINK_SOURCE
PATH_LINK_TARGET PATH_OPEN FD_READDIR PATH_READLINK PATH_RENAME_SOURCE PATH_RENAME_TARGET
PATH_FILESTAT_GET PATH_FILESTAT_SET_SIZE PATH_FILESTAT_SET_TIMES FD_FILESTAT_GET
FD_FILESTAT_SET_SIZE FD_FILESTAT_SET_TIMES PATH_SYMLINK PATH_REMOVE_DIRECTORY PATH_UNLINK_FILE
POLL_FD_READWRITE SOCK_SHUTDOWN SOCK_ACCEPT`)

var filetypeNames = strings.Fields(`UNKNOWN BLOCK_DEVICE CHARACTER_DEVICE DIRECTORY REGULAR_FILE
SOCKET_DGRAM SOCKET_STREAM SYMBOLIC_LINK`)

func filetypeName(t byte) string {
	if int(t) < len(filetypeNames) {
		return filetypeNames[t]
	}
	return fmt.Sprintf("T%d", t)
}

var fdflagNames = []string{"APPEND", "DSYNC", "NONBLOCK", "RSYNC", "SYNC"}

// bitNames writes the set bits of v by name, "|"-separated ("0" when none).
func bitNames(v uint64, names []string) string {
	var out []string
	for i, n := range names {
		if v&(1<<i) != 0 {
			out = append(out, n)
			v &^= 1 << i
		}
	}
	if v != 0 {
		out = append(out, fmt.Sprintf("%#x", v))
	}
	if len(out) == 0 {
		return "0"
	}
	return strings.Join(out, "|")
}

// constants are the symbolic integer arguments of a script; an argument
// may join several with "|".
var constants = map[string]int64{
	// lookupflags
	"FOLLOW": 1,
	// oflags
	"CREAT": 1, "DIRECTORY": 2, "EXCL": 4, "TRUNC": 8,
	// fdflags
	"APPEND": 1, "DSYNC": 2, "NONBLOCK": 4, "RSYNC": 8, "SYNC": 16,
	// whence
	"SET": 0, "CUR": 1, "END": 2,
	// fstflags
	"ATIM": 1, "ATIM_NOW": 2, "MTIM": 4, "MTIM_NOW": 8,
	// clocks
	"REALTIME": 0, "MONOTONIC": 1, "PROCESS_CPUTIME": 2, "THREAD_CPUTIME": 3,
	// advice
	"NORMAL": 0, "SEQUENTIAL": 1, "RANDOM": 2, "WILLNEED": 3, "DONTNEED": 4, "NOREUSE": 5,
	// sdflags
	"RD": 1, "WR": 2,
	// every right
	"ALL": 1<<30 - 1,
}

// dirBase and dirInheriting are the rights wasmtime reports for a
// preopened directory (base and inheriting), which userlands (Rust's std,
// wasi-libc) rely on.
var dirBase = strings.Fields(`PATH_CREATE_DIRECTORY PATH_CREATE_FILE PATH_LINK_SOURCE
PATH_LINK_TARGET PATH_OPEN FD_READDIR PATH_READLINK PATH_RENAME_SOURCE PATH_RENAME_TARGET
PATH_SYMLINK PATH_REMOVE_DIRECTORY PATH_UNLINK_FILE PATH_FILESTAT_GET PATH_FILESTAT_SET_TIMES
FD_FILESTAT_GET FD_FILESTAT_SET_TIMES`)

var dirInheriting = strings.Fields(`FD_DATASYNC FD_READ FD_SEEK FD_FDSTAT_SET_FLAGS FD_SYNC
FD_TELL FD_WRITE FD_ADVISE FD_ALLOCATE FD_FILESTAT_GET FD_FILESTAT_SET_SIZE
FD_FILESTAT_SET_TIMES POLL_FD_READWRITE`)

func init() {
	for i, n := range rightNames {
		constants[n] = 1 << i
	}
	for _, n := range dirBase {
		constants["DIR_BASE"] |= constants[n]
	}
	constants["DIR_INHERITING"] = constants["DIR_BASE"]
	for _, n := range dirInheriting {
		constants["DIR_INHERITING"] |= constants[n]
	}
}
