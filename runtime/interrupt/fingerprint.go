package interrupt

import (
	"crypto/sha256"
	"encoding/hex"
	"sync"
)

// Version names the rewrite's behaviour; bump it with any change to what
// Instrument produces (Fingerprint also changes by itself for most such
// changes, see there).
const Version = "1"

// probe is a small module with what the rewrite touches: a function with a
// loop, a table and an exported function.
var probe = []byte{
	0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00, // magic, version 1
	0x01, 0x04, 0x01, 0x60, 0x00, 0x00, // types: () -> ()
	0x03, 0x02, 0x01, 0x00, // functions: one of type 0
	0x04, 0x04, 0x01, 0x70, 0x00, 0x01, // tables: funcref, min 1
	0x07, 0x05, 0x01, 0x01, 'f', 0x00, 0x00, // exports: "f" = func 0
	0x0a, 0x07, 0x01, 0x05, 0x00, 0x03, 0x40, 0x0b, 0x0b, // code: loop end end
}

var fingerprint = sync.OnceValue(func() string {
	out, name, err := Instrument(probe)
	h := sha256.New()
	h.Write([]byte(Version + "\x00" + name + "\x00"))
	h.Write(out)
	if err != nil {
		h.Write([]byte(err.Error()))
	}
	return Version + "-" + hex.EncodeToString(h.Sum(nil))[:16]
})

// Fingerprint identifies the rewrite Instrument performs, for caches of
// its output: Version and a hash of the rewrite of a probe module, so that
// a change to the rewrite invalidates what an older build cached even when
// Version was not bumped.
func Fingerprint() string { return fingerprint() }
