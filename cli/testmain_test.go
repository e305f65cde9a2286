package cli

import (
	"fmt"
	"os"
	"testing"

	"github.com/wasmpod/wasmpod/internal/testwasm"
)

// TestMain gives the tests a cache of their own: commands run without
// --cache-dir (serve, run) build and compile into testwasm.CacheDir(),
// never the user's ~/.cache/wasmpod.
func TestMain(m *testing.M) {
	if err := testwasm.UseTestCache(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	os.Exit(m.Run())
}
