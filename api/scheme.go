package api

import (
	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/serializer/json"
	utilruntime "k8s.io/apimachinery/pkg/util/runtime"
)

// Scheme knows the kinds wasmpod decodes: core/v1, apps/v1 and batch/v1.
// It is shared and must be treated as read-only.
var Scheme = runtime.NewScheme()

// strictJSON decodes JSON into typed objects, reporting unknown and
// duplicate fields as strict decoding errors.
var strictJSON *json.Serializer

func init() {
	utilruntime.Must(corev1.AddToScheme(Scheme))
	utilruntime.Must(appsv1.AddToScheme(Scheme))
	utilruntime.Must(batchv1.AddToScheme(Scheme))
	strictJSON = json.NewSerializerWithOptions(json.DefaultMetaFactory, Scheme, Scheme,
		json.SerializerOptions{Strict: true})
}
