package wazero

import (
	"fmt"
	"testing"
	"time"

	"github.com/wasmpod/wasmpod/internal/proctest"
	"github.com/wasmpod/wasmpod/runtime"
)

// BenchmarkMemoryRSS measures the host memory (VmRSS) a guest's linear
// memory costs while it runs, as a ratio to the guest's memory, for the
// reserved in-place allocator and, in the same run, for the copying
// allocator (a []byte grown by copying, as before); and the time until the
// host's RSS is back at its baseline after the guest ends.
//
//	go test -run '^$' -bench MemoryRSS -benchtime 1x ./runtime/wazero/
//
// Metrics: rss/guest and rss/guest-copying (host RSS growth over guest
// memory), overhead-MiB (RSS growth minus guest memory), vs-copying (the
// first ratio over the second), release-ms and release-ms-copying (time
// from the guest's end until RSS is within 2 MiB + 1% of the baseline plus
// what the engine's memory pool keeps, at most poolKeep, capped at 5 s).
func BenchmarkMemoryRSS(b *testing.B) {
	for _, mib := range []int{16, 256, 1024} {
		b.Run(fmt.Sprintf("%dMiB", mib), func(b *testing.B) {
			eng := newTestEngine(b, Config{})
			mod := compileHostile(b, eng)
			var ratio, ratioCopy, overhead, rel, relCopy float64
			for i := 0; i < b.N; i++ {
				r, o, d := measureRSS(b, eng, mod, mib, false)
				rc, _, dc := measureRSS(b, eng, mod, mib, true)
				ratio, overhead, rel = ratio+r, overhead+o, rel+d
				ratioCopy, relCopy = ratioCopy+rc, relCopy+dc
			}
			n := float64(b.N)
			b.ReportMetric(ratio/n, "rss/guest")
			b.ReportMetric(ratioCopy/n, "rss/guest-copying")
			b.ReportMetric(ratio/ratioCopy, "vs-copying")
			b.ReportMetric(overhead/n, "overhead-MiB")
			b.ReportMetric(rel/n, "release-ms")
			b.ReportMetric(relCopy/n, "release-ms-copying")
		})
	}
}

// measureRSS runs one guest growing by mib MiB and returns host RSS growth
// over guest memory, the growth beyond the guest memory in MiB, and the
// milliseconds until RSS is back after the guest's end.
func measureRSS(b *testing.B, eng *Engine, mod runtime.CompiledModule, mib int, copying bool) (ratio, overheadMiB, releaseMs float64) {
	b.Helper()
	eng.copyingMemory = copying
	defer func() { eng.copyingMemory = false }()
	eng.memPool.drain() // the guest starts on fresh pages
	settle()
	base := proctest.RSS(b)
	in, _, _ := growGuest(b, eng, mod, mib, runtime.ContainerConfig{})
	guest := in.(*instance).alloc.bytes()
	grown := proctest.RSS(b) - base // what the host holds now, garbage included
	in.Terminate()
	waitDone(b, in)
	end := time.Now()
	kept := int64(eng.memPool.residentBytes()) // pages the pool keeps for the next instance
	for proctest.RSS(b)-base > kept+2<<20+base/100 && time.Since(end) < 5*time.Second {
		time.Sleep(time.Millisecond)
	}
	releaseMs = float64(time.Since(end).Microseconds()) / 1000
	settle() // leave the next measurement a clean heap
	return float64(grown) / float64(guest), float64(grown-guest) / (1 << 20), releaseMs
}
