//go:build unix

package wazero_test

// BenchmarkFileIO: file I/O through a mounted volume (issue 10), against the
// same Go guest on raw wazero with its own WASI in the same run; it reports
// figures and never asserts timing.
//
//	go test -run '^$' -bench BenchmarkFileIO -benchtime 1s ./runtime/wazero/
//
// One sub-benchmark per operation kind (write4k, read4k, write1m, read1m,
// stat, readdir1000: see wasm-examples/testguests/fileio), and the writes
// again on a volume with a quota (write4k-quota, write1m-quota: an
// emptyDir with a sizeLimit, whose writes wasmpod accounts; raw wazero has
// no such thing, so the ratio is the price of the accounting). The
// benchmark starts the guest three times, for all of its sub-benchmarks:
// two instances on wasmpod's engine (runtime/wazero.Engine, the volume a
// runtime.Mount, with a runtime.VolumeQuota or without) and one on raw
// wazero (wasi_snapshot_preview1, the volume an FSConfig().WithDirMount),
// each on its own b.TempDir() of the same contents. A sub-benchmark splits
// its b.N operations into up to 32 rounds; in each round both instances do
// the round's share, one after the other (which goes first alternates), so
// drift in the machine's speed falls on both. The time is the guest's own
// (its monotonic clock around the operations), which leaves out instance
// start-up and each command's round trip over stdin/stdout.
//
//   - ns/op: wasmpod's time per operation
//   - raw-ns/op: raw wazero's
//   - ratio-to-raw-wazero: ns/op over raw-ns/op (the target is ≤ 1.2)
//   - median-ratio: the median over the rounds of wasmpod's time over raw
//     wazero's in the same round: on a busy machine, a stall of one runner
//     (another process taking the core) moves it less than the ratio of
//     the totals.
//   - cpu-ratio: the process's CPU time (getrusage) while wasmpod's guest
//     worked over that while raw wazero's did (each includes the command's
//     round trip, and the garbage collection its allocations cause): on a
//     machine whose cores other processes share, it stays near the ratio a
//     quiet machine gives when the time ratios do not.
//
// With -benchtime 2x every ratio is mostly noise (one or two operations, a
// few µs each): use 1s or more.
//
// The raw baseline is wazero configured as a sandbox must be, as the pod
// start benchmarks' (bench_test.go in the repository root): able to stop a
// busy guest with its own mechanism, WithCloseOnContextDone; the engine
// uses runtime/interrupt instead. Both run compiled code.

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	wz "github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/imports/wasi_snapshot_preview1"

	"github.com/wasmpod/wasmpod/internal/testwasm"
	"github.com/wasmpod/wasmpod/runtime"
	"github.com/wasmpod/wasmpod/runtime/enginetest"
	"github.com/wasmpod/wasmpod/runtime/wazero"
)

// fileioOps are the guest's operation kinds, in the order benchmarked.
var fileioOps = []string{"write4k", "read4k", "write1m", "read1m", "stat", "readdir1000"}

const (
	fileioDataSize = 1 << 20 // bytes of "data"
	fileioDirCount = 1000    // entries of "d1000"
	fileioRounds   = 32      // rounds per sub-benchmark run, at most
)

func BenchmarkFileIO(b *testing.B) {
	wasm := testwasm.Build(b, testwasm.GuestDir(b, "fileio"))
	ctx := context.Background()
	wp := startWasmpodFileIO(b, ctx, wasm, fileioVolume(b), false)
	wpQuota := startWasmpodFileIO(b, ctx, wasm, fileioVolume(b), true)
	raw := startRawFileIO(b, ctx, wasm, fileioVolume(b))
	type bench struct {
		name, op string
		wp       *fileioGuest
	}
	var benches []bench
	for _, op := range fileioOps {
		benches = append(benches, bench{op, op, wp})
	}
	for _, op := range []string{"write4k", "write1m"} {
		benches = append(benches, bench{op + "-quota", op, wpQuota})
	}
	for _, bb := range benches {
		op, wp := bb.op, bb.wp
		b.Run(bb.name, func(b *testing.B) {
			// Warm both up (first-use opens, page faults of new file
			// blocks) out of the measurement.
			b.StopTimer()
			wp.do(b, op, 2)
			raw.do(b, op, 2)
			b.StartTimer()
			var wpNs, rawNs, wpCPU, rawCPU time.Duration
			rounds := min(b.N, fileioRounds)
			ratios := make([]float64, 0, rounds)
			for r := range rounds {
				n := b.N / rounds
				if r < b.N%rounds {
					n++
				}
				var w, rw, wc, rc time.Duration
				if r%2 == 0 {
					w, wc = wp.do(b, op, n)
					rw, rc = raw.do(b, op, n)
				} else {
					rw, rc = raw.do(b, op, n)
					w, wc = wp.do(b, op, n)
				}
				wpNs += w
				rawNs += rw
				wpCPU += wc
				rawCPU += rc
				ratios = append(ratios, float64(w)/float64(max(rw, 1)))
			}
			slices.Sort(ratios)
			b.ReportMetric(float64(wpNs.Nanoseconds())/float64(b.N), "ns/op")
			b.ReportMetric(float64(rawNs.Nanoseconds())/float64(b.N), "raw-ns/op")
			b.ReportMetric(float64(wpNs)/float64(max(rawNs, 1)), "ratio-to-raw-wazero")
			b.ReportMetric(ratios[len(ratios)/2], "median-ratio")
			b.ReportMetric(float64(wpCPU)/float64(max(rawCPU, 1)), "cpu-ratio")
		})
	}
}

