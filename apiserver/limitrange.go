package apiserver

// limitrange.go serves LimitRange objects and applies them to pods on
// create as upstream's LimitRanger admission plugin does, for items of
// type Container: missing limits and requests of each container (init
// containers included) are filled from `default` and `defaultRequest`
// (annotated kubernetes.io/limit-ranger), then `min`, `max` and
// `maxLimitRequestRatio` are enforced, a violation being 403 Forbidden
// with upstream's messages. Items of other types are stored and not
// enforced. Like upstream, pod updates are not checked (a pod's resources
// cannot change).

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// limitRangerAnnotation lists the defaults LimitRanger set on a pod.
const limitRangerAnnotation = "kubernetes.io/limit-ranger"

// prepareLimitRange applies upstream's defaults of a Container item: a
// missing default limit is the max, a missing default request is the
// default limit, else the min.
func prepareLimitRange(s *Server, obj runtime.Object) error {
	lr := obj.(*corev1.LimitRange)
	for i := range lr.Spec.Limits {
		it := &lr.Spec.Limits[i]
		if it.Type != corev1.LimitTypeContainer {
			continue
		}
		if it.Default == nil {
			it.Default = corev1.ResourceList{}
		}
		if it.DefaultRequest == nil {
			it.DefaultRequest = corev1.ResourceList{}
		}
		for k, v := range it.Max {
			if _, ok := it.Default[k]; !ok {
				it.Default[k] = v.DeepCopy()
			}
		}
		for k, v := range it.Default {
			if _, ok := it.DefaultRequest[k]; !ok {
				it.DefaultRequest[k] = v.DeepCopy()
			}
		}
		for k, v := range it.Min {
			if _, ok := it.DefaultRequest[k]; !ok {
				it.DefaultRequest[k] = v.DeepCopy()
			}
		}
	}
	return nil
}

func validateLimitRangeUpdate(s *Server, obj, old runtime.Object) error {
	if err := prepareLimitRange(s, obj); err != nil {
		return err
	}
	return validateLimitRange(s, obj)
}

