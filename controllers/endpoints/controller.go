// Package endpoints is the endpoints controller: it keeps, for every
// Service with a selector, the EndpointSlices (discovery.k8s.io/v1) and the
// legacy Endpoints object in step with the Service's pods.
//
// Contracts:
//   - A pod is an endpoint of a Service when it is in the Service's
//     namespace, matches its selector, has a pod IP and is not Succeeded or
//     Failed. Its conditions are ready = Ready condition True and no
//     deletionTimestamp (or publishNotReadyAddresses), serving = Ready
//     condition True, terminating = deletionTimestamp set. So a pod being
//     deleted leaves the ready endpoints as soon as the API marks it, before
//     its containers get TERM.
//   - Ports resolve per pod: a numeric targetPort as is, a named targetPort
//     through the pod's container ports of that name and protocol (a pod
//     without it is not an endpoint of that port). Pods whose resolved
//     ports differ go into different slices.
//   - Slices carry the labels kubernetes.io/service-name and
//     endpointslice.kubernetes.io/managed-by=endpointslice-controller.k8s.io
//     (plus the Service's labels), addressType IPv4, an owner reference to
//     the Service, and deterministic names <service>-<hash of the ports>.
//     The controller owns slices with that managed-by label only.
//   - The Endpoints object (named as the Service) lists ready addresses in
//     addresses and the others, except terminating ones, in
//     notReadyAddresses, as upstream.
//   - A Service without a selector (or of type ExternalName) is left alone:
//     its Endpoints/EndpointSlices are the user's. When a Service is deleted
//     the controller deletes its managed slices and its Endpoints.
//   - Writes are idempotent (no-op updates are skipped); failures are
//     retried with backoff. Run returns when ctx ends.
package endpoints

import (
	"context"
	"fmt"
	"hash/fnv"
	"sort"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	"k8s.io/apimachinery/pkg/api/equality"
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

// Label values the controller writes.
const (
	ManagedBy       = "endpointslice-controller.k8s.io"
	LabelManagedBy  = discoveryv1.LabelManagedBy   // endpointslice.kubernetes.io/managed-by
	LabelServiceKey = discoveryv1.LabelServiceName // kubernetes.io/service-name
)

// Controller is the endpoints controller.
type Controller struct {
	// Informers, when set before Run, is the informer factory shared with
	// the other controllers (kubeutil.NewSharedFactory); nil: Run makes its own.
	Informers informers.SharedInformerFactory

	client   kubernetes.Interface
	queue    workqueue.TypedRateLimitingInterface[string]
	services corelisters.ServiceLister
	pods     corelisters.PodLister
}

// New makes a controller over client.
func New(client kubernetes.Interface) *Controller {
	return &Controller{
		client: client,
		queue:  kubeutil.NewQueue("endpoints"),
	}
}

// Run watches Services and Pods and reconciles until ctx ends.
func (c *Controller) Run(ctx context.Context) error {
	f, shutdown := kubeutil.Factory(c.Informers, c.client)
	svcInf := f.Core().V1().Services()
	podInf := f.Core().V1().Pods()
	c.services, c.pods = svcInf.Lister(), podInf.Lister()
	enqueueSvc := func(o any) {
		if key, err := cache.DeletionHandlingMetaNamespaceKeyFunc(o); err == nil {
			c.queue.Add(key)
		}
	}
	if _, err := svcInf.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    enqueueSvc,
		UpdateFunc: func(_, o any) { enqueueSvc(o) },
		DeleteFunc: enqueueSvc,
	}); err != nil {
		return err
	}
	if _, err := podInf.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc: func(o any) { c.enqueuePod(o, nil) },
		UpdateFunc: func(old, o any) {
			c.enqueuePod(o, old)
		},
		DeleteFunc: func(o any) { c.enqueuePod(o, nil) },
	}); err != nil {
		return err
	}
	f.Start(ctx.Done())
	defer shutdown()
	defer c.queue.ShutDown()
	if !cache.WaitForCacheSync(ctx.Done(), svcInf.Informer().HasSynced, podInf.Informer().HasSynced) {
		return nil
	}
	var w kubeutil.Workers
	w.Queue(ctx, 1, c.queue, c.sync)
	w.Wait(ctx)
	return nil
}

