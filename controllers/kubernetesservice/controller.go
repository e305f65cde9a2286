// Package kubernetesservice keeps the "kubernetes" Service in the default
// namespace, as kube-apiserver's own reconciler does: a ClusterIP Service
// at the first address of the service range (apiserver.KubernetesServiceIP)
// with one port, 443 named "https", whose Endpoints and EndpointSlice
// (both named "kubernetes") point at the API server's address, so that
// in-cluster clients find the API at https://kubernetes.default.svc.
//
// Contracts:
//   - The Service carries upstream's labels (component=apiserver,
//     provider=kubernetes) and no selector, so the endpoints controller
//     leaves its endpoints alone. It is created when missing (also after a
//     user deletes it) and its ports and type are put back when changed;
//     other fields (labels added by users, ...) are left as they are.
//   - The endpoints exist only once the API server's address is known
//     (SetAddress): an in-process cluster that serves no network listener
//     has the Service without endpoints. A changed address replaces them.
//     The Endpoints object carries endpointslice.kubernetes.io/skip-mirror
//     and the EndpointSlice kubernetes.io/service-name=kubernetes, as
//     upstream.
//   - It reconciles on every change to the three objects and every
//     Resync (10 s, as upstream's endpoint reconciler interval), through
//     the API. Run returns when ctx ends.
package kubernetesservice

import (
	"context"
	"net/netip"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/client-go/tools/cache"
	"k8s.io/klog/v2"

	"github.com/wasmpod/wasmpod/apiserver"
	"github.com/wasmpod/wasmpod/internal/kube/informers"
	"github.com/wasmpod/wasmpod/internal/kube/kubernetes"
)

// Names and values, as upstream.
const (
	Name      = "kubernetes"
	Namespace = metav1.NamespaceDefault
	PortName  = "https"
	Port      = 443
)

// Controller keeps the kubernetes Service and its endpoints.
type Controller struct {
	client kubernetes.Interface
	// Resync is how often the objects are checked without an event.
	Resync time.Duration

	mu      sync.Mutex
	addr    netip.AddrPort
	trigger chan struct{}
}

// New makes a controller over client.
func New(client kubernetes.Interface) *Controller {
	return &Controller{client: client, Resync: 10 * time.Second, trigger: make(chan struct{}, 1)}
}

// SetAddress sets the API server's address (its IP and port) that the
// endpoints point at; the zero AddrPort removes them.
func (c *Controller) SetAddress(addr netip.AddrPort) {
	c.mu.Lock()
	c.addr = addr
	c.mu.Unlock()
	c.kick()
}

func (c *Controller) kick() {
	select {
	case c.trigger <- struct{}{}:
	default:
	}
}

// Run reconciles until ctx ends.
func (c *Controller) Run(ctx context.Context) {
	f := informers.NewSharedInformerFactoryWithOptions(c.client, 0, informers.WithNamespace(Namespace),
		informers.WithTweakListOptions(func(o *metav1.ListOptions) {
			o.FieldSelector = fields.OneTermEqualSelector("metadata.name", Name).String()
		}))
	onAny := cache.ResourceEventHandlerFuncs{
		AddFunc:    func(any) { c.kick() },
		UpdateFunc: func(any, any) { c.kick() },
		DeleteFunc: func(any) { c.kick() },
	}
	for _, inf := range []cache.SharedIndexInformer{
		f.Core().V1().Services().Informer(),
		f.Core().V1().Endpoints().Informer(),
		f.Discovery().V1().EndpointSlices().Informer(),
	} {
		if _, err := inf.AddEventHandler(onAny); err != nil {
			klog.Errorf("kubernetes service: %v", err)
			return
		}
	}
	f.Start(ctx.Done())
	defer f.Shutdown()
	tick := time.NewTicker(c.Resync)
	defer tick.Stop()
	backoff := time.Duration(0)
	for {
		if err := c.Sync(ctx); err != nil && ctx.Err() == nil {
			klog.V(2).Infof("kubernetes service: %v", err)
			backoff = min(max(2*backoff, 10*time.Millisecond), c.Resync)
			select {
			case <-ctx.Done():
				return
			case <-time.After(backoff):
			}
			continue
		}
		backoff = 0
		select {
		case <-ctx.Done():
			return
		case <-c.trigger:
		case <-tick.C:
		}
	}
}

// Sync makes the Service and its endpoints what they should be, once.
func (c *Controller) Sync(ctx context.Context) error {
	c.mu.Lock()
	addr := c.addr
	c.mu.Unlock()
	if err := c.syncService(ctx, addr); err != nil {
		return err
	}
	if err := c.syncEndpoints(ctx, addr); err != nil {
		return err
	}
	return c.syncSlice(ctx, addr)
}

func targetPort(addr netip.AddrPort) int32 {
	if addr.IsValid() {
		return int32(addr.Port())
	}
	return Port
}

