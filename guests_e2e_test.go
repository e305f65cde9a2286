package wasmpod_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/wasmpod/wasmpod"
)

// newTestCluster starts an embedded cluster with a cache of the test's
// own; it is closed when the test ends.
func newTestCluster(t *testing.T) *wasmpod.Cluster {
	t.Helper()
	// The node's default nodefs.available<10% would evict test pods on a
	// developer's machine whose disk is merely full of build caches; the
	// eviction tests set their own thresholds.
	c, err := wasmpod.New(context.Background(), wasmpod.Config{CacheDir: t.TempDir(),
		EvictionHard: map[string]string{"nodefs.available": "1Mi"}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// moduleFile writes a built module to the test's directory and returns
// its path, which pods name as their image.
func moduleFile(t *testing.T, name string, module []byte) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, module, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}
