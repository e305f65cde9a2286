package controllerutil

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// ResolveControllerRef is upstream's resolveControllerRef: the owner a
// controller reference names, when the reference is of kind gk and the
// cached object of that name (get, a lister's Get) still has the
// reference's UID, so a reference to a deleted and re-created owner of the
// same name resolves to nothing.
func ResolveControllerRef[T metav1.Object](ref *metav1.OwnerReference, gk schema.GroupKind, get func(name string) (T, error)) (T, bool) {
	var zero T
	if ref == nil || ref.Kind != gk.Kind {
		return zero, false
	}
	if gv, err := schema.ParseGroupVersion(ref.APIVersion); err != nil || gv.Group != gk.Group {
		return zero, false
	}
	obj, err := get(ref.Name)
	if err != nil || obj.GetUID() != ref.UID {
		return zero, false
	}
	return obj, true
}

// Selecting returns the objects of list whose label selector matches set,
// the controllers that may adopt an orphan (upstream's GetPodReplicaSets,
// getPodJobs, getDeploymentsForReplicaSet, getDaemonSetsForPod): an empty
// or invalid selector matches nothing.
func Selecting[T any](list []T, selector func(T) *metav1.LabelSelector, set map[string]string) []T {
	var out []T
	for _, o := range list {
		sel, err := metav1.LabelSelectorAsSelector(selector(o))
		if err != nil || sel.Empty() || !sel.Matches(labels.Set(set)) {
			continue
		}
		out = append(out, o)
	}
	return out
}
