package images

import "testing"

func TestClassifyRef(t *testing.T) {
	for ref, want := range map[string]RefKind{
		"/abs/x.wasm":                    RefHostPath,
		"./x.wasm":                       RefHostPath,
		"../up/x.wasm":                   RefHostPath,
		"x.wasm":                         RefHostPath,
		"X.WASM":                         RefHostPath,
		" /abs/x.wasm":                   RefHostPath,
		".":                              RefHostPath,
		"file:///abs/x.wasm":             RefHostPath,
		"file://x.wasm":                  RefHostPath,
		"go://./server":                  RefGoBuild,
		"go:///abs/pkg":                  RefGoBuild,
		"wasmpod.local/hello:1":          RefOther,
		"wasmpod.local/hello@sha256:abc": RefOther,
		"ghcr.io/x/y:1.0":                RefOther,
		"https://example.com/x.wasm":     RefOther,
	} {
		if got := ClassifyRef(ref); got != want {
			t.Errorf("ClassifyRef(%q) = %v, want %v", ref, got, want)
		}
		if ClassifyRef(ref).Host() != (want != RefOther) {
			t.Errorf("ClassifyRef(%q).Host() = %v", ref, ClassifyRef(ref).Host())
		}
	}
}
