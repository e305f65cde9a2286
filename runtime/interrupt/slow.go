package interrupt

import (
	"bytes"
	"errors"
	"fmt"
)

// SlowFunc is the function index of the slow path ($slow) in a module that
// Instrument returned: the last function, which a busy guest calls every
// Budget loop iterations or calls. An engine hooks it to account for the
// guest's CPU time and to throttle it (runtime.CPUMeter.Yield).
func SlowFunc(instrumented []byte) (uint32, error) {
	if len(instrumented) < 8 || !bytes.Equal(instrumented[:4], []byte("\x00asm")) {
		return 0, errors.New("not a WebAssembly module (bad magic)")
	}
	var funcs uint32
	r := &reader{b: instrumented, pos: 8}
	for r.pos < len(r.b) && r.err == nil {
		id := r.byte()
		size := r.u32()
		if r.err != nil {
			break
		}
		if uint64(size) > uint64(len(r.b)-r.pos) {
			return 0, fmt.Errorf("offset %d: section %d of %d bytes overruns the module", r.pos, id, size)
		}
		payload := r.b[r.pos : r.pos+int(size)]
		r.pos += int(size)
		switch id {
		case secImport:
			n, _, err := imports(payload)
			if err != nil {
				return 0, fmt.Errorf("import section: %w", err)
			}
			funcs += n
		case secFunction:
			pr := &reader{b: payload}
			n := pr.u32()
			if pr.err != nil {
				return 0, fmt.Errorf("function section: %w", pr.err)
			}
			funcs += n
		}
	}
	if r.err != nil {
		return 0, r.err
	}
	if funcs == 0 {
		return 0, errors.New("the module has no function")
	}
	return funcs - 1, nil
}
