package cli

import (
	"os"
	"testing"

	"github.com/wasmpod/wasmpod/internal/testwasm"
)

// TestMain gives the tests a cache of their own: commands run without
// --cache-dir (serve, run) build and compile into testwasm.CacheDir(),
// never the user's ~/.cache/wasmpod.
func TestMain(m *testing.M) { os.Exit(testwasm.MainWithTestCache(m)) }