// validateLimitRange checks a LimitRange as upstream's ValidateLimitRange
// does for what wasmpod enforces.
func validateLimitRange(s *Server, obj runtime.Object) error {
	lr := obj.(*corev1.LimitRange)
	var errs field.ErrorList
	types := []string{string(corev1.LimitTypePod), string(corev1.LimitTypeContainer), string(corev1.LimitTypePersistentVolumeClaim)}
	for i := range lr.Spec.Limits {
		it := &lr.Spec.Limits[i]
		p := field.NewPath("spec", "limits").Index(i)
		switch it.Type {
		case corev1.LimitTypePod, corev1.LimitTypeContainer, corev1.LimitTypePersistentVolumeClaim:
		case "":
			errs = append(errs, field.Required(p.Child("type"), ""))
		default:
			errs = append(errs, field.NotSupported(p.Child("type"), it.Type, types))
		}
		lists := []struct {
			name string
			l    corev1.ResourceList
		}{{"max", it.Max}, {"min", it.Min}, {"default", it.Default}, {"defaultRequest", it.DefaultRequest}, {"maxLimitRequestRatio", it.MaxLimitRequestRatio}}
		for _, l := range lists {
			for _, k := range sortedNames(l.l) {
				if q := l.l[k]; q.Sign() < 0 {
					errs = append(errs, field.Invalid(p.Child(l.name).Key(string(k)), q.String(), "must be greater than or equal to 0"))
				}
			}
		}
		if it.Type == corev1.LimitTypePod && (len(it.Default) > 0 || len(it.DefaultRequest) > 0) {
			errs = append(errs, field.Forbidden(p.Child("default"), "may not be specified when `type` is 'Pod'"))
		}
		for _, k := range sortedNames(it.Max) {
			mx := it.Max[k]
			if mn, ok := it.Min[k]; ok && mn.Cmp(mx) > 0 {
				errs = append(errs, field.Invalid(p.Child("min").Key(string(k)), mn.String(), fmt.Sprintf("min value %s is greater than max value %s", mn.String(), mx.String())))
			}
			if d, ok := it.Default[k]; ok && d.Cmp(mx) > 0 {
				errs = append(errs, field.Invalid(p.Child("default").Key(string(k)), d.String(), fmt.Sprintf("default value %s is greater than max value %s", d.String(), mx.String())))
			}
			if d, ok := it.DefaultRequest[k]; ok && d.Cmp(mx) > 0 {
				errs = append(errs, field.Invalid(p.Child("defaultRequest").Key(string(k)), d.String(), fmt.Sprintf("default request value %s is greater than max value %s", d.String(), mx.String())))
			}
		}
		for _, k := range sortedNames(it.Min) {
			mn := it.Min[k]
			if d, ok := it.Default[k]; ok && mn.Cmp(d) > 0 {
				errs = append(errs, field.Invalid(p.Child("default").Key(string(k)), d.String(), fmt.Sprintf("min value %s is greater than default value %s", mn.String(), d.String())))
			}
			if d, ok := it.DefaultRequest[k]; ok && mn.Cmp(d) > 0 {
				errs = append(errs, field.Invalid(p.Child("defaultRequest").Key(string(k)), d.String(), fmt.Sprintf("min value %s is greater than default request value %s", mn.String(), d.String())))
			}
		}
		for _, k := range sortedNames(it.DefaultRequest) {
			dr := it.DefaultRequest[k]
			if d, ok := it.Default[k]; ok && dr.Cmp(d) > 0 {
				errs = append(errs, field.Invalid(p.Child("defaultRequest").Key(string(k)), dr.String(), fmt.Sprintf("default request value %s is greater than default limit value %s", dr.String(), d.String())))
			}
		}
		for _, k := range sortedNames(it.MaxLimitRequestRatio) {
			r := it.MaxLimitRequestRatio[k]
			if r.Cmp(resource.MustParse("1")) < 0 {
				errs = append(errs, field.Invalid(p.Child("maxLimitRequestRatio").Key(string(k)), r.String(), fmt.Sprintf("ratio %s is less than 1", r.String())))
			}
			if mx, ok := it.Max[k]; ok {
				if mn, ok := it.Min[k]; ok && mn.Sign() > 0 && float64(mx.MilliValue())/float64(mn.MilliValue()) < float64(r.MilliValue())/1000 {
					errs = append(errs, field.Invalid(p.Child("maxLimitRequestRatio").Key(string(k)), r.String(),
						fmt.Sprintf("ratio %s is greater than max/min = %f", r.String(), float64(mx.MilliValue())/float64(mn.MilliValue()))))
				}
			}
		}
	}
	if len(errs) > 0 {
		return invalid("LimitRange", lr.Name, errs)
	}
	return nil
}

func sortedNames(l corev1.ResourceList) []corev1.ResourceName { return slices.Sorted(maps.Keys(l)) }

// limitRanges returns the LimitRanges of ns, as upstream's LimitRanger
// finds them: from its informer's cache (here the watch cache, read at
// resourceVersion 0: no store read, no wait), and only when that has none
// from a live lookup, whose answer is kept for limitRangeLiveTTL (upstream's
// liveLookupCache: it covers a cache that has not yet seen a LimitRange
// another server wrote). A pod create used to make a consistent LIST (a
// quorum read on etcd and a wait on the watch cache) for every pod.
//
// Beyond upstream, the cache is first brought up to this server's latest
// LimitRange write (it almost always is: it lags by the time one event
// takes to apply), so a LimitRange created or deleted through this server
// before a pod's create is always seen by it, and a live answer taken
// before such a write is not used after it.
func (s *Server) limitRanges(ctx context.Context, ns string) ([]corev1.LimitRange, error) {
	r, ok := s.resources["/limitranges"]
	if !ok {
		return nil, nil
	}
	wrote := r.lastWrite.Load()
	if c := s.cacherFor(r); c != nil && c.set.waitFor(ctx, wrote) {
		obj, ok, err := c.list(ctx, ns, selector{labels: labels.Everything(), fields: fields.Everything()}, metav1.ListOptions{ResourceVersion: "0"})
		if err != nil {
			return nil, err
		}
		if ok {
			if items := obj.(*corev1.LimitRangeList).Items; len(items) > 0 {
				return items, nil
			}
			return s.limitRangesLive(ctx, r, ns, wrote)
		}
	}
	obj, err := s.List(ctx, r, ns, metav1.ListOptions{})
	if err != nil {
		return nil, err
	}
	return obj.(*corev1.LimitRangeList).Items, nil
}

// limitRangeLiveTTL is how long a live lookup's answer is used (upstream's
// liveTTL).
const limitRangeLiveTTL = 30 * time.Second

