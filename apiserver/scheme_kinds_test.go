package apiserver

import (
	"context"
	"testing"

	"github.com/wasmpod/wasmpod/internal/kube/kubernetes/scheme"
	"github.com/wasmpod/wasmpod/store/memory"
)

// TestServedKindsInScheme: every kind the server serves at start is in the
// scheme its field manager and protobuf encoding convert through. A kind
// missing there kept no metadata.managedFields (CSRs did, logging "SHOULD
// NOT HAPPEN"), whichever group it is: the check is over all of them.
func TestServedKindsInScheme(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	s, err := New(ctx, memory.New(), Options{})
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, r := range s.resources {
		gvk := r.GVR.GroupVersion().WithKind(r.Kind)
		if r.Kind == "" || r.listOnly != "" {
			// listonly.go's kinds are never written: no field manager or
			// stored encoding converts them.
			continue
		}
		n++
		if !scheme.Scheme.Recognizes(gvk) {
			t.Errorf("%s (%s) is served but not in the scheme", gvk, r.GVR.Resource)
		}
	}
	if n < 20 {
		t.Fatalf("only %d served kinds checked", n)
	}
}
