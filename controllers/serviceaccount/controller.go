// Package serviceaccount is the serviceaccounts controller, as upstream's
// (kube-controller-manager's "serviceaccount" controller): every active
// namespace has a ServiceAccount named "default". It creates one in each
// namespace that lacks it — namespaces that existed before the controller
// started too — and creates it again when it is deleted. Terminating
// namespaces are left alone.
//
// It works through the API (client-go informers and creates), like the
// other controllers; a create that finds the object already there is
// success. Failures are retried with backoff. Run returns when ctx ends.
package serviceaccount

import (
	"context"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/util/workqueue"

	"github.com/wasmpod/wasmpod/internal/kube/informers"
	"github.com/wasmpod/wasmpod/internal/kube/kubernetes"
	"github.com/wasmpod/wasmpod/internal/kubeutil"
)

// DefaultName is the ServiceAccount every namespace gets.
const DefaultName = "default"

// Controller keeps a "default" ServiceAccount in every namespace.
type Controller struct {
	// Informers, when set before Run, is the informer factory shared with
	// the other controllers (kubeutil.NewSharedFactory); nil: Run makes its own.
	Informers informers.SharedInformerFactory

	client     kubernetes.Interface
	queue      workqueue.TypedRateLimitingInterface[string]
	namespaces corelisters.NamespaceLister
	accounts   corelisters.ServiceAccountLister
}

// New makes a controller over client.
func New(client kubernetes.Interface) *Controller {
	return &Controller{
		client: client,
		queue:  kubeutil.NewQueue("serviceaccount"),
	}
}

// Run watches Namespaces and ServiceAccounts and reconciles until ctx ends.
func (c *Controller) Run(ctx context.Context) error {
	f, shutdown := kubeutil.Factory(c.Informers, c.client)
	nsInf := f.Core().V1().Namespaces()
	saInf := f.Core().V1().ServiceAccounts()
	c.namespaces, c.accounts = nsInf.Lister(), saInf.Lister()
	if _, err := nsInf.Informer().AddEventHandler(kubeutil.Typed(
		func(ns *corev1.Namespace) { c.queue.Add(ns.Name) },
		func(ns *corev1.Namespace) { c.queue.Add(ns.Name) },
		func(*corev1.Namespace) {})); err != nil {
		return err
	}
	if _, err := saInf.Informer().AddEventHandler(kubeutil.Typed(
		func(*corev1.ServiceAccount) {},
		func(*corev1.ServiceAccount) {},
		func(sa *corev1.ServiceAccount) {
			if sa.Name == DefaultName {
				c.queue.Add(sa.Namespace)
			}
		})); err != nil {
		return err
	}
	f.Start(ctx.Done())
	defer shutdown()
	defer c.queue.ShutDown()
	if !cache.WaitForCacheSync(ctx.Done(), nsInf.Informer().HasSynced, saInf.Informer().HasSynced) {
		return nil
	}
	var w kubeutil.Workers
	w.Queue(ctx, 1, c.queue, c.sync)
	w.Wait(ctx)
	return nil
}

// sync makes sure the namespace, if active, has the default account.
func (c *Controller) sync(ctx context.Context, name string) error {
	ns, err := c.namespaces.Get(name)
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return err
	}
	if ns.Status.Phase != corev1.NamespaceActive || ns.DeletionTimestamp != nil {
		return nil
	}
	if _, err := c.accounts.ServiceAccounts(name).Get(DefaultName); err == nil {
		return nil
	}
	_, err = c.client.CoreV1().ServiceAccounts(name).Create(ctx, &corev1.ServiceAccount{
		ObjectMeta: metav1.ObjectMeta{Name: DefaultName, Namespace: name},
	}, metav1.CreateOptions{})
	switch {
	case err == nil, apierrors.IsAlreadyExists(err):
		return nil
	case apierrors.IsForbidden(err) || apierrors.IsNotFound(err):
		// The namespace is terminating or gone: nothing to do.
		return nil
	}
	return err
}
