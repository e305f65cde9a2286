package conformance

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestMatch(t *testing.T) {
	for _, c := range []struct {
		want, got string
		ok        bool
	}{
		{"OK", "OK n=5", true},
		{"OK", "ENOENT", false},
		{"ENOENT", "OK", false},
		{"EBADF|EISDIR", "EISDIR", true},
		{"EBADF|EISDIR", "EINVAL", false},
		{"OK n=5", "OK n=5 data=\"hello\"", true},
		{"OK n=4", "OK n=5", false},
		{"OK missing=1", "OK n=5", false},
		{"OK n=*", "OK n=7", true},
		{`OK data="a b"`, `OK n=3 data="a b"`, true},
		{`OK data="a b"`, `OK n=3 data="a c"`, false},
		{`OK list=["x y","z"]`, `OK list=["x y","z"]`, true},
		{"", "OK", false},
	} {
		if got := Match(c.want, c.got); got != c.ok {
			t.Errorf("Match(%q, %q) = %v, want %v", c.want, c.got, got, c.ok)
		}
	}
}

func TestSteps(t *testing.T) {
	r := Row{Script: `
		# a comment
		$f = path_open @/data 0 "f" 0 FD_READ 0 0
		fd_read $f 5 => OK data="a => b"

		proc_exit 0 => EXIT`}
	script, wants := r.Steps()
	if want := "$f = path_open @/data 0 \"f\" 0 FD_READ 0 0\nfd_read $f 5\nproc_exit 0\n"; script != want {
		t.Errorf("script %q, want %q", script, want)
	}
	if strings.Join(wants, "|") != `OK|OK data="a => b"|EXIT` {
		t.Errorf("wants %q", wants)
	}
}

func TestTrees(t *testing.T) {
	dir := t.TempDir()
	tree := []string{"d/", "d/f=x y", "e", "l->d/f"}
	if err := MakeTree(dir, tree); err != nil {
		t.Fatal(err)
	}
	if err := CheckTree(dir, append(tree, "!missing")); err != nil {
		t.Fatal(err)
	}
	for _, bad := range [][]string{{"d/f=other"}, {"e/"}, {"l->e"}, {"!e"}, {"d"}} {
		if err := CheckTree(dir, bad); err == nil {
			t.Errorf("CheckTree(%q) passed", bad)
		}
	}
	if err := MakeTree(dir, []string{"../out=x"}); err == nil {
		t.Error("MakeTree wrote outside its directory")
	}
	if _, err := os.Stat(filepath.Join(filepath.Dir(dir), "out")); err == nil {
		t.Error("../out exists")
	}
}

// TestRows checks the table's form: unique names in "function/case" form,
// a comment each, parsable scripts, and no Differs without a reason.
func TestRows(t *testing.T) {
	seen := map[string]bool{}
	for _, r := range Rows {
		if seen[r.Name] || !strings.Contains(r.Name, "/") {
			t.Errorf("row name %q: duplicate or not function/case", r.Name)
		}
		seen[r.Name] = true
		if r.Comment == "" {
			t.Errorf("row %s has no comment", r.Name)
		}
		if _, wants := r.Steps(); len(wants) == 0 {
			t.Errorf("row %s has no calls", r.Name)
		}
		if err := MakeTree(t.TempDir(), r.Tree); err != nil {
			t.Errorf("row %s: tree: %v", r.Name, err)
		}
	}
}
