package wasi

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"
)

// kernelFixture makes the tree every case of TestPathsMatchKernel starts
// from: no link in it leaves it.
func kernelFixture(t *testing.T) string {
	t.Helper()
	d := t.TempDir()
	must := func(err error) {
		if err != nil {
			t.Fatal(err)
		}
	}
	must(os.Mkdir(filepath.Join(d, "dir"), 0o755))
	must(os.Mkdir(filepath.Join(d, "empty"), 0o755))
	must(os.WriteFile(filepath.Join(d, "file"), []byte("x"), 0o644))
	must(os.WriteFile(filepath.Join(d, "dir", "f"), []byte("x"), 0o644))
	for l, target := range map[string]string{"ls": "dir", "lf": "file", "dang": "nowhere", "loop": "loop", "le": "empty"} {
		must(os.Symlink(target, filepath.Join(d, l)))
	}
	return d
}

func kerrno(err error) Errno {
	if err == nil {
		return 0
	}
	var se syscall.Errno
	if errors.As(err, &se) {
		return ErrnoOf(se)
	}
	return ErrnoOf(err)
}

// TestPathsMatchKernel: for paths that stay inside the mount, each path
// call gives what the same *at call on the host directory gives (Linux is
// what wasmtime's answers come from there), for plain names, symlinks to
// a directory, a file, nowhere and themselves, missing names, and each
// with a trailing "/", "/." and "/..".
func TestPathsMatchKernel(t *testing.T) {
	names := []string{"file", "dir", "empty", "ls", "lf", "le", "dang", "loop", "missing", "dir/f", "ls/f", "lf/x", "dang/x", "loop/x"}
	var paths []string
	for _, n := range names {
		for _, s := range []string{"", "/", "/.", "/.."} {
			paths = append(paths, n+s)
		}
	}
	type op struct {
		name   string
		kernel func(dfd int, p string) error
		ours   func(g *guest, p string) Errno
	}
	openOp := func(lookup uint64, oflags uint64, rights uint64) op {
		flags := unix.O_RDONLY
		if rights&rightFdWrite != 0 {
			flags = unix.O_RDWR
		}
		if oflags&oflagCreat != 0 {
			flags |= unix.O_CREAT
		}
		if oflags&oflagExcl != 0 {
			flags |= unix.O_EXCL
		}
		if oflags&oflagDirectory != 0 {
			flags |= unix.O_DIRECTORY
		}
		if lookup == 0 {
			flags |= unix.O_NOFOLLOW
		}
		return op{fmt.Sprintf("open(lookup %d, oflags %d, write %v)", lookup, oflags, rights&rightFdWrite != 0),
			func(dfd int, p string) error {
				fd, err := unix.Openat(dfd, p, flags|unix.O_CLOEXEC, 0o644)
				if err == nil {
					unix.Close(fd)
				}
				return err
			},
			func(g *guest, p string) Errno {
				fd, e := g.pathOpen(3, lookup, p, oflags, rights)
				if e == 0 {
					g.closeFD(fd)
				}
				return e
			}}
	}
	statOp := func(lookup uint64) op {
		fl := 0
		if lookup == 0 {
			fl = unix.AT_SYMLINK_NOFOLLOW
		}
		return op{fmt.Sprintf("stat(lookup %d)", lookup),
			func(dfd int, p string) error { var st unix.Stat_t; return unix.Fstatat(dfd, p, &st, fl) },
			func(g *guest, p string) Errno { _, e := g.filetype(3, lookup, p); return e }}
	}
	timesOp := func(lookup uint64) op {
		fl := 0
		if lookup == 0 {
			fl = unix.AT_SYMLINK_NOFOLLOW
		}
		return op{fmt.Sprintf("set_times(lookup %d)", lookup),
			func(dfd int, p string) error {
				return unix.UtimesNanoAt(dfd, p, []unix.Timespec{{Nsec: unix.UTIME_OMIT}, {Sec: 5}}, fl)
			},
			func(g *guest, p string) Errno { return g.setMtim(3, lookup, p, 5e9) }}
	}
	ops := []op{
		openOp(0, 0, rightFdRead), openOp(1, 0, rightFdRead),
		openOp(0, oflagDirectory, 0), openOp(1, oflagDirectory, 0),
		openOp(0, oflagCreat, rightFdWrite), openOp(1, oflagCreat, rightFdWrite),
		openOp(0, oflagCreat|oflagExcl, rightFdWrite), openOp(1, oflagCreat|oflagExcl, rightFdWrite),
		statOp(0), statOp(1), timesOp(0), timesOp(1),
		{"unlink", func(dfd int, p string) error { return unix.Unlinkat(dfd, p, 0) },
			func(g *guest, p string) Errno { return g.onePath("path_unlink_file", 3, p) }},
		{"rmdir", func(dfd int, p string) error { return unix.Unlinkat(dfd, p, unix.AT_REMOVEDIR) },
			func(g *guest, p string) Errno { return g.onePath("path_remove_directory", 3, p) }},
		{"mkdir", func(dfd int, p string) error { return unix.Mkdirat(dfd, p, 0o755) },
			func(g *guest, p string) Errno { return g.onePath("path_create_directory", 3, p) }},
		{"symlink at", func(dfd int, p string) error { return unix.Symlinkat("x", dfd, p) },
			func(g *guest, p string) Errno { return g.symlink("x", 3, p) }},
		{"readlink", func(dfd int, p string) error { _, err := unix.Readlinkat(dfd, p, make([]byte, 64)); return err },
			func(g *guest, p string) Errno {
				po, pl := g.str(1000, p)
				return g.call("path_readlink", 3, po, pl, 3000, 64, 900)
			}},
		{"rename from", func(dfd int, p string) error { return unix.Renameat(dfd, p, dfd, "new") },
			func(g *guest, p string) Errno { return g.rename(3, p, 3, "new") }},
		{"rename file to", func(dfd int, p string) error { return unix.Renameat(dfd, "file", dfd, p) },
			func(g *guest, p string) Errno { return g.rename(3, "file", 3, p) }},
		{"rename empty dir to", func(dfd int, p string) error { return unix.Renameat(dfd, "empty", dfd, p) },
			func(g *guest, p string) Errno { return g.rename(3, "empty", 3, p) }},
		{"link from", func(dfd int, p string) error { return unix.Linkat(dfd, p, dfd, "new", 0) },
			func(g *guest, p string) Errno { return g.link(3, 0, p, 3, "new") }},
		{"link from following", func(dfd int, p string) error { return unix.Linkat(dfd, p, dfd, "new", unix.AT_SYMLINK_FOLLOW) },
			func(g *guest, p string) Errno { return g.link(3, lookupSymlinkFollow, p, 3, "new") }},
		{"link file to", func(dfd int, p string) error { return unix.Linkat(dfd, "file", dfd, p, 0) },
			func(g *guest, p string) Errno { return g.link(3, 0, "file", 3, p) }},
	}
	// Where wasmtime differs from the kernel, wasmtime's answer.
	wasmtime := map[[2]string]Errno{
		{"symlink at", "file/"}:  ENOTDIR, // path_symlink_trailing_slashes.rs
		{"symlink at", "dir/f/"}: ENOTDIR,
		{"symlink at", "ls/f/"}:  ENOTDIR,
	}
	n := 0
	for _, o := range ops {
		for _, p := range paths {
			kd := kernelFixture(t)
			dfd, err := unix.Open(kd, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
			if err != nil {
				t.Fatal(err)
			}
			want := kerrno(o.kernel(dfd, p))
			unix.Close(dfd)
			if w, ok := wasmtime[[2]string{o.name, p}]; ok {
				want = w
			}
			od := kernelFixture(t)
			g := newGuest(t, Config{Mounts: []Mount{{HostPath: od, GuestPath: "/"}}})
			got := o.ours(g, p)
			if got != want {
				n++
				t.Errorf("%s %q: %v, the kernel %v", o.name, p, got, want)
			}
		}
	}
	t.Logf("%d differences", n)
}