// TestFileIOGuest runs every operation of BenchmarkFileIO a few times on
// its three runners and checks what the writes left on the host, so that the
// benchmark's guest and set-up keep working when the benchmark is not run.
func TestFileIOGuest(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and compiles the fileio guest")
	}
	wasm := testwasm.Build(t, testwasm.GuestDir(t, "fileio"))
	ctx := context.Background()
	wpDir, quotaDir, rawDir := fileioVolume(t), fileioVolume(t), fileioVolume(t)
	guests := map[string]*fileioGuest{
		wpDir:    startWasmpodFileIO(t, ctx, wasm, wpDir, false),
		quotaDir: startWasmpodFileIO(t, ctx, wasm, quotaDir, true),
		rawDir:   startRawFileIO(t, ctx, wasm, rawDir),
	}
	pattern := make([]byte, fileioDataSize)
	for i := range pattern {
		pattern[i] = byte(i)
	}
	for dir, g := range guests {
		for _, op := range fileioOps {
			g.do(t, op, 3)
		}
		for name, want := range map[string][]byte{"w4k": pattern[:3*4<<10], "w1m": pattern} {
			got, err := os.ReadFile(filepath.Join(dir, name))
			if err != nil {
				t.Errorf("%s: %v", g.name, err)
			} else if !bytes.Equal(got, want) {
				t.Errorf("%s: %s holds %d bytes, not the %d the guest wrote", g.name, name, len(got), len(want))
			}
		}
	}
}

// fileioVolume makes a volume directory as the guest expects it: "data", a
// file of 1 MiB, and "d1000", a directory of 1,000 empty files.
func fileioVolume(tb testing.TB) string {
	tb.Helper()
	dir := tb.TempDir()
	data := make([]byte, fileioDataSize)
	for i := range data {
		data[i] = byte(i * 7)
	}
	if err := os.WriteFile(filepath.Join(dir, "data"), data, 0o644); err != nil {
		tb.Fatal(err)
	}
	d := filepath.Join(dir, "d1000")
	if err := os.Mkdir(d, 0o755); err != nil {
		tb.Fatal(err)
	}
	for i := range fileioDirCount {
		if err := os.WriteFile(filepath.Join(d, fmt.Sprintf("f%04d", i)), nil, 0o644); err != nil {
			tb.Fatal(err)
		}
	}
	return dir
}

// fileioGuest is a running fileio guest: commands go to its stdin, answers
// come from its stdout.
type fileioGuest struct {
	name   string
	stdin  *io.PipeWriter
	stdout *bufio.Reader
	stderr *bytes.Buffer // read once wait has returned
	wait   func() error  // waits for the guest's exit; nil error: exit 0
}

// do has the guest do op n times and returns the time they took, by the
// guest's clock, and the CPU time the process spent meanwhile (command and
// answer included).
func (g *fileioGuest) do(tb testing.TB, op string, n int) (wall, cpu time.Duration) {
	tb.Helper()
	cpu0 := fileioProcessCPU(tb)
	if _, err := fmt.Fprintf(g.stdin, "%s %d\n", op, n); err != nil {
		tb.Fatalf("%s: sending %s: %v (stderr %q)", g.name, op, err, g.stderr)
	}
	line, err := g.stdout.ReadString('\n')
	if err != nil {
		tb.Fatalf("%s: answer to %s %d: %v (stderr %q)", g.name, op, n, err, g.stderr)
	}
	f := strings.Fields(line)
	if len(f) != 3 || f[0] != "done" || f[1] != op {
		tb.Fatalf("%s: %s %d answered %q", g.name, op, n, line)
	}
	ns, err := strconv.ParseInt(f[2], 10, 64)
	if err != nil || ns < 0 {
		tb.Fatalf("%s: %s %d answered %q", g.name, op, n, line)
	}
	return time.Duration(ns), fileioProcessCPU(tb) - cpu0
}

