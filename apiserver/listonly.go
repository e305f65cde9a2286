package apiserver

import (
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
)

// listOnlyResources are the kinds of kubectl's default prune allowlist
// (`kubectl apply --prune` without --prune-allowlist: kubectl resolves
// every one of them through discovery and fails the whole apply when one
// is missing) that wasmpod does not run: PersistentVolumeClaims and
// PersistentVolumes (no volume provisioning: pods take emptyDir, hostPath
// and the projected kinds), ReplicationControllers, StatefulSets and
// Ingresses. They are served with the verbs get, list and watch only, so
// discovery lists them, a LIST finds none and `apply --prune` works, while
// a create or update is refused with 405 MethodNotAllowed naming what to
// use instead: never stored to sit there with nothing acting on it.
func listOnlyResources() []*Resource {
	core := func(res, kind string, namespaced bool, short []string, why string, newObj, newList func() runtime.Object) *Resource {
		return &Resource{GVR: corev1.SchemeGroupVersion.WithResource(res), Kind: kind, Namespaced: namespaced, ShortNames: short,
			newObj: newObj, newList: newList, listOnly: why}
	}
	return []*Resource{
		core("persistentvolumeclaims", "PersistentVolumeClaim", true, []string{"pvc"}, "wasmpod provisions no persistent volumes: use an emptyDir or (admin) hostPath volume",
			func() runtime.Object { return &corev1.PersistentVolumeClaim{} }, func() runtime.Object { return &corev1.PersistentVolumeClaimList{} }),
		core("persistentvolumes", "PersistentVolume", false, []string{"pv"}, "wasmpod provisions no persistent volumes: use an emptyDir or (admin) hostPath volume",
			func() runtime.Object { return &corev1.PersistentVolume{} }, func() runtime.Object { return &corev1.PersistentVolumeList{} }),
		core("replicationcontrollers", "ReplicationController", true, []string{"rc"}, "wasmpod runs no ReplicationControllers: use a Deployment or ReplicaSet",
			func() runtime.Object { return &corev1.ReplicationController{} }, func() runtime.Object { return &corev1.ReplicationControllerList{} }),
		{GVR: appsv1.SchemeGroupVersion.WithResource("statefulsets"), Kind: "StatefulSet", Namespaced: true, ShortNames: []string{"sts"},
			listOnly: "wasmpod runs no StatefulSets: use a Deployment",
			newObj:   func() runtime.Object { return &appsv1.StatefulSet{} }, newList: func() runtime.Object { return &appsv1.StatefulSetList{} }},
		{GVR: networkingv1.SchemeGroupVersion.WithResource("ingresses"), Kind: "Ingress", Namespaced: true, ShortNames: []string{"ing"},
			listOnly: "wasmpod has no ingress controller: use a Service of type NodePort, or port-forward",
			newObj:   func() runtime.Object { return &networkingv1.Ingress{} }, newList: func() runtime.Object { return &networkingv1.IngressList{} }},
	}
}

var listOnlyVerbs = metav1.Verbs{"get", "list", "watch"}

// refuseListOnly is the 405 of a write to a list-only resource.
func refuseListOnly(r *Resource, verb string) error {
	err := apierrors.NewMethodNotSupported(r.GVR.GroupResource(), verb)
	err.ErrStatus.Message += ": " + r.listOnly
	return err
}
