package kubeutil

import (
	"k8s.io/apimachinery/pkg/api/meta"

	"github.com/wasmpod/wasmpod/internal/kube/informers"
	"github.com/wasmpod/wasmpod/internal/kube/kubernetes"
)

// NewSharedFactory makes the informer factory that the control plane's
// controllers share, as kube-controller-manager's one InformerFactory: one
// watch, one decode and one cache per resource for all of them, instead of
// one per controller (13 pod watches before, each decoding every pod
// change). Like kube-controller-manager's, it drops managedFields from the
// cached objects, which no controller reads: an update built from a cached
// object then carries no managedFields, which the API server reads as
// "keep the stored ones".
func NewSharedFactory(client kubernetes.Interface) informers.SharedInformerFactory {
	return informers.NewSharedInformerFactoryWithOptions(client, 0, informers.WithTransform(trimManagedFields))
}

func trimManagedFields(obj any) (any, error) {
	if a, err := meta.Accessor(obj); err == nil && a.GetManagedFields() != nil {
		a.SetManagedFields(nil)
	}
	return obj, nil
}

// Factory returns shared when it is set, with a shutdown that does nothing
// (the factory's owner stops it), else a factory of the caller's own over
// client, with its Shutdown. A controller's Run registers its informers on
// the result and then calls Start, which starts only the informers not
// started yet, so controllers may start one after another.
func Factory(shared informers.SharedInformerFactory, client kubernetes.Interface) (f informers.SharedInformerFactory, shutdown func()) {
	if shared != nil {
		return shared, func() {}
	}
	f = informers.NewSharedInformerFactory(client, 0)
	return f, f.Shutdown
}
