package podautoscaler

import (
	"fmt"
	"math"
	"time"

	corev1 "k8s.io/api/core/v1"
)

// PodMetric is one pod's usage of a resource: milli-units (millicores for
// cpu, milli-bytes for memory), summed over its containers (or one
// container's), with the sample's time and window.
type PodMetric struct {
	Value     int64
	Timestamp time.Time
	Window    time.Duration
}

// Tolerance is the ratio band around 1 in which no scaling happens
// (--horizontal-pod-autoscaler-tolerance).
const Tolerance = 0.1

// Upstream's readiness windows for cpu samples
// (--horizontal-pod-autoscaler-cpu-initialization-period and
// --horizontal-pod-autoscaler-initial-readiness-delay).
const (
	CPUInitializationPeriod       = 5 * time.Minute
	DelayOfInitialReadinessStatus = 30 * time.Second
)

// proposal is what one metric asks for.
type proposal struct {
	replicas    int32
	utilization int32 // percent of the request, when the target is a utilization
	rawAverage  int64 // average usage in milli-units over the pods with metrics
}

// podGroups sorts pods for one resource metric, as upstream's groupPods:
// ready pods with a metric count as they are; pods being deleted and
// failed ones are ignored; pods without a metric are missing; for cpu,
// pods that are pending, not yet ready, or whose sample may predate
// readiness are unready.
type podGroups struct {
	ready   int
	unready map[string]bool
	missing map[string]bool
	ignored map[string]bool
}

func groupPods(pods []*corev1.Pod, metrics map[string]PodMetric, res corev1.ResourceName, now time.Time) podGroups {
	g := podGroups{unready: map[string]bool{}, missing: map[string]bool{}, ignored: map[string]bool{}}
	for _, p := range pods {
		if p.DeletionTimestamp != nil || p.Status.Phase == corev1.PodFailed {
			g.ignored[p.Name] = true
			continue
		}
		if p.Status.Phase == corev1.PodPending {
			g.unready[p.Name] = true
			continue
		}
		m, ok := metrics[p.Name]
		if !ok {
			g.missing[p.Name] = true
			continue
		}
		if res == corev1.ResourceCPU && cpuSampleUnready(p, m, now) {
			g.unready[p.Name] = true
			continue
		}
		g.ready++
	}
	return g
}

// cpuSampleUnready: a pod without a Ready condition or a start time is
// unready; within its cpu initialization period it is unready while not
// Ready or when its sample's window began before it became Ready; after
// it, only a pod that has never been Ready is.
func cpuSampleUnready(p *corev1.Pod, m PodMetric, now time.Time) bool {
	var ready *corev1.PodCondition
	for i := range p.Status.Conditions {
		if p.Status.Conditions[i].Type == corev1.PodReady {
			ready = &p.Status.Conditions[i]
		}
	}
	if ready == nil || p.Status.StartTime == nil {
		return true
	}
	start, changed := p.Status.StartTime.Time, ready.LastTransitionTime.Time
	if start.Add(CPUInitializationPeriod).After(now) {
		return ready.Status == corev1.ConditionFalse || m.Timestamp.Before(changed.Add(m.Window))
	}
	return ready.Status == corev1.ConditionFalse && start.Add(DelayOfInitialReadinessStatus).After(changed)
}

// podRequests sums each pod's requests of res over its containers (or the
// one named container); a container without a request is an error.
func podRequests(pods []*corev1.Pod, container string, res corev1.ResourceName) (map[string]int64, error) {
	out := map[string]int64{}
	for _, p := range pods {
		var sum int64
		for _, c := range p.Spec.Containers {
			if container != "" && c.Name != container {
				continue
			}
			q, ok := c.Resources.Requests[res]
			if !ok {
				return nil, fmt.Errorf("missing request for %s in container %s of Pod %s", res, c.Name, p.Name)
			}
			sum += q.MilliValue()
		}
		out[p.Name] = sum
	}
	return out, nil
}

// withinTolerance: the ratio is close enough to 1 not to scale.
func withinTolerance(ratio float64) bool { return math.Abs(1-ratio) <= Tolerance }

