package images_test

// gc_test.go: image GC over a store whose "disk" is a small configured
// size, with the kubelet's threshold semantics.

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/wasmpod/wasmpod/images"
)

// padModule returns mod with a custom section of n bytes filled with
// seed: a valid module with its own digest.
func padModule(mod []byte, n int, seed byte) []byte {
	payload := append([]byte{1, 'p'}, make([]byte, n)...)
	for i := 2; i < len(payload); i++ {
		payload[i] = seed
	}
	out := append([]byte(nil), mod...)
	out = append(out, 0) // custom section id
	for v := uint32(len(payload)); ; {
		b := byte(v & 0x7f)
		v >>= 7
		if v != 0 {
			out = append(out, b|0x80)
			continue
		}
		out = append(out, b)
		break
	}
	return append(out, payload...)
}

func TestImageGC(t *testing.T) {
	t.Parallel()
	mod := helloModule(t)
	st, err := images.OpenStore(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	var refs []string
	for i := range 4 {
		ref := fmt.Sprintf("reg.example/app%d:v1", i)
		if _, err := st.BuildArtifact(ctx, ref, padModule(mod, 1000, byte(i))); err != nil {
			t.Fatal(err)
		}
		refs = append(refs, ref)
		time.Sleep(2 * time.Millisecond) // distinct last-use times: app0 is the least recently used
	}
	usage := st.Usage()
	each := usage / 4
	// 4 images use 90% of the disk: over 85%, free down to 80% (about half an image, so one goes).
	capacity := usage * 100 / 90
	p := images.GCPolicy{Capacity: capacity, MinAge: -1}
	now := time.Now()

	// Below the high threshold nothing goes.
	res, err := st.GarbageCollect(images.GCPolicy{Capacity: usage * 2, MinAge: -1}, nil, now)
	if err != nil || len(res.Removed) != 0 {
		t.Fatalf("under the threshold: %+v %v", res, err)
	}
	// MinAge protects images pulled recently: none is eligible.
	res, err = st.GarbageCollect(images.GCPolicy{Capacity: capacity}, nil, now)
	if err == nil || !strings.Contains(err.Error(), "Failed to garbage collect required amount of images. Attempted to free") || len(res.Removed) != 0 {
		t.Fatalf("min age: %+v %v", res, err)
	}
	// app0, the least recently used, is in use: app1 goes.
	inUse := images.InUseBy([]string{refs[0]})
	res, err = st.GarbageCollect(p, inUse, now)
	if err != nil || len(res.Removed) != 1 || res.Removed[0] != refs[1] || res.Freed != each {
		t.Fatalf("GC: %+v %v (each image %d bytes)", res, err, each)
	}
	if u := st.Usage(); u*100 >= capacity*80 {
		t.Errorf("usage %d of %d after GC, want under 80%%", u, capacity)
	}
	left := map[string]bool{}
	for _, im := range st.OCIImages() {
		left[im.Ref] = true
	}
	if !left[refs[0]] || left[refs[1]] || !left[refs[2]] || !left[refs[3]] {
		t.Errorf("left %v", left)
	}
	// Every image in use: nothing to free, the kubelet's error.
	st2, _ := images.OpenStore(t.TempDir())
	for i := range 2 {
		st2.BuildArtifact(ctx, fmt.Sprintf("reg.example/b%d:v1", i), padModule(mod, 10, byte(i)))
	}
	_, err = st2.GarbageCollect(images.GCPolicy{Capacity: st2.Usage(), MinAge: -1}, func(images.OCIImage) bool { return true }, now)
	if err == nil || !strings.Contains(err.Error(), "but only found 0 bytes eligible to free") {
		t.Errorf("all in use: %v", err)
	}
	if err := (images.GCPolicy{HighThresholdPercent: 50, LowThresholdPercent: 60}).Validate(); err == nil {
		t.Error("low over high accepted")
	}
}
