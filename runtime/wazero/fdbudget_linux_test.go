package wazero

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/wasmpod/wasmpod/internal/proctest"
	"github.com/wasmpod/wasmpod/runtime"
	"github.com/wasmpod/wasmpod/runtime/enginetest"
	"github.com/wasmpod/wasmpod/runtime/wasi"
)

// TestHostFDBudget: guests hoarding fds in many containers cannot take the
// process's file descriptors: under a small RLIMIT_NOFILE, and a budget
// derived from it, they get EMFILE while an HTTP server of the same process
// still accepts connections (without the budget, 8 hoarders at the
// per-container cap of 1024 fds used up the limit and the server could not
// accept).
func TestHostFDBudget(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") }))
	defer srv.Close()
	low := proctest.FDLimitAbove(t, 700)
	budget := runtime.NewBudget("test host fds", wasi.FDBudgetSize(low))
	eng := newTestEngine(t, Config{HostFDs: budget})
	mod := compileHostile(t, eng)

	defer proctest.LowerFDLimit(t, low)()

	const guests = 8
	var insts []runtime.Instance
	var outs []*enginetest.Buffer
	for i := 0; i < guests; i++ {
		out, errOut := enginetest.NewBuffer(), enginetest.NewBuffer()
		in, err := eng.Start(context.Background(), mod, runtime.ContainerConfig{
			Name:   fmt.Sprintf("hoarder-%d", i),
			Args:   []string{"hostile", "fdhoard", "/data", "0"},
			Mounts: []runtime.Mount{{HostPath: t.TempDir(), GuestPath: "/data"}},
			Stdout: out, Stderr: errOut,
		})
		if err != nil {
			// The budget may be spent by the earlier hoarders: a refused
			// start is the container's failure, not the host's.
			if !strings.Contains(err.Error(), "file descriptor budget") {
				t.Fatalf("start hoarder %d: %v", i, err)
			}
			continue
		}
		insts, outs = append(insts, in), append(outs, out)
		waitLine(t, in, out, errOut, "fdhoard: errno") // its last line: n=0 opens until an error
	}
	emfile := 0
	for _, out := range outs {
		if strings.Contains(out.String(), "fdhoard: errno EMFILE") {
			emfile++
		}
	}
	if emfile == 0 {
		t.Errorf("no hoarder got EMFILE; outputs %q", outs[0].String())
	}
	if u := budget.Used(); u > budget.Limit() {
		t.Errorf("budget used %d over its limit %d", u, budget.Limit())
	}
	// The server still accepts: 100 connections held at once (their
	// bodies unread, so that each keeps its connection: one read to EOF
	// went back to the pool and the next request reused it), then
	// requests.
	client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}, Timeout: 5 * time.Second}
	fds := proctest.OpenFDs(t)
	var held []io.Closer
	for i := 0; i < 100; i++ {
		resp, err := client.Get(srv.URL)
		if err != nil {
			t.Fatalf("connection %d to the HTTP server while guests hoard fds: %v (%d fds open, limit %d)", i, err, proctest.OpenFDs(t), low)
		}
		held = append(held, resp.Body)
	}
	if n := proctest.OpenFDs(t) - fds; n < 100 {
		t.Fatalf("100 connections held add %d fds, want at least 100", n)
	}
	for i := 0; i < 20; i++ {
		resp, err := client.Get(srv.URL)
		if err != nil {
			t.Fatalf("request %d while guests hoard fds: %v", i, err)
		}
		resp.Body.Close()
	}
	for _, c := range held {
		c.Close()
	}
	for _, in := range insts {
		in.Terminate()
		waitDone(t, in)
	}
	if u := budget.Used(); u != 0 {
		t.Errorf("budget still has %d fds in use after the guests ended", u)
	}
}
