package printers

import (
	"fmt"
	"strconv"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Pod columns and cells: upstream's podColumnDefinitions and printPod
// (k8s.io/kubernetes/pkg/printers/internalversion/printers.go).
var podColumns = []metav1.TableColumnDefinition{
	nameColumn,
	{Name: "Ready", Type: "string", Description: "The aggregate readiness state of this pod for accepting traffic."},
	{Name: "Status", Type: "string", Description: "The aggregate status of the containers in this pod."},
	{Name: "Restarts", Type: "string", Description: "The number of times the containers in this pod have been restarted and when the last container in this pod has restarted."},
	ageColumn,
	{Name: "IP", Type: "string", Priority: 1, Description: corev1.PodStatus{}.SwaggerDoc()["podIP"]},
	{Name: "Node", Type: "string", Priority: 1, Description: corev1.PodSpec{}.SwaggerDoc()["nodeName"]},
	{Name: "Nominated Node", Type: "string", Priority: 1, Description: corev1.PodStatus{}.SwaggerDoc()["nominatedNodeName"]},
	{Name: "Readiness Gates", Type: "string", Priority: 1, Description: corev1.PodSpec{}.SwaggerDoc()["readinessGates"]},
}

var (
	podSuccessConditions = []metav1.TableRowCondition{{Type: metav1.RowCompleted, Status: metav1.ConditionTrue, Reason: string(corev1.PodSucceeded), Message: "The pod has completed successfully."}}
	podFailedConditions  = []metav1.TableRowCondition{{Type: metav1.RowCompleted, Status: metav1.ConditionTrue, Reason: string(corev1.PodFailed), Message: "The pod failed."}}
)

// nodeUnreachablePodReason is upstream's k8s.io/kubernetes/pkg/util/node
// NodeUnreachablePodReason.
const nodeUnreachablePodReason = "NodeLost"

// PodSummary is what kubectl's pod row says of a pod: READY (Ready of
// Total), STATUS (Reason), RESTARTS (Restarts, and LastRestart, the latest
// finish of a restarted container's previous run, zero when none).
type PodSummary struct {
	Ready, Total int
	Reason       string
	Restarts     int
	LastRestart  time.Time
}

// RestartsString is the RESTARTS cell: "5", or "5 (10s ago)" when the last
// restart's time is known.
func (s PodSummary) RestartsString(now time.Time) string {
	if s.Restarts != 0 && !s.LastRestart.IsZero() {
		return fmt.Sprintf("%d (%s ago)", s.Restarts, translateTimestampSince(metav1.NewTime(s.LastRestart), now))
	}
	return strconv.Itoa(s.Restarts)
}

func isRestartableInitContainer(c *corev1.Container) bool {
	return c != nil && c.RestartPolicy != nil && *c.RestartPolicy == corev1.ContainerRestartPolicyAlways
}

func podConditionTrue(pod *corev1.Pod, t corev1.PodConditionType) bool {
	for _, c := range pod.Status.Conditions {
		if c.Type == t {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

// SummarizePod applies upstream printPod's rules for READY, STATUS and
// RESTARTS: init containers (Init:N/M, Init:<reason>, Init:ExitCode:N,
// Init:Signal:N), restartable (sidecar) init containers counted in READY
// and RESTARTS, SchedulingGated, the last container's waiting or
// terminated reason, "Completed" turned back into Running or NotReady
// while a container still runs, Terminating and Unknown (NodeLost).
func SummarizePod(pod *corev1.Pod) PodSummary {
	var s PodSummary
	restartableInitRestarts := 0
	s.Total = len(pod.Spec.Containers)
	var lastRestart, lastRestartableInitRestart time.Time

	reason := string(pod.Status.Phase)
	if pod.Status.Reason != "" {
		reason = pod.Status.Reason
	}
	// A pod carrying {type: PodScheduled, reason: SchedulingGated} is
	// SchedulingGated.
	for _, c := range pod.Status.Conditions {
		if c.Type == corev1.PodScheduled && c.Reason == corev1.PodReasonSchedulingGated {
			reason = corev1.PodReasonSchedulingGated
		}
	}

	initContainers := make(map[string]*corev1.Container, len(pod.Spec.InitContainers))
	for i := range pod.Spec.InitContainers {
		initContainers[pod.Spec.InitContainers[i].Name] = &pod.Spec.InitContainers[i]
		if isRestartableInitContainer(&pod.Spec.InitContainers[i]) {
			s.Total++
		}
	}

	initializing := false
	for i := range pod.Status.InitContainerStatuses {
		c := pod.Status.InitContainerStatuses[i]
		s.Restarts += int(c.RestartCount)
		if t := c.LastTerminationState.Terminated; t != nil && t.FinishedAt.Time.After(lastRestart) {
			lastRestart = t.FinishedAt.Time
		}
		restartable := isRestartableInitContainer(initContainers[c.Name])
		if restartable {
			restartableInitRestarts += int(c.RestartCount)
			if t := c.LastTerminationState.Terminated; t != nil && t.FinishedAt.Time.After(lastRestartableInitRestart) {
				lastRestartableInitRestart = t.FinishedAt.Time
			}
		}
		switch {
		case c.State.Terminated != nil && c.State.Terminated.ExitCode == 0:
			continue
		case restartable && c.Started != nil && *c.Started:
			if c.Ready {
				s.Ready++
			}
			continue
		case c.State.Terminated != nil:
			// initialization failed
			switch {
			case c.State.Terminated.Reason != "":
				reason = "Init:" + c.State.Terminated.Reason
			case c.State.Terminated.Signal != 0:
				reason = fmt.Sprintf("Init:Signal:%d", c.State.Terminated.Signal)
			default:
				reason = fmt.Sprintf("Init:ExitCode:%d", c.State.Terminated.ExitCode)
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

	if !initializing || podConditionTrue(pod, corev1.PodInitialized) {
		s.Restarts = restartableInitRestarts
		lastRestart = lastRestartableInitRestart
		hasRunning := false
		errorReason := ""
		for i := len(pod.Status.ContainerStatuses) - 1; i >= 0; i-- {
			c := pod.Status.ContainerStatuses[i]
			s.Restarts += int(c.RestartCount)
			if t := c.LastTerminationState.Terminated; t != nil && t.FinishedAt.Time.After(lastRestart) {
				lastRestart = t.FinishedAt.Time
			}
			switch {
			case c.State.Waiting != nil && c.State.Waiting.Reason != "":
				reason = c.State.Waiting.Reason
			case c.State.Terminated != nil:
				switch {
				case c.State.Terminated.Reason != "":
					reason = c.State.Terminated.Reason
				case c.State.Terminated.Signal != 0:
					reason = fmt.Sprintf("Signal:%d", c.State.Terminated.Signal)
				default:
					reason = fmt.Sprintf("ExitCode:%d", c.State.Terminated.ExitCode)
				}
				if c.State.Terminated.ExitCode != 0 {
					errorReason = reason
				}
			case c.Ready && c.State.Running != nil:
				hasRunning = true
				s.Ready++
			}
		}
		// Back to Running while a container still runs and the pod is
		// ready.
		if reason == "Completed" {
			switch {
			case hasRunning && podConditionTrue(pod, corev1.PodReady):
				reason = "Running"
			case errorReason != "":
				reason = errorReason
			case hasRunning:
				reason = "NotReady"
			}
		}
	}

	terminal := pod.Status.Phase == corev1.PodSucceeded || pod.Status.Phase == corev1.PodFailed
	if pod.DeletionTimestamp != nil && pod.Status.Reason == nodeUnreachablePodReason {
		reason = "Unknown"
	} else if pod.DeletionTimestamp != nil && !terminal {
		reason = "Terminating"
	}
	s.Reason = reason
	s.LastRestart = lastRestart
	return s
}

func printPod(pod *corev1.Pod, o *options) ([]any, []metav1.TableRowCondition) {
	var conds []metav1.TableRowCondition
	switch pod.Status.Phase {
	case corev1.PodSucceeded:
		conds = podSuccessConditions
	case corev1.PodFailed:
		conds = podFailedConditions
	}
	s := SummarizePod(pod)
	podIP := "<none>"
	if len(pod.Status.PodIPs) > 0 && pod.Status.PodIPs[0].IP != "" {
		podIP = pod.Status.PodIPs[0].IP
	}
	readinessGates := "<none>"
	if len(pod.Spec.ReadinessGates) > 0 {
		ok := 0
		for _, g := range pod.Spec.ReadinessGates {
			for _, c := range pod.Status.Conditions {
				if c.Type == g.ConditionType {
					if c.Status == corev1.ConditionTrue {
						ok++
					}
					break
				}
			}
		}
		readinessGates = fmt.Sprintf("%d/%d", ok, len(pod.Spec.ReadinessGates))
	}
	return []any{
		pod.Name, fmt.Sprintf("%d/%d", s.Ready, s.Total), s.Reason, s.RestartsString(o.now),
		translateTimestampSince(pod.CreationTimestamp, o.now),
		podIP, orNone(pod.Spec.NodeName), orNone(pod.Status.NominatedNodeName), readinessGates,
	}, conds
}

func orNone(s string) string {
	if s == "" {
		return "<none>"
	}
	return s
}

func init() {
	registerWithConditions(corev1.SchemeGroupVersion.WithKind("Pod"), &corev1.PodList{}, podColumns, printPod)
}
