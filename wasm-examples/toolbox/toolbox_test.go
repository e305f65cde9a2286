package main

import (
	"archive/tar"
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// sh runs a script in dir through the shell applet, as exec does.
func sh(t *testing.T, dir, stdin, script string) (string, string, int) {
	t.Helper()
	var out, errb bytes.Buffer
	p := &proc{ctx: context.Background(), stdin: strings.NewReader(stdin), stdout: &out, stderr: &errb, dir: dir,
		env: []string{"HOSTNAME=box", "HOME=/"}}
	code := p.run("sh", []string{"-c", script})
	return out.String(), errb.String(), code
}

func TestShellAndApplets(t *testing.T) {
	dir := t.TempDir()
	cases := []struct {
		script, stdin, out, errSub string
		code                       int
	}{
		{script: `echo $HOSTNAME; x=1; echo "v=$x"`, out: "box\nv=1\n"},
		{script: `mkdir -p a/b && echo hi > a/b/f && cat a/b/f && ls a`, out: "hi\nb\n"},
		{script: `printf 'one\ntwo\nthree\n' > l; wc -l l; head -n 2 l; tail -n 1 l; grep -n t l`, out: "      3 l\none\ntwo\nthree\n2:two\n3:three\n"},
		{script: `echo hello world | sed 's/world/there/'`, out: "hello there\n"},
		{script: `printf 'a\nb\nc\n' | sed -n -e '2p'`, out: "b\n"},
		{script: `printf 'a\nb\nc\n' | sed '/b/d'`, out: "a\nc\n"},
		{script: `echo abc > s; sed -i 's/b/X/g' s; cat s`, out: "aXc\n"},
		{script: `nope arg`, errSub: "sh: nope: not found", code: 127},
		{script: `./s`, errSub: "sh: ./s: Permission denied", code: 126},
		{script: `if then fi`, errSub: "sh: syntax error", code: 2},
		{script: `test -d a && [ -f a/b/f ] && echo yes; test -f nope; echo $?`, out: "yes\n1\n"},
		{script: `cat missing`, errSub: "cat: missing: No such file or directory", code: 1},
		// expr, as upstream's Job e2e scripts use it (expr ${JOB_COMPLETION_INDEX} % 2)
		{script: `expr 7 % 2; expr 4 % 2; echo $?; expr 1 + 2 '*' 3; expr '(' 1 + 2 ')' '*' 3; expr 10 - 12`, out: "1\n0\n1\n7\n9\n-2\n"},
		{script: `expr abc : 'a\(.*\)'; expr abc : 'a.*'; expr abc : 'x'; expr 9 '>' 10; expr b '>' a; expr '' \| 5; expr 3 \& 0`, out: "bc\n3\n0\n0\n1\n5\n0\n", code: 1},
		{script: `expr 1 / 0`, errSub: "expr: division by zero", code: 2},
		{script: `expr a + 1`, errSub: "expr: non-integer argument", code: 2},
		{script: `expr 1 +`, errSub: "expr: syntax error", code: 2},
		{script: `cp -r a c && mv c d && find d -type f && rm -r d && ls d`, out: "d/b/f\n", errSub: "ls: d: No such file or directory", code: 1},
		{script: `touch t1 && ls t1 && env | grep -c HOSTNAME=box`, out: "t1\n1\n"},
		{script: `false || true; exit 3`, code: 3},
		{script: `read x; echo got $x`, stdin: "line\n", out: "got line\n"},
		{script: `date +%Y | wc -c`, out: "5\n"},
		{script: `sleep 0.01 && echo slept`, out: "slept\n"},
		{script: `tar cf - a | tar tf -`, out: "a/\na/b/\na/b/f\n"},
		{script: `mkdir x && tar cf - a | tar xf - -C x && cat x/a/b/f`, out: "hi\n"},
		{script: `toolbox echo via toolbox`, out: "via toolbox\n"},
		{script: `grep -q zzz l`, code: 1},
		{script: `printf 'a\nb\nab\n' | grep b | wc -l; f() { echo "$1" | sed s/x/y/; }; f x | cat`, out: "2\ny\n"},
		{script: `v=in; echo $v | { read w; echo "$w $v"; } | cat; (cd a && ls | cat)`, out: "in in\nb\n"},
		{script: `ls -z`, errSub: "ls: unrecognized option: z", code: 2},
	}
	for _, c := range cases {
		out, errOut, code := sh(t, dir, c.stdin, c.script)
		if out != c.out || code != c.code || !strings.Contains(errOut, c.errSub) || (c.errSub == "" && errOut != "") {
			t.Errorf("sh -c %q: exit %d, stdout %q, stderr %q; want exit %d, stdout %q, stderr with %q", c.script, code, out, errOut, c.code, c.out, c.errSub)
		}
	}
}

func TestTarRefusesEscapes(t *testing.T) {
	parent := t.TempDir()
	dir := filepath.Join(parent, "in")
	os.Mkdir(dir, 0o755)
	var arc bytes.Buffer
	tw := tar.NewWriter(&arc)
	for _, h := range []*tar.Header{
		{Name: "../escaped", Mode: 0o644, Size: 1, Typeflag: tar.TypeReg},
		{Name: "link", Linkname: "/etc", Typeflag: tar.TypeSymlink},
		{Name: "ok", Mode: 0o644, Size: 1, Typeflag: tar.TypeReg},
	} {
		tw.WriteHeader(h)
		if h.Size > 0 {
			tw.Write([]byte("x"))
		}
	}
	tw.Close()
	var errb bytes.Buffer
	p := &proc{ctx: context.Background(), stdin: &arc, stdout: &bytes.Buffer{}, stderr: &errb, dir: dir}
	if code := p.run("tar", []string{"xf", "-"}); code != 1 {
		t.Errorf("tar x of a hostile archive: exit %d, want 1", code)
	}
	if _, err := os.Lstat(filepath.Join(parent, "escaped")); err == nil {
		t.Error("tar wrote ../escaped outside its directory")
	}
	if _, err := os.Lstat(filepath.Join(dir, "link")); err == nil {
		t.Error("tar made a symlink to /etc")
	}
	if b, err := os.ReadFile(filepath.Join(dir, "ok")); string(b) != "x" {
		t.Errorf("the good member: %q %v", b, err)
	}
	if !strings.Contains(errb.String(), "../escaped") {
		t.Errorf("stderr %q does not name the refused member", errb.String())
	}
}

func TestAppletFromArgv0(t *testing.T) {
	for _, c := range []struct {
		argv []string
		want string
	}{
		{[]string{"/bin/sh", "-c", "x"}, "sh"},
		{[]string{"ls"}, "ls"},
		{[]string{"toolbox", "cat", "f"}, "cat"},
		{[]string{"flood", "cat", "f"}, "cat"},
		{[]string{"toolbox"}, ""},
		{[]string{"toolbox", "nope"}, ""},
	} {
		if got, _ := appletArgs(c.argv); got != c.want {
			t.Errorf("appletArgs(%q) = %q, want %q", c.argv, got, c.want)
		}
	}
}

// TestShellDollarZero: `sh -c SCRIPT NAME ARGS...` sets $0 to NAME and $1...
// to ARGS, as POSIX and busybox; without NAME, $0 is "sh".
func TestShellDollarZero(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"-c", `echo "$0 $1 $#"`, "zero", "one"}, "zero one 1\n"},
		{[]string{"-c", `echo "$0 $#"`}, "sh 0\n"},
	} {
		var out, errb bytes.Buffer
		p := &proc{ctx: context.Background(), stdin: strings.NewReader(""), stdout: &out, stderr: &errb, dir: t.TempDir()}
		if code := p.run("sh", tc.args); code != 0 || out.String() != tc.want {
			t.Errorf("sh %q: exit %d, out %q (stderr %q), want %q", tc.args, code, out.String(), errb.String(), tc.want)
		}
	}
}