// usage sums the metrics of the pods that have a request.
func usage(metrics map[string]PodMetric, requests map[string]int64) (used, requested int64, n int) {
	for name, m := range metrics {
		r, ok := requests[name]
		if !ok {
			continue
		}
		used += m.Value
		requested += r
		n++
	}
	return
}

// resourceReplicas is the replica count one resource metric proposes, as
// upstream's GetResourceReplicas (target utilization, percent of the
// request) and GetRawResourceReplicas (target average value, milli-units;
// targetUtilization 0): the usage ratio over the ready pods with samples;
// when pods are missing samples or not yet ready, a second ratio with the
// missing pods at 100% of their request (scaling down) or 0 (scaling up)
// and unready pods at 0 (scaling up), and no change when that second ratio
// is within tolerance or turns the direction around.
func resourceReplicas(current int32, pods []*corev1.Pod, metrics map[string]PodMetric, res corev1.ResourceName, container string,
	targetUtilization int32, targetAverage int64, now time.Time) (proposal, error) {
	if len(pods) == 0 {
		return proposal{}, fmt.Errorf("no pods returned by selector while calculating replica count")
	}
	g := groupPods(pods, metrics, res, now)
	m := map[string]PodMetric{}
	for name, v := range metrics {
		if !g.ignored[name] && !g.unready[name] {
			m[name] = v
		}
	}
	// Samples of pods the selector did not return do not count.
	inList := map[string]bool{}
	for _, p := range pods {
		inList[p.Name] = true
	}
	for name := range m {
		if !inList[name] {
			delete(m, name)
		}
	}
	if len(m) == 0 {
		return proposal{}, fmt.Errorf("did not receive metrics for targeted pods (pods might be unready)")
	}
	requests := map[string]int64{}
	if targetUtilization > 0 {
		var err error
		if requests, err = podRequests(pods, container, res); err != nil {
			return proposal{}, err
		}
	} else {
		for _, p := range pods {
			requests[p.Name] = 1 // every pod counts once: an average over pods
		}
	}
	ratioOf := func(m map[string]PodMetric) (ratio float64, util int32, avg int64, err error) {
		used, requested, n := usage(m, requests)
		if n == 0 {
			return 0, 0, 0, fmt.Errorf("no metrics returned matched known pods")
		}
		avg = used / int64(n)
		if targetUtilization > 0 {
			if requested == 0 {
				return 0, 0, 0, fmt.Errorf("no requests of %s for the pods with metrics", res)
			}
			util = int32(used * 100 / requested)
			return float64(util) / float64(targetUtilization), util, avg, nil
		}
		return float64(avg) / float64(targetAverage), 0, avg, nil
	}
	ratio, util, avg, err := ratioOf(m)
	if err != nil {
		return proposal{}, err
	}
	out := proposal{utilization: util, rawAverage: avg}
	scaleUpWithUnready := len(g.unready) > 0 && ratio > 1
	if !scaleUpWithUnready && len(g.missing) == 0 {
		if withinTolerance(ratio) {
			out.replicas = current
		} else {
			out.replicas = int32(math.Ceil(ratio * float64(len(m))))
		}
		return out, nil
	}
	for name := range g.missing {
		if ratio < 1 {
			// Scaling down: a pod without a sample counts as using all
			// its request (or the target utilization, when above 100%),
			// or the target average value.
			v := targetAverage
			if targetUtilization > 0 {
				v = requests[name] * int64(max(100, targetUtilization)) / 100
			}
			m[name] = PodMetric{Value: v}
		} else {
			m[name] = PodMetric{Value: 0}
		}
	}
	if scaleUpWithUnready {
		for name := range g.unready {
			m[name] = PodMetric{Value: 0}
		}
	}
	again, _, _, err := ratioOf(m)
	if err != nil {
		return proposal{}, err
	}
	if withinTolerance(again) || (ratio < 1 && again > 1) || (ratio > 1 && again < 1) {
		out.replicas = current
		return out, nil
	}
	n := int32(math.Ceil(again * float64(len(m))))
	if (again < 1 && n > current) || (again > 1 && n < current) {
		n = current
	}
	out.replicas = n
	return out, nil
}
