package wasi

import "context"

// WASI preview-1 rights: what an fd may be used for.
//
// The model follows wasmtime's preview-1 layer (the reference of the
// upstream WASI test suite), with rights tracked per fd so that they can be
// dropped:
//   - A directory holds directory rights only (rightsDir: the path_* calls,
//     fd_readdir, fd_filestat_get/set_times), never file rights such as
//     FD_SEEK or FD_WRITE; it passes on rightsDir|rightsFile (its
//     inheriting rights) to what path_open opens from it. A preopen reports
//     exactly these, so a guest reopening it with the rights it reports
//     (Rust's std and wasi-libc do at start-up) succeeds.
//   - path_open masks the requested base rights with the directory fd's
//     inheriting rights, and ignores the inheriting rights asked for (as
//     wasmtime does): a new directory passes on what its parent passes on,
//     so rights shrink only where a guest dropped them with
//     fd_fdstat_set_rights. As in wasmtime, what a new fd may do
//     follows from what it is and how it was opened, not from each bit
//     asked for: a file gets rightsFile, less FD_READ unless FD_READ was
//     asked for and less the write rights (rightsWrite) unless FD_WRITE (or
//     FDFLAG_APPEND) was; a directory gets rightsDir, less FD_READDIR unless
//     FD_READ or FD_READDIR was asked for; both within the directory fd's
//     inheriting rights.
//   - fd_fdstat_set_rights only drops rights (ENOTCAPABLE otherwise), and
//     every call checks the rights it needs on its fd (see need): missing,
//     it fails with EBADF when the fd was never open for it (fd_read on a
//     file opened without FD_READ, fd_seek on a directory: POSIX's and
//     wasmtime's answer), ENOTCAPABLE when the right was dropped or masked
//     away by a directory's inheriting rights.
//   - Errors of the fd's kind come before rights: fd_read on a directory is
//     EISDIR, fd_seek on a pipe ESPIPE, a path call on a file ENOTDIR; and
//     a read-only mount refuses changes with EROFS whatever the rights.
const (
	rightFdDatasync           = 1 << 0
	rightFdSeek               = 1 << 2
	rightFdFdstatSetFlags     = 1 << 3
	rightFdSync               = 1 << 4
	rightFdTell               = 1 << 5
	rightFdAdvise             = 1 << 7
	rightFdAllocate           = 1 << 8
	rightPathCreateDirectory  = 1 << 9
	rightPathCreateFile       = 1 << 10
	rightPathLinkSource       = 1 << 11
	rightPathLinkTarget       = 1 << 12
	rightPathOpen             = 1 << 13
	rightFdReaddir            = 1 << 14
	rightPathReadlink         = 1 << 15
	rightPathRenameSource     = 1 << 16
	rightPathRenameTarget     = 1 << 17
	rightPathFilestatGet      = 1 << 18
	rightPathFilestatSetSize  = 1 << 19
	rightPathFilestatSetTimes = 1 << 20
	rightFdFilestatGet        = 1 << 21
	rightFdFilestatSetSize    = 1 << 22
	rightFdFilestatSetTimes   = 1 << 23
	rightPathSymlink          = 1 << 24
	rightPathRemoveDirectory  = 1 << 25
	rightPathUnlinkFile       = 1 << 26
	rightPollFdReadwrite      = 1 << 27
	rightSockShutdown         = 1 << 28
	rightSockAccept           = 1 << 29
	// rightFdRead (1<<1) and rightFdWrite (1<<6) are declared with the
	// oflags in fs.go.
)

const (
	// rightsDir are a directory's rights: wasmtime's preopen rights, plus
	// PATH_FILESTAT_SET_SIZE, which path_open with O_TRUNC needs here
	// (wasmtime does not check it).
	rightsDir = rightPathCreateDirectory | rightPathCreateFile |
		rightPathLinkSource | rightPathLinkTarget | rightPathOpen |
		rightFdReaddir | rightPathReadlink | rightPathRenameSource |
		rightPathRenameTarget | rightPathSymlink | rightPathRemoveDirectory |
		rightPathUnlinkFile | rightPathFilestatGet | rightPathFilestatSetSize |
		rightPathFilestatSetTimes | rightFdFilestatGet | rightFdFilestatSetTimes

	// rightsFile are a regular file's rights (wasmtime's file part of a
	// preopen's inheriting rights).
	rightsFile = rightFdDatasync | rightFdRead | rightFdSeek |
		rightFdFdstatSetFlags | rightFdSync | rightFdTell | rightFdWrite |
		rightFdAdvise | rightFdAllocate | rightFdFilestatGet |
		rightFdFilestatSetSize | rightFdFilestatSetTimes | rightPollFdReadwrite

	// rightsDirInheriting is what a directory passes on.
	rightsDirInheriting = rightsDir | rightsFile

	// rightsFileOnly are the rights a directory never holds, rightsDirOnly those a
	// file never holds.
	rightsFileOnly = rightsFile &^ rightsDir
	rightsDirOnly  = rightsDir &^ rightsFile

	// rightsWrite are the rights of a file open for writing (as in
	// wasi-libc's and Go's open).
	rightsWrite = rightFdWrite | rightFdAllocate | rightFdFilestatSetSize

	// The rights of stdio and of sockets (wasmtime gives stdin FD_READ and
	// stdout/stderr FD_WRITE; these add what this layer serves on them:
	// nonblocking mode, fd_filestat_get, poll).
	rightsStdin  = rightFdRead | rightFdFdstatSetFlags | rightFdFilestatGet | rightPollFdReadwrite
	rightsStdout = rightFdWrite | rightFdFdstatSetFlags | rightFdFilestatGet | rightPollFdReadwrite
	rightsSock   = rightFdRead | rightFdWrite | rightFdFdstatSetFlags | rightFdFilestatGet |
		rightPollFdReadwrite | rightSockShutdown | rightSockAccept
)

