package wasi

import "testing"

// Every call that yields the thread after it (handsOff) hands the thread to
// another goroutine: an engine's CPU meter must be paused around it.
func TestMayWaitCoversHandsOff(t *testing.T) {
	for name := range handsOff {
		if !MayWait(name) {
			t.Errorf("%s yields the thread (handsOff) but MayWait(%q) is false", name, name)
		}
	}
	for _, name := range []string{"clock_time_get", "random_get", "path_open", "args_get"} {
		if MayWait(name) {
			t.Errorf("MayWait(%q) is true: its time would not be charged to the guest", name)
		}
	}
}