// limitRangeLive is a live lookup's answer for a namespace.
type limitRangeLive struct {
	expiry time.Time
	wrote  int64 // r.lastWrite when it was taken
	items  []corev1.LimitRange
}

// limitRangesLive is the live lookup of ns's LimitRanges (a consistent
// LIST), or its answer taken within limitRangeLiveTTL and since this
// server's last LimitRange write.
func (s *Server) limitRangesLive(ctx context.Context, r *Resource, ns string, wrote int64) ([]corev1.LimitRange, error) {
	now := s.clock.Now()
	s.lrLiveMu.Lock()
	e, ok := s.lrLive[ns]
	s.lrLiveMu.Unlock()
	if ok && now.Before(e.expiry) && e.wrote == wrote {
		return slices.Clone(e.items), nil
	}
	obj, err := s.List(ctx, r, ns, metav1.ListOptions{})
	if err != nil {
		return nil, err
	}
	items := obj.(*corev1.LimitRangeList).Items
	s.lrLiveMu.Lock()
	if s.lrLive == nil || len(s.lrLive) >= 10000 { // upstream's LRU holds 10,000
		s.lrLive = map[string]limitRangeLive{}
	}
	s.lrLive[ns] = limitRangeLive{expiry: now.Add(limitRangeLiveTTL), wrote: wrote, items: items}
	s.lrLiveMu.Unlock()
	return slices.Clone(items), nil
}

// applyLimitRangeDefaults fills the containers' missing requests and
// limits from the Container items of lrs, as LimitRanger's Admit.
func applyLimitRangeDefaults(pod *corev1.Pod, lrs []corev1.LimitRange) {
	for _, lr := range lrs {
		var defLimits, defRequests corev1.ResourceList
		for _, it := range lr.Spec.Limits {
			if it.Type != corev1.LimitTypeContainer {
				continue
			}
			if defLimits == nil {
				defLimits, defRequests = corev1.ResourceList{}, corev1.ResourceList{}
			}
			for k, v := range it.DefaultRequest {
				defRequests[k] = v.DeepCopy()
			}
			for k, v := range it.Default {
				defLimits[k] = v.DeepCopy()
			}
		}
		if defLimits == nil {
			continue
		}
		var notes []string
		merge := func(c *corev1.Container) {
			var setReq, setLim []string
			for _, k := range sortedNames(defLimits) {
				if _, ok := c.Resources.Limits[k]; !ok {
					if c.Resources.Limits == nil {
						c.Resources.Limits = corev1.ResourceList{}
					}
					c.Resources.Limits[k] = defLimits[k].DeepCopy()
					setLim = append(setLim, string(k))
				}
			}
			for _, k := range sortedNames(defRequests) {
				if _, ok := c.Resources.Requests[k]; !ok {
					if c.Resources.Requests == nil {
						c.Resources.Requests = corev1.ResourceList{}
					}
					c.Resources.Requests[k] = defRequests[k].DeepCopy()
					setReq = append(setReq, string(k))
				}
			}
			if len(setReq) > 0 {
				notes = append(notes, fmt.Sprintf("%s request for container %s", strings.Join(setReq, ", "), c.Name))
			}
			if len(setLim) > 0 {
				notes = append(notes, fmt.Sprintf("%s limit for container %s", strings.Join(setLim, ", "), c.Name))
			}
		}
		for i := range pod.Spec.Containers {
			merge(&pod.Spec.Containers[i])
		}
		for i := range pod.Spec.InitContainers {
			merge(&pod.Spec.InitContainers[i])
		}
		if len(notes) > 0 {
			if pod.Annotations == nil {
				pod.Annotations = map[string]string{}
			}
			pod.Annotations[limitRangerAnnotation] = "LimitRanger plugin set: " + strings.Join(notes, "; ")
		}
	}
}

