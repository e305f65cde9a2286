package scheduler

import (
	"fmt"

	corev1 "k8s.io/api/core/v1"
)

type podRequests struct {
	req     Resource // cpu/memory requests as upstream computePodResourceRequest
	nonZero Resource // same with DefaultMilliCPURequest/DefaultMemoryRequest for missing container requests
}

// containerReq returns a container's cpu (milli) and memory requests, with
// and without the non-zero defaults.
func containerReq(rl corev1.ResourceList) (cpu, mem, nzCPU, nzMem int64) {
	if q, ok := rl[corev1.ResourceCPU]; ok {
		cpu = q.MilliValue()
		nzCPU = cpu
	} else {
		nzCPU = DefaultMilliCPURequest
	}
	if q, ok := rl[corev1.ResourceMemory]; ok {
		mem = q.Value()
		nzMem = mem
	} else {
		nzMem = DefaultMemoryRequest
	}
	return
}

// computePodRequests follows upstream's resource helper PodRequests: the sum
// of app containers plus restartable (sidecar) init containers, against the
// max over regular init containers (each plus the sidecars started before it);
// plus pod overhead. Pod-level requests (spec.resources) win where set.
func computePodRequests(p *corev1.Pod) podRequests {
	var r [4]int64 // cpu, mem, nzCPU, nzMem
	for i := range p.Spec.Containers {
		c, m, nc, nm := containerReq(p.Spec.Containers[i].Resources.Requests)
		r[0] += c
		r[1] += m
		r[2] += nc
		r[3] += nm
	}
	var sidecar, initMax [4]int64
	for i := range p.Spec.InitContainers {
		ic := &p.Spec.InitContainers[i]
		c, m, nc, nm := containerReq(ic.Resources.Requests)
		v := [4]int64{c, m, nc, nm}
		if ic.RestartPolicy != nil && *ic.RestartPolicy == corev1.ContainerRestartPolicyAlways {
			for k := range v {
				r[k] += v[k]
				sidecar[k] += v[k]
				initMax[k] = max(initMax[k], sidecar[k])
			}
			continue
		}
		for k := range v {
			initMax[k] = max(initMax[k], v[k]+sidecar[k])
		}
	}
	for k := range r {
		r[k] = max(r[k], initMax[k])
	}
	if pr := p.Spec.Resources; pr != nil {
		if q, ok := pr.Requests[corev1.ResourceCPU]; ok {
			r[0], r[2] = q.MilliValue(), q.MilliValue()
		}
		if q, ok := pr.Requests[corev1.ResourceMemory]; ok {
			r[1], r[3] = q.Value(), q.Value()
		}
	}
	if q, ok := p.Spec.Overhead[corev1.ResourceCPU]; ok {
		r[0] += q.MilliValue()
		r[2] += q.MilliValue()
	}
	if q, ok := p.Spec.Overhead[corev1.ResourceMemory]; ok {
		r[1] += q.Value()
		r[3] += q.Value()
	}
	return podRequests{
		req:     Resource{MilliCPU: r[0], Memory: r[1], Pods: 1},
		nonZero: Resource{MilliCPU: r[2], Memory: r[3], Pods: 1},
	}
}

// podHostPorts appends the host ports the pod's containers (and sidecar init
// containers) request.
func podHostPorts(p *corev1.Pod, out []HostPort) []HostPort {
	add := func(c *corev1.Container) {
		for _, cp := range c.Ports {
			if cp.HostPort <= 0 {
				continue
			}
			hp := HostPort{IP: cp.HostIP, Protocol: cp.Protocol, Port: cp.HostPort}
			if hp.IP == "" {
				hp.IP = "0.0.0.0"
			}
			if hp.Protocol == "" {
				hp.Protocol = corev1.ProtocolTCP
			}
			out = append(out, hp)
		}
	}
	for i := range p.Spec.InitContainers {
		ic := &p.Spec.InitContainers[i]
		if ic.RestartPolicy != nil && *ic.RestartPolicy == corev1.ContainerRestartPolicyAlways {
			add(ic)
		}
	}
	for i := range p.Spec.Containers {
		add(&p.Spec.Containers[i])
	}
	return out
}

// PodInfo is a pod with what the plugins compute once per scheduling
// decision (the PreFilter/PreScore state of upstream's framework).
type PodInfo struct {
	Pod *corev1.Pod
	// Requests and NonZeroRequests as upstream computes them for filtering
	// and for LeastAllocated scoring respectively.
	Requests        Resource
	NonZeroRequests Resource
	HostPorts       []HostPort

	// required is nil when the pod has neither nodeSelector nor required
	// node affinity.
	required *requiredAffinity
	// preferred node affinity terms (compiled).
	preferred []nodeTerm
	// tolerations with effect PreferNoSchedule or empty (for scoring).
	preferTolerations []corev1.Toleration
	// toleratesUnschedulable: the pod tolerates node.kubernetes.io/unschedulable:NoSchedule.
	toleratesUnschedulable bool
}

// NewPodInfo computes the per-decision state of a pod. It fails only when
// the pod's preferred node affinity terms cannot be parsed (upstream's
// NodeAffinity PreScore fails the same way).
func NewPodInfo(p *corev1.Pod) (*PodInfo, error) {
	pi := &PodInfo{Pod: p}
	r := computePodRequests(p)
	pi.Requests, pi.NonZeroRequests = r.req, r.nonZero
	pi.HostPorts = podHostPorts(p, nil)
	pi.required = newRequiredAffinity(p)
	if aff := p.Spec.Affinity; aff != nil && aff.NodeAffinity != nil && len(aff.NodeAffinity.PreferredDuringSchedulingIgnoredDuringExecution) > 0 {
		terms, err := newPreferredTerms(aff.NodeAffinity.PreferredDuringSchedulingIgnoredDuringExecution)
		if err != nil {
			return nil, fmt.Errorf("spec.affinity.nodeAffinity.preferredDuringSchedulingIgnoredDuringExecution%w", err)
		}
		pi.preferred = terms
	}
	for _, t := range p.Spec.Tolerations {
		if t.Effect == "" || t.Effect == corev1.TaintEffectPreferNoSchedule {
			pi.preferTolerations = append(pi.preferTolerations, t)
		}
	}
	pi.toleratesUnschedulable = tolerates(p.Spec.Tolerations, &corev1.Taint{Key: TaintNodeUnschedulable, Effect: corev1.TaintEffectNoSchedule})
	return pi, nil
}
