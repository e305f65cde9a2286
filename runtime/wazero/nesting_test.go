package wazero

import (
	"bytes"
	"context"
	"encoding/binary"
	"strings"
	"testing"
	"time"

	"github.com/wasmpod/wasmpod/runtime/enginetest"
	"github.com/wasmpod/wasmpod/runtime/interrupt"
)

// TestCompileRefusesDeepNestingQuickly: a module nested past
// interrupt.MaxNesting is refused without wazero compiling it (its compile
// time grows with the square of the depth and cannot be cancelled); the
// engine compiled it anyway, to prefer wazero's diagnosis of Instrument's
// refusal, for about 40 s at this depth.
func TestCompileRefusesDeepNestingQuickly(t *testing.T) {
	const depth = 10 * interrupt.MaxNesting
	body := cat([]byte{0}, bytes.Repeat([]byte{0x02, 0x40}, depth), bytes.Repeat([]byte{0x0b}, depth+1))
	wasm := cat([]byte{0x00, 'a', 's', 'm', 0x01, 0x00, 0x00, 0x00},
		[]byte{1, 4, 1, 0x60, 0, 0},                             // type () -> ()
		[]byte{3, 2, 1, 0},                                      // func 0
		[]byte{7, 10, 1, 6, '_', 's', 't', 'a', 'r', 't', 0, 0}, // export _start
		[]byte{10}, uleb(uint64(len(uleb(uint64(len(body))))+len(body)+1)), []byte{1}, uleb(uint64(len(body))), body)
	eng := newTestEngine(t, Config{})
	begin := time.Now()
	_, err := eng.Compile(context.Background(), enginetest.Digest(wasm), wasm)
	if err == nil || !strings.Contains(err.Error(), "nested deeper than") {
		t.Fatalf("Compile of a function nested %d deep: %v, want an error naming the nesting", depth, err)
	}
	if d := time.Since(begin); d > 10*time.Second {
		t.Errorf("Compile took %v to refuse it", d)
	}
}

func cat(bs ...[]byte) []byte { return bytes.Join(bs, nil) }

func uleb(n uint64) []byte { return binary.AppendUvarint(nil, n) }
