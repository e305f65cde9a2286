// Package podautoscaler is the HorizontalPodAutoscaler controller, as
// upstream's pkg/controller/podautoscaler in kube-controller-manager
// (its semantics, written here).
//
// Contracts:
//   - Every HPA (autoscaling/v2) is synced when it changes and every
//     SyncPeriod (15 s, --horizontal-pod-autoscaler-sync-period) on the
//     injected clock.
//   - A sync reads the target's scale subresource
//     (/apis/GROUP/VERSION/namespaces/NS/RESOURCE/NAME/scale; the resource
//     guessed from scaleTargetRef's kind as upstream's RESTMapper would for
//     the built-in kinds), the pods of its status.selector from the shared
//     informer, and the pods' resource usage from the metrics API
//     (GET /apis/metrics.k8s.io/v1beta1/namespaces/NS/pods?labelSelector=).
//     A target that cannot be read is AbleToScale False FailedGetScale (and
//     a Warning event of that reason).
//   - Resource and ContainerResource metrics (cpu, memory) with a target
//     Utilization (usage over the containers' requests, summed per pod) or
//     AverageValue: desired = ceil(ratio × pods with samples), no change
//     within the tolerance (0.1). Pods without samples count as using their
//     request (target average) when scaling down and nothing when scaling
//     up; not-yet-ready pods (cpu only: pending, not Ready, or sampled
//     before they became Ready within the 5 min initialization period)
//     count as nothing when scaling up; the result never reverses the
//     direction of the first ratio. Pods, Object and External metrics need
//     custom/external metrics APIs wasmpod does not serve: they fail
//     (ScalingActive False) and never scale down. The largest proposal of
//     the valid metrics wins; with any metric failing, no scale down.
//   - Without spec.behavior: the highest recommendation of the last
//     DownscaleStabilization (300 s) is used, scale up is bounded by
//     max(2 × current, 4). With a behavior: recommendations are stabilized
//     within the scale-up and scale-down windows and bounded by the
//     policies (Pods or Percent per period, selectPolicy Max, Min or
//     Disabled) counting the rescales of each policy's period.
//   - A target at 0 replicas (with minReplicas ≥ 1) is left alone
//     (ScalingActive False ScalingDisabled); one outside min..max is
//     brought inside.
//   - A rescale writes the target's scale, a SuccessfulRescale event "New
//     size: N; reason: <metric> above target" (or "All metrics below
//     target", or the range reason) and status.lastScaleTime; a failed one
//     is a FailedRescale warning and AbleToScale False FailedUpdateScale.
//   - status: currentReplicas, desiredReplicas, currentMetrics,
//     observedGeneration, lastScaleTime, and the conditions AbleToScale,
//     ScalingActive and ScalingLimited with upstream's reasons; written
//     only when it changed.
//   - It works through the Kubernetes API only (client-go). Run returns
//     when ctx ends.
package podautoscaler

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"

	autoscalingv1 "k8s.io/api/autoscaling/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime/schema"
	autoscalinglisters "k8s.io/client-go/listers/autoscaling/v2"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/record"
	"k8s.io/client-go/util/workqueue"
	"k8s.io/utils/clock"

	"github.com/wasmpod/wasmpod/internal/kube/informers"
	"github.com/wasmpod/wasmpod/internal/kube/kubernetes"
	"github.com/wasmpod/wasmpod/internal/kubeutil"
)

// Upstream's defaults.
const (
	// SyncPeriod is --horizontal-pod-autoscaler-sync-period.
	SyncPeriod = 15 * time.Second
	// DownscaleStabilization is
	// --horizontal-pod-autoscaler-downscale-stabilization, the scale-down
	// window of an HPA whose behavior does not set one.
	DownscaleStabilization = 5 * time.Minute
	// Workers is --concurrent-horizontal-pod-autoscaler-syncs.
	Workers = 5
	// Component names the events' source.
	Component = "horizontal-pod-autoscaler"
)

// Controller is the HorizontalPodAutoscaler controller.
type Controller struct {
	// Informers, when set before Run, is the informer factory shared with
	// the other controllers; nil: Run makes its own.
	Informers informers.SharedInformerFactory
	// SyncPeriod and DownscaleStabilization default to the constants.
	SyncPeriod, DownscaleStabilization time.Duration

	client kubernetes.Interface
	clk    clock.WithTicker
	queue  workqueue.TypedRateLimitingInterface[string]
	hpas   autoscalinglisters.HorizontalPodAutoscalerLister
	pods   corelisters.PodLister
	rec    record.EventRecorder

	mu      sync.Mutex
	history map[string]*history
}