// enqueuePod queues the Services whose selector matches the pod's labels,
// now or before.
func (c *Controller) enqueuePod(o, old any) {
	pod := podOf(o)
	if pod == nil {
		return
	}
	sets := []labels.Set{pod.Labels}
	if op := podOf(old); op != nil {
		sets = append(sets, op.Labels)
	}
	svcs, err := c.services.Services(pod.Namespace).List(labels.Everything())
	if err != nil {
		return
	}
	for _, s := range svcs {
		if len(s.Spec.Selector) == 0 {
			continue
		}
		sel := labels.SelectorFromValidatedSet(s.Spec.Selector)
		for _, set := range sets {
			if sel.Matches(set) {
				c.queue.Add(s.Namespace + "/" + s.Name)
				break
			}
		}
	}
}

func podOf(o any) *corev1.Pod {
	p, _ := kubeutil.Object[*corev1.Pod](o)
	return p
}

// sync reconciles one Service's slices and Endpoints.
func (c *Controller) sync(ctx context.Context, key string) error {
	ns, name, err := cache.SplitMetaNamespaceKey(key)
	if err != nil {
		return nil
	}
	svc, err := c.services.Services(ns).Get(name)
	if apierrors.IsNotFound(err) {
		return c.cleanup(ctx, ns, name)
	}
	if err != nil {
		return err
	}
	if len(svc.Spec.Selector) == 0 || svc.Spec.Type == corev1.ServiceTypeExternalName {
		// Not ours; remove slices we made while it had a selector.
		return c.syncSlices(ctx, svc, nil)
	}
	pods, err := c.pods.Pods(ns).List(labels.SelectorFromValidatedSet(svc.Spec.Selector))
	if err != nil {
		return err
	}
	sort.Slice(pods, func(i, j int) bool { return pods[i].Name < pods[j].Name })
	groups := groupEndpoints(svc, pods)
	if err := c.syncSlices(ctx, svc, groups); err != nil {
		return err
	}
	return c.syncEndpoints(ctx, svc, groups)
}

// group is the endpoints sharing one resolved port list.
type group struct {
	ports     []discoveryv1.EndpointPort
	endpoints []endpoint
}

type endpoint struct {
	pod                         *corev1.Pod
	ready, serving, terminating bool
}

