//go:build unix

package wazero_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"testing"
	"time"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/wasmpod/wasmpod/internal/metrics"
	"github.com/wasmpod/wasmpod/internal/testwasm"
	"github.com/wasmpod/wasmpod/runtime"
	"github.com/wasmpod/wasmpod/runtime/enginetest"
)

// roundTrips scrapes wasmpod_interrupt_round_trip_interval_seconds from
// url (a /metrics in the text format) with the Prometheus text parser:
// the number of round trips and the sum of their intervals.
func roundTrips(t *testing.T, url string) (count uint64, sum float64) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	p := expfmt.NewTextParser(model.UTF8Validation)
	mfs, err := p.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatalf("the metrics do not parse: %v", err)
	}
	mf := mfs["wasmpod_interrupt_round_trip_interval_seconds"]
	if mf == nil || len(mf.GetMetric()) != 1 || mf.GetMetric()[0].GetHistogram() == nil {
		t.Fatalf("no histogram wasmpod_interrupt_round_trip_interval_seconds in the metrics: %v", mf)
	}
	h := mf.GetMetric()[0].GetHistogram()
	return h.GetSampleCount(), h.GetSampleSum()
}

// TestRoundTripMetric: a spinning guest with limits.cpu 500m makes round
// trips through the interrupt budget's slow path, which
// wasmpod_interrupt_round_trip_interval_seconds counts; their intervals add
// up to the CPU time charged to the guest (what ran before the first
// round trip of the window and after its last aside).
func TestRoundTripMetric(t *testing.T) {
	eng := newEngine(t)
	defer eng.Close(context.Background())
	reg := metrics.NewRegistry()
	reg.MustRegister(runtime.ModuleMetrics()...)
	srv := httptest.NewServer(metrics.Handler(reg))
	defer srv.Close()

	wasm := testwasm.Build(t, filepath.Join(testwasm.RepoRoot(t), "wasm-examples", "spin"))
	mod, err := eng.Compile(context.Background(), enginetest.Digest(wasm), wasm)
	if err != nil {
		t.Fatal(err)
	}
	out := enginetest.NewBuffer()
	inst, err := eng.Start(context.Background(), mod, runtime.ContainerConfig{Name: "t/spin", Args: []string{"spin"}, Stdout: out,
		CPU: runtime.NewCPUMeter("t/spin", 500)})
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		inst.Kill()
		<-inst.Done()
	}()
	out.WaitFor(t, "spinning", 2*time.Minute)

	n0, s0 := roundTrips(t, srv.URL)
	u0, ok := runtime.CPUUsage(inst)
	if !ok {
		t.Fatal("no CPU usage for a metered instance")
	}
	// Wait (polling; the machine may be loaded) for the guest to have used
	// 200 ms of CPU: at 500m that takes at least 400 ms.
	deadline := time.Now().Add(2 * time.Minute)
	var u1 time.Duration
	for {
		u1, _ = runtime.CPUUsage(inst)
		if u1-u0 >= 200*time.Millisecond {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the spinning guest used only %v of CPU in 2 minutes", u1-u0)
		}
		time.Sleep(20 * time.Millisecond)
	}
	n1, s1 := roundTrips(t, srv.URL)
	used := (u1 - u0).Seconds()
	t.Logf("%d round trips, %.3f s of intervals, %.3f s charged", n1-n0, s1-s0, used)
	if n1-n0 < 10 {
		t.Fatalf("%d round trips counted while the guest ran %.3f s of CPU under limits.cpu 500m (at least 10 expected)", n1-n0, used)
	}
	// Other tests' guests may add theirs: at least what this guest ran
	// (less the tails of the window: one interval, and a few ms of slack).
	if s1-s0 < used/2 {
		t.Fatalf("the round trips' intervals add up to %.3f s, the guest was charged %.3f s", s1-s0, used)
	}
}
