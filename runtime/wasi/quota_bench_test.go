package wasi

import (
	"os"
	"testing"
	"time"
)

// BenchmarkQuotaWrite measures appending 4 KiB writes to a file in a mount
// with a Quota against the same writes in a mount without one, in the same
// run, and reports the ratio (quota-time/plain-time).
func BenchmarkQuotaWrite(b *testing.B) {
	open := func(b *testing.B, q *Quota) File {
		root, err := os.OpenRoot(b.TempDir())
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { root.Close() })
		d := &dirFile{root: root, q: q}
		f, e := d.open("f", 0, oflagCreat|oflagTrunc, rightFdWrite, fdflagAppend)
		if e != 0 {
			b.Fatal(e)
		}
		b.Cleanup(func() { f.Close() })
		return f
	}
	q, err := NewQuota("bench", 1<<40, b.TempDir())
	if err != nil {
		b.Fatal(err)
	}
	plain, quota := open(b, nil), open(b, q)
	buf := make([]byte, 4096)
	run := func(f File) time.Duration {
		t0 := time.Now()
		for i := range 256 {
			if _, err := f.Write(buf); err != nil {
				b.Fatal(err, i)
			}
		}
		d := time.Since(t0)
		if err := f.(*regFile).Truncate(0); err != nil {
			b.Fatal(err)
		}
		return d
	}
	var tp, tq time.Duration
	b.ResetTimer()
	for range b.N {
		tp += run(plain)
		tq += run(quota)
	}
	b.ReportMetric(float64(tq)/float64(tp), "quota/plain")
	b.ReportMetric(float64(tq.Nanoseconds())/float64(b.N*256), "ns/quota-write")
	b.ReportMetric(float64(tp.Nanoseconds())/float64(b.N*256), "ns/plain-write")
}
