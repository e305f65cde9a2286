package pods

import (
	"fmt"
	"math"
	goruntime "runtime"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"

	wruntime "github.com/wasmpod/wasmpod/runtime"
)

func (w *Worker) allocatable(name corev1.ResourceName) resource.Quantity {
	if q, ok := w.cfg.Allocatable[name]; ok {
		return q
	}
	switch name {
	case corev1.ResourceCPU:
		return *resource.NewQuantity(int64(goruntime.NumCPU()), resource.DecimalSI)
	case corev1.ResourceMemory:
		return DefaultNodeMemory(1)
	}
	return resource.Quantity{}
}

// resourceField resolves a resourceFieldRef as the kubelet does: limits
// default to the node's allocatable, values are divided by the divisor and
// rounded up.
func (w *Worker) resourceField(pod *corev1.Pod, c *corev1.Container, ref *corev1.ResourceFieldSelector) (string, error) {
	target := c
	if ref.ContainerName != "" && ref.ContainerName != c.Name {
		target = nil
		for _, cs := range [][]corev1.Container{pod.Spec.Containers, pod.Spec.InitContainers} {
			for i := range cs {
				if cs[i].Name == ref.ContainerName {
					target = &cs[i]
				}
			}
		}
		if target == nil {
			return "", fmt.Errorf("resourceFieldRef: no container %q", ref.ContainerName)
		}
	}
	var q resource.Quantity
	var name corev1.ResourceName
	switch ref.Resource {
	case "limits.cpu", "requests.cpu":
		name = corev1.ResourceCPU
	case "limits.memory", "requests.memory":
		name = corev1.ResourceMemory
	case "limits.ephemeral-storage", "requests.ephemeral-storage":
		name = corev1.ResourceEphemeralStorage
	default:
		return "", fmt.Errorf("unsupported resource %q", ref.Resource)
	}
	if ref.Resource[:6] == "limits" {
		var ok bool
		if q, ok = target.Resources.Limits[name]; !ok {
			q = w.allocatable(name)
		}
	} else {
		q = target.Resources.Requests[name]
	}
	divisor := ref.Divisor
	if divisor.IsZero() {
		divisor = resource.MustParse("1")
	}
	if name == corev1.ResourceCPU {
		return fmt.Sprint(int64(math.Ceil(float64(q.MilliValue()) / float64(divisor.MilliValue())))), nil
	}
	return fmt.Sprint(int64(math.Ceil(float64(q.Value()) / float64(divisor.Value())))), nil
}

// DefaultNodeMemory is the default memory capacity of each of nodes node
// agents in one process: the host's physical memory divided among them
// (4Gi each when the host's memory is unknown).
func DefaultNodeMemory(nodes int) resource.Quantity {
	m := HostMemory()
	if m <= 0 {
		return resource.MustParse("4Gi")
	}
	return *resource.NewQuantity(m/int64(max(nodes, 1)), resource.BinarySI)
}

// setupResources derives the node's memory budget for guests, its
// allocatable resources and its eviction manager from the configuration
// (see AgentConfig.SystemReserved).
func (a *Agent) setupResources() {
	capMem := a.cfg.Capacity[corev1.ResourceMemory]
	reserved := capMem.Value() / 10
	if q, ok := a.cfg.SystemReserved[corev1.ResourceMemory]; ok {
		reserved = q.Value()
	}
	guests := max(capMem.Value()-reserved, 0)
	if a.pcfg.NodeMemory != nil {
		a.memory = a.pcfg.NodeMemory
		guests = a.memory.Limit()
	} else {
		a.memory = wruntime.NewBudget("node "+a.cfg.NodeName+" memory", guests)
		a.pcfg.NodeMemory = a.memory
	}
	ecfg := a.cfg.Eviction
	if ecfg.Hard == nil {
		ecfg.Hard = DefaultEvictionHard(guests)
	}
	if ecfg.Stats == nil {
		ecfg.Stats = nodeStats{a}
	}
	a.eviction = newEvictionManager(ecfg)
	a.allocatable = corev1.ResourceList{}
	for k, v := range a.cfg.Capacity {
		a.allocatable[k] = v.DeepCopy()
	}
	alloc := guests
	for _, t := range ecfg.Hard {
		if t.Signal == SignalMemoryAvailable {
			alloc -= t.value(guests)
		}
	}
	a.allocatable[corev1.ResourceMemory] = *resource.NewQuantity(max(alloc, 0), resource.BinarySI)
	a.setupCPU() // cpu.go
}
