package cli

import (
	"sort"
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

// nodeRoles reads node-role.kubernetes.io/ROLE and kubernetes.io/role labels.
func nodeRoles(n *corev1.Node) string {
	roles := map[string]bool{}
	for k, v := range n.Labels {
		switch {
		case strings.HasPrefix(k, "node-role.kubernetes.io/"):
			if r := strings.TrimPrefix(k, "node-role.kubernetes.io/"); r != "" {
				roles[r] = true
			}
		case k == "kubernetes.io/role" && v != "":
			roles[v] = true
		}
	}
	if len(roles) == 0 {
		return "<none>"
	}
	out := make([]string, 0, len(roles))
	for r := range roles {
		out = append(out, r)
	}
	sort.Strings(out)
	return strings.Join(out, ",")
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
