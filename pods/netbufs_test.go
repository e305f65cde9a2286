package pods

import (
	"sync"
	"testing"

	"github.com/wasmpod/wasmpod/network"
	wruntime "github.com/wasmpod/wasmpod/runtime"
)

// recordingNet is a real network that remembers what pods joined it with.
type recordingNet struct {
	*network.Network
	mu    sync.Mutex
	infos []network.PodInfo
}

func (r *recordingNet) AddPod(info network.PodInfo) (network.PodNet, error) {
	r.mu.Lock()
	r.infos = append(r.infos, info)
	r.mu.Unlock()
	return r.Network.AddPod(info)
}

// TestPodSocketBuffersFromMemoryLimit: a pod's socket buffer budget on the
// network is a quarter of its memory limit (hello: 64Mi → 16 MiB), and its
// bytes are taken from the pod's memory budget within the node's.
func TestPodSocketBuffersFromMemoryLimit(t *testing.T) {
	pod := loadPod(t, "hello")
	pod.Status.PodIP = "10.244.1.5"
	h := newHarness(t, pod)
	n := network.New(network.Config{})
	t.Cleanup(func() { n.Close() })
	rn := &recordingNet{Network: n}
	h.cfg.Network = rn
	node := wruntime.NewBudget("node-1 memory", 1<<30)
	h.cfg.NodeMemory = node
	h.run()
	h.waitDone()
	rn.mu.Lock()
	defer rn.mu.Unlock()
	if len(rn.infos) != 1 {
		t.Fatalf("pod joined the network %d times, want 1", len(rn.infos))
	}
	if got, want := rn.infos[0].SocketBuffers, int64(16<<20); got != want {
		t.Errorf("SocketBuffers = %d, want %d (a quarter of the 64Mi limit)", got, want)
	}
	m := rn.infos[0].Memory
	if m == nil {
		t.Fatal("the pod's socket buffers are not charged to its memory budget")
	}
	before := node.Used()
	if !m.Acquire(4096) {
		t.Fatal("pod memory budget refused 4096 bytes")
	}
	if node.Used() != before+4096 {
		t.Errorf("node memory used %d after the pod's network took 4096, want %d", node.Used(), before+4096)
	}
	m.Release(4096)
}
