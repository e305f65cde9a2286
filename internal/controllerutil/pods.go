package controllerutil

import (
	"math"
	"strconv"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// IsPodActive: not Succeeded, not Failed, not being deleted (upstream's
// controller.IsPodActive).
func IsPodActive(p *corev1.Pod) bool {
	return p.Status.Phase != corev1.PodSucceeded && p.Status.Phase != corev1.PodFailed && p.DeletionTimestamp == nil
}

// FilterActivePods keeps the active pods (controller.FilterActivePods).
func FilterActivePods(pods []*corev1.Pod) []*corev1.Pod {
	var out []*corev1.Pod
	for _, p := range pods {
		if IsPodActive(p) {
			out = append(out, p)
		}
	}
	return out
}

// PodReadyCondition returns the pod's Ready condition, or nil.
func PodReadyCondition(p *corev1.Pod) *corev1.PodCondition {
	for i := range p.Status.Conditions {
		if p.Status.Conditions[i].Type == corev1.PodReady {
			return &p.Status.Conditions[i]
		}
	}
	return nil
}

// IsPodReady: the Ready condition is True (podutil.IsPodReady).
func IsPodReady(p *corev1.Pod) bool {
	c := PodReadyCondition(p)
	return c != nil && c.Status == corev1.ConditionTrue
}

// IsPodAvailable: ready for at least minReadySeconds at now
// (podutil.IsPodAvailable).
func IsPodAvailable(p *corev1.Pod, minReadySeconds int32, now time.Time) bool {
	if !IsPodReady(p) {
		return false
	}
	c := PodReadyCondition(p)
	d := time.Duration(minReadySeconds) * time.Second
	return minReadySeconds == 0 || (!c.LastTransitionTime.IsZero() && c.LastTransitionTime.Add(d).Before(now))
}

// ActivePodsWithRanks sorts pods by which should be deleted first, as
// upstream's controller.ActivePodsWithRanks (with LogarithmicScaleDown, GA):
//
//  1. unassigned < assigned;
//  2. Pending < Unknown < Running;
//  3. not ready < ready;
//  4. lower controller.kubernetes.io/pod-deletion-cost < higher;
//  5. higher Rank (more related pods on the same node) < lower;
//  6. both ready: ready for less time < more (log2 buckets of the time
//     since, ties by UID);
//  7. more container restarts < fewer;
//  8. newer < older (log2 buckets, ties by UID), no creation time first.
type ActivePodsWithRanks struct {
	Pods []*corev1.Pod
	Rank []int
	Now  metav1.Time
}

func (s ActivePodsWithRanks) Len() int { return len(s.Pods) }

func (s ActivePodsWithRanks) Swap(i, j int) {
	s.Pods[i], s.Pods[j] = s.Pods[j], s.Pods[i]
	s.Rank[i], s.Rank[j] = s.Rank[j], s.Rank[i]
}

var phaseOrdinal = map[corev1.PodPhase]int{corev1.PodPending: 0, corev1.PodUnknown: 1, corev1.PodRunning: 2}

func (s ActivePodsWithRanks) Less(i, j int) bool {
	a, b := s.Pods[i], s.Pods[j]
	if a.Spec.NodeName != b.Spec.NodeName && (a.Spec.NodeName == "" || b.Spec.NodeName == "") {
		return a.Spec.NodeName == ""
	}
	if phaseOrdinal[a.Status.Phase] != phaseOrdinal[b.Status.Phase] {
		return phaseOrdinal[a.Status.Phase] < phaseOrdinal[b.Status.Phase]
	}
	if IsPodReady(a) != IsPodReady(b) {
		return !IsPodReady(a)
	}
	if ca, cb := deletionCost(a), deletionCost(b); ca != cb {
		return ca < cb
	}
	if s.Rank[i] != s.Rank[j] {
		return s.Rank[i] > s.Rank[j]
	}
	if IsPodReady(a) && IsPodReady(b) {
		ta, tb := PodReadyCondition(a).LastTransitionTime, PodReadyCondition(b).LastTransitionTime
		if !ta.Equal(&tb) {
			if s.Now.IsZero() || ta.IsZero() || tb.IsZero() {
				return afterOrZero(&ta, &tb)
			}
			if d := logRankDiff(ta, tb, s.Now); d != 0 {
				return d < 0
			}
			return a.UID < b.UID
		}
	}
	if ra, rb := maxRestarts(a), maxRestarts(b); ra != rb {
		return ra > rb
	}
	if ta, tb := a.CreationTimestamp, b.CreationTimestamp; !ta.Equal(&tb) {
		if s.Now.IsZero() || ta.IsZero() || tb.IsZero() {
			return afterOrZero(&ta, &tb)
		}
		if d := logRankDiff(ta, tb, s.Now); d != 0 {
			return d < 0
		}
		return a.UID < b.UID
	}
	return false
}

// afterOrZero: t1 is zero or after t2 (a zero time sorts first).
func afterOrZero(t1, t2 *metav1.Time) bool {
	if t1.IsZero() || t2.IsZero() {
		return t1.IsZero()
	}
	return t1.After(t2.Time)
}

// logRankDiff compares how long ago t1 and t2 were in powers of two of
// nanoseconds (upstream's logarithmicRankDiff).
func logRankDiff(t1, t2, now metav1.Time) int64 {
	rank := func(t metav1.Time) int64 {
		if d := now.Sub(t.Time); d > 0 {
			return int64(math.Log2(float64(d)))
		}
		return -1
	}
	return rank(t1) - rank(t2)
}

func maxRestarts(p *corev1.Pod) int32 {
	var m int32
	for _, c := range p.Status.ContainerStatuses {
		m = max(m, c.RestartCount)
	}
	return m
}

// PodDeletionCostAnnotation orders scale-down victims.
const PodDeletionCostAnnotation = "controller.kubernetes.io/pod-deletion-cost"

// deletionCost is the pod's deletion cost, 0 when absent or invalid.
func deletionCost(p *corev1.Pod) int32 {
	v, ok := p.Annotations[PodDeletionCostAnnotation]
	if !ok {
		return 0
	}
	n, err := strconv.ParseInt(v, 10, 32)
	if err != nil || strconv.FormatInt(n, 10) != v {
		return 0
	}
	return int32(n)
}

// RankByRelatedPodsOnSameNode ranks each pod by the number of active
// related pods on its node (replicaset's getPodsRankedByRelatedPodsOnSameNode).
func RankByRelatedPodsOnSameNode(pods, related []*corev1.Pod, now time.Time) ActivePodsWithRanks {
	onNode := map[string]int{}
	for _, p := range related {
		if IsPodActive(p) {
			onNode[p.Spec.NodeName]++
		}
	}
	ranks := make([]int, len(pods))
	for i, p := range pods {
		ranks[i] = onNode[p.Spec.NodeName]
	}
	return ActivePodsWithRanks{Pods: pods, Rank: ranks, Now: metav1.NewTime(now)}
}
