package pods

// statuslimits.go keeps the node agent's status writes within what the API
// server accepts: messages are truncated as the kubelet's status manager
// truncates them, and a write the server refuses for good is not retried in
// a silent loop.

import (
	"unicode/utf8"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
)

// The kubelet's limits on termination messages (kubecontainer's
// MaxContainerTerminationMessageLength and
// MaxPodTerminationMessageLogLength): 4 KiB for one container, 12 KiB for
// the whole pod, shared equally by its containers.
const (
	maxContainerMessageBytes = 4 << 10
	maxPodMessageBytes       = 12 << 10
)

// truncateStatusMessages cuts st's messages to the kubelet's bounds: each
// container state's message (terminated, as upstream's normalizeStatus,
// and waiting, which here may carry an error's text) to 12 KiB divided by
// the number of containers, the pod's message and its conditions' to
// 4 KiB.
func truncateStatusMessages(pod *corev1.Pod, st *corev1.PodStatus) {
	per := maxPodMessageBytes
	if n := len(pod.Spec.Containers) + len(pod.Spec.InitContainers) + len(pod.Spec.EphemeralContainers); n > 0 {
		per /= n
	}
	editStatusMessages(st,
		func(m string) string { return truncateUTF8(m, per) },
		func(m string) string { return truncateUTF8(m, maxContainerMessageBytes) })
}

// stripStatusMessages removes every free-text message of st, keeping the
// phase, conditions, states, reasons and exit codes.
func stripStatusMessages(st *corev1.PodStatus) {
	none := func(string) string { return "" }
	editStatusMessages(st, none, none)
}

// editStatusMessages replaces each free-text message of st: the container
// states' (waiting and terminated, current and last) with ctr's result, the
// pod's and its conditions' with pod's.
func editStatusMessages(st *corev1.PodStatus, ctr, pod func(string) string) {
	state := func(s *corev1.ContainerState) {
		if s.Terminated != nil {
			s.Terminated.Message = ctr(s.Terminated.Message)
		}
		if s.Waiting != nil {
			s.Waiting.Message = ctr(s.Waiting.Message)
		}
	}
	for _, list := range [][]corev1.ContainerStatus{st.InitContainerStatuses, st.ContainerStatuses, st.EphemeralContainerStatuses} {
		for i := range list {
			state(&list[i].State)
			state(&list[i].LastTerminationState)
		}
	}
	st.Message = pod(st.Message)
	for i := range st.Conditions {
		st.Conditions[i].Message = pod(st.Conditions[i].Message)
	}
}

// truncateUTF8 cuts s to at most n bytes, at a character boundary.
func truncateUTF8(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}

// refusedForGood reports whether the API server refused a status write in
// a way that sending the same status again cannot change: too large,
// invalid, malformed or forbidden.
func refusedForGood(err error) bool {
	return apierrors.IsRequestEntityTooLargeError(err) || apierrors.IsInvalid(err) ||
		apierrors.IsBadRequest(err) || apierrors.IsForbidden(err) || apierrors.IsMethodNotSupported(err)
}