// New makes a controller over client; clk nil is the real clock.
func New(client kubernetes.Interface, clk clock.WithTicker) *Controller {
	if clk == nil {
		clk = clock.RealClock{}
	}
	return &Controller{client: client, clk: clk, queue: kubeutil.NewQueue("horizontalpodautoscaler"), history: map[string]*history{},
		SyncPeriod: SyncPeriod, DownscaleStabilization: DownscaleStabilization}
}

// Run watches HPAs and pods and reconciles until ctx ends.
func (c *Controller) Run(ctx context.Context) error {
	rec, stopEvents := kubeutil.EventRecorder(ctx, c.client, Component)
	defer stopEvents()
	c.rec = rec
	f, shutdown := kubeutil.Factory(c.Informers, c.client)
	hpaInf, podInf := f.Autoscaling().V2().HorizontalPodAutoscalers(), f.Core().V1().Pods()
	c.hpas, c.pods = hpaInf.Lister(), podInf.Lister()
	if _, err := hpaInf.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc: c.enqueue,
		UpdateFunc: func(old, cur any) {
			// Our own status writes do not trigger a sync.
			o, ok1 := old.(*autoscalingv2.HorizontalPodAutoscaler)
			n, ok2 := cur.(*autoscalingv2.HorizontalPodAutoscaler)
			if ok1 && ok2 && equality.Semantic.DeepEqual(o.Spec, n.Spec) {
				return
			}
			c.enqueue(cur)
		},
		DeleteFunc: c.enqueue,
	}); err != nil {
		return err
	}
	_ = podInf.Informer()
	f.Start(ctx.Done())
	defer shutdown()
	if !cache.WaitForCacheSync(ctx.Done(), hpaInf.Informer().HasSynced, podInf.Informer().HasSynced) {
		return nil
	}
	var w kubeutil.Workers
	w.Queue(ctx, Workers, c.queue, c.sync)
	w.Go(func() {
		t := c.clk.NewTicker(c.SyncPeriod)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C():
				all, _ := c.hpas.List(labels.Everything())
				for _, h := range all {
					c.enqueue(h)
				}
			}
		}
	})
	w.Wait(ctx)
	return nil
}

func (c *Controller) enqueue(o any) {
	if key, err := cache.DeletionHandlingMetaNamespaceKeyFunc(o); err == nil {
		c.queue.Add(key)
	}
}

func (c *Controller) historyOf(key string) *history {
	c.mu.Lock()
	defer c.mu.Unlock()
	h := c.history[key]
	if h == nil {
		h = &history{}
		c.history[key] = h
	}
	return h
}

