package wasmpod

import (
	"fmt"
	"os"
	"testing"

	"github.com/wasmpod/wasmpod/internal/testwasm"
)

// TestMain gives the tests a cache of their own: clusters with the default
// CacheDir (such as the examples') build and compile into
// testwasm.CacheDir(), never the user's ~/.cache/wasmpod.
func TestMain(m *testing.M) {
	if err := testwasm.UseTestCache(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	os.Exit(m.Run())
}
