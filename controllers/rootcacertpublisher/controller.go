// Package rootcacertpublisher is upstream's root-ca-cert-publisher
// controller (kube-controller-manager): every active namespace has a
// ConfigMap "kube-root-ca.crt" whose data["ca.crt"] is the bundle that
// verifies the API server's serving certificate, with upstream's
// kubernetes.io/description annotation. The ServiceAccount admission's
// kube-api-access volumes project its ca.crt next to the token.
//
// It works through the API (client-go informers, creates and updates). A
// ConfigMap that is deleted is made again; one whose ca.crt or annotation
// was changed is set back (its other keys are kept, as upstream). Until
// SetCA gives a bundle it does nothing (a cluster without TLS has no CA
// to publish). Failures are retried with backoff; Run returns when ctx
// ends.
package rootcacertpublisher

import (
	"context"
	"sync"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/util/workqueue"

	"github.com/wasmpod/wasmpod/internal/kube/informers"
	"github.com/wasmpod/wasmpod/internal/kube/kubernetes"
	"github.com/wasmpod/wasmpod/internal/kubeutil"
)

// Upstream's names.
const (
	// ConfigMapName is the ConfigMap in every namespace.
	ConfigMapName = "kube-root-ca.crt"
	// DataKey is the key of the bundle.
	DataKey = "ca.crt"
	// DescriptionAnnotation is upstream's annotation and Description its value.
	DescriptionAnnotation = "kubernetes.io/description"
	Description           = "Contains a CA bundle that can be used to verify the kube-apiserver when using internal endpoints such as the internal service IP or kubernetes.default.svc. No other usage is guaranteed across distributions of Kubernetes clusters."
)

// Controller keeps kube-root-ca.crt in every namespace.
type Controller struct {
	// Informers, when set before Run, is the control plane's shared
	// factory: its Namespace informer is the other controllers'.
	Informers informers.SharedInformerFactory

	client     kubernetes.Interface
	queue      workqueue.TypedRateLimitingInterface[string]
	namespaces corelisters.NamespaceLister
	configMaps corelisters.ConfigMapLister

	mu     sync.RWMutex
	ca     string
	synced bool // the listers are filled (SetCA may enqueue)
}

// New makes a controller over client.
func New(client kubernetes.Interface) *Controller {
	return &Controller{client: client, queue: kubeutil.NewQueue("root-ca-cert-publisher")}
}

// SetCA sets the bundle to publish (PEM) and brings every namespace up to
// date with it.
func (c *Controller) SetCA(pem []byte) {
	c.mu.Lock()
	c.ca = string(pem)
	synced := c.synced
	c.mu.Unlock()
	if synced {
		c.enqueueAll()
	}
}

func (c *Controller) bundle() string {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return c.ca
}

func (c *Controller) enqueueAll() {
	nss, _ := c.namespaces.List(labels.Everything())
	for _, ns := range nss {
		c.queue.Add(ns.Name)
	}
}

// Run watches Namespaces and ConfigMaps and reconciles until ctx ends.
func (c *Controller) Run(ctx context.Context) error {
	f, shutdown := kubeutil.Factory(c.Informers, c.client)
	nsInf := f.Core().V1().Namespaces()
	// Only the ConfigMaps it owns: a watch of every ConfigMap would copy
	// them all into this process.
	cmf := informers.NewSharedInformerFactoryWithOptions(c.client, 0, informers.WithTweakListOptions(func(o *metav1.ListOptions) {
		o.FieldSelector = "metadata.name=" + ConfigMapName
	}))
	cmInf := cmf.Core().V1().ConfigMaps()
	c.namespaces, c.configMaps = nsInf.Lister(), cmInf.Lister()
	if _, err := nsInf.Informer().AddEventHandler(kubeutil.Typed(
		func(ns *corev1.Namespace) { c.queue.Add(ns.Name) },
		func(ns *corev1.Namespace) { c.queue.Add(ns.Name) },
		func(*corev1.Namespace) {})); err != nil {
		return err
	}
	onCM := func(cm *corev1.ConfigMap) {
		if cm.Name == ConfigMapName {
			c.queue.Add(cm.Namespace)
		}
	}
	if _, err := cmInf.Informer().AddEventHandler(kubeutil.Typed(func(*corev1.ConfigMap) {}, onCM, onCM)); err != nil {
		return err
	}
	f.Start(ctx.Done())
	cmf.Start(ctx.Done())
	defer shutdown()
	defer cmf.Shutdown()
	defer c.queue.ShutDown()
	if !cache.WaitForCacheSync(ctx.Done(), nsInf.Informer().HasSynced, cmInf.Informer().HasSynced) {
		return nil
	}
	c.mu.Lock()
	c.synced = true
	c.mu.Unlock()
	c.enqueueAll()
	var w kubeutil.Workers
	w.Queue(ctx, 1, c.queue, c.sync)
	w.Wait(ctx)
	return nil
}

// sync makes the namespace's ConfigMap hold the bundle.
func (c *Controller) sync(ctx context.Context, name string) error {
	ca := c.bundle()
	if ca == "" {
		return nil
	}
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
	cm, err := c.configMaps.ConfigMaps(name).Get(ConfigMapName)
	if apierrors.IsNotFound(err) {
		_, err = c.client.CoreV1().ConfigMaps(name).Create(ctx, &corev1.ConfigMap{
			ObjectMeta: metav1.ObjectMeta{Name: ConfigMapName, Namespace: name, Annotations: map[string]string{DescriptionAnnotation: Description}},
			Data:       map[string]string{DataKey: ca},
		}, metav1.CreateOptions{})
		switch {
		case err == nil, apierrors.IsAlreadyExists(err):
			return nil
		case apierrors.IsForbidden(err) || apierrors.IsNotFound(err):
			return nil // the namespace is terminating or gone
		}
		return err
	}
	if err != nil {
		return err
	}
	if cm.Data[DataKey] == ca && cm.Annotations[DescriptionAnnotation] == Description {
		return nil
	}
	cm = cm.DeepCopy()
	if cm.Data == nil {
		cm.Data = map[string]string{}
	}
	cm.Data[DataKey] = ca
	if cm.Annotations == nil {
		cm.Annotations = map[string]string{}
	}
	cm.Annotations[DescriptionAnnotation] = Description
	_, err = c.client.CoreV1().ConfigMaps(name).Update(ctx, cm, metav1.UpdateOptions{})
	if apierrors.IsNotFound(err) {
		return nil // deleted meanwhile: the delete event brings it back
	}
	return err
}
