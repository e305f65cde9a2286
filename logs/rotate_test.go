package logs

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wasmpod/wasmpod/internal/proctest"
	clocktesting "k8s.io/utils/clock/testing"
)

// writeRecords writes n stdout lines "line <i>" (i from first) through a
// File over a RotatingFile.
func writeRecords(t *testing.T, w *File, first, n int) {
	t.Helper()
	s := w.Stream(Stdout)
	for i := first; i < first+n; i++ {
		if _, err := s.Write([]byte(fmt.Sprintf("line %d\n", i))); err != nil {
			t.Fatal(err)
		}
	}
}

// readAllRecords reads every record of the log at path with a Reader.
func readAllRecords(t *testing.T, path string, tail int64) []string {
	t.Helper()
	r, err := OpenReader(path, tail, false, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	var out []string
	for {
		rec, err := r.Next()
		if errors.Is(err, io.EOF) {
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
		l, err := Parse(string(rec))
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, l.Text)
	}
}

func lineNumbers(t *testing.T, texts []string) []int {
	t.Helper()
	var out []int
	for _, s := range texts {
		n, err := strconv.Atoi(strings.TrimPrefix(s, "line "))
		if err != nil {
			t.Fatalf("record %q", s)
		}
		out = append(out, n)
	}
	return out
}

// consecutive checks that nums is first, first+1, ..., last.
func consecutive(t *testing.T, nums []int, first, last int) {
	t.Helper()
	if len(nums) != last-first+1 {
		t.Fatalf("got %d records (%v...), want %d..%d", len(nums), nums[:min(len(nums), 5)], first, last)
	}
	for i, n := range nums {
		if n != first+i {
			t.Fatalf("record %d is line %d, want %d", i, n, first+i)
		}
	}
}

// openRotating opens a RotatingFile of policy p at name in a temporary
// directory, with a fake clock that never moves.
func openRotating(t *testing.T, name string, p RotatePolicy) (string, *RotatingFile, *clocktesting.FakePassiveClock) {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	clk := clocktesting.NewFakePassiveClock(time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC))
	rf, err := OpenRotating(path, p, clk)
	if err != nil {
		t.Fatal(err)
	}
	return path, rf, clk
}

