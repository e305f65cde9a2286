package cli

import (
	"fmt"
	"io"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/duration"
)

// podStatus is kubectl's STATUS column for a pod, with READY and RESTARTS
// (the rules of kubectl's pod printer).
func podStatus(pod *corev1.Pod) (status string, ready, total int, restarts int32) {
	total = len(pod.Spec.Containers)
	reason := string(pod.Status.Phase)
	if pod.Status.Reason != "" {
		reason = pod.Status.Reason
	}
	initializing := false
	for i, c := range pod.Status.InitContainerStatuses {
		restarts += c.RestartCount
		sidecar := i < len(pod.Spec.InitContainers) && pod.Spec.InitContainers[i].RestartPolicy != nil &&
			*pod.Spec.InitContainers[i].RestartPolicy == corev1.ContainerRestartPolicyAlways
		switch {
		case c.State.Terminated != nil && c.State.Terminated.ExitCode == 0:
			continue
		case sidecar && c.Started != nil && *c.Started:
			continue
		case c.State.Terminated != nil:
			if c.State.Terminated.Reason == "" {
				reason = fmt.Sprintf("Init:ExitCode:%d", c.State.Terminated.ExitCode)
			} else {
				reason = "Init:" + c.State.Terminated.Reason
			}
			initializing = true
		case c.State.Waiting != nil && c.State.Waiting.Reason != "" && c.State.Waiting.Reason != "PodInitializing":
			reason = "Init:" + c.State.Waiting.Reason
			initializing = true
		default:
			reason = fmt.Sprintf("Init:%d/%d", i, len(pod.Spec.InitContainers))
			initializing = true
		}
		break
	}
	if !initializing || conditionTrue(pod, corev1.PodInitialized) {
		restarts = 0
		for _, c := range pod.Status.InitContainerStatuses {
			restarts += c.RestartCount
		}
		hasRunning := false
		for i := len(pod.Status.ContainerStatuses) - 1; i >= 0; i-- {
			c := pod.Status.ContainerStatuses[i]
			restarts += c.RestartCount
			switch {
			case c.State.Waiting != nil && c.State.Waiting.Reason != "":
				reason = c.State.Waiting.Reason
			case c.State.Terminated != nil && c.State.Terminated.Reason != "":
				reason = c.State.Terminated.Reason
			case c.State.Terminated != nil:
				reason = fmt.Sprintf("ExitCode:%d", c.State.Terminated.ExitCode)
			case c.Ready && c.State.Running != nil:
				hasRunning = true
				ready++
			}
		}
		if reason == "Completed" && hasRunning {
			reason = "NotReady"
			if conditionTrue(pod, corev1.PodReady) {
				reason = "Running"
			}
		}
	}
	if pod.DeletionTimestamp != nil && pod.Status.Phase != corev1.PodSucceeded && pod.Status.Phase != corev1.PodFailed {
		reason = "Terminating"
	}
	return reason, ready, total, restarts
}

