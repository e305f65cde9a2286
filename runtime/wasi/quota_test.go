package wasi

import (
	"os"
	"testing"
	"time"
)

// TestQuotaLinkedSymlink: a symlink with several hard links (path_link of a
// symlink links the symlink itself) is one inode: it is charged once and
// released with its last name, so unlinking its names cannot drive the
// quota below what the volume holds.
func TestQuotaLinkedSymlink(t *testing.T) {
	dir := t.TempDir()
	root, err := os.OpenRoot(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer root.Close()
	q, err := NewQuota("test", 1<<20, dir)
	if err != nil {
		t.Fatal(err)
	}
	d := &dirFile{root: root, q: q}
	if e := d.symlink("target", "s"); e != 0 {
		t.Fatalf("symlink: %v", e)
	}
	for _, name := range []string{"s1", "s2", "s3"} {
		if e := d.link("s", d, name); e != 0 {
			t.Fatalf("link %s: %v", name, e)
		}
	}
	if fi, err := os.Lstat(dir + "/s1"); err != nil || fi.Mode()&os.ModeSymlink == 0 {
		t.Fatalf("s1 is not a symlink: %v", err)
	}
	if got := q.Used(); got != InodeCost {
		t.Fatalf("a symlink with 4 names counts %d, want %d", got, InodeCost)
	}
	for _, name := range []string{"s", "s1", "s2"} {
		if e := d.unlink(name); e != 0 {
			t.Fatalf("unlink %s: %v", name, e)
		}
		if got := q.Used(); got != InodeCost {
			t.Errorf("after unlinking %s (a name remains): %d used, want %d", name, got, InodeCost)
		}
	}
	// A rename over a name of a linked symlink drops that name only.
	if e := d.link("s3", d, "s4"); e != 0 {
		t.Fatal(e)
	}
	if e := d.symlink("other", "o"); e != 0 {
		t.Fatal(e)
	}
	if e := d.rename("o", d, "s4"); e != 0 {
		t.Fatal(e)
	}
	if got := q.Used(); got != 2*InodeCost {
		t.Errorf("after renaming over one of two names: %d used, want %d", got, 2*InodeCost)
	}
	for _, name := range []string{"s3", "s4"} {
		if e := d.unlink(name); e != 0 {
			t.Fatal(e)
		}
	}
	if got, err := MeasureDir(dir); err != nil || got != 0 || q.Used() != 0 {
		t.Errorf("empty volume: quota %d, measured %d (%v)", q.Used(), got, err)
	}
}

// TestQuotaOpenWhileWriting: opening a file while another fd of the volume
// grows it does not set the quota's size of the file to a stale one (an
// open without write rights took its fstat before the quota's lock, then
// recorded it), which let the count drift from what the volume holds.
func TestQuotaOpenWhileWriting(t *testing.T) {
	dir := t.TempDir()
	root, err := os.OpenRoot(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer root.Close()
	q, err := NewQuota("test", 1<<30, dir)
	if err != nil {
		t.Fatal(err)
	}
	d := &dirFile{root: root, q: q}
	w, e := d.open("f", 0, oflagCreat, rightFdWrite, fdflagAppend)
	if e != 0 {
		t.Fatal(e)
	}
	wf := w.(*regFile)
	// A write through w in progress: it holds the quota's lock while the
	// file grows, and the read-only open comes meanwhile.
	q.mu.Lock()
	opened := make(chan File, 1)
	go func() {
		r, e := d.open("f", 0, 0, rightFdRead, 0)
		if e != 0 {
			t.Error(e)
		}
		opened <- r
	}()
	time.Sleep(100 * time.Millisecond)
	buf := make([]byte, 64<<10)
	if !q.take(int64(len(buf))) {
		t.Fatal("quota refused the write")
	}
	if _, err := wf.f.Write(buf); err != nil {
		t.Fatal(err)
	}
	q.setSize(wf.id, int64(len(buf)))
	q.mu.Unlock()
	r := <-opened
	if r == nil {
		t.FailNow()
	}
	// Truncating gives back what the quota thinks the file holds.
	if err := wf.Truncate(0); err != nil {
		t.Fatal(err)
	}
	r.Close()
	w.Close()
	if got, err := MeasureDir(dir); err != nil || q.Used() != got {
		t.Errorf("quota counts %d, the volume holds %d (%v)", q.Used(), got, err)
	}
}

// TestQuotaFailedWritePastEnd: a write at an offset past the end that fails
// with nothing written (here EBADF; on a host disk, ENOSPC or EIO) leaves
// the file's size, and the quota's count, as they were.
func TestQuotaFailedWritePastEnd(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(dir+"/f", []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	q, err := NewQuota("test", 1<<20, dir)
	if err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(dir + "/f") // read-only: every write fails
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		t.Fatal(err)
	}
	st := statOf(fi)
	q.mu.Lock()
	q.opened(st)
	q.mu.Unlock()
	id := fileID{st.Dev, st.Ino}
	if n, err := q.write(f, id, false, []byte("y"), 64<<10, -1); err == nil || n != 0 {
		t.Fatalf("write to a read-only file: %d, %v", n, err)
	}
	if _, err := f.Seek(32<<10, 0); err != nil {
		t.Fatal(err)
	}
	if n, err := q.write(f, id, false, []byte("y"), -1, -1); err == nil || n != 0 {
		t.Fatalf("write to a read-only file: %d, %v", n, err)
	}
	q.mu.Lock()
	size := q.sizes[id]
	q.mu.Unlock()
	if got, err := MeasureDir(dir); err != nil || q.Used() != got || size != 1 {
		t.Errorf("after failed writes: quota counts %d and a size of %d, the volume holds %d (%v)", q.Used(), size, got, err)
	}
}

// TestQuotaWriteAtOffset: a write at the file's offset is charged for
// what it adds past the end wherever reads, writes, seeks and appends left
// the offset (the regFile keeps it, so that such a write costs no lseek).
func TestQuotaWriteAtOffset(t *testing.T) {
	dir := t.TempDir()
	root, err := os.OpenRoot(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer root.Close()
	q, err := NewQuota("test", 1<<30, dir)
	if err != nil {
		t.Fatal(err)
	}
	d := &dirFile{root: root, q: q}
	f, e := d.open("f", 0, oflagCreat, rightFdRead|rightFdWrite|rightFdSeek, 0)
	if e != 0 {
		t.Fatal(e)
	}
	rf := f.(*regFile)
	buf := make([]byte, 4096)
	check := func(step string) {
		t.Helper()
		if got, err := MeasureDir(dir); err != nil || q.Used() != got {
			t.Fatalf("after %s: quota counts %d, the volume holds %d (%v)", step, q.Used(), got, err)
		}
	}
	must := func(_ any, err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(rf.Write(buf)) // offset 4096, size 4096
	check("a write")
	must(rf.Seek(0, 0))
	must(rf.Read(buf))  // the read moves the offset to 4096
	must(rf.Write(buf)) // grows the file to 8192
	check("seek, read and write")
	must(rf.Seek(-100, 2))
	must(rf.Write(buf)) // from 8092: grows it to 12188
	check("a seek from the end and a write")
	if e := rf.setAppend(true); e != nil {
		t.Fatal(e)
	}
	must(rf.Pwrite(buf[:10], 0)) // in append mode: appends, keeps the offset
	if e := rf.setAppend(false); e != nil {
		t.Fatal(e)
	}
	must(rf.Write(buf)) // at 12188: grows it to 16284
	check("an append and a write")
	f.Close()
}
