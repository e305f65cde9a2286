package wasi

import (
	"errors"
	"io"
	"io/fs"
	"os"
	"strings"
	"syscall"
)

// Errno is a WASI preview-1 error number (the i32 result of WASI functions).
type Errno uint16

// Error implements error, so an Errno can be returned where an error is
// expected (ErrnoOf passes it through).
func (e Errno) Error() string {
	if int(e) < len(errnoNames) {
		return "wasi: " + errnoNames[e]
	}
	return "wasi: errno " + itoa(int(e))
}

// WASI preview-1 errnos.
const (
	ESUCCESS Errno = iota
	E2BIG
	EACCES
	EADDRINUSE
	EADDRNOTAVAIL
	EAFNOSUPPORT
	EAGAIN
	EALREADY
	EBADF
	EBADMSG
	EBUSY
	ECANCELED
	ECHILD
	ECONNABORTED
	ECONNREFUSED
	ECONNRESET
	EDEADLK
	EDESTADDRREQ
	EDOM
	EDQUOT
	EEXIST
	EFAULT
	EFBIG
	EHOSTUNREACH
	EIDRM
	EILSEQ
	EINPROGRESS
	EINTR
	EINVAL
	EIO
	EISCONN
	EISDIR
	ELOOP
	EMFILE
	EMLINK
	EMSGSIZE
	EMULTIHOP
	ENAMETOOLONG
	ENETDOWN
	ENETRESET
	ENETUNREACH
	ENFILE
	ENOBUFS
	ENODEV
	ENOENT
	ENOEXEC
	ENOLCK
	ENOLINK
	ENOMEM
	ENOMSG
	ENOPROTOOPT
	ENOSPC
	ENOSYS
	ENOTCONN
	ENOTDIR
	ENOTEMPTY
	ENOTRECOVERABLE
	ENOTSOCK
	ENOTSUP
	ENOTTY
	ENXIO
	EOVERFLOW
	EOWNERDEAD
	EPERM
	EPIPE
	EPROTO
	EPROTONOSUPPORT
	EPROTOTYPE
	ERANGE
	EROFS
	ESPIPE
	ESRCH
	ESTALE
	ETIMEDOUT
	ETXTBSY
	EXDEV
	ENOTCAPABLE
)

var errnoNames = [...]string{"success", "2big", "acces", "addrinuse", "addrnotavail", "afnosupport", "again", "already",
	"badf", "badmsg", "busy", "canceled", "child", "connaborted", "connrefused", "connreset", "deadlk", "destaddrreq",
	"dom", "dquot", "exist", "fault", "fbig", "hostunreach", "idrm", "ilseq", "inprogress", "intr", "inval", "io",
	"isconn", "isdir", "loop", "mfile", "mlink", "msgsize", "multihop", "nametoolong", "netdown", "netreset",
	"netunreach", "nfile", "nobufs", "nodev", "noent", "noexec", "nolck", "nolink", "nomem", "nomsg", "noprotoopt",
	"nospc", "nosys", "notconn", "notdir", "notempty", "notrecoverable", "notsock", "notsup", "notty", "nxio",
	"overflow", "ownerdead", "perm", "pipe", "proto", "protonosupport", "prototype", "range", "rofs", "spipe", "srch",
	"stale", "timedout", "txtbsy", "xdev", "notcapable"}

