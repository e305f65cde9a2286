package wasi_test

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
	wsys "github.com/tetratelabs/wazero/sys"

	"github.com/wasmpod/wasmpod/internal/testwasm"
	"github.com/wasmpod/wasmpod/runtime/wasi"
)

// pathsC is a C program that checks, through wasi-libc, the path
// behaviours of issue 10's defects 3 and 6 as a C user meets them:
// open(O_NOFOLLOW), utimensat(AT_SYMLINK_NOFOLLOW), rename onto an empty
// directory, renameat and linkat between two directory fds of one mount,
// linkat(AT_SYMLINK_FOLLOW), trailing slashes. It prints one "FAIL" line
// per failed check and "done" at its end.
const pathsC = `#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static int fails;

static void ok(const char *what, int r) {
	if (r < 0) {
		printf("FAIL %s: %s\n", what, strerror(errno));
		fails++;
	}
}

static void err(const char *what, int r, int want, int alt) {
	if (r >= 0) {
		printf("FAIL %s: succeeded, want %s\n", what, strerror(want));
		fails++;
	} else if (errno != want && errno != alt) {
		printf("FAIL %s: %s, want %s\n", what, strerror(errno), strerror(want));
		fails++;
	}
}

static int mkfile(const char *p) {
	int fd = open(p, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	if (fd < 0)
		return -1;
	return close(fd);
}

int main(void) {
	struct stat st, st2;

	/* open without following a final symlink */
	ok("mkdir target", mkdir("/data/target", 0755));
	ok("mkfile file", mkfile("/data/file"));
	ok("symlink ls", symlink("target", "/data/ls"));
	ok("symlink lf", symlink("file", "/data/lf"));
	ok("symlink dang", symlink("nowhere", "/data/dang"));
	err("open lf O_NOFOLLOW", open("/data/lf", O_RDONLY | O_NOFOLLOW), ELOOP, ELOOP);
	err("open ls O_DIRECTORY|O_NOFOLLOW", open("/data/ls", O_RDONLY | O_DIRECTORY | O_NOFOLLOW), ELOOP, ENOTDIR);
	err("open dang O_CREAT|O_NOFOLLOW", open("/data/dang", O_WRONLY | O_CREAT | O_NOFOLLOW, 0644), ELOOP, ELOOP);
	err("the dangling link's target", stat("/data/nowhere", &st), ENOENT, ENOENT);
	int fd = open("/data/lf", O_RDONLY);
	ok("open lf following", fd);
	close(fd);

	/* the times of the link itself */
	struct timespec ts[2] = {{0, UTIME_OMIT}, {1000000, 0}};
	ok("stat file", stat("/data/file", &st));
	ok("utimensat lf AT_SYMLINK_NOFOLLOW", utimensat(AT_FDCWD, "/data/lf", ts, AT_SYMLINK_NOFOLLOW));
	ok("lstat lf", lstat("/data/lf", &st2));
	if (st2.st_mtim.tv_sec != 1000000) {
		printf("FAIL the link's mtime is %lld, want 1000000\n", (long long)st2.st_mtim.tv_sec);
		fails++;
	}
	ok("stat file again", stat("/data/file", &st2));
	if (st2.st_mtim.tv_sec != st.st_mtim.tv_sec) {
		printf("FAIL the target's mtime changed with AT_SYMLINK_NOFOLLOW\n");
		fails++;
	}

	/* rename a directory onto an empty one, not onto a full one */
	ok("mkdir src", mkdir("/data/src", 0755));
	ok("mkfile src/in", mkfile("/data/src/in"));
	ok("mkdir dst", mkdir("/data/dst", 0755));
	ok("rename src dst (empty)", rename("/data/src", "/data/dst"));
	ok("dst/in", stat("/data/dst/in", &st));
	ok("mkdir src again", mkdir("/data/src", 0755));
	err("rename src dst (not empty)", rename("/data/src", "/data/dst"), ENOTEMPTY, EEXIST);
	ok("rename src/ s2/", rename("/data/src/", "/data/s2/"));

	/* rename and link between two directory fds */
	ok("mkdir a", mkdir("/data/a", 0755));
	ok("mkdir b", mkdir("/data/b", 0755));
	ok("mkfile a/f", mkfile("/data/a/f"));
	int a = open("/data/a", O_RDONLY | O_DIRECTORY);
	int b = open("/data/b", O_RDONLY | O_DIRECTORY);
	ok("open a", a);
	ok("open b", b);
	ok("linkat a/f b/g", linkat(a, "f", b, "g", 0));
	ok("stat a/f", stat("/data/a/f", &st));
	ok("stat b/g", stat("/data/b/g", &st2));
	if (st.st_ino != st2.st_ino || st.st_nlink != 2) {
		printf("FAIL b/g is not a hard link of a/f\n");
		fails++;
	}
	ok("renameat b/g a/h", renameat(b, "g", a, "h"));
	ok("stat a/h", stat("/data/a/h", &st));

	/* linkat follows a symlink only when asked */
	ok("linkat lf l1", linkat(AT_FDCWD, "/data/lf", AT_FDCWD, "/data/l1", 0));
	ok("lstat l1", lstat("/data/l1", &st));
	if (!S_ISLNK(st.st_mode)) {
		printf("FAIL linkat without AT_SYMLINK_FOLLOW did not link the symlink itself\n");
		fails++;
	}
	ok("linkat lf l2 AT_SYMLINK_FOLLOW", linkat(AT_FDCWD, "/data/lf", AT_FDCWD, "/data/l2", AT_SYMLINK_FOLLOW));
	ok("lstat l2", lstat("/data/l2", &st));
	ok("stat file", stat("/data/file", &st2));
	if (!S_ISREG(st.st_mode) || st.st_ino != st2.st_ino) {
		printf("FAIL linkat with AT_SYMLINK_FOLLOW did not link the target\n");
		fails++;
	}
	err("linkat following a host link out of the mount", linkat(AT_FDCWD, "/data/esc", AT_FDCWD, "/data/l3", AT_SYMLINK_FOLLOW), EPERM, EPERM);

	/* trailing slashes */
	err("unlink file/", unlink("/data/file/"), ENOTDIR, ENOTDIR);
	err("unlink a", unlink("/data/a"), EISDIR, EISDIR);
	ok("rmdir s2/", rmdir("/data/s2/"));
	err("rmdir file/", rmdir("/data/file/"), ENOTDIR, ENOTDIR);
	err("symlink at new/", symlink("x", "/data/new/"), ENOENT, ENOENT);

	printf("done\n");
	return fails ? 1 : 0;
}
`

