package apiserver

import (
	"context"
	"encoding/json"
	"reflect"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/strategicpatch"
)

// TestFinalizerDeletionPatch: a strategic merge patch that only deletes
// finalizers ($deleteFromPrimitiveList, the Job controller's) is applied
// to the decoded object, and gives the object the strategic merge gives
// over the JSON (an emptied list, an absent one, repeated values, values
// not present); other patches take the general path; through Patch the
// finalizer is gone, the resourceVersion moves and the Job controller's
// managedFields entry stays what the general path records.
func TestFinalizerDeletionPatch(t *testing.T) {
	const job = "batch.kubernetes.io/job-tracking"
	for _, tc := range []struct {
		finalizers []string
		patch      string
	}{
		{[]string{job}, `{"metadata":{"$deleteFromPrimitiveList/finalizers":["` + job + `"]}}`},
		{[]string{"x", job, "x", job}, `{"metadata":{"$deleteFromPrimitiveList/finalizers":["` + job + `"]}}`},
		{[]string{"x", job, "y"}, `{"metadata":{"$deleteFromPrimitiveList/finalizers":["y","x","z"]}}`},
		{nil, `{"metadata":{"$deleteFromPrimitiveList/finalizers":["` + job + `"]}}`},
		{[]string{job}, `{"metadata":{"$deleteFromPrimitiveList/finalizers":[]}}`},
		{[]string{"a"}, `{"metadata":{"$deleteFromPrimitiveList/finalizers":["b"]}}`},
	} {
		drop, ok := finalizerDeletion(types.StrategicMergePatchType, []byte(tc.patch), "")
		if !ok {
			t.Fatalf("%s: not recognised", tc.patch)
		}
		cur := httpPod("p")
		cur.Finalizers = tc.finalizers
		cur.UID, cur.ResourceVersion = "u1", "7"
		cur.Status.Phase = corev1.PodSucceeded
		orig, err := json.Marshal(cur)
		if err != nil {
			t.Fatal(err)
		}
		patched, err := strategicpatch.StrategicMergePatch(orig, []byte(tc.patch), &corev1.Pod{})
		if err != nil {
			t.Fatal(err)
		}
		want := &corev1.Pod{}
		if err := unmarshalCaseSensitive(patched, want); err != nil {
			t.Fatal(err)
		}
		// The object as the store hands it out: decoded from its JSON.
		got := &corev1.Pod{}
		if err := json.Unmarshal(orig, got); err != nil {
			t.Fatal(err)
		}
		withoutFinalizers(got, drop)
		if !reflect.DeepEqual(got, want) {
			t.Errorf("%v %s: finalizers %#v, want %#v (the strategic merge's)", tc.finalizers, tc.patch, got.Finalizers, want.Finalizers)
		}
	}

	for _, tc := range []struct {
		pt    types.PatchType
		sub   string
		patch string
	}{
		{types.StrategicMergePatchType, "", `{"metadata":{"$deleteFromPrimitiveList/finalizers":["a"],"labels":{"a":"b"}}}`},
		{types.StrategicMergePatchType, "", `{"metadata":{"$deleteFromPrimitiveList/finalizers":["a"]},"spec":{}}`},
		{types.StrategicMergePatchType, "", `{"metadata":{"$deleteFromPrimitiveList/finalizers":["a"]},"metadata":{"labels":{"a":"b"}}}`},
		{types.StrategicMergePatchType, "", `{"metadata":{"$deleteFromPrimitiveList/finalizers":[1]}}`},
		{types.StrategicMergePatchType, "", `{"metadata":{"$deleteFromPrimitiveList/finalizers":null}}`},
		{types.StrategicMergePatchType, "", `{"metadata":{"$deleteFromPrimitiveList/finalizers":["a"],"resourceVersion":"3"}}`},
		{types.StrategicMergePatchType, "status", `{"metadata":{"$deleteFromPrimitiveList/finalizers":["a"]}}`},
		{types.MergePatchType, "", `{"metadata":{"$deleteFromPrimitiveList/finalizers":["a"]}}`},
		{types.StrategicMergePatchType, "", `{"metadata":{"finalizers":[]}}`},
	} {
		if _, ok := finalizerDeletion(tc.pt, []byte(tc.patch), tc.sub); ok {
			t.Errorf("%s %s %s: taken as a finalizer deletion", tc.pt, tc.sub, tc.patch)
		}
	}

	// Through Patch, against the general path on a twin pod (a patch that
	// also sets a label the pod already has takes the general path).
	e := newEnv(t, HandlerOptions{})
	r, _ := e.s.Resource("", "pods")
	ctx := withFieldManagerName(context.Background(), "job-controller")
	for _, name := range []string{"fast", "general"} {
		p := httpPod(name)
		p.Finalizers = []string{job, "example.com/keep"}
		if _, err := e.s.Create(ctx, r, "default", p); err != nil {
			t.Fatal(err)
		}
	}
	fast, err := e.s.Patch(withFieldManagerName(context.Background(), "job-controller"), r, "default", "fast", types.StrategicMergePatchType,
		[]byte(`{"metadata":{"$deleteFromPrimitiveList/finalizers":["`+job+`"]}}`), "")
	if err != nil {
		t.Fatal(err)
	}
	general, err := e.s.Patch(withFieldManagerName(context.Background(), "job-controller"), r, "default", "general", types.StrategicMergePatchType,
		[]byte(`{"metadata":{"$deleteFromPrimitiveList/finalizers":["`+job+`"],"labels":{"app":"web"}}}`), "")
	if err != nil {
		t.Fatal(err)
	}
	fp, gp := fast.(*corev1.Pod), general.(*corev1.Pod)
	if !reflect.DeepEqual(fp.Finalizers, []string{"example.com/keep"}) || fp.ResourceVersion == "" || fp.ResourceVersion == "1" {
		t.Errorf("fast path: finalizers %v, resourceVersion %s", fp.Finalizers, fp.ResourceVersion)
	}
	if g, w := entries(fp.ManagedFields), entries(gp.ManagedFields); g != w {
		t.Errorf("managedFields after the finalizer patch\n%s\nwant (general path)\n%s", g, w)
	}
	stored, err := e.s.Get(context.Background(), r, "default", "fast")
	if err != nil {
		t.Fatal(err)
	}
	if sp := stored.(*corev1.Pod); !reflect.DeepEqual(sp.Finalizers, fp.Finalizers) || sp.ResourceVersion != fp.ResourceVersion {
		t.Errorf("stored finalizers %v @%s, returned %v @%s", sp.Finalizers, sp.ResourceVersion, fp.Finalizers, fp.ResourceVersion)
	}
}
