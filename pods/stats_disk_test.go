package pods

import (
	"os"
	"path/filepath"
	"testing"

	corev1 "k8s.io/api/core/v1"
)

// TestSummaryDiskReused: the Summary walks a pod's directory at most once
// a summaryDiskAge and reports when it walked; a file written meanwhile
// shows once the reading is older than that, and the eviction manager's
// PodDisk always walks.
func TestSummaryDiskReused(t *testing.T) {
	h := newAgentHarness(t)
	h.start()
	h.createPod(loadPod(t, "hello"))
	p := h.waitPod("hello", "Succeeded", func(p *corev1.Pod) bool { return p.Status.Phase == corev1.PodSucceeded })
	w, err := h.a.worker(p)
	if err != nil {
		t.Fatal(err)
	}
	disk := func() (uint64, string) {
		t.Helper()
		for _, ps := range h.a.StatsSummary().Pods {
			if ps.PodRef.Name == "hello" && ps.EphemeralStorage != nil && ps.EphemeralStorage.UsedBytes != nil {
				return *ps.EphemeralStorage.UsedBytes, ps.EphemeralStorage.Time.String()
			}
		}
		t.Fatal("no ephemeral storage for pod hello in the summary")
		return 0, ""
	}
	before, at := disk()
	const grown = 1 << 20
	if err := os.WriteFile(filepath.Join(w.Dir(), "grown"), make([]byte, grown), 0o600); err != nil {
		t.Fatal(err)
	}
	if again, at2 := disk(); again != before || at2 != at {
		t.Errorf("summary within summaryDiskAge: %d bytes at %s, want the reading %d bytes at %s", again, at2, before, at)
	}
	if fresh := (nodeStats{h.a}).PodDisk(w); fresh < int64(before)+grown {
		t.Errorf("PodDisk: %d bytes, want at least %d + %d: the eviction manager's walk is not cached", fresh, before, grown)
	}
	old := summaryDiskAge
	summaryDiskAge = 0
	t.Cleanup(func() { summaryDiskAge = old })
	if after, _ := disk(); after < before+grown {
		t.Errorf("summary after summaryDiskAge: %d bytes, want at least %d + %d", after, before, grown)
	}
}