// fromSyscall maps host errnos to WASI errnos by name.
var fromSyscall = map[syscall.Errno]Errno{
	syscall.E2BIG: E2BIG, syscall.EACCES: EACCES, syscall.EADDRINUSE: EADDRINUSE,
	syscall.EADDRNOTAVAIL: EADDRNOTAVAIL, syscall.EAFNOSUPPORT: EAFNOSUPPORT, syscall.EAGAIN: EAGAIN,
	syscall.EALREADY: EALREADY, syscall.EBADF: EBADF, syscall.EBADMSG: EBADMSG, syscall.EBUSY: EBUSY,
	syscall.ECANCELED: ECANCELED, syscall.ECHILD: ECHILD, syscall.ECONNABORTED: ECONNABORTED,
	syscall.ECONNREFUSED: ECONNREFUSED, syscall.ECONNRESET: ECONNRESET, syscall.EDEADLK: EDEADLK,
	syscall.EDESTADDRREQ: EDESTADDRREQ, syscall.EDOM: EDOM, syscall.EDQUOT: EDQUOT, syscall.EEXIST: EEXIST,
	syscall.EFAULT: EFAULT, syscall.EFBIG: EFBIG, syscall.EHOSTUNREACH: EHOSTUNREACH, syscall.EIDRM: EIDRM,
	syscall.EILSEQ: EILSEQ, syscall.EINPROGRESS: EINPROGRESS, syscall.EINTR: EINTR, syscall.EINVAL: EINVAL,
	syscall.EIO: EIO, syscall.EISCONN: EISCONN, syscall.EISDIR: EISDIR, syscall.ELOOP: ELOOP,
	syscall.EMFILE: EMFILE, syscall.EMLINK: EMLINK, syscall.EMSGSIZE: EMSGSIZE, syscall.EMULTIHOP: EMULTIHOP,
	syscall.ENAMETOOLONG: ENAMETOOLONG, syscall.ENETDOWN: ENETDOWN, syscall.ENETRESET: ENETRESET,
	syscall.ENETUNREACH: ENETUNREACH, syscall.ENFILE: ENFILE, syscall.ENOBUFS: ENOBUFS, syscall.ENODEV: ENODEV,
	syscall.ENOENT: ENOENT, syscall.ENOEXEC: ENOEXEC, syscall.ENOLCK: ENOLCK, syscall.ENOLINK: ENOLINK,
	syscall.ENOMEM: ENOMEM, syscall.ENOMSG: ENOMSG, syscall.ENOPROTOOPT: ENOPROTOOPT, syscall.ENOSPC: ENOSPC,
	syscall.ENOSYS: ENOSYS, syscall.ENOTCONN: ENOTCONN, syscall.ENOTDIR: ENOTDIR, syscall.ENOTEMPTY: ENOTEMPTY,
	syscall.ENOTSOCK: ENOTSOCK, syscall.ENOTSUP: ENOTSUP, syscall.ENOTTY: ENOTTY, syscall.ENXIO: ENXIO,
	syscall.EOVERFLOW: EOVERFLOW, syscall.EPERM: EPERM, syscall.EPIPE: EPIPE, syscall.EPROTO: EPROTO,
	syscall.EPROTONOSUPPORT: EPROTONOSUPPORT, syscall.EPROTOTYPE: EPROTOTYPE, syscall.ERANGE: ERANGE,
	syscall.EROFS: EROFS, syscall.ESPIPE: ESPIPE, syscall.ESRCH: ESRCH, syscall.ESTALE: ESTALE,
	syscall.ETIMEDOUT: ETIMEDOUT, syscall.ETXTBSY: ETXTBSY, syscall.EXDEV: EXDEV,
}

// ErrnoOf maps an error to a WASI errno: nil and io.EOF → ESUCCESS, an
// Errno → itself, a syscall.Errno (also wrapped, e.g. in *os.PathError) →
// the WASI errno of the same name, os.Root escapes → EPERM, fs sentinel
// errors → their errnos, anything else → EIO.
func ErrnoOf(err error) Errno {
	if err == nil || err == io.EOF {
		return ESUCCESS
	}
	var we Errno
	if errors.As(err, &we) {
		return we
	}
	if strings.Contains(err.Error(), "path escapes from parent") {
		return EPERM
	}
	var se syscall.Errno
	if errors.As(err, &se) {
		if e, ok := fromSyscall[se]; ok {
			return e
		}
		return EIO
	}
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return ENOENT
	case errors.Is(err, fs.ErrExist):
		return EEXIST
	case errors.Is(err, fs.ErrPermission):
		return EPERM
	case errors.Is(err, fs.ErrClosed), errors.Is(err, os.ErrClosed):
		return EBADF
	case errors.Is(err, fs.ErrInvalid):
		return EINVAL
	}
	return EIO
}

func itoa(n int) string {
	if n == 0 {
		return "0"
	}
	var b [20]byte
	i := len(b)
	for n > 0 {
		i--
		b[i] = byte('0' + n%10)
		n /= 10
	}
	return string(b[i:])
}
