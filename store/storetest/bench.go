package storetest

import (
	"context"
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/wasmpod/wasmpod/store"
)

// BenchParallelism is the b.SetParallelism factor of the parallel Create
// benchmark (goroutines = factor × GOMAXPROCS), standing in for the many
// concurrent binds of the scheduler and status writes of node agents.
const BenchParallelism = 32

// BenchCreate runs Create benchmarks, serial and parallel, on stores made by
// open, reporting writes/s. If baseline is not nil, the same load is run on
// a baseline store for a fixed time in the same run and the ratio of the two
// throughputs is reported as "x-baseline".
func BenchCreate(b *testing.B, open func(b *testing.B) store.Store, baseline func() store.Store) {
	value := make([]byte, 1024) // about the size of a JSON-encoded pod
	b.Run("serial", func(b *testing.B) {
		base := 0.0
		if baseline != nil {
			base = measure(baseline, 1, value)
		}
		s := open(b)
		defer s.Close()
		ctx := context.Background()
		b.ResetTimer()
		for i := 0; b.Loop(); i++ {
			if _, err := s.Create(ctx, fmt.Sprintf("/pods/default/p-%d", i), value); err != nil {
				b.Fatal(err)
			}
		}
		report(b, base)
	})
	b.Run("parallel", func(b *testing.B) {
		base := 0.0
		if baseline != nil {
			base = measure(baseline, BenchParallelism*parallelProcs(), value)
		}
		s := open(b)
		defer s.Close()
		ctx := context.Background()
		var n atomic.Int64
		b.SetParallelism(BenchParallelism)
		b.ResetTimer()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if _, err := s.Create(ctx, fmt.Sprintf("/pods/default/p-%d", n.Add(1)), value); err != nil {
					b.Error(err)
					return
				}
			}
		})
		report(b, base)
	})
}

func report(b *testing.B, base float64) {
	rate := float64(b.N) / b.Elapsed().Seconds()
	b.ReportMetric(rate, "writes/s")
	if base > 0 {
		b.ReportMetric(rate/base, "x-baseline")
	}
}

func parallelProcs() int { return runtime.GOMAXPROCS(0) }

// measure returns the Create throughput of a fresh baseline store under the
// given number of concurrent writers, over a fixed 300 ms.
func measure(open func() store.Store, writers int, value []byte) float64 {
	s := open()
	defer s.Close()
	var n atomic.Int64
	deadline := time.Now().Add(300 * time.Millisecond)
	start := time.Now()
	var wg sync.WaitGroup
	for range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for time.Now().Before(deadline) {
				if _, err := s.Create(context.Background(), fmt.Sprintf("/pods/default/p-%d", n.Add(1)), value); err != nil {
					return
				}
			}
		}()
	}
	wg.Wait()
	return float64(n.Load()) / time.Since(start).Seconds()
}