// fileioProcessCPU is the process's CPU time so far (user and system).
func fileioProcessCPU(tb testing.TB) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		tb.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// stop closes the guest's stdin (TERM) and checks that it exits 0.
func (g *fileioGuest) stop(tb testing.TB) {
	tb.Helper()
	g.stdin.Close()
	if err := g.wait(); err != nil {
		tb.Errorf("%s: %v (stderr %q)", g.name, err, g.stderr)
	}
}

// newFileIOGuest returns the guest's end of the pipes, and the test's.
func newFileIOGuest(name string) (g *fileioGuest, stdin io.Reader, stdout *io.PipeWriter) {
	inR, inW := io.Pipe()
	outR, outW := io.Pipe()
	return &fileioGuest{name: name, stdin: inW, stdout: bufio.NewReader(outR), stderr: &bytes.Buffer{}}, inR, outW
}

// startWasmpodFileIO starts the guest on wasmpod's engine with dir mounted
// at /data, a volume with a quota (an emptyDir's sizeLimit) of 1 GiB if
// quota is set.
func startWasmpodFileIO(tb testing.TB, ctx context.Context, wasm []byte, dir string, quota bool) *fileioGuest {
	tb.Helper()
	mount := runtime.Mount{HostPath: dir, GuestPath: "/data"}
	name := "wasmpod"
	if quota {
		q, err := runtime.NewVolumeQuota("the benchmark's volume", 1<<30, dir)
		if err != nil {
			tb.Fatal(err)
		}
		mount.Quota = q
		name = "wasmpod (quota)"
	}
	eng, err := wazero.New(ctx, wazero.Config{CacheDir: testwasm.CompileCacheDir()})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { eng.Close(ctx) })
	mod, err := eng.Compile(ctx, enginetest.Digest(wasm), wasm)
	if err != nil {
		tb.Fatal(err)
	}
	g, stdin, stdout := newFileIOGuest(name)
	inst, err := eng.Start(ctx, mod, runtime.ContainerConfig{
		Name:   "bench/fileio",
		Args:   []string{"fileio", "/data"},
		Mounts: []runtime.Mount{mount},
		Stdin:  stdin,
		Stdout: stdout,
		Stderr: g.stderr,
	})
	if err != nil {
		tb.Fatal(err)
	}
	g.wait = func() error {
		<-inst.Done()
		stdout.Close()
		if st := inst.Status(); st.ExitCode != 0 {
			return fmt.Errorf("exit status %+v", st)
		}
		return nil
	}
	tb.Cleanup(func() { g.stop(tb) })
	return g
}

// startRawFileIO starts the guest on raw wazero with its own WASI, dir
// mounted at /data.
func startRawFileIO(tb testing.TB, ctx context.Context, wasm []byte, dir string) *fileioGuest {
	tb.Helper()
	cache, err := wz.NewCompilationCacheWithDir(testwasm.CompileCacheDir())
	if err != nil {
		tb.Fatal(err)
	}
	rt := wz.NewRuntimeWithConfig(ctx, wz.NewRuntimeConfigCompiler().
		WithCloseOnContextDone(true).WithCompilationCache(cache))
	tb.Cleanup(func() {
		rt.Close(ctx)
		cache.Close(ctx)
	})
	wasi_snapshot_preview1.MustInstantiate(ctx, rt)
	mod, err := rt.CompileModule(ctx, wasm)
	if err != nil {
		tb.Fatal(err)
	}
	g, stdin, stdout := newFileIOGuest("raw wazero")
	cfg := wz.NewModuleConfig().WithName("").
		WithArgs("fileio", "/data").
		WithStdin(stdin).WithStdout(stdout).WithStderr(g.stderr).
		WithSysWalltime().WithSysNanotime().WithSysNanosleep().
		WithFSConfig(wz.NewFSConfig().WithDirMount(dir, "/data"))
	done := make(chan error, 1)
	go func() {
		m, err := rt.InstantiateModule(ctx, mod, cfg)
		if m != nil {
			m.Close(ctx)
		}
		stdout.Close()
		done <- err
	}()
	g.wait = func() error { return <-done }
	tb.Cleanup(func() { g.stop(tb) })
	return g
}
