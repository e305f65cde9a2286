package wasmpod_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/wasmpod/wasmpod"
	"github.com/wasmpod/wasmpod/internal/testwasm"
)

// newTestCluster starts an embedded cluster over the tests' shared cache;
// it is closed when the test ends.
func newTestCluster(t *testing.T) *wasmpod.Cluster {
	t.Helper()
	// The node's default nodefs.available<10% would evict test pods on a
	// developer's machine whose disk is merely full of build caches; the
	// eviction tests set their own thresholds. Built images (the busybox
	// toolbox) and compiled modules come from the tests' shared cache,
	// keyed by content, so each cluster does not build and compile them
	// again.
	c, err := wasmpod.New(context.Background(), wasmpod.Config{CacheDir: testwasm.CacheDir(),
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
