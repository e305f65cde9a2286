package pods

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// A payload from a hostile API server (the node agent may talk to any):
// paths that leave the volume or hide its ..data entries, a file that is
// also a directory, and payloads over the bounds are refused before
// anything is written; the volume keeps its previous payload.
func TestWriteAtomicRefusesHostilePayloads(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "vol")
	now := time.Date(2026, 12, 6, 14, 0, 0, 0, time.UTC)
	if err := writeAtomic(dir, map[string]volFile{"k": {data: []byte("good"), mode: 0o644}}, now, false); err != nil {
		t.Fatal(err)
	}
	big := make([]byte, MaxConfigVolumeBytes/2+1)
	many := map[string]volFile{}
	for i := range MaxConfigVolumeFiles + 1 {
		many[fmt.Sprintf("d/f%d", i)] = volFile{}
	}
	for name, files := range map[string]map[string]volFile{
		"dotdot":        {"../escape": {data: []byte("x")}},
		"inner dotdot":  {"a/../../escape": {data: []byte("x")}},
		"absolute":      {"/etc/passwd": {data: []byte("x")}},
		"..data":        {"..data": {data: []byte("x")}},
		"..hidden":      {"..2026_x/k": {data: []byte("x")}},
		"empty":         {"": {data: []byte("x")}},
		"file and dir":  {"a": {data: []byte("x")}, "a/b": {data: []byte("y")}},
		"too many":      many,
		"too big":       {"a": {data: big}, "b": {data: big}},
		"nul in a path": {"a\x00b": {data: []byte("x")}},
	} {
		if err := writeAtomic(dir, files, now.Add(time.Second), false); err == nil {
			t.Errorf("%s: written", name)
		}
	}
	if b, err := os.ReadFile(filepath.Join(dir, "k")); err != nil || string(b) != "good" {
		t.Errorf("k after the refused payloads: %q, %v", b, err)
	}
	if _, err := os.Stat(filepath.Join(filepath.Dir(dir), "escape")); !os.IsNotExist(err) {
		t.Errorf("a file was written outside the volume: %v", err)
	}
	ents, _ := os.ReadDir(dir)
	var names []string
	for _, e := range ents {
		names = append(names, e.Name())
	}
	if len(names) != 3 { // ..<timestamp>, ..data, k
		t.Errorf("the volume holds %q", names)
	}
}

// An update swaps ..data, removes the old payload and the entries of keys
// that are gone, and adds the new keys' entries.
func TestWriteAtomicSwap(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "vol")
	now := time.Date(2026, 12, 6, 14, 0, 0, 0, time.UTC)
	if err := writeAtomic(dir, map[string]volFile{"a": {data: []byte("1"), mode: 0o400}, "gone/x": {data: []byte("2"), mode: 0o644}}, now, false); err != nil {
		t.Fatal(err)
	}
	old, _ := os.Readlink(filepath.Join(dir, "..data"))
	if err := writeAtomic(dir, map[string]volFile{"a": {data: []byte("3"), mode: 0o600}, "new": {data: []byte("4"), mode: 0o644}}, now.Add(time.Minute), false); err != nil {
		t.Fatal(err)
	}
	cur, _ := os.Readlink(filepath.Join(dir, "..data"))
	if cur == old || !strings.HasPrefix(cur, "..2026_12_06_14_01_00.") {
		t.Errorf("..data: %q (was %q)", cur, old)
	}
	if _, err := os.Lstat(filepath.Join(dir, old)); !os.IsNotExist(err) {
		t.Errorf("old payload %s still there: %v", old, err)
	}
	if _, err := os.Lstat(filepath.Join(dir, "gone")); !os.IsNotExist(err) {
		t.Errorf("entry of a removed key still there: %v", err)
	}
	for f, want := range map[string]string{"a": "3", "new": "4"} {
		if b, err := os.ReadFile(filepath.Join(dir, f)); err != nil || string(b) != want {
			t.Errorf("%s: %q, %v", f, b, err)
		}
	}
	if fi, err := os.Stat(filepath.Join(dir, "a")); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("a: mode %v, %v", fi.Mode().Perm(), err)
	}
}
