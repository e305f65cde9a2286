package apiserver

import (
	"encoding/json"
	"math/rand"
	"reflect"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	policyv1 "k8s.io/api/policy/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/api/apitesting/fuzzer"
	"k8s.io/apimachinery/pkg/api/equality"
	metafuzzer "k8s.io/apimachinery/pkg/apis/meta/fuzzer"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/serializer"
	"k8s.io/client-go/kubernetes/scheme"
)

// TestStoredJSONDecode: the stored values' decoder (storedJSON) reads back
// what encoding/json wrote as encoding/json reads it, for randomly filled
// objects of the built-in kinds a cluster stores most.
func TestStoredJSONDecode(t *testing.T) {
	f := fuzzer.FuzzerFor(metafuzzer.Funcs, rand.NewSource(1), serializer.NewCodecFactory(scheme.Scheme))
	kinds := []runtime.Object{&corev1.Pod{}, &corev1.Event{}, &corev1.Node{}, &corev1.ConfigMap{}, &corev1.Secret{}, &corev1.Service{},
		&corev1.Namespace{}, &corev1.LimitRange{}, &corev1.ServiceAccount{}, &batchv1.Job{}, &batchv1.CronJob{}, &appsv1.Deployment{},
		&appsv1.ReplicaSet{}, &appsv1.DaemonSet{}, &coordinationv1.Lease{}, &discoveryv1.EndpointSlice{}, &policyv1.PodDisruptionBudget{}, &rbacv1.Role{}}
	checked := 0
	for _, k := range kinds {
		typ := reflect.TypeOf(k).Elem()
		for range 40 {
			obj := reflect.New(typ).Interface().(runtime.Object)
			f.Fill(obj)
			b, err := json.Marshal(obj)
			if err != nil {
				continue // a filled value encoding/json cannot write
			}
			want := reflect.New(typ).Interface()
			if err := json.Unmarshal(b, want); err != nil {
				continue
			}
			got := reflect.New(typ).Interface()
			if err := storedJSON.Unmarshal(b, got); err != nil {
				t.Fatalf("%s: %v\n%s", typ.Name(), err, b)
			}
			if !equality.Semantic.DeepEqual(want, got) {
				t.Fatalf("%s decoded differently from encoding/json:\n%s", typ.Name(), b)
			}
			gb, _ := json.Marshal(got)
			wb, _ := json.Marshal(want)
			if string(gb) != string(wb) {
				t.Fatalf("%s re-encodes differently:\n%s\n%s", typ.Name(), wb, gb)
			}
			checked++
		}
	}
	if checked < len(kinds)*20 {
		t.Fatalf("only %d objects checked", checked)
	}
}