// checkLimitRanges enforces the Container items of lrs on pod, as
// LimitRanger's Validate: 403 Forbidden listing every violation.
func checkLimitRanges(pod *corev1.Pod, lrs []corev1.LimitRange) error {
	var msgs []string
	for _, lr := range lrs {
		for _, it := range lr.Spec.Limits {
			if it.Type != corev1.LimitTypeContainer {
				continue
			}
			lt := string(it.Type)
			check := func(c *corev1.Container) {
				req, lim := c.Resources.Requests, c.Resources.Limits
				for _, k := range sortedNames(it.Min) {
					if err := minConstraint(lt, string(k), it.Min[k], req, lim); err != "" {
						msgs = append(msgs, err)
					}
				}
				for _, k := range sortedNames(it.Max) {
					if err := maxConstraint(lt, string(k), it.Max[k], req, lim); err != "" {
						msgs = append(msgs, err)
					}
				}
				for _, k := range sortedNames(it.MaxLimitRequestRatio) {
					if err := ratioConstraint(lt, string(k), it.MaxLimitRequestRatio[k], req, lim); err != "" {
						msgs = append(msgs, err)
					}
				}
			}
			for i := range pod.Spec.Containers {
				check(&pod.Spec.Containers[i])
			}
			for i := range pod.Spec.InitContainers {
				check(&pod.Spec.InitContainers[i])
			}
		}
	}
	switch len(msgs) {
	case 0:
		return nil
	case 1:
		return apierrors.NewForbidden(corev1.Resource("pods"), pod.Name, fmt.Errorf("%s", msgs[0]))
	}
	return apierrors.NewForbidden(corev1.Resource("pods"), pod.Name, fmt.Errorf("[%s]", strings.Join(msgs, ", ")))
}

// commonValues returns request, limit and enforced at a common precision
// (milli-units unless that would overflow).
func commonValues(req, lim, enforced resource.Quantity) (int64, int64, int64) {
	r, l, e := req.Value(), lim.Value(), enforced.Value()
	if r <= resource.MaxMilliValue && l <= resource.MaxMilliValue && e <= resource.MaxMilliValue {
		return req.MilliValue(), lim.MilliValue(), enforced.MilliValue()
	}
	return r, l, e
}

func minConstraint(lt, name string, enforced resource.Quantity, request, limit corev1.ResourceList) string {
	req, hasReq := request[corev1.ResourceName(name)]
	lim, hasLim := limit[corev1.ResourceName(name)]
	r, l, e := commonValues(req, lim, enforced)
	switch {
	case !hasReq:
		return fmt.Sprintf("minimum %s usage per %s is %s.  No request is specified", name, lt, enforced.String())
	case r < e:
		return fmt.Sprintf("minimum %s usage per %s is %s, but request is %s", name, lt, enforced.String(), req.String())
	case hasLim && l < e:
		return fmt.Sprintf("minimum %s usage per %s is %s, but limit is %s", name, lt, enforced.String(), lim.String())
	}
	return ""
}

func maxConstraint(lt, name string, enforced resource.Quantity, request, limit corev1.ResourceList) string {
	req, hasReq := request[corev1.ResourceName(name)]
	lim, hasLim := limit[corev1.ResourceName(name)]
	r, l, e := commonValues(req, lim, enforced)
	switch {
	case !hasLim:
		return fmt.Sprintf("maximum %s usage per %s is %s.  No limit is specified", name, lt, enforced.String())
	case l > e:
		return fmt.Sprintf("maximum %s usage per %s is %s, but limit is %s", name, lt, enforced.String(), lim.String())
	case hasReq && r > e:
		return fmt.Sprintf("maximum %s usage per %s is %s, but request is %s", name, lt, enforced.String(), req.String())
	}
	return ""
}

func ratioConstraint(lt, name string, enforced resource.Quantity, request, limit corev1.ResourceList) string {
	req, hasReq := request[corev1.ResourceName(name)]
	lim, hasLim := limit[corev1.ResourceName(name)]
	r, l, _ := commonValues(req, lim, enforced)
	if !hasReq || r == 0 {
		return fmt.Sprintf("%s max limit to request ratio per %s is %s, but no request is specified or request is 0", name, lt, enforced.String())
	}
	if !hasLim || l == 0 {
		return fmt.Sprintf("%s max limit to request ratio per %s is %s, but no limit is specified or limit is 0", name, lt, enforced.String())
	}
	ratio := float64(l) / float64(r)
	observed, max := ratio, float64(enforced.Value())
	if enforced.Value() <= resource.MaxMilliValue {
		observed, max = ratio*1000, float64(enforced.MilliValue())
	}
	if observed > max {
		return fmt.Sprintf("%s max limit to request ratio per %s is %s, but provided ratio is %f", name, lt, enforced.String(), ratio)
	}
	return ""
}