func (c *Controller) syncService(ctx context.Context, addr netip.AddrPort) error {
	ports := []corev1.ServicePort{{Name: PortName, Protocol: corev1.ProtocolTCP, Port: Port, TargetPort: intstr.FromInt32(targetPort(addr))}}
	svcs := c.client.CoreV1().Services(Namespace)
	svc, err := svcs.Get(ctx, Name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		_, err = svcs.Create(ctx, &corev1.Service{
			ObjectMeta: metav1.ObjectMeta{Name: Name, Namespace: Namespace,
				Labels: map[string]string{"component": "apiserver", "provider": "kubernetes"}},
			Spec: corev1.ServiceSpec{
				Type:            corev1.ServiceTypeClusterIP,
				ClusterIP:       apiserver.KubernetesServiceIP.String(),
				Ports:           ports,
				SessionAffinity: corev1.ServiceAffinityNone,
			},
		}, metav1.CreateOptions{})
		if apierrors.IsAlreadyExists(err) {
			return nil
		}
		return err
	}
	if err != nil {
		return err
	}
	if svc.Spec.Type == corev1.ServiceTypeClusterIP && equality.Semantic.DeepEqual(svc.Spec.Ports, ports) {
		return nil
	}
	svc.Spec.Type, svc.Spec.Ports = corev1.ServiceTypeClusterIP, ports
	_, err = svcs.Update(ctx, svc, metav1.UpdateOptions{})
	return err
}

func (c *Controller) syncEndpoints(ctx context.Context, addr netip.AddrPort) error {
	eps := c.client.CoreV1().Endpoints(Namespace)
	cur, err := eps.Get(ctx, Name, metav1.GetOptions{})
	if err != nil && !apierrors.IsNotFound(err) {
		return err
	}
	if !addr.IsValid() {
		if err == nil {
			err = eps.Delete(ctx, Name, metav1.DeleteOptions{})
			if apierrors.IsNotFound(err) {
				return nil
			}
		}
		return ignoreNotFound(err)
	}
	labels := map[string]string{discoveryv1.LabelSkipMirror: "true"}
	subsets := []corev1.EndpointSubset{{
		Addresses: []corev1.EndpointAddress{{IP: addr.Addr().String()}},
		Ports:     []corev1.EndpointPort{{Name: PortName, Port: int32(addr.Port()), Protocol: corev1.ProtocolTCP}},
	}}
	if apierrors.IsNotFound(err) {
		_, err = eps.Create(ctx, &corev1.Endpoints{ObjectMeta: metav1.ObjectMeta{Name: Name, Namespace: Namespace, Labels: labels}, Subsets: subsets}, metav1.CreateOptions{})
		if apierrors.IsAlreadyExists(err) {
			return nil
		}
		return err
	}
	if equality.Semantic.DeepEqual(cur.Subsets, subsets) && cur.Labels[discoveryv1.LabelSkipMirror] == "true" {
		return nil
	}
	cur.Subsets = subsets
	if cur.Labels == nil {
		cur.Labels = map[string]string{}
	}
	cur.Labels[discoveryv1.LabelSkipMirror] = "true"
	_, err = eps.Update(ctx, cur, metav1.UpdateOptions{})
	return err
}

func (c *Controller) syncSlice(ctx context.Context, addr netip.AddrPort) error {
	slices := c.client.DiscoveryV1().EndpointSlices(Namespace)
	cur, err := slices.Get(ctx, Name, metav1.GetOptions{})
	if err != nil && !apierrors.IsNotFound(err) {
		return err
	}
	if !addr.IsValid() {
		if err == nil {
			err = slices.Delete(ctx, Name, metav1.DeleteOptions{})
		}
		return ignoreNotFound(err)
	}
	ready := true
	name, proto, port := PortName, corev1.ProtocolTCP, int32(addr.Port())
	at := discoveryv1.AddressTypeIPv4
	if addr.Addr().Is6() && !addr.Addr().Is4In6() {
		at = discoveryv1.AddressTypeIPv6
	}
	want := discoveryv1.EndpointSlice{
		AddressType: at,
		Endpoints:   []discoveryv1.Endpoint{{Addresses: []string{addr.Addr().String()}, Conditions: discoveryv1.EndpointConditions{Ready: &ready}}},
		Ports:       []discoveryv1.EndpointPort{{Name: &name, Protocol: &proto, Port: &port}},
	}
	if apierrors.IsNotFound(err) {
		want.ObjectMeta = metav1.ObjectMeta{Name: Name, Namespace: Namespace, Labels: map[string]string{discoveryv1.LabelServiceName: Name}}
		_, err = slices.Create(ctx, &want, metav1.CreateOptions{})
		if apierrors.IsAlreadyExists(err) {
			return nil
		}
		return err
	}
	if cur.AddressType == want.AddressType && equality.Semantic.DeepEqual(cur.Endpoints, want.Endpoints) &&
		equality.Semantic.DeepEqual(cur.Ports, want.Ports) && cur.Labels[discoveryv1.LabelServiceName] == Name {
		return nil
	}
	if cur.AddressType != want.AddressType {
		// The address type is immutable: replace the slice.
		if err := slices.Delete(ctx, Name, metav1.DeleteOptions{}); ignoreNotFound(err) != nil {
			return err
		}
		return c.syncSlice(ctx, addr)
	}
	cur.Endpoints, cur.Ports = want.Endpoints, want.Ports
	if cur.Labels == nil {
		cur.Labels = map[string]string{}
	}
	cur.Labels[discoveryv1.LabelServiceName] = Name
	_, err = slices.Update(ctx, cur, metav1.UpdateOptions{})
	return err
}

func ignoreNotFound(err error) error {
	if apierrors.IsNotFound(err) {
		return nil
	}
	return err
}