func conditionTrue(pod *corev1.Pod, t corev1.PodConditionType) bool {
	for _, c := range pod.Status.Conditions {
		if c.Type == t {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

// lastRestart is the latest finish time of a container's previous
// instance (kubectl's "(5s ago)" in RESTARTS).
func lastRestart(pod *corev1.Pod) time.Time {
	var t time.Time
	for _, list := range [][]corev1.ContainerStatus{pod.Status.InitContainerStatuses, pod.Status.ContainerStatuses} {
		for _, c := range list {
			if c.LastTerminationState.Terminated != nil && c.LastTerminationState.Terminated.FinishedAt.Time.After(t) {
				t = c.LastTerminationState.Terminated.FinishedAt.Time
			}
		}
	}
	return t
}

// age is kubectl's AGE: a short human duration since t, "<unknown>" for zero.
func age(t time.Time, now time.Time) string {
	if t.IsZero() {
		return "<unknown>"
	}
	return duration.HumanDuration(now.Sub(t))
}

func orNone(s string) string {
	if s == "" {
		return "<none>"
	}
	return s
}

// printer renders objects of one kind as kubectl's table rows.
type printer struct {
	headers, wide []string
	row           func(u *unstructured.Unstructured, now time.Time, wide bool) []string
}

var podPrinter = printer{
	headers: []string{"NAME", "READY", "STATUS", "RESTARTS", "AGE"},
	wide:    []string{"IP", "NODE", "NOMINATED NODE", "READINESS GATES"},
	row: func(u *unstructured.Unstructured, now time.Time, wide bool) []string {
		var pod corev1.Pod
		_ = runtime.DefaultUnstructuredConverter.FromUnstructured(u.Object, &pod)
		return podRow(&pod, now, wide)
	},
}

func podRow(pod *corev1.Pod, now time.Time, wide bool) []string {
	status, ready, total, restarts := podStatus(pod)
	rs := fmt.Sprint(restarts)
	if lr := lastRestart(pod); restarts > 0 && !lr.IsZero() {
		rs = fmt.Sprintf("%d (%s ago)", restarts, duration.HumanDuration(now.Sub(lr)))
	}
	row := []string{pod.Name, fmt.Sprintf("%d/%d", ready, total), status, rs, age(pod.CreationTimestamp.Time, now)}
	if wide {
		gates := "<none>"
		if n := len(pod.Spec.ReadinessGates); n > 0 {
			ok := 0
			for _, g := range pod.Spec.ReadinessGates {
				if conditionTrue(pod, g.ConditionType) {
					ok++
				}
			}
			gates = fmt.Sprintf("%d/%d", ok, n)
		}
		row = append(row, orNone(pod.Status.PodIP), orNone(pod.Spec.NodeName), orNone(pod.Status.NominatedNodeName), gates)
	}
	return row
}

var nodePrinter = printer{
	headers: []string{"NAME", "STATUS", "ROLES", "AGE", "VERSION"},
	wide:    []string{"INTERNAL-IP", "EXTERNAL-IP", "OS-IMAGE", "KERNEL-VERSION", "CONTAINER-RUNTIME"},
	row: func(u *unstructured.Unstructured, now time.Time, wide bool) []string {
		var n corev1.Node
		_ = runtime.DefaultUnstructuredConverter.FromUnstructured(u.Object, &n)
		row := []string{n.Name, nodeStatus(&n), nodeRoles(&n), age(n.CreationTimestamp.Time, now), n.Status.NodeInfo.KubeletVersion}
		if wide {
			row = append(row, orNone(nodeAddress(&n, corev1.NodeInternalIP)), orNone(nodeAddress(&n, corev1.NodeExternalIP)),
				n.Status.NodeInfo.OSImage, n.Status.NodeInfo.KernelVersion, n.Status.NodeInfo.ContainerRuntimeVersion)
		}
		return row
	},
}

// nodeStatus is kubectl's node STATUS: Ready, NotReady or Unknown, then
// ",SchedulingDisabled" for a cordoned node.
func nodeStatus(n *corev1.Node) string {
	status := "Unknown"
	for _, c := range n.Status.Conditions {
		if c.Type == corev1.NodeReady {
			status = "NotReady"
			if c.Status == corev1.ConditionTrue {
				status = "Ready"
			}
		}
	}
	if n.Spec.Unschedulable {
		status += ",SchedulingDisabled"
	}
	return status
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

func nodeAddress(n *corev1.Node, t corev1.NodeAddressType) string {
	for _, a := range n.Status.Addresses {
		if a.Type == t {
			return a.Address
		}
	}
	return ""
}

var namespacePrinter = printer{
	headers: []string{"NAME", "STATUS", "AGE"},
	row: func(u *unstructured.Unstructured, now time.Time, wide bool) []string {
		phase, _, _ := unstructured.NestedString(u.Object, "status", "phase")
		return []string{u.GetName(), phase, age(u.GetCreationTimestamp().Time, now)}
	},
}

var eventPrinter = printer{
	headers: []string{"LAST SEEN", "TYPE", "REASON", "OBJECT", "MESSAGE"},
	wide:    []string{"SUBOBJECT", "SOURCE", "FIRST SEEN", "COUNT", "NAME"},
	row: func(u *unstructured.Unstructured, now time.Time, wide bool) []string {
		var e corev1.Event
		_ = runtime.DefaultUnstructuredConverter.FromUnstructured(u.Object, &e)
		return eventRow(&e, now, wide)
	},
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

func eventRow(e *corev1.Event, now time.Time, wide bool) []string {
	first := age(eventFirst(e), now)
	last := age(eventLast(e), now)
	count := e.Count
	if e.Series != nil {
		count = e.Series.Count
	} else if count > 1 {
		last = fmt.Sprintf("%s (x%d over %s)", last, count, first)
	}
	obj := strings.ToLower(e.InvolvedObject.Kind) + "/" + e.InvolvedObject.Name
	row := []string{last, e.Type, e.Reason, obj, strings.TrimSpace(e.Message)}
	if wide {
		src := e.Source.Component
		if e.Source.Host != "" {
			src += ", " + e.Source.Host
		}
		if src == "" {
			src = e.ReportingController
		}
		row = append(row, e.InvolvedObject.FieldPath, src, first, fmt.Sprint(count), e.Name)
	}
	return row
}

var genericPrinter = printer{
	headers: []string{"NAME", "AGE"},
	row: func(u *unstructured.Unstructured, now time.Time, wide bool) []string {
		return []string{u.GetName(), age(u.GetCreationTimestamp().Time, now)}
	},
}

// printerFor picks the table printer of a kind.
func printerFor(gk schema.GroupKind) printer {
	if gk.Group == "" {
		switch gk.Kind {
		case "Pod":
			return podPrinter
		case "Node":
			return nodePrinter
		case "Namespace":
			return namespacePrinter
		case "Event":
			return eventPrinter
		}
	}
	return genericPrinter
}

// tableOptions are the table flags of get.
type tableOptions struct {
	wide, noHeaders, showLabels, allNamespaces, withKind bool
}

// table renders rows of one kind with kubectl's column rules.
func (p printer) table(items []unstructured.Unstructured, gk schema.GroupKind, o tableOptions, now time.Time) (headers []string, rows [][]string) {
	headers = append([]string{}, p.headers...)
	if o.wide {
		headers = append(headers, p.wide...)
	}
	if o.allNamespaces {
		headers = append([]string{"NAMESPACE"}, headers...)
	}
	if o.showLabels {
		headers = append(headers, "LABELS")
	}
	for i := range items {
		u := &items[i]
		row := p.row(u, now, o.wide)
		if o.withKind && p.headers[0] == "NAME" {
			row[0] = kindName(gk, row[0])
		}
		if o.allNamespaces {
			row = append([]string{u.GetNamespace()}, row...)
		}
		if o.showLabels {
			row = append(row, orNone(labels.FormatLabels(u.GetLabels())))
		}
		rows = append(rows, row)
	}
	return headers, rows
}

// newTabWriter is kubectl's tab writer.
func newTabWriter(w io.Writer) *tabwriter.Writer { return tabwriter.NewWriter(w, 6, 4, 3, ' ', 0) }

func writeRows(w io.Writer, headers []string, rows [][]string) {
	tw := newTabWriter(w)
	if headers != nil {
		fmt.Fprintln(tw, strings.Join(headers, "\t"))
	}
	for _, r := range rows {
		fmt.Fprintln(tw, strings.Join(r, "\t"))
	}
	tw.Flush()
}
