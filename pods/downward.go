package pods

// downward.go: downwardAPI volume files (the kubelet's downwardapi volume
// plugin): metadata.labels and metadata.annotations as sorted key="value"
// lines (fieldpath.FormatMap), single fields as their value, resource
// fields as in env.

import (
	"fmt"
	"maps"
	"sort"
	"strings"

	corev1 "k8s.io/api/core/v1"
)

// formatMap is upstream's fieldpath.FormatMap: `k="v"` lines sorted by
// key, values quoted as Go strings, without a final newline.
func formatMap(m map[string]string) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	for i, k := range keys {
		if i > 0 {
			b.WriteByte('\n')
		}
		fmt.Fprintf(&b, "%s=%q", k, m[k])
	}
	return b.String()
}

func (w *Worker) downwardFiles(out map[string]volFile, items []corev1.DownwardAPIVolumeFile, def *int32) error {
	pod := w.podForDownward()
	// A field is rendered once and its bytes shared by every item naming
	// it, and the payload's bound is checked as items are added: a spec
	// may name the pod's annotations (256 KiB) in thousands of items.
	var total int64
	for _, f := range out {
		total += int64(len(f.data))
	}
	rendered := map[string][]byte{}
	for _, it := range items {
		var val string
		switch {
		case it.FieldRef != nil:
			if b, ok := rendered[it.FieldRef.FieldPath]; ok {
				if total += int64(len(b)); total > MaxConfigVolumeBytes {
					return fmt.Errorf("the payload is more than %d bytes", MaxConfigVolumeBytes)
				}
				out[it.Path] = volFile{data: b, mode: fileMode(it.Mode, def)}
				continue
			}
			switch it.FieldRef.FieldPath {
			case "metadata.labels":
				val = formatMap(pod.Labels)
			case "metadata.annotations":
				val = formatMap(pod.Annotations)
			default:
				v, err := fieldRef(pod, it.FieldRef.FieldPath)
				if err != nil {
					return err
				}
				val = v
			}
		case it.ResourceFieldRef != nil:
			var c *corev1.Container
			for _, cs := range [][]corev1.Container{pod.Spec.Containers, pod.Spec.InitContainers} {
				for i := range cs {
					if cs[i].Name == it.ResourceFieldRef.ContainerName {
						c = &cs[i]
					}
				}
			}
			if c == nil {
				return fmt.Errorf("resourceFieldRef: no container %q", it.ResourceFieldRef.ContainerName)
			}
			v, err := w.resourceField(pod, c, it.ResourceFieldRef)
			if err != nil {
				return err
			}
			val = v
		default:
			continue
		}
		b := []byte(val)
		if it.FieldRef != nil {
			rendered[it.FieldRef.FieldPath] = b
		}
		if total += int64(len(b)); total > MaxConfigVolumeBytes {
			return fmt.Errorf("the payload is more than %d bytes", MaxConfigVolumeBytes)
		}
		out[it.Path] = volFile{data: b, mode: fileMode(it.Mode, def)}
	}
	return nil
}

// SetMetadata takes the pod's current labels and annotations, which the
// API may change on a running pod: downwardAPI volumes show them at their
// next sync (as upstream's "should update labels on modification").
func (w *Worker) SetMetadata(labels, annotations map[string]string) {
	cv := &w.cfgVols
	cv.metaMu.Lock()
	defer cv.metaMu.Unlock()
	cv.labels, cv.annotations, cv.metaSet = maps.Clone(labels), maps.Clone(annotations), true
}

// podForDownward is the pod with the latest labels and annotations.
func (w *Worker) podForDownward() *corev1.Pod {
	pod := w.Pod()
	cv := &w.cfgVols
	cv.metaMu.Lock()
	defer cv.metaMu.Unlock()
	if cv.metaSet {
		pod.Labels, pod.Annotations = maps.Clone(cv.labels), maps.Clone(cv.annotations)
	}
	return pod
}