func TestRotationBoundsTheFiles(t *testing.T) {
	// The clock never moves: every rotation falls in the same second, so
	// the names need their sequence numbers to stay in order.
	const maxSize, maxFiles = 1000, 4
	path, rf, clk := openRotating(t, "0.log", RotatePolicy{MaxSize: maxSize, MaxFiles: maxFiles})
	dir := filepath.Dir(path)
	const n = 5000
	writeRecords(t, NewFile(rf, clk, nil), 0, n)
	if err := rf.Close(); err != nil {
		t.Fatal(err)
	}
	files, err := Files(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(files) != maxFiles {
		t.Fatalf("files %v, want %d", files, maxFiles)
	}
	if !strings.HasPrefix(files[0], path+".20260102-030405.") {
		t.Fatalf("rotated name %s", files[0])
	}
	var total int64
	for _, f := range files {
		st, err := os.Stat(f)
		if err != nil {
			t.Fatal(err)
		}
		if st.Size() > maxSize {
			t.Errorf("%s is %d bytes, over %d", f, st.Size(), maxSize)
		}
		total += st.Size()
	}
	if total > maxSize*maxFiles {
		t.Errorf("%d bytes in all, over %d", total, maxSize*maxFiles)
	}
	// What is left is the newest records, in order, with no gap.
	nums := lineNumbers(t, readAllRecords(t, path, -1))
	consecutive(t, nums, n-len(nums), n-1)
	if len(nums) < (maxFiles-1)*maxSize/50 {
		t.Errorf("only %d records kept", len(nums))
	}
	// Tail across files.
	consecutive(t, lineNumbers(t, readAllRecords(t, path, 50)), n-50, n-1)
	consecutive(t, lineNumbers(t, readAllRecords(t, path, int64(len(nums)-1))), n-len(nums)+1, n-1)
	if got := readAllRecords(t, path, 0); len(got) != 0 {
		t.Errorf("tail 0: %v", got)
	}
	// Remove takes the rotated files too.
	if err := Remove(path); err != nil {
		t.Fatal(err)
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 0 {
		t.Errorf("left after Remove: %v", ents)
	}
}

func TestRotatedNamesAsTheKubelet(t *testing.T) {
	path, rf, clk := openRotating(t, "2.log", RotatePolicy{MaxSize: 10, MaxFiles: 10})
	defer rf.Close()
	for i := 0; i < 4; i++ {
		if _, err := rf.Write([]byte("0123456789\n")); err != nil {
			t.Fatal(err)
		}
		clk.SetTime(clk.Now().Add(time.Second / 2))
	}
	files, err := Files(path)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{path + ".20260102-030405", path + ".20260102-030406", path + ".20260102-030406.000001", path}
	if strings.Join(files, " ") != strings.Join(want, " ") {
		t.Fatalf("files\n%v\nwant\n%v", files, want)
	}
	// Files that are not rotated logs of this one are left alone.
	for _, other := range []string{path + ".tmp", path + ".20260102-030405.gz", filepath.Join(filepath.Dir(path), "12.log.20260102-030405")} {
		if err := os.WriteFile(other, nil, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	if again, _ := Files(path); strings.Join(again, " ") != strings.Join(want, " ") {
		t.Fatalf("files with strangers %v", again)
	}
}

func TestRotatePolicyValidate(t *testing.T) {
	for _, p := range []RotatePolicy{{MaxSize: -1}, {MaxFiles: 1}, {MaxFiles: -3}} {
		if err := p.Validate(); err == nil {
			t.Errorf("%+v accepted", p)
		}
	}
	if err := (RotatePolicy{}).Validate(); err != nil {
		t.Error(err)
	}
	if p := (RotatePolicy{}).WithDefaults(); p.MaxSize != 10<<20 || p.MaxFiles != 5 {
		t.Errorf("defaults %+v", p)
	}
}

func TestTailReadsOnlyTheEnd(t *testing.T) {
	path := filepath.Join(t.TempDir(), "0.log")
	// 64 MiB of records, written directly.
	rec := []byte("2026-01-02T03:04:05.000000000Z stdout F " + strings.Repeat("x", 983) + "\n")
	block := bytes.Repeat(rec, 1024)
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 64; i++ {
		if _, err := f.Write(block); err != nil {
			t.Fatal(err)
		}
	}
	f.Write([]byte("2026-01-02T03:04:06Z stdout F last\n2026-01-02T03:04:07Z stdout P unfinis"))
	f.Close()

	before := proctest.ReadBytes(t)
	r, err := OpenReader(path, 5, false, nil)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for {
		b, err := r.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, string(b[len(b)-4:]))
	}
	r.Close()
	read := proctest.ReadBytes(t) - before
	if len(got) != 5 || got[4] != "last" || got[3] != "xxxx" {
		t.Fatalf("tail 5: %q", got)
	}
	// A few read buffers, not the file (other tests of this package do
	// not run in parallel with this one).
	if read > 1<<20 {
		t.Errorf("tail 5 of a 64 MiB log read %d bytes", read)
	}
}

func TestFollowAcrossRotation(t *testing.T) {
	// Enough files that a follower that keeps up loses nothing.
	path, rf, clk := openRotating(t, "0.log", RotatePolicy{MaxSize: 2000, MaxFiles: 1000})
	lf := NewFile(rf, clk, nil)
	writeRecords(t, lf, 0, 10)
	r, err := OpenReader(path, -1, true, rf.RotationLock())
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	const n = 20000
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		s := lf.Stream(Stdout)
		for i := 10; i < n; i++ {
			s.Write([]byte(fmt.Sprintf("line %d\n", i)))
		}
	}()
	var nums []int
	deadline := time.Now().Add(time.Minute)
	for len(nums) < n && time.Now().Before(deadline) {
		rec, err := r.Next()
		if errors.Is(err, io.EOF) {
			time.Sleep(time.Millisecond)
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		l, err := Parse(string(rec))
		if err != nil {
			t.Fatalf("record %q: %v", rec, err)
		}
		nums = append(nums, lineNumbers(t, []string{l.Text})...)
	}
	wg.Wait()
	rf.Close()
	consecutive(t, nums, 0, n-1)
	if files, _ := Files(path); len(files) < 50 {
		t.Errorf("only %d files: the test did not rotate much", len(files))
	}
}

func TestSlowFollowerResumesAtTheOldestFileLeft(t *testing.T) {
	path, rf, clk := openRotating(t, "0.log", RotatePolicy{MaxSize: 500, MaxFiles: 3})
	defer rf.Close()
	lf := NewFile(rf, clk, nil)
	writeRecords(t, lf, 0, 5)
	r, err := OpenReader(path, -1, true, rf.RotationLock())
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	var nums []int
	next := func() bool {
		rec, err := r.Next()
		if errors.Is(err, io.EOF) {
			return false
		}
		if err != nil {
			t.Fatal(err)
		}
		l, _ := Parse(string(rec))
		nums = append(nums, lineNumbers(t, []string{l.Text})...)
		return true
	}
	for next() {
	}
	consecutive(t, nums, 0, 4)
	// Many rotations while the follower is away: the files it had not
	// read yet are gone, the ones left are read in order.
	writeRecords(t, lf, 5, 1000)
	for next() {
	}
	left := lineNumbers(t, readAllRecords(t, path, -1))
	tailNums := nums[5:]
	// Everything read after the gap is increasing, ends with the last
	// line, and includes every line still on disk.
	for i := 1; i < len(tailNums); i++ {
		if tailNums[i] <= tailNums[i-1] {
			t.Fatalf("out of order after rotation: %v", tailNums)
		}
	}
	if tailNums[len(tailNums)-1] != 1004 || len(tailNums) < len(left) {
		t.Fatalf("after rotation read %v; on disk %v", tailNums, left)
	}
}

// TestTailUnderFastRotation: with the writer's rotation lock, a reader
// opening the log while it rotates at every record still finds the last
// records (without it, its listing raced the rotations and could find
// only a new, empty current file).
func TestTailUnderFastRotation(t *testing.T) {
	// Every record rotates the file; three files are kept.
	path, rf, clk := openRotating(t, "0.log", RotatePolicy{MaxSize: 1, MaxFiles: 3})
	defer rf.Close()
	lf := NewFile(rf, clk, nil)
	writeRecords(t, lf, 0, 3)
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		s := lf.Stream(Stdout)
		for i := 3; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			s.Write([]byte(fmt.Sprintf("line %d\n", i)))
		}
	}()
	defer func() { close(stop); wg.Wait() }()
	for i := 0; i < 500; i++ {
		r, err := OpenReader(path, 2, false, rf.RotationLock())
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for len(got) < 2 {
			rec, err := r.Next()
			if err != nil {
				break
			}
			got = append(got, string(rec))
		}
		r.Close()
		if len(got) != 2 {
			t.Fatalf("open %d: tail 2 found %q", i, got)
		}
		a, b := lineNumbers(t, []string{got[0][strings.LastIndex(got[0], " F ")+3:]}), lineNumbers(t, []string{got[1][strings.LastIndex(got[1], " F ")+3:]})
		if b[0] != a[0]+1 {
			t.Fatalf("open %d: tail 2 found %q", i, got)
		}
	}
}