// sync reconciles one HPA; its failures are in its status and events, and
// the next period retries, so it returns an error only for a failed
// status write.
func (c *Controller) sync(ctx context.Context, key string) error {
	ns, name, err := cache.SplitMetaNamespaceKey(key)
	if err != nil {
		return nil
	}
	cached, err := c.hpas.HorizontalPodAutoscalers(ns).Get(name)
	if apierrors.IsNotFound(err) {
		c.mu.Lock()
		delete(c.history, key)
		c.mu.Unlock()
		return nil
	}
	if err != nil {
		return err
	}
	hpa := cached.DeepCopy()
	now := c.clk.Now()
	st := &hpa.Status
	st.ObservedGeneration = &hpa.Generation
	setCondition := func(t autoscalingv2.HorizontalPodAutoscalerConditionType, s corev1.ConditionStatus, reason, format string, args ...any) {
		setHPACondition(st, t, s, reason, fmt.Sprintf(format, args...), now)
	}
	ref := hpa.Spec.ScaleTargetRef
	scale, gr, err := c.getScale(ctx, ns, ref)
	if err != nil {
		c.rec.Event(hpa, corev1.EventTypeWarning, "FailedGetScale", err.Error())
		setCondition(autoscalingv2.AbleToScale, corev1.ConditionFalse, "FailedGetScale", "the HPA controller was unable to get the target's current scale: %v", err)
		return c.writeStatus(ctx, cached, hpa)
	}
	setCondition(autoscalingv2.AbleToScale, corev1.ConditionTrue, "SucceededGetScale", "the HPA controller was able to get the target's current scale")
	current := scale.Spec.Replicas
	st.CurrentReplicas = scale.Status.Replicas
	minR := int32(1)
	if hpa.Spec.MinReplicas != nil {
		minR = *hpa.Spec.MinReplicas
	}
	maxR := hpa.Spec.MaxReplicas
	desired := current
	var reason string
	h := c.historyOf(key)
	switch {
	case current == 0 && minR != 0:
		desired = 0
		setCondition(autoscalingv2.ScalingActive, corev1.ConditionFalse, "ScalingDisabled", "scaling is disabled since the replica count of the target is zero")
	case current > maxR:
		desired, reason = maxR, "Current number of replicas above Spec.MaxReplicas"
	case current < minR:
		desired, reason = minR, "Current number of replicas below Spec.MinReplicas"
	default:
		proposed, metricName, statuses, err := c.computeReplicas(ctx, hpa, scale, current, now)
		st.CurrentMetrics = statuses
		if err != nil {
			// Failures are recorded; no rescale this period.
			return c.writeStatus(ctx, cached, hpa)
		}
		switch {
		case proposed > current:
			reason = metricName + " above target"
		case proposed < current:
			reason = "All metrics below target"
		}
		var stabilized int32
		var limited limitReason
		if b := hpa.Spec.Behavior; b == nil {
			stabilized = h.stabilizeLegacy(proposed, now, c.DownscaleStabilization)
			desired, limited = limitLegacy(current, stabilized, minR, maxR)
		} else {
			downWindow := c.DownscaleStabilization
			if b.ScaleDown != nil && b.ScaleDown.StabilizationWindowSeconds != nil {
				downWindow = time.Duration(*b.ScaleDown.StabilizationWindowSeconds) * time.Second
			}
			var upWindow time.Duration
			if b.ScaleUp != nil && b.ScaleUp.StabilizationWindowSeconds != nil {
				upWindow = time.Duration(*b.ScaleUp.StabilizationWindowSeconds) * time.Second
			}
			stabilized = h.stabilize(current, proposed, now, upWindow, downWindow)
			desired, limited = h.limitWithBehavior(current, stabilized, minR, maxR, defaultedBehavior(b), now)
		}
		switch {
		case stabilized == proposed:
			setCondition(autoscalingv2.AbleToScale, corev1.ConditionTrue, readyForScale.reason, "%s", readyForScale.message)
		case stabilized < proposed:
			setCondition(autoscalingv2.AbleToScale, corev1.ConditionTrue, upStabilized.reason, "%s", upStabilized.message)
		default:
			setCondition(autoscalingv2.AbleToScale, corev1.ConditionTrue, downStabilized.reason, "%s", downStabilized.message)
		}
		if desired == stabilized {
			setCondition(autoscalingv2.ScalingLimited, corev1.ConditionFalse, limited.reason, "%s", limited.message)
		} else {
			setCondition(autoscalingv2.ScalingLimited, corev1.ConditionTrue, limited.reason, "%s", limited.message)
		}
	}
	if desired != current {
		scale.Spec.Replicas = desired
		if err := c.updateScale(ctx, ns, gr, scale); err != nil {
			c.rec.Eventf(hpa, corev1.EventTypeWarning, "FailedRescale", "New size: %d; reason: %s; error: %v", desired, reason, err)
			setCondition(autoscalingv2.AbleToScale, corev1.ConditionFalse, "FailedUpdateScale", "the HPA controller was unable to update the target scale: %v", err)
			st.DesiredReplicas = current
			return c.writeStatus(ctx, cached, hpa)
		}
		setCondition(autoscalingv2.AbleToScale, corev1.ConditionTrue, "SucceededRescale", "the HPA controller was able to update the target scale to %d", desired)
		c.rec.Eventf(hpa, corev1.EventTypeNormal, "SuccessfulRescale", "New size: %d; reason: %s", desired, reason)
		h.recordScale(current, desired, defaultedBehavior(hpa.Spec.Behavior), now)
		st.LastScaleTime = &metav1.Time{Time: now}
	}
	st.DesiredReplicas = desired
	return c.writeStatus(ctx, cached, hpa)
}

