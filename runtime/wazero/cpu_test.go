//go:build unix

package wazero_test

import (
	"testing"

	"github.com/wasmpod/wasmpod/runtime/enginetest"
)

// TestCPU runs the engine CPU suite (runtime/enginetest: limits, throttled
// kill, shares, blocked guests not charged) on wazero.
func TestCPU(t *testing.T) {
	enginetest.RunCPU(t, newEngine)
}
