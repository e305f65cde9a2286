package cli

import (
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/duration"

	"github.com/wasmpod/wasmpod/printers"
)

// get's tables come from the server (package printers, through the API
// server's Table negotiation); what is left here are the small helpers of
// the other commands' own output.

// podStatus is kubectl's STATUS of a pod with READY and RESTARTS, as
// package printers computes them for the server's pod Table (run's status
// line).
func podStatus(pod *corev1.Pod) (status string, ready, total int, restarts int32) {
	s := printers.SummarizePod(pod)
	return s.Reason, s.Ready, s.Total, int32(s.Restarts)
}

// age is kubectl's AGE: a short human duration since t, "<unknown>" for zero.
func age(t time.Time, now time.Time) string {
	if t.IsZero() {
		return "<unknown>"
	}
	return duration.HumanDuration(now.Sub(t))
}

// nodeRoles is the ROLES of a node, as package printers computes them
// for the server's node Table (describe's Roles).
func nodeRoles(n *corev1.Node) string {
	if roles := printers.NodeRoles(n); len(roles) > 0 {
		return strings.Join(roles, ",")
	}
	return "<none>"
}

// eventFirst and eventLast are an event's first and last occurrence.
func eventFirst(e *corev1.Event) time.Time {
	if !e.FirstTimestamp.IsZero() {
		return e.FirstTimestamp.Time
	}
	if !e.EventTime.IsZero() {
		return e.EventTime.Time
	}
	return e.CreationTimestamp.Time
}

func eventLast(e *corev1.Event) time.Time {
	if e.Series != nil && !e.Series.LastObservedTime.IsZero() {
		return e.Series.LastObservedTime.Time
	}
	if !e.LastTimestamp.IsZero() {
		return e.LastTimestamp.Time
	}
	return eventFirst(e)
}
