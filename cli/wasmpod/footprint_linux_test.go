package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/wasmpod/wasmpod/internal/proctest"
	"github.com/wasmpod/wasmpod/internal/syncbuf"
)

// releaseTags are the Justfile's release_tags.
const releaseTags = "grpcnotrace"

// BenchmarkReleaseFootprint reports issue 14's two footprint figures for
// the release binary (built here as `just release` builds it: CGO off,
// -tags releaseTags, -trimpath, -ldflags "-s -w"): its size on disk (release_MB, target ≤ 40)
// and the resident set of `serve --nodes 1` once idle (idle_RSS_MB, target
// ≤ 40): /proc/PID/status VmRSS 5 s after serve says it is up, with no
// pods. Figures, not assertions: run it with -benchtime 1x.
//
//	go test -run '^$' -bench ReleaseFootprint -benchtime 1x ./cli/wasmpod/
func BenchmarkReleaseFootprint(b *testing.B) {
	dir := b.TempDir()
	bin := filepath.Join(dir, "wasmpod")
	build := exec.Command("go", "build", "-tags", releaseTags, "-trimpath", "-ldflags", "-s -w", "-o", bin, ".")
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		b.Fatalf("building the release binary: %v\n%s", err, out)
	}
	st, err := os.Stat(bin)
	if err != nil {
		b.Fatal(err)
	}
	var rss, anon float64
	for i := 0; i < b.N; i++ {
		r, a := idleServeRSS(b, bin, filepath.Join(dir, "data"+strconv.Itoa(i)))
		rss += r
		anon += a
	}
	b.ReportMetric(float64(st.Size())/1e6, "release_MB")
	b.ReportMetric(rss/float64(b.N)/1e6, "idle_RSS_MB")
	b.ReportMetric(anon/float64(b.N)/1e6, "idle_RssAnon_MB")
}

// idleServeRSS starts `serve --nodes 1` on a fresh data directory, waits
// until it is up and then 5 s more, and returns its VmRSS and RssAnon in
// bytes.
func idleServeRSS(b *testing.B, bin, data string) (rss, anon float64) {
	b.Helper()
	var out syncbuf.Buffer
	cmd := exec.Command(bin, "serve", "--nodes", "1", "--data-dir", data,
		"--listen", "127.0.0.1:0", "--cache-dir", cacheDir)
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	defer func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	}()
	deadline := time.Now().Add(60 * time.Second)
	for !strings.Contains(out.String(), "node(s), data in") {
		if time.Now().After(deadline) {
			b.Fatalf("serve did not come up within 60s:\n%s", out.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
	time.Sleep(5 * time.Second)
	u, err := proctest.Read(cmd.Process.Pid)
	if err != nil {
		b.Fatal(err)
	}
	return float64(u.RSS), float64(rssAnon(b, cmd.Process.Pid))
}

// rssAnon reads RssAnon (the heap, stacks and other private memory: VmRSS
// less the binary's and libraries' file pages) of /proc/PID/status.
func rssAnon(b *testing.B, pid int) int64 {
	b.Helper()
	st, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "status"))
	if err != nil {
		b.Fatal(err)
	}
	for _, line := range strings.Split(string(st), "\n") {
		if v, ok := strings.CutPrefix(line, "RssAnon:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			if err != nil {
				b.Fatalf("RssAnon %q: %v", v, err)
			}
			return kb << 10
		}
	}
	b.Fatalf("no RssAnon in /proc/%d/status", pid)
	return 0
}
