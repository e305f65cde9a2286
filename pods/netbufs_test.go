package pods

import (
	"sync"
	"testing"

	"github.com/wasmpod/wasmpod/network"
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
// network is a quarter of its memory limit (hello: 64Mi → 16 MiB).
func TestPodSocketBuffersFromMemoryLimit(t *testing.T) {
	pod := loadPod(t, "hello")
	pod.Status.PodIP = "10.244.1.5"
	h := newHarness(t, pod)
	n := network.New(network.Config{})
	t.Cleanup(func() { n.Close() })
	rn := &recordingNet{Network: n}
	h.cfg.Network = rn
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
}
