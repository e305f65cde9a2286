package apiserver

import (
	"math/rand"
	"testing"

	"k8s.io/apimachinery/pkg/api/apitesting/fuzzer"
	"k8s.io/apimachinery/pkg/api/resource"
	metafuzzer "k8s.io/apimachinery/pkg/apis/meta/fuzzer"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/serializer"
	"sigs.k8s.io/randfill"
	"sigs.k8s.io/structured-merge-diff/v6/typed"

	"github.com/wasmpod/wasmpod/internal/kube/kubernetes/scheme"
)

// TestUpdateTypeConverterSchema: updateTypeConverter skips the validation
// of Update conversions because a built-in kind's Go object cannot fail it
// but for duplicates (allowed) and missing list keys (the comparison fails
// on them too). That holds while the schema declares every field of every
// served kind's Go type with its scalar type: each kind's object, every
// field filled at random, several times, must validate.
func TestUpdateTypeConverterSchema(t *testing.T) {
	e := newEnv(t, HandlerOptions{})
	tc, err := typeConverter()
	if err != nil {
		t.Fatal(err)
	}
	utc := tc.(*updateTypeConverter)
	f := fuzzer.FuzzerFor(fuzzer.MergeFuzzerFuncs(metafuzzer.Funcs, func(serializer.CodecFactory) []interface{} {
		return []interface{}{
			func(q *resource.Quantity, c randfill.Continue) {
				*q = *resource.NewQuantity(c.Int63n(1<<20), resource.DecimalSI)
			},
		}
	}), rand.NewSource(13), serializer.NewCodecFactory(scheme.Scheme)).NilChance(0).NumElements(1, 2)
	kinds := 0
	for _, r := range e.s.Resources() {
		if r.newObj == nil {
			continue
		}
		gvk := r.GVK()
		obj := r.newObj()
		if _, u := obj.(runtime.Unstructured); u {
			continue
		}
		obj.GetObjectKind().SetGroupVersionKind(gvk)
		if _, err := utc.TypeConverter.ObjectToTyped(obj, typed.AllowDuplicates); err != nil {
			t.Logf("%s: %v", gvk, err) // not a kind of the schema
			continue
		}
		kinds++
		for i := range 5 {
			obj := r.newObj()
			f.Fill(obj)
			obj.GetObjectKind().SetGroupVersionKind(gvk)
			if m, ok := obj.(metav1.Object); ok {
				m.SetManagedFields(nil)
			}
			if _, err := utc.TypeConverter.ObjectToTyped(obj, typed.AllowDuplicates); err != nil {
				t.Errorf("%s, filled at random (%d): %v", gvk, i, err)
				break
			}
		}
	}
	if kinds < 20 {
		t.Fatalf("checked %d kinds, want the built-in ones (20 or more)", kinds)
	}
	t.Logf("%d kinds", kinds)
}