// defaultedBehavior fills a behavior's missing rules with upstream's
// defaults (the API server does so on write; this covers objects stored
// without them). nil stays nil.
func defaultedBehavior(b *autoscalingv2.HorizontalPodAutoscalerBehavior) *autoscalingv2.HorizontalPodAutoscalerBehavior {
	if b == nil {
		return nil
	}
	out := b.DeepCopy()
	maxPolicy := autoscalingv2.MaxChangePolicySelect
	if out.ScaleUp == nil {
		out.ScaleUp = &autoscalingv2.HPAScalingRules{SelectPolicy: &maxPolicy, Policies: []autoscalingv2.HPAScalingPolicy{
			{Type: autoscalingv2.PodsScalingPolicy, Value: 4, PeriodSeconds: 15}, {Type: autoscalingv2.PercentScalingPolicy, Value: 100, PeriodSeconds: 15}}}
	}
	if out.ScaleDown == nil {
		out.ScaleDown = &autoscalingv2.HPAScalingRules{SelectPolicy: &maxPolicy, Policies: []autoscalingv2.HPAScalingPolicy{
			{Type: autoscalingv2.PercentScalingPolicy, Value: 100, PeriodSeconds: 15}}}
	}
	return out
}

// writeStatus writes the status when it changed.
func (c *Controller) writeStatus(ctx context.Context, cached, hpa *autoscalingv2.HorizontalPodAutoscaler) error {
	if equality.Semantic.DeepEqual(cached.Status, hpa.Status) {
		return nil
	}
	_, err := c.client.AutoscalingV2().HorizontalPodAutoscalers(hpa.Namespace).UpdateStatus(ctx, hpa, metav1.UpdateOptions{})
	if apierrors.IsNotFound(err) {
		return nil
	}
	return err
}

// setHPACondition sets a condition, keeping its transition time when its
// status does not change.
func setHPACondition(st *autoscalingv2.HorizontalPodAutoscalerStatus, t autoscalingv2.HorizontalPodAutoscalerConditionType,
	s corev1.ConditionStatus, reason, message string, now time.Time) {
	c := autoscalingv2.HorizontalPodAutoscalerCondition{Type: t, Status: s, Reason: reason, Message: message, LastTransitionTime: metav1.NewTime(now)}
	for i := range st.Conditions {
		if st.Conditions[i].Type == t {
			if st.Conditions[i].Status == s {
				c.LastTransitionTime = st.Conditions[i].LastTransitionTime
			}
			st.Conditions[i] = c
			return
		}
	}
	st.Conditions = append(st.Conditions, c)
}

// targetResource is the group-resource of a scale target: the built-in
// kinds' plural, as upstream's RESTMapper gives it.
func targetResource(ref autoscalingv2.CrossVersionObjectReference) (schema.GroupVersionResource, error) {
	gv, err := schema.ParseGroupVersion(ref.APIVersion)
	if err != nil {
		return schema.GroupVersionResource{}, fmt.Errorf("invalid API version in scale target reference: %v", err)
	}
	plural, _ := meta.UnsafeGuessKindToResource(gv.WithKind(ref.Kind))
	return plural, nil
}

func scalePath(gvr schema.GroupVersionResource, ns, name string) string {
	base := "/apis/" + gvr.Group + "/" + gvr.Version
	if gvr.Group == "" {
		base = "/api/" + gvr.Version
	}
	return base + "/namespaces/" + ns + "/" + gvr.Resource + "/" + name + "/scale"
}

func (c *Controller) getScale(ctx context.Context, ns string, ref autoscalingv2.CrossVersionObjectReference) (*autoscalingv1.Scale, schema.GroupVersionResource, error) {
	gvr, err := targetResource(ref)
	if err != nil {
		return nil, gvr, err
	}
	scale := &autoscalingv1.Scale{}
	if err := c.client.AutoscalingV1().RESTClient().Get().AbsPath(scalePath(gvr, ns, ref.Name)).Do(ctx).Into(scale); err != nil {
		return nil, gvr, err
	}
	return scale, gvr, nil
}

func (c *Controller) updateScale(ctx context.Context, ns string, gvr schema.GroupVersionResource, scale *autoscalingv1.Scale) error {
	body, err := json.Marshal(scale)
	if err != nil {
		return err
	}
	return c.client.AutoscalingV1().RESTClient().Put().AbsPath(scalePath(gvr, ns, scale.Name)).
		SetHeader("Content-Type", "application/json").Body(body).Do(ctx).Error()
}

