package interrupt_test

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"

	"github.com/wasmpod/wasmpod/runtime/interrupt"
)

// tableGrower has tables of the given (min, max) limits (max < 0: none) and
// exports grow(table, delta) -> table.grow's result, with one function per
// table since table.grow takes its table as an immediate.
func tableGrower(limits ...[2]int64) []byte {
	typ := sec(1, vec([]byte{0x60, 1, i32, 1, i32})) // (delta) -> old size or -1
	var tables, funcs, exports, bodies [][]byte
	for i, l := range limits {
		t := cat([]byte{0x70, 0x00}, u32(uint32(l[0])))
		if l[1] >= 0 {
			t = cat([]byte{0x70, 0x01}, u32(uint32(l[0])), u32(uint32(l[1])))
		}
		tables = append(tables, t)
		funcs = append(funcs, []byte{0})
		exports = append(exports, cat(name("grow"+string(rune('0'+i))), []byte{0}, u32(uint32(i))))
		// ref.null func; local.get 0; table.grow i
		bodies = append(bodies, body(nil, []byte{0xd0, 0x70, 0x20, 0}, cat([]byte{0xfc, 15}, u32(uint32(i)))))
	}
	return module(typ, sec(3, vec(funcs...)), sec(4, vec(tables...)), sec(7, vec(exports...)),
		sec(10, cat(u32(uint32(len(bodies))), cat(bodies...))))
}

func grow(t *testing.T, mod api.Module, table int, delta uint32) int32 {
	t.Helper()
	res, err := mod.ExportedFunction("grow"+string(rune('0'+table))).Call(context.Background(), uint64(delta))
	if err != nil {
		t.Fatalf("grow table %d by %d: %v", table, delta, err)
	}
	return int32(res[0])
}

// A table lives in host memory, outside the pod's memory limit: a guest
// looping on table.grow of a table without a maximum made the host
// allocate tens of GiB (issue 8, second attacker round). Instrument caps
// the tables' elements at MaxTableElements in all.
func TestTablesBounded(t *testing.T) {
	const limit = interrupt.MaxTableElements
	t.Run("no maximum", func(t *testing.T) {
		mod, _ := instrumented(t, api.CoreFeaturesV2, tableGrower([2]int64{1, -1}))
		if got := grow(t, mod, 0, limit); got != -1 {
			t.Fatalf("table.grow to %d elements returned %d, want -1 (past MaxTableElements)", limit+1, got)
		}
		if got := grow(t, mod, 0, limit-1); got != 1 {
			t.Fatalf("table.grow to MaxTableElements returned %d, want 1 (the old size)", got)
		}
		if got := grow(t, mod, 0, 1); got != -1 {
			t.Fatalf("table.grow past MaxTableElements returned %d, want -1", got)
		}
	})
	t.Run("declared maximum kept when smaller", func(t *testing.T) {
		mod, _ := instrumented(t, api.CoreFeaturesV2, tableGrower([2]int64{0, 10}))
		if got := grow(t, mod, 0, 11); got != -1 {
			t.Fatalf("table.grow past the declared maximum returned %d, want -1", got)
		}
		if got := grow(t, mod, 0, 10); got != 0 {
			t.Fatalf("table.grow to the declared maximum returned %d, want 0", got)
		}
	})
	t.Run("shared by the tables", func(t *testing.T) {
		mod, _ := instrumented(t, api.CoreFeaturesV2, tableGrower([2]int64{0, -1}, [2]int64{0, 1 << 30}))
		for i := range 2 {
			if got := grow(t, mod, i, limit/2+1); got != -1 {
				t.Fatalf("table %d grew past half of MaxTableElements (returned %d), want -1", i, got)
			}
			if got := grow(t, mod, i, limit/2); got != 0 {
				t.Fatalf("table %d: table.grow to half of MaxTableElements returned %d, want 0", i, got)
			}
		}
	})
	t.Run("too large at start", func(t *testing.T) {
		_, _, err := interrupt.Instrument(tableGrower([2]int64{limit + 1, -1}))
		if !errors.Is(err, interrupt.ErrBound) || !strings.Contains(err.Error(), "table 0") {
			t.Fatalf("Instrument of a table starting at %d elements: %v, want an ErrBound naming table 0", limit+1, err)
		}
	})
	t.Run("declared maximum below minimum stays invalid", func(t *testing.T) {
		out, _, err := interrupt.Instrument(tableGrower([2]int64{5, 2}))
		if err != nil {
			t.Fatal(err)
		}
		ctx := context.Background()
		if _, err := wazero.NewRuntime(ctx).CompileModule(ctx, out); err == nil {
			t.Fatal("a table with maximum below its minimum compiled after Instrument")
		}
	})
}

// nested is a module whose one exported function, f, nests depth empty
// blocks.
func nested(depth int) []byte {
	typ := sec(1, vec([]byte{0x60, 0, 0}))
	code := cat(bytes.Repeat([]byte{0x02, 0x40}, depth), bytes.Repeat([]byte{0x0b}, depth))
	return module(typ, sec(3, vec([]byte{0})), sec(7, vec(cat(name("f"), []byte{0}, u32(0)))),
		sec(10, cat(u32(1), body(nil, code))))
}

// A function nested a million blocks deep compiled for about an hour (the
// compile time grows with the square of the depth) and could not be
// cancelled (issue 8, second attacker round): Instrument refuses nesting
// past MaxNesting and keeps what is within it.
func TestNestingBounded(t *testing.T) {
	if _, _, err := interrupt.Instrument(nested(interrupt.MaxNesting + 1)); !errors.Is(err, interrupt.ErrBound) || !strings.Contains(err.Error(), "nested deeper than") {
		t.Fatalf("Instrument of a function nested %d deep: %v, want an ErrBound naming the nesting", interrupt.MaxNesting+1, err)
	}
	mod, _ := instrumented(t, api.CoreFeaturesV2, nested(200))
	if _, err := mod.ExportedFunction("f").Call(context.Background()); err != nil {
		t.Fatalf("a function nested 200 deep: %v", err)
	}
}