// syncBuffer is a bytes.Buffer for a guest's output.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestPathsCGuest runs pathsC, built by clang with wasi-libc, on wazero
// with this package's functions, over a mount in t.TempDir().
func TestPathsCGuest(t *testing.T) {
	src := filepath.Join(t.TempDir(), "paths.c")
	if err := os.WriteFile(src, []byte(pathsC), 0o644); err != nil {
		t.Fatal(err)
	}
	wasm := testwasm.BuildForeign(t, testwasm.Foreign{
		Name:    "c-paths",
		Tool:    "clang",
		Version: []string{"--version"},
		Inputs:  []string{src},
		Args: func(out string) []string {
			return []string{"--target=wasm32-wasi", "-O2", "-Wall", "-Werror", "paths.c", "-o", out}
		},
		Install: "apt-get install clang lld wasi-libc libclang-rt-dev-wasm32",
	})
	base := t.TempDir()
	data, outside := filepath.Join(base, "data"), filepath.Join(base, "outside")
	for _, d := range []string{data, outside} {
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(outside, "secret"), []byte("secret"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(filepath.Join(outside, "secret"), filepath.Join(data, "esc")); err != nil {
		t.Fatal(err)
	}
	var out syncBuffer
	s, err := wasi.New(wasi.Config{Args: []string{"paths"}, Mounts: []wasi.Mount{{HostPath: data, GuestPath: "/data"}}, Stdout: &out, Stderr: &out})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ctx := context.Background()
	rt := wazero.NewRuntimeWithConfig(ctx, wazero.NewRuntimeConfigInterpreter())
	defer rt.Close(ctx)
	b := rt.NewHostModuleBuilder(wasi.ModuleName)
	for _, hf := range wasi.Functions() {
		b.NewFunctionBuilder().WithGoModuleFunction(bindSimple(hf), valTypes(hf.Params), valTypes(hf.Results)).Export(hf.Name)
	}
	if _, err := b.Instantiate(ctx); err != nil {
		t.Fatal(err)
	}
	_, err = rt.InstantiateWithConfig(wasi.WithSystem(ctx, s), wasm, wazero.NewModuleConfig().WithName("paths"))
	var exit *wsys.ExitError
	if err != nil && !(errors.As(err, &exit) && exit.ExitCode() == 0) {
		t.Errorf("guest: %v", err)
	}
	got := out.String()
	if !strings.Contains(got, "done\n") || strings.Contains(got, "FAIL") {
		t.Errorf("guest output:\n%s", got)
	}
	if fi, err := os.Stat(filepath.Join(outside, "secret")); err != nil || fi.Size() != 6 {
		t.Errorf("outside/secret: %v %v", fi, err)
	}
	if ents, _ := os.ReadDir(outside); len(ents) != 1 {
		t.Errorf("outside changed: %v", ents)
	}
}

// bindSimple binds hf as runtime/wazero does, for the System in the ctx.
func bindSimple(hf wasi.HostFunc) api.GoModuleFunc {
	np, nr := len(hf.Params), len(hf.Results)
	return func(ctx context.Context, mod api.Module, stack []uint64) {
		defer func() {
			if r := recover(); r != nil {
				if pe, ok := r.(*wasi.ProcExit); ok {
					_ = mod.CloseWithExitCode(ctx, pe.Code)
					panic(wsys.NewExitError(pe.Code))
				}
				panic(r)
			}
		}()
		c := wasi.Call{Params: append([]uint64(nil), stack[:np]...), Results: stack[:nr], Sys: wasi.FromContext(ctx), Mem: mod.Memory()}
		hf.Fn(ctx, &c)
	}
}
