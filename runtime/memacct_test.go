package runtime

import (
	"strings"
	"testing"
)

func TestMemoryAccount(t *testing.T) {
	node := NewBudget("node-1 memory", 10*PageSize)
	if _, err := NewMemoryAccount(ContainerConfig{MemoryLimitBytes: PageSize, Memory: node}, 2*PageSize); err == nil ||
		!strings.Contains(err.Error(), "below the module's initial memory") {
		t.Fatalf("limit below the initial memory: %v", err)
	}
	if _, err := NewMemoryAccount(ContainerConfig{MemoryLimitBytes: -1}, 0); err == nil {
		t.Fatal("a negative limit was accepted")
	}
	// The limit is rounded down to whole pages.
	a, err := NewMemoryAccount(ContainerConfig{MemoryLimitBytes: 4*PageSize + 100, Memory: node}, 2*PageSize)
	if err != nil {
		t.Fatal(err)
	}
	if a.Limit() != 4*PageSize || node.Used() != 2*PageSize {
		t.Fatalf("limit %d, node used %d after the prepay", a.Limit(), node.Used())
	}
	// The initial memory comes out of the prepaid bytes, growth out of the node.
	if !a.Charge(2*PageSize) || node.Used() != 2*PageSize {
		t.Fatalf("charging the initial memory: node used %d, want the prepaid %d", node.Used(), 2*PageSize)
	}
	if !a.Charge(2*PageSize) || node.Used() != 4*PageSize {
		t.Fatalf("growth: node used %d", node.Used())
	}
	if a.Charge(PageSize) || node.Used() != 4*PageSize {
		t.Fatal("growth past the container's limit was charged")
	}
	if why := a.HitLimit(); why != "memory limit of 262144 bytes reached" {
		t.Fatalf("HitLimit = %q", why)
	}
	if st := a.Status(ExitStatus{ExitCode: 2}); !st.OOMKilled || st.ExitCode != 137 ||
		st.Message != "memory limit of 262144 bytes reached (guest exit 2)" {
		t.Fatalf("Status = %+v", st)
	}
	if st := a.Status(ExitStatus{}); st.OOMKilled {
		t.Fatal("a zero exit was reported OOMKilled")
	}
	a.Free(4 * PageSize)
	a.Refund()
	if node.Used() != 0 {
		t.Fatalf("node used %d after Free and Refund", node.Used())
	}

	// The node's budget refuses: its name is the reason.
	b, err := NewMemoryAccount(ContainerConfig{Memory: node}, 0)
	if err != nil {
		t.Fatal(err)
	}
	if b.Charge(11 * PageSize) {
		t.Fatal("growth past the node's budget was charged")
	}
	if why := b.HitLimit(); !strings.HasPrefix(why, "node-1 memory exhausted") {
		t.Fatalf("HitLimit = %q", why)
	}
	if _, err := NewMemoryAccount(ContainerConfig{Memory: node}, 11*PageSize); err == nil ||
		!strings.Contains(err.Error(), "exceeds what is left of node-1 memory") {
		t.Fatalf("a prepay past the budget: %v", err)
	}
}
