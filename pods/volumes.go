package pods

import (
	"fmt"
	"slices"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"

	"github.com/wasmpod/wasmpod/runtime"
)

// emptyDir size limits.
//
// An emptyDir with a sizeLimit, and every emptyDir of medium Memory, gets a
// runtime.VolumeQuota: a hard bound in the WASI layer shared by all the
// pod's mounts of the volume (writes past it get ENOSPC, as on a
// size-limited tmpfs). As the kubelet's eviction manager does, the worker
// also measures each sized emptyDir every VolumeCheckInterval and evicts the
// pod when one holds more than its limit (anything written around the
// WASI layer, e.g. by the host).

// VolumeCheckInterval is how often the worker measures sized emptyDirs
// (the kubelet's eviction manager monitors every 10 s).
const VolumeCheckInterval = 10 * time.Second

// emptyDirMessageFmt is the kubelet's eviction message for an emptyDir over
// its sizeLimit (pkg/kubelet/eviction).
const emptyDirMessageFmt = "Usage of EmptyDir volume %q exceeds the limit %q. "

// emptyDirLimit is the bound of an emptyDir in bytes, false when it has
// none. medium Memory is bounded as upstream sizes its tmpfs: by the
// pod's memory limit (the node's allocatable memory when a container has
// no limit), or sizeLimit when that is smaller.
func (w *Worker) emptyDirLimit(v *corev1.Volume) (int64, bool) {
	ed := v.EmptyDir
	var limit int64
	sized := ed.SizeLimit != nil && ed.SizeLimit.Sign() > 0
	if sized {
		limit = ed.SizeLimit.Value()
	}
	if ed.Medium == corev1.StorageMediumMemory {
		mem := w.podMemoryLimit()
		if !sized || mem < limit {
			limit = mem
		}
		return limit, true
	}
	return limit, sized
}

// podMemoryLimit is the pod's memory limit as upstream computes it
// (podAmount, sidecars included), at most the node's allocatable memory,
// which it is when a container has no limit.
func (w *Worker) podMemoryLimit() int64 {
	node := w.allocatable(corev1.ResourceMemory)
	limit, ok := podAmount(&w.state.pod.Spec, func(c *corev1.Container) (int64, bool) {
		q, ok := c.Resources.Limits[corev1.ResourceMemory]
		return q.Value(), ok
	})
	if !ok {
		return node.Value()
	}
	return min(limit, node.Value())
}

// newVolumeQuota makes the quota of emptyDir v, nil when it has no bound.
func (w *Worker) newVolumeQuota(v *corev1.Volume) (*runtime.VolumeQuota, error) {
	limit, ok := w.emptyDirLimit(v)
	if !ok {
		return nil, nil
	}
	pod := w.state.pod
	q, err := runtime.NewVolumeQuota(fmt.Sprintf("pod %s/%s volume %q", pod.Namespace, pod.Name, v.Name), limit, w.volumeDir(v))
	if err != nil {
		return nil, err
	}
	// A memory-backed emptyDir's bytes are the pod's memory, as a tmpfs's
	// pages count against the pod's memory cgroup upstream.
	if v.EmptyDir.Medium == corev1.StorageMediumMemory {
		if mem := w.podMemory(); mem != nil && !q.ChargeTo(mem) {
			return nil, fmt.Errorf("emptyDir of medium Memory: the %d bytes it holds do not fit in %s", q.Used(), mem.Name())
		}
	}
	return q, nil
}

// releaseVolumeCharges returns what the pod's memory-backed emptyDirs hold
// to the pod's memory budget once its containers are gone and its volumes
// are removed (a tmpfs unmounted).
func (w *Worker) releaseVolumeCharges() {
	w.mu.Lock()
	qs := make([]*runtime.VolumeQuota, 0, len(w.quotas))
	for _, q := range w.quotas {
		qs = append(qs, q)
	}
	w.mu.Unlock()
	for _, q := range qs {
		q.ChargeTo(nil)
	}
}

// volumeQuota is the quota of the named volume, nil if none.
func (w *Worker) volumeQuota(name string) *runtime.VolumeQuota {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.quotas[name]
}

// emptyDirOverLimit measures the sized emptyDirs and returns the eviction
// message for the first one over its limit ("" if none is).
func (w *Worker) emptyDirOverLimit() string {
	for i := range w.state.pod.Spec.Volumes {
		v := &w.state.pod.Spec.Volumes[i]
		if v.EmptyDir == nil {
			continue
		}
		limit, ok := w.emptyDirLimit(v)
		if !ok {
			continue
		}
		used, err := runtime.MeasureVolume(w.volumeDir(v))
		if err != nil || used <= limit {
			continue
		}
		shown := resource.NewQuantity(limit, resource.BinarySI)
		if v.EmptyDir.SizeLimit != nil && v.EmptyDir.SizeLimit.Value() == limit {
			shown = v.EmptyDir.SizeLimit
		}
		return fmt.Sprintf(emptyDirMessageFmt, v.Name, shown.String())
	}
	return ""
}

// watchVolumes measures the sized emptyDirs every VolumeCheckInterval (on
// the worker's clock) and evicts the pod when one is over its limit. It
// returns a func that stops it; nil when the pod has no sized emptyDir.
func (w *Worker) watchVolumes() func() {
	sized := func(v corev1.Volume) bool {
		if v.EmptyDir == nil {
			return false
		}
		_, ok := w.emptyDirLimit(&v)
		return ok
	}
	if !slices.ContainsFunc(w.state.pod.Spec.Volumes, sized) {
		return nil
	}
	return w.evictWhenOver(w.emptyDirOverLimit)
}

// evictWhenOver runs over every VolumeCheckInterval (on the worker's
// clock) and evicts the pod with its message once it returns one. The
// returned func stops it.
func (w *Worker) evictWhenOver(over func() string) func() {
	stop := make(chan struct{})
	tick := w.clk.NewTicker(VolumeCheckInterval)
	go func() {
		defer tick.Stop()
		for {
			select {
			case <-stop:
				return
			case <-tick.C():
				if msg := over(); msg != "" {
					w.Evict(msg)
					return
				}
			}
		}
	}()
	return func() { close(stop) }
}
