package wasmpod

import (
	"os"
	"testing"

	"github.com/wasmpod/wasmpod/internal/testwasm"
)

// TestMain gives the tests a cache of their own: clusters with the default
// CacheDir (such as the examples') build and compile into
// testwasm.CacheDir(), never the user's ~/.cache/wasmpod.
func TestMain(m *testing.M) { os.Exit(testwasm.MainWithTestCache(m)) }
