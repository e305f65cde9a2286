package interrupt

import (
	"bytes"
	"testing"
)

// TestFingerprintProbe: Fingerprint's probe module is one Instrument
// rewrites. A refused probe would hash only the error, so a change to the
// rewrite would not change the fingerprint, and caches of an older rewrite
// would be used.
func TestFingerprintProbe(t *testing.T) {
	out, name, err := Instrument(probe)
	if err != nil {
		t.Fatalf("Instrument(probe): %v", err)
	}
	if name != Export || bytes.Equal(out, probe) {
		t.Fatalf("Instrument(probe) = %d bytes (probe %d), export %q: not rewritten", len(out), len(probe), name)
	}
}