// metricName is upstream's name of a metric in events and conditions.
func metricName(m autoscalingv2.MetricSpec) string {
	switch {
	case m.Resource != nil:
		if m.Resource.Target.AverageValue != nil {
			return fmt.Sprintf("%s resource", m.Resource.Name)
		}
		return fmt.Sprintf("%s resource utilization (percentage of request)", m.Resource.Name)
	case m.ContainerResource != nil:
		if m.ContainerResource.Target.AverageValue != nil {
			return fmt.Sprintf("%s container resource", m.ContainerResource.Name)
		}
		return fmt.Sprintf("%s container resource utilization (percentage of request)", m.ContainerResource.Name)
	case m.Pods != nil:
		return fmt.Sprintf("pods metric %s", m.Pods.Metric.Name)
	case m.Object != nil:
		return fmt.Sprintf("%s metric %s", m.Object.DescribedObject.Kind, m.Object.Metric.Name)
	case m.External != nil:
		return fmt.Sprintf("external metric %s", m.External.Metric.Name)
	}
	return string(m.Type)
}

// computeReplicas is the largest proposal of the HPA's metrics, the name
// of the metric that made it, and the metric statuses. With every metric
// failing, or some failing and the rest proposing a scale down, it
// returns an error (ScalingActive False); otherwise ScalingActive True.
func (c *Controller) computeReplicas(ctx context.Context, hpa *autoscalingv2.HorizontalPodAutoscaler, scale *autoscalingv1.Scale,
	current int32, now time.Time) (int32, string, []autoscalingv2.MetricStatus, error) {
	sel, err := labels.Parse(scale.Status.Selector)
	if err == nil && scale.Status.Selector == "" {
		err = fmt.Errorf("selector is required")
	}
	if err != nil {
		msg := fmt.Sprintf("the HPA target's scale is missing a selector: %v", err)
		if scale.Status.Selector != "" {
			msg = fmt.Sprintf("couldn't convert selector into a corresponding internal selector object: %v", err)
		}
		c.rec.Event(hpa, corev1.EventTypeWarning, "SelectorRequired", msg)
		setHPACondition(&hpa.Status, autoscalingv2.ScalingActive, corev1.ConditionFalse, "InvalidSelector", msg, now)
		return 0, "", nil, err
	}
	pods, err := c.pods.Pods(hpa.Namespace).List(sel)
	if err != nil {
		return 0, "", nil, err
	}
	var (
		best     int32
		bestName string
		statuses = make([]autoscalingv2.MetricStatus, len(hpa.Spec.Metrics))
		invalid  int
		lastErr  error
		usage    map[string]podUsage
		usageErr error
		fetched  bool
	)
	for i, m := range hpa.Spec.Metrics {
		var res corev1.ResourceName
		var container string
		var target autoscalingv2.MetricTarget
		switch {
		case m.Type == autoscalingv2.ResourceMetricSourceType && m.Resource != nil:
			res, target = m.Resource.Name, m.Resource.Target
		case m.Type == autoscalingv2.ContainerResourceMetricSourceType && m.ContainerResource != nil:
			res, container, target = m.ContainerResource.Name, m.ContainerResource.Container, m.ContainerResource.Target
		default:
			invalid++
			reason := "Failed" + strings.TrimSuffix(string(m.Type), "Resource") + "Metric"
			lastErr = fmt.Errorf("unable to get %s: no custom or external metrics API is served", metricName(m))
			c.rec.Event(hpa, corev1.EventTypeWarning, reason, lastErr.Error())
			setHPACondition(&hpa.Status, autoscalingv2.ScalingActive, corev1.ConditionFalse, reason,
				fmt.Sprintf("the HPA was unable to compute the replica count: %v", lastErr), now)
			continue
		}
		if !fetched {
			usage, usageErr = c.podUsage(ctx, hpa.Namespace, sel)
			fetched = true
		}
		reason := "FailedGetResourceMetric"
		if container != "" {
			reason = "FailedGetContainerResourceMetric"
		}
		var p proposal
		err := usageErr
		if err == nil {
			samples := map[string]PodMetric{}
			for pod, u := range usage {
				v, ok := u.value(res, container)
				if ok {
					samples[pod] = PodMetric{Value: v, Timestamp: u.timestamp, Window: u.window}
				}
			}
			if len(samples) == 0 && len(usage) > 0 {
				err = fmt.Errorf("no metrics returned from resource metrics API")
			} else {
				var util int32
				var avg int64
				if target.AverageUtilization != nil {
					util = *target.AverageUtilization
				} else if target.AverageValue != nil {
					avg = target.AverageValue.MilliValue()
				}
				if util == 0 && avg == 0 {
					err = fmt.Errorf("invalid target for %s: neither averageUtilization nor averageValue", metricName(m))
				} else {
					p, err = resourceReplicas(current, pods, samples, res, container, util, avg, now)
				}
			}
		}
		if err != nil {
			invalid++
			lastErr = fmt.Errorf("failed to get %s utilization: %w", res, err)
			c.rec.Event(hpa, corev1.EventTypeWarning, reason, lastErr.Error())
			setHPACondition(&hpa.Status, autoscalingv2.ScalingActive, corev1.ConditionFalse, reason,
				fmt.Sprintf("the HPA was unable to compute the replica count: %v", lastErr), now)
			continue
		}
		cur := autoscalingv2.MetricValueStatus{AverageValue: resource.NewMilliQuantity(p.rawAverage, resource.DecimalSI)}
		if target.AverageUtilization != nil {
			u := p.utilization
			cur.AverageUtilization = &u
		}
		if res == corev1.ResourceMemory {
			cur.AverageValue = resource.NewQuantity(p.rawAverage/1000, resource.BinarySI)
		}
		if container != "" {
			statuses[i] = autoscalingv2.MetricStatus{Type: m.Type, ContainerResource: &autoscalingv2.ContainerResourceMetricStatus{Name: res, Container: container, Current: cur}}
		} else {
			statuses[i] = autoscalingv2.MetricStatus{Type: m.Type, Resource: &autoscalingv2.ResourceMetricStatus{Name: res, Current: cur}}
		}
		if bestName == "" || p.replicas > best {
			best, bestName = p.replicas, metricName(m)
		}
	}
	// Statuses of failed metrics are left out, as upstream's.
	out := statuses[:0]
	for _, s := range statuses {
		if s.Type != "" {
			out = append(out, s)
		}
	}
	if invalid == len(hpa.Spec.Metrics) || (invalid > 0 && best < current) {
		if lastErr == nil {
			lastErr = fmt.Errorf("no metrics")
		}
		return 0, "", out, fmt.Errorf("invalid metrics (%d invalid out of %d), first error is: %w", invalid, len(hpa.Spec.Metrics), lastErr)
	}
	setHPACondition(&hpa.Status, autoscalingv2.ScalingActive, corev1.ConditionTrue, "ValidMetricFound",
		fmt.Sprintf("the HPA was able to successfully calculate a replica count from %s", bestName), now)
	return best, bestName, out, nil
}

