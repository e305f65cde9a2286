package images

import (
	"context"
	"fmt"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/wasmpod/wasmpod/internal/syncbuf"
)

// syncBuffer is safe for a writer and a poller.
type syncBuffer = syncbuf.Buffer

func fastTicks(t *testing.T, d time.Duration) {
	old := tickEvery
	tickEvery = d
	t.Cleanup(func() { tickEvery = old })
}

// TestTickerLog: in a log, Ticker prints one line a tick for the first 10
// ticks, then one every 10, and nothing after stop.
func TestTickerLog(t *testing.T) {
	fastTicks(t, 10*time.Millisecond)
	var out syncBuffer
	start := time.Now()
	stop := Ticker(&out, "Compiling go://./hello")
	time.Sleep(350 * time.Millisecond)
	stop()
	ticks := int(time.Since(start) / tickEvery)
	stop() // idempotent
	got := out.String()
	time.Sleep(50 * time.Millisecond)
	if out.String() != got {
		t.Fatal("Ticker wrote after stop")
	}
	lines := strings.Split(strings.TrimSuffix(got, "\n"), "\n")
	re := regexp.MustCompile(`^Compiling go://\./hello\.\.\. \d+s$`)
	for _, l := range lines {
		if !re.MatchString(l) {
			t.Fatalf("line %q does not match %s\n%s", l, re, got)
		}
	}
	// At most 9 lines in the first 10 ticks, then one in 10 (a loaded
	// machine may sleep longer than asked: count the ticks there were).
	if most := 9 + ticks/10 + 1; len(lines) < 2 || len(lines) > most {
		t.Fatalf("%d lines in %d ticks, want 2..%d:\n%s", len(lines), ticks, most, got)
	}
	if strings.Contains(got, "\r") {
		t.Fatalf("carriage return in a log:\n%q", got)
	}
	// A step shorter than a tick prints nothing; a nil writer is fine.
	var quick syncBuffer
	Ticker(&quick, "quick")()
	Ticker(nil, "nil")()
	if quick.String() != "" {
		t.Fatalf("a step shorter than a tick printed %q", quick.String())
	}
}

// TestBuildProgress: a first build prints the go command's package count
// against the number of packages the main package depends on, then the
// final Built line.
func TestBuildProgress(t *testing.T) {
	fastTicks(t, 5*time.Millisecond)
	proj := goProject(t)
	// A constant of its own, so that the go build cache cannot have it.
	writeFile(t, filepath.Join(proj, "lib", "lib.go"), fmt.Sprintf("package lib\n\nconst Greeting = \"hello %d\"\n", time.Now().UnixNano()))
	var out syncBuffer
	r := &Resolver{CacheDir: t.TempDir(), Progress: &out}
	if _, err := r.Resolve(context.Background(), "go://./hello", proj); err != nil {
		t.Fatal(err)
	}
	got := out.String()
	lines := strings.Split(strings.TrimSuffix(got, "\n"), "\n")
	if len(lines) < 3 || lines[0] != "Building go://./hello for wasip1/wasm..." || !strings.HasPrefix(lines[len(lines)-1], "Built go://./hello (") {
		t.Fatalf("progress:\n%s", got)
	}
	re := regexp.MustCompile(`^Building go://\./hello: (\d+)/(\d+) packages \((\d+)%, \d+s\)$`)
	maxBuilt, total := 0, 0
	for _, l := range lines[1 : len(lines)-1] {
		m := re.FindStringSubmatch(l)
		if m == nil {
			t.Fatalf("line %q does not match %s\n%s", l, re, got)
		}
		n, _ := strconv.Atoi(m[1])
		total, _ = strconv.Atoi(m[2])
		maxBuilt = max(maxBuilt, n)
		if n > total {
			t.Fatalf("%d of %d packages:\n%s", n, total, got)
		}
		if pct, _ := strconv.Atoi(m[3]); pct != n*100/total {
			t.Fatalf("%d of %d packages said as %d%%:\n%s", n, total, pct, got)
		}
	}
	// fmt alone brings tens of packages; the main package and lib were
	// compiled before the link, which outlasts a 5 ms tick.
	if total < 10 || maxBuilt < 1 {
		t.Fatalf("counts up to %d of %d packages:\n%s", maxBuilt, total, got)
	}
}

// TestProgressLines: the pull and build lines' documented format (bytes,
// percentage, elapsed whole seconds), a size not yet known, and a
// percentage that never passes 100.
func TestProgressLines(t *testing.T) {
	for _, c := range []struct{ got, want string }{
		{pullStatus("r.example/app:v1", 1_200_000, 3_400_000, 2500*time.Millisecond), "Pulling r.example/app:v1: 1.2 MB of 3.4 MB (35%, 2s)"},
		{pullStatus("r.example/app:v1", 3_400_000, 3_400_000, 4*time.Second), "Pulling r.example/app:v1: 3.4 MB of 3.4 MB (100%, 4s)"},
		{pullStatus("r.example/app:v1", 512, 0, time.Second), "Pulling r.example/app:v1: 512 B (1s)"},
		{pullStatus("r.example/app:v1", 5_000, 4_000, time.Second), "Pulling r.example/app:v1: 5.0 kB of 4.0 kB (100%, 1s)"},
		{buildStatus("go://./hello", 12, 40, 5900*time.Millisecond), "Building go://./hello: 12/40 packages (30%, 5s)"},
		{buildStatus("go://./hello", 0, 0, 0), "Building go://./hello: 0/0 packages (0%, 0s)"},
	} {
		if c.got != c.want {
			t.Errorf("got %q, want %q", c.got, c.want)
		}
	}
}
