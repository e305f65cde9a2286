package controllerutil

import (
	"encoding/json"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/strategicpatch"
)

// PodStatusPatch is a two-way strategic merge patch of a pod's status from
// old to cur, with the pod's UID as a precondition (upstream's
// util/pod.PatchPodStatus), for a PATCH of pods/status.
func PodStatusPatch(uid types.UID, old, cur *corev1.PodStatus) ([]byte, error) {
	a, err := json.Marshal(corev1.Pod{Status: *old})
	if err != nil {
		return nil, err
	}
	b, err := json.Marshal(corev1.Pod{Status: *cur})
	if err != nil {
		return nil, err
	}
	patch, err := strategicpatch.CreateTwoWayMergePatch(a, b, corev1.Pod{})
	if err != nil {
		return nil, err
	}
	var m map[string]any
	if err := json.Unmarshal(patch, &m); err != nil {
		return nil, err
	}
	m["metadata"] = map[string]any{"uid": string(uid)}
	return json.Marshal(m)
}

// UpdatePodCondition sets cond in st and reports whether anything changed
// (upstream's api/v1/pod.UpdatePodCondition): lastTransitionTime is now,
// unless a condition of the type already has the same status, whose time is
// kept; one with the same status, reason and message is left as it is.
func UpdatePodCondition(st *corev1.PodStatus, cond corev1.PodCondition, now metav1.Time) bool {
	cond.LastTransitionTime = now
	for i := range st.Conditions {
		c := &st.Conditions[i]
		if c.Type != cond.Type {
			continue
		}
		if c.Status == cond.Status && c.Reason == cond.Reason && c.Message == cond.Message {
			return false
		}
		if c.Status == cond.Status {
			cond.LastTransitionTime = c.LastTransitionTime
		}
		*c = cond
		return true
	}
	st.Conditions = append(st.Conditions, cond)
	return true
}
