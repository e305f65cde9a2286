//go:build wasmtime && cgo && unix

package wasmtime_test

import (
	"testing"

	"github.com/wasmpod/wasmpod/runtime/enginetest"
)

// TestCPU runs the engine CPU suite (runtime/enginetest: limits, throttled
// kill, shares, blocked guests not charged) on wasmtime, whose epoch
// deadline is the CPU meter's round trip.
func TestCPU(t *testing.T) {
	enginetest.RunCPU(t, newEngine)
}
