package pods

// readiness_gates.go: the pod status the node agent writes over the one in
// the API, as the kubelet's status generation (GeneratePodReadyCondition)
// and status manager (mergePodStatus, NeedToReconcilePodReadiness).
//
// Contracts:
//   - The agent owns the conditions PodScheduled, Ready, Initialized,
//     ContainersReady and PodReadyToStartContainers, and DisruptionTarget
//     when its worker sets one (an eviction by the node). Every other
//     condition belongs to whoever set it through pods/status (a readiness
//     gate's controller, the eviction API): each status write keeps it as
//     the API has it at that write, before the agent's own.
//   - With spec.readinessGates, Ready is True only when the containers are
//     ready (the worker's Ready) and every gate's conditionType is present
//     with status True; otherwise it is False with reason
//     ReadinessGatesNotReady and upstream's message, one clause per gate
//     that is not True, joined by ", ". Its lastTransitionTime is the
//     API's when the status is the API's, else now.
//   - A change of the API's pod that makes the written status differ from
//     what the agent would write (phase, or the status, reason or message
//     of a condition the agent owns: a gate set or cleared, a kubelet
//     condition overwritten or dropped by a patch) makes the agent write
//     again (sync in agent.go).

import (
	"fmt"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// ReadinessGatesNotReady is the Ready condition's reason when a readiness
// gate is not True (the kubelet's status.ReadinessGatesNotReady).
const ReadinessGatesNotReady = "ReadinessGatesNotReady"

// agentCondition reports whether the node agent owns conditions of type t
// (the kubelet's PodConditionByKubelet).
func agentCondition(t corev1.PodConditionType) bool {
	switch t {
	case corev1.PodScheduled, corev1.PodReady, corev1.PodInitialized, corev1.ContainersReady, corev1.PodReadyToStartContainers:
		return true
	}
	return false
}

// mergeStatus is the status the agent writes over api: mine (the worker's)
// with api's conditions that are not the agent's kept ahead of the agent's,
// and Ready evaluated with the readiness gates of spec.
func mergeStatus(spec *corev1.PodSpec, api, mine *corev1.PodStatus, now time.Time) corev1.PodStatus {
	st := *mine.DeepCopy()
	shared := map[corev1.PodConditionType]bool{} // non-agent types the worker sets (DisruptionTarget)
	for _, c := range mine.Conditions {
		if !agentCondition(c.Type) {
			shared[c.Type] = true
		}
	}
	conds := make([]corev1.PodCondition, 0, len(api.Conditions)+len(mine.Conditions))
	for _, c := range api.Conditions {
		if !agentCondition(c.Type) && !shared[c.Type] {
			conds = append(conds, c)
		}
	}
	conds = append(conds, st.Conditions...)
	st.Conditions = conds
	if len(spec.ReadinessGates) == 0 {
		return st
	}
	for i := range st.Conditions {
		c := &st.Conditions[i]
		if c.Type != corev1.PodReady {
			continue
		}
		if c.Status == corev1.ConditionTrue {
			if msg := gatesNotReady(spec.ReadinessGates, st.Conditions); msg != "" {
				*c = corev1.PodCondition{Type: corev1.PodReady, Status: corev1.ConditionFalse,
					Reason: ReadinessGatesNotReady, Message: msg, LastTransitionTime: metav1.NewTime(now)}
			}
		}
		// The gates make Ready change when the worker's does not: its
		// transition time is the API's while the status is the same.
		if old := findCondition(api.Conditions, corev1.PodReady); old != nil && old.Status == c.Status {
			c.LastTransitionTime = old.LastTransitionTime
		} else if old != nil && c.Reason != ReadinessGatesNotReady && old.Reason == ReadinessGatesNotReady {
			c.LastTransitionTime = metav1.NewTime(now) // the last gate became True
		}
	}
	return st
}

// gatesNotReady is upstream's message for the gates whose condition is
// missing or not True, "" when all are True.
func gatesNotReady(gates []corev1.PodReadinessGate, conds []corev1.PodCondition) string {
	var msgs []string
	for _, g := range gates {
		c := findCondition(conds, g.ConditionType)
		switch {
		case c == nil:
			msgs = append(msgs, fmt.Sprintf("corresponding condition of pod readiness gate %q does not exist.", string(g.ConditionType)))
		case c.Status != corev1.ConditionTrue:
			msgs = append(msgs, fmt.Sprintf("the status of pod readiness gate %q is not \"True\", but %v", string(g.ConditionType), c.Status))
		}
	}
	return strings.Join(msgs, ", ")
}

func findCondition(conds []corev1.PodCondition, t corev1.PodConditionType) *corev1.PodCondition {
	for i := range conds {
		if conds[i].Type == t {
			return &conds[i]
		}
	}
	return nil
}

// statusDiffers reports whether the API's status differs from the one the
// agent would write (merged by mergeStatus) in what the agent decides: the
// phase and the status, reason and message of the conditions it owns.
func statusDiffers(mine, api *corev1.PodStatus) bool {
	if mine.Phase != api.Phase {
		return true
	}
	for _, c := range mine.Conditions {
		if !agentCondition(c.Type) {
			continue
		}
		o := findCondition(api.Conditions, c.Type)
		if o == nil || o.Status != c.Status || o.Reason != c.Reason || o.Message != c.Message {
			return true
		}
	}
	return false
}
