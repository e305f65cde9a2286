package pods

import (
	"fmt"
	"math"
	goruntime "runtime"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
)

func (w *Worker) allocatable(name corev1.ResourceName) resource.Quantity {
	if q, ok := w.cfg.Allocatable[name]; ok {
		return q
	}
	switch name {
	case corev1.ResourceCPU:
		return *resource.NewQuantity(int64(goruntime.NumCPU()), resource.DecimalSI)
	case corev1.ResourceMemory:
		return resource.MustParse("4Gi")
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