// podUsage is one pod's sample from the metrics API.
type podUsage struct {
	timestamp  time.Time
	window     time.Duration
	containers map[string]corev1.ResourceList
}

// value is the pod's usage of res in milli-units, over all its containers
// or the named one.
func (u podUsage) value(res corev1.ResourceName, container string) (int64, bool) {
	var sum int64
	found := false
	names := make([]string, 0, len(u.containers))
	for n := range u.containers {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		if container != "" && n != container {
			continue
		}
		q, ok := u.containers[n][res]
		if !ok {
			return 0, false
		}
		sum += q.MilliValue()
		found = true
	}
	return sum, found
}

// podMetricsList is the part of metrics.k8s.io/v1beta1 PodMetricsList the
// controller reads.
type podMetricsList struct {
	Items []struct {
		Metadata   metav1.ObjectMeta `json:"metadata"`
		Timestamp  metav1.Time       `json:"timestamp"`
		Window     metav1.Duration   `json:"window"`
		Containers []struct {
			Name  string              `json:"name"`
			Usage corev1.ResourceList `json:"usage"`
		} `json:"containers"`
	} `json:"items"`
}

// podUsage lists the PodMetrics of the selected pods from the metrics API.
func (c *Controller) podUsage(ctx context.Context, ns string, sel labels.Selector) (map[string]podUsage, error) {
	raw, err := c.client.AutoscalingV1().RESTClient().Get().AbsPath("/apis/metrics.k8s.io/v1beta1/namespaces", ns, "pods").
		Param("labelSelector", sel.String()).SetHeader("Accept", "application/json").DoRaw(ctx)
	if err != nil {
		return nil, fmt.Errorf("unable to get metrics for resource: unable to fetch metrics from resource metrics API: %w", err)
	}
	var list podMetricsList
	if err := json.Unmarshal(raw, &list); err != nil {
		return nil, fmt.Errorf("unable to decode the resource metrics API's answer: %w", err)
	}
	out := map[string]podUsage{}
	for _, it := range list.Items {
		u := podUsage{timestamp: it.Timestamp.Time, window: it.Window.Duration, containers: map[string]corev1.ResourceList{}}
		for _, ctr := range it.Containers {
			u.containers[ctr.Name] = ctr.Usage
		}
		out[it.Metadata.Name] = u
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("no metrics returned from resource metrics API")
	}
	return out, nil
}
