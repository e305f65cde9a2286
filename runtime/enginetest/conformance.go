package enginetest

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/wasmpod/wasmpod/internal/testwasm"
	"github.com/wasmpod/wasmpod/runtime"
	"github.com/wasmpod/wasmpod/runtime/wasi/conformance"
)

// testConformance runs every row of the WASI conformance table
// (runtime/wasi/conformance) with the wasicall guest: one instance per
// row, the guest compiled once.
func (s *suite) testConformance(t *testing.T) {
	wasm := testwasm.Build(t, testwasm.GuestDir(t, "wasicall"))
	mod, err := s.eng.Compile(context.Background(), Digest(wasm), wasm)
	if err != nil {
		t.Fatalf("Compile wasicall: %v", err)
	}
	seen := map[string]bool{}
	for _, row := range conformance.Rows {
		if seen[row.Name] {
			t.Errorf("two rows named %q", row.Name)
		}
		seen[row.Name] = true
		t.Run(row.Name, func(t *testing.T) {
			err := s.conformanceRow(t, mod, row)
			switch {
			case row.Pending != "" && err != nil:
				t.Skipf("pending (%s): %v", row.Pending, err)
			case row.Pending != "":
				t.Skipf("pending (%s), but the row passes now: remove its Pending mark", row.Pending)
			case err != nil:
				t.Fatalf("%v\n(%s)", err, row.Comment)
			}
		})
	}
}

// conformanceRow runs one row and reports how it differs from the
// expectation (nil when it conforms).
func (s *suite) conformanceRow(t *testing.T, mod runtime.CompiledModule, row conformance.Row) error {
	script, wants := row.Steps()
	cfg := runtime.ContainerConfig{
		Name:  "conformance/" + row.Name,
		Args:  append([]string{"wasicall"}, row.Args...),
		Env:   row.Env,
		Stdin: strings.NewReader(script),
	}
	var first string
	for i, m := range row.RowMounts() {
		dir := filepath.Join(t.TempDir(), "m")
		if err := conformance.MakeTree(dir, append([]string{"./"}, m.Tree...)); err != nil {
			t.Fatalf("host tree: %v", err)
		}
		if i == 0 {
			first = dir
		}
		cfg.Mounts = append(cfg.Mounts, runtime.Mount{HostPath: dir, GuestPath: m.Guest, ReadOnly: m.ReadOnly})
	}
	stdout, stderr := NewBuffer(), NewBuffer()
	cfg.Stdout, cfg.Stderr = stdout, stderr
	inst, err := s.eng.Start(context.Background(), mod, cfg)
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	st := wait(t, inst, waitTimeout)
	got := strings.Split(strings.TrimSuffix(stdout.String(), "\n"), "\n")
	if stdout.String() == "" {
		got = nil
	}
	calls := strings.Split(strings.TrimSuffix(script, "\n"), "\n")
	var diffs []string
	for i, want := range wants {
		if want == conformance.Exit {
			// The guest ends here: nothing more is printed.
			if len(got) > i {
				diffs = append(diffs, fmt.Sprintf("%s\n    => output after the exit %q", calls[i], got[i:]))
			}
			got, wants = got[:min(i, len(got))], wants[:i]
			break
		}
		if i >= len(got) {
			diffs = append(diffs, fmt.Sprintf("%s\n    => nothing, want %s", calls[i], want))
			continue
		}
		if !conformance.Match(want, got[i]) {
			diffs = append(diffs, fmt.Sprintf("%s\n    => %s\n  want %s", calls[i], got[i], want))
		}
	}
	if len(got) > len(wants) {
		diffs = append(diffs, fmt.Sprintf("extra output %q", got[len(wants):]))
	}
	if st.ExitCode != row.Exit || st.Killed || st.OOMKilled {
		diffs = append(diffs, fmt.Sprintf("exit status %+v, want code %d; stderr %q", st, row.Exit, stderr.String()))
	}
	if first != "" && len(row.Host) > 0 {
		if err := conformance.CheckTree(first, row.Host); err != nil {
			diffs = append(diffs, "host tree: "+err.Error())
		}
	}
	if len(diffs) > 0 {
		return fmt.Errorf("%s", strings.Join(diffs, "\n"))
	}
	return nil
}
