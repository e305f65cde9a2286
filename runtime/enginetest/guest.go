package enginetest

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/wasmpod/wasmpod/runtime"
)

// foreignGuest runs a compiled guest of another toolchain (the C, Rust
// and AssemblyScript probes) with argv [argv0, args...].
type foreignGuest struct {
	s     *suite
	mod   runtime.CompiledModule
	lang  string // "C", "Rust", "AssemblyScript": in messages
	argv0 string // also the prefix of the instance's name
}

// start starts the probe with args merged into cfg; the test's cleanup
// kills it and waits for it to end.
func (g foreignGuest) start(t *testing.T, cfg runtime.ContainerConfig, args ...string) (runtime.Instance, *Buffer, *Buffer) {
	t.Helper()
	stdout, stderr := NewBuffer(), NewBuffer()
	cfg.Args = append([]string{g.argv0}, args...)
	cfg.Stdout, cfg.Stderr = stdout, stderr
	cfg.Name = g.argv0 + "/" + strings.Join(args, "-")
	inst, err := g.s.eng.Start(context.Background(), g.mod, cfg)
	if err != nil {
		t.Fatalf("Start %s probe %v: %v", g.lang, args, err)
	}
	t.Cleanup(func() {
		inst.Kill()
		select {
		case <-inst.Done():
		case <-time.After(killTimeout):
			t.Errorf("%s probe %v still running %v after Kill", g.lang, args, killTimeout)
		}
	})
	return inst, stdout, stderr
}

// run runs the probe to its end.
func (g foreignGuest) run(t *testing.T, cfg runtime.ContainerConfig, args ...string) result {
	t.Helper()
	inst, stdout, stderr := g.start(t, cfg, args...)
	st := wait(t, inst, waitTimeout)
	return result{stdout: stdout.String(), stderr: stderr.String(), status: st}
}