// rightsOf is the rights (base, inheriting) of a File put in the fd table
// as it is (InsertFD, sock_accept) and the rights its kind excludes.
func rightsOf(f File) (base, inheriting, excluded uint64) {
	switch f.Filetype() {
	case FiletypeDirectory:
		return rightsDir, rightsDirInheriting, rightsFileOnly
	case FiletypeSocketStream, FiletypeSocketDgram:
		return rightsSock, rightsSock, ^uint64(rightsSock)
	}
	return rightsFile, rightsFile, rightsDirOnly
}

// openedRights is the rights (base, excluded) of what path_open opened
// from a directory fd whose inheriting rights are inh: f with the
// requested base rights req (already masked by inh), opened for writing
// when write.
func openedRights(f File, req, inh uint64, write bool) (base, excluded uint64) {
	if _, ok := f.(*dirFile); ok {
		base, excluded = rightsDir, rightsFileOnly
		if req&(rightFdRead|rightFdReaddir) == 0 {
			base &^= rightFdReaddir
		}
		return base & inh, excluded
	}
	base, excluded = rightsFile, rightsDirOnly
	if req&rightFdRead == 0 {
		base &^= rightFdRead
		excluded |= rightFdRead
	}
	if !write {
		base &^= rightsWrite
		excluded |= rightsWrite
	}
	return base & inh, excluded
}

// need checks that ent holds every right in r: EBADF when the fd was never
// open for a missing one (excluded), ENOTCAPABLE when it was dropped or
// masked away.
func (s *System) need(ent *fdEntry, r uint64) Errno {
	s.mu.Lock()
	b, x := ent.rightsB, ent.excluded
	s.mu.Unlock()
	if b&r == r {
		return 0
	}
	if x&r&^b != 0 {
		return EBADF
	}
	return ENOTCAPABLE
}

// needAny checks that ent holds one of the rights in r (fd_tell: FD_TELL
// or FD_SEEK).
func (s *System) needAny(ent *fdEntry, r uint64) Errno {
	s.mu.Lock()
	b, x := ent.rightsB, ent.excluded
	s.mu.Unlock()
	if b&r != 0 {
		return 0
	}
	if x&r == r {
		return EBADF
	}
	return ENOTCAPABLE
}

// dirRight is a right that a path call needs on the directory fd at
// parameter param.
type dirRight struct {
	param int
	right uint64
}

// pathRights are the rights the path calls need on their directory fds
// (path_open's depend on its oflags: see pathOpen).
var pathRights = map[string][]dirRight{
	"path_create_directory":   {{0, rightPathCreateDirectory}},
	"path_filestat_get":       {{0, rightPathFilestatGet}},
	"path_filestat_set_times": {{0, rightPathFilestatSetTimes}},
	"path_link":               {{0, rightPathLinkSource}, {4, rightPathLinkTarget}},
	"path_readlink":           {{0, rightPathReadlink}},
	"path_remove_directory":   {{0, rightPathRemoveDirectory}},
	"path_rename":             {{0, rightPathRenameSource}, {3, rightPathRenameTarget}},
	"path_symlink":            {{2, rightPathSymlink}},
	"path_unlink_file":        {{0, rightPathUnlinkFile}},
}

// checkDirRights runs fn once each directory fd holds its right: an fd
// that is not a directory is ENOTDIR first (as the call itself reports).
func checkDirRights(rs []dirRight, fn func(context.Context, *Call)) func(context.Context, *Call) {
	return func(ctx context.Context, c *Call) {
		if c.Sys != nil {
			for _, r := range rs {
				e := dirRightErr(c, r)
				if e != 0 {
					c.SetErrno(e)
					return
				}
			}
		}
		fn(ctx, c)
	}
}

func dirRightErr(c *Call, r dirRight) Errno {
	ent, e := c.Sys.entry(c.I32(r.param))
	if e != 0 {
		return e
	}
	if _, ok := ent.file.(*dirFile); !ok {
		return ENOTDIR
	}
	return c.Sys.need(ent, r.right)
}

// dotIno is the inode fd_readdir reports for "." (dotdot false) or ".."
// of directory d in the mount whose root is root: "." is d itself; ".."
// is d's parent, or d itself at the mount's root (as "/.." is "/": the
// host directory above a mount is not the guest's business); 0 when not
// known.
func dotIno(d *dirFile, root fileID, dotdot bool) uint64 {
	st, err := d.Stat()
	if err != nil {
		return 0
	}
	if !dotdot || (fileID{st.Dev, st.Ino}) == root {
		return st.Ino
	}
	if root == (fileID{}) {
		return 0
	}
	return parentIno(d)
}