func podReady(p *corev1.Pod) bool {
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

// groupEndpoints resolves each pod's ports and groups the pods by them.
func groupEndpoints(svc *corev1.Service, pods []*corev1.Pod) []*group {
	byKey := map[string]*group{}
	var order []string
	for _, p := range pods {
		if p.Status.PodIP == "" || p.Status.Phase == corev1.PodSucceeded || p.Status.Phase == corev1.PodFailed {
			continue
		}
		var ports []discoveryv1.EndpointPort
		for _, sp := range svc.Spec.Ports {
			n, ok := resolvePort(p, &sp)
			if !ok {
				continue
			}
			ep := discoveryv1.EndpointPort{Name: ptr(sp.Name), Port: ptr(n), Protocol: ptr(sp.Protocol)}
			if sp.AppProtocol != nil {
				ep.AppProtocol = ptr(*sp.AppProtocol)
			}
			ports = append(ports, ep)
		}
		if len(ports) == 0 && len(svc.Spec.Ports) > 0 {
			continue
		}
		key := portsKey(ports)
		g := byKey[key]
		if g == nil {
			g = &group{ports: ports}
			byKey[key] = g
			order = append(order, key)
		}
		terminating := p.DeletionTimestamp != nil
		serving := podReady(p)
		ready := serving && !terminating
		if svc.Spec.PublishNotReadyAddresses {
			ready = true
		}
		g.endpoints = append(g.endpoints, endpoint{pod: p, ready: ready, serving: serving, terminating: terminating})
	}
	sort.Strings(order)
	out := make([]*group, 0, len(order))
	for _, k := range order {
		out = append(out, byKey[k])
	}
	return out
}

func ptr[T any](v T) *T { return &v }

// resolvePort finds the pod's port for a Service port, as upstream's
// podutil.FindPort.
func resolvePort(p *corev1.Pod, sp *corev1.ServicePort) (int32, bool) {
	if sp.TargetPort.StrVal == "" && sp.TargetPort.IntVal == 0 {
		return sp.Port, true
	}
	if sp.TargetPort.Type == 0 { // intstr.Int
		return sp.TargetPort.IntVal, true
	}
	for _, cs := range [][]corev1.Container{p.Spec.Containers, p.Spec.InitContainers} {
		for _, c := range cs {
			for _, cp := range c.Ports {
				proto := cp.Protocol
				if proto == "" {
					proto = corev1.ProtocolTCP
				}
				if cp.Name == sp.TargetPort.StrVal && proto == sp.Protocol {
					return cp.ContainerPort, true
				}
			}
		}
	}
	return 0, false
}

func portsKey(ports []discoveryv1.EndpointPort) string {
	s := ""
	for _, p := range ports {
		s += fmt.Sprintf("%s/%d/%s,", *p.Name, *p.Port, *p.Protocol)
	}
	return s
}

func sliceName(svc string, ports []discoveryv1.EndpointPort) string {
	h := fnv.New32a()
	h.Write([]byte(portsKey(ports)))
	name := fmt.Sprintf("%s-%08x", svc, h.Sum32())
	if len(name) > 253 {
		name = name[len(name)-253:]
	}
	return name
}

func sliceLabels(svc *corev1.Service) map[string]string {
	l := map[string]string{}
	for k, v := range svc.Labels {
		l[k] = v
	}
	l[LabelServiceKey] = svc.Name
	l[LabelManagedBy] = ManagedBy
	return l
}

func ownerRef(svc *corev1.Service) []metav1.OwnerReference {
	return []metav1.OwnerReference{{APIVersion: "v1", Kind: "Service", Name: svc.Name, UID: svc.UID,
		Controller: ptr(true), BlockOwnerDeletion: ptr(true)}}
}

func targetRef(p *corev1.Pod) *corev1.ObjectReference {
	return &corev1.ObjectReference{Kind: "Pod", Namespace: p.Namespace, Name: p.Name, UID: p.UID}
}

// hostname is the endpoint's hostname: the pod's, when its subdomain is
// the Service's name (upstream's rule for DNS records of headless
// Services).
func hostname(svc *corev1.Service, p *corev1.Pod) string {
	if p.Spec.Hostname != "" && p.Spec.Subdomain == svc.Name {
		return p.Spec.Hostname
	}
	return ""
}

// syncSlices makes the managed slices of svc exactly groups (nil: none).
func (c *Controller) syncSlices(ctx context.Context, svc *corev1.Service, groups []*group) error {
	api := c.client.DiscoveryV1().EndpointSlices(svc.Namespace)
	existing, err := api.List(ctx, metav1.ListOptions{LabelSelector: labels.SelectorFromSet(labels.Set{
		LabelServiceKey: svc.Name, LabelManagedBy: ManagedBy}).String()})
	if err != nil {
		return err
	}
	have := map[string]*discoveryv1.EndpointSlice{}
	for i := range existing.Items {
		have[existing.Items[i].Name] = &existing.Items[i]
	}
	want := map[string]bool{}
	for _, g := range groups {
		s := &discoveryv1.EndpointSlice{
			ObjectMeta: metav1.ObjectMeta{
				Name: sliceName(svc.Name, g.ports), Namespace: svc.Namespace,
				Labels: sliceLabels(svc), OwnerReferences: ownerRef(svc),
			},
			AddressType: discoveryv1.AddressTypeIPv4,
			Ports:       g.ports,
			Endpoints:   []discoveryv1.Endpoint{},
		}
		for _, e := range g.endpoints {
			ep := discoveryv1.Endpoint{
				Addresses:  []string{e.pod.Status.PodIP},
				Conditions: discoveryv1.EndpointConditions{Ready: ptr(e.ready), Serving: ptr(e.serving), Terminating: ptr(e.terminating)},
				TargetRef:  targetRef(e.pod),
			}
			if e.pod.Spec.NodeName != "" {
				ep.NodeName = ptr(e.pod.Spec.NodeName)
			}
			if h := hostname(svc, e.pod); h != "" {
				ep.Hostname = ptr(h)
			}
			s.Endpoints = append(s.Endpoints, ep)
		}
		want[s.Name] = true
		cur := have[s.Name]
		if cur == nil {
			if _, err := api.Create(ctx, s, metav1.CreateOptions{}); err != nil {
				return err
			}
			continue
		}
		if equality.Semantic.DeepEqual(cur.Labels, s.Labels) && equality.Semantic.DeepEqual(cur.Ports, s.Ports) &&
			equality.Semantic.DeepEqual(cur.Endpoints, s.Endpoints) && equality.Semantic.DeepEqual(cur.OwnerReferences, s.OwnerReferences) &&
			cur.AddressType == s.AddressType {
			continue
		}
		upd := cur.DeepCopy()
		upd.Labels, upd.OwnerReferences, upd.AddressType, upd.Ports, upd.Endpoints = s.Labels, s.OwnerReferences, s.AddressType, s.Ports, s.Endpoints
		if _, err := api.Update(ctx, upd, metav1.UpdateOptions{}); err != nil {
			return err
		}
	}
	for name := range have {
		if !want[name] {
			if err := api.Delete(ctx, name, metav1.DeleteOptions{}); err != nil && !apierrors.IsNotFound(err) {
				return err
			}
		}
	}
	return nil
}

// syncEndpoints writes the legacy Endpoints object of svc.
func (c *Controller) syncEndpoints(ctx context.Context, svc *corev1.Service, groups []*group) error {
	api := c.client.CoreV1().Endpoints(svc.Namespace)
	var subsets []corev1.EndpointSubset
	for _, g := range groups {
		var ss corev1.EndpointSubset
		for _, e := range g.endpoints {
			addr := corev1.EndpointAddress{IP: e.pod.Status.PodIP, Hostname: hostname(svc, e.pod), TargetRef: targetRef(e.pod)}
			if e.pod.Spec.NodeName != "" {
				addr.NodeName = ptr(e.pod.Spec.NodeName)
			}
			switch {
			case e.ready:
				ss.Addresses = append(ss.Addresses, addr)
			case !e.terminating:
				ss.NotReadyAddresses = append(ss.NotReadyAddresses, addr)
			}
		}
		if len(ss.Addresses) == 0 && len(ss.NotReadyAddresses) == 0 {
			continue
		}
		for _, p := range g.ports {
			ep := corev1.EndpointPort{Name: *p.Name, Port: *p.Port, Protocol: *p.Protocol}
			if p.AppProtocol != nil {
				ep.AppProtocol = ptr(*p.AppProtocol)
			}
			ss.Ports = append(ss.Ports, ep)
		}
		subsets = append(subsets, ss)
	}
	want := &corev1.Endpoints{
		ObjectMeta: metav1.ObjectMeta{Name: svc.Name, Namespace: svc.Namespace, Labels: map[string]string{}},
		Subsets:    subsets,
	}
	for k, v := range svc.Labels {
		want.Labels[k] = v
	}
	if svc.Spec.ClusterIP == corev1.ClusterIPNone {
		want.Labels[corev1.IsHeadlessService] = ""
	}
	cur, err := api.Get(ctx, svc.Name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		_, err = api.Create(ctx, want, metav1.CreateOptions{})
		return err
	}
	if err != nil {
		return err
	}
	if equality.Semantic.DeepEqual(cur.Subsets, want.Subsets) && equality.Semantic.DeepEqual(cur.Labels, want.Labels) {
		return nil
	}
	upd := cur.DeepCopy()
	upd.Subsets, upd.Labels = want.Subsets, want.Labels
	_, err = api.Update(ctx, upd, metav1.UpdateOptions{})
	return err
}

// cleanup removes what the controller made for a deleted Service.
func (c *Controller) cleanup(ctx context.Context, ns, name string) error {
	svc := &corev1.Service{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}}
	if err := c.syncSlices(ctx, svc, nil); err != nil {
		return err
	}
	err := c.client.CoreV1().Endpoints(ns).Delete(ctx, name, metav1.DeleteOptions{})
	if err != nil && !apierrors.IsNotFound(err) {
		return err
	}
	return nil
}
