package job

import (
	"fmt"
	"slices"
	"sort"
	"sync"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/utils/clock"
	"k8s.io/utils/ptr"
)

// --- podFailurePolicy (upstream's pod_failure_policy.go) ---------------------

// matchPodFailurePolicy matches a failed pod against the rules in order:
// the FailJob message (a FailJob rule matched), whether the failure counts
// towards the back-off limits (not for Ignore), and the action matched.
func matchPodFailurePolicy(pfp *batchv1.PodFailurePolicy, p *corev1.Pod) (*string, bool, *batchv1.PodFailurePolicyAction) {
	if pfp == nil {
		return nil, true, nil
	}
	for i, r := range pfp.Rules {
		action := r.Action
		switch {
		case r.OnExitCodes != nil:
			cs := matchOnExitCodes(&p.Status, r.OnExitCodes)
			if cs == nil {
				continue
			}
			switch action {
			case batchv1.PodFailurePolicyActionIgnore:
				return nil, false, &action
			case batchv1.PodFailurePolicyActionFailIndex, batchv1.PodFailurePolicyActionCount:
				return nil, true, &action
			case batchv1.PodFailurePolicyActionFailJob:
				msg := fmt.Sprintf("Container %s for pod %s/%s failed with exit code %v matching %v rule at index %d",
					cs.Name, p.Namespace, p.Name, cs.State.Terminated.ExitCode, action, i)
				return &msg, true, &action
			}
		case r.OnPodConditions != nil:
			c := matchOnPodConditions(&p.Status, r.OnPodConditions)
			if c == nil {
				continue
			}
			switch action {
			case batchv1.PodFailurePolicyActionIgnore:
				return nil, false, &action
			case batchv1.PodFailurePolicyActionFailIndex, batchv1.PodFailurePolicyActionCount:
				return nil, true, &action
			case batchv1.PodFailurePolicyActionFailJob:
				msg := fmt.Sprintf("Pod %s/%s has condition %v matching %v rule at index %d", p.Namespace, p.Name, c.Type, action, i)
				return &msg, true, &action
			}
		}
	}
	return nil, true, nil
}

// matchOnExitCodes: the first terminated container (then init container)
// with a non-zero exit code the requirement matches.
func matchOnExitCodes(st *corev1.PodStatus, req *batchv1.PodFailurePolicyOnExitCodesRequirement) *corev1.ContainerStatus {
	for _, list := range [][]corev1.ContainerStatus{st.ContainerStatuses, st.InitContainerStatuses} {
		for i := range list {
			cs := &list[i]
			t := cs.State.Terminated
			if t == nil || t.ExitCode == 0 || (req.ContainerName != nil && *req.ContainerName != cs.Name) {
				continue
			}
			in := slices.Contains(req.Values, t.ExitCode)
			if (req.Operator == batchv1.PodFailurePolicyOnExitCodesOpIn && in) || (req.Operator == batchv1.PodFailurePolicyOnExitCodesOpNotIn && !in) {
				return cs
			}
		}
	}
	return nil
}

func matchOnPodConditions(st *corev1.PodStatus, pats []batchv1.PodFailurePolicyOnPodConditionsPattern) *corev1.PodCondition {
	for i := range st.Conditions {
		for _, pat := range pats {
			if st.Conditions[i].Type == pat.Type && st.Conditions[i].Status == pat.Status {
				return &st.Conditions[i]
			}
		}
	}
	return nil
}

// --- successPolicy (upstream's success_policy.go) ----------------------------

// matchSuccessPolicy: the first rule the succeeded indexes satisfy, as the
// message "Matched rules at index N".
func matchSuccessPolicy(sp *batchv1.SuccessPolicy, completions int32, succeeded intervals) (string, bool) {
	if sp == nil || len(succeeded) == 0 {
		return "", false
	}
	for i, r := range sp.Rules {
		if r.SucceededIndexes != nil {
			req := parseIndexes(*r.SucceededIndexes, int(completions))
			if len(req) == 0 {
				continue
			}
			if matchSucceededIndexes(req, succeeded, r.SucceededCount) {
				return fmt.Sprintf("Matched rules at index %d", i), true
			}
		} else if r.SucceededCount != nil && succeeded.total() >= int(*r.SucceededCount) {
			return fmt.Sprintf("Matched rules at index %d", i), true
		}
	}
	return "", false
}

// matchSucceededIndexes: all of the rule's indexes succeeded, or at least
// succeededCount of them.
func matchSucceededIndexes(rule, succeeded intervals, count *int32) bool {
	contains := 0
	for i, j := 0, 0; i < len(rule) && j < len(succeeded); {
		if o := min(rule[i].last, succeeded[j].last) - max(rule[i].first, succeeded[j].first) + 1; o > 0 {
			contains += o
		}
		switch {
		case succeeded[j].last < rule[i].last:
			j++
		case succeeded[j].last > rule[i].last:
			i++
		default:
			i++
			j++
		}
	}
	return contains == rule.total() || (count != nil && contains >= int(*count))
}

// --- pod re-creation back-off (upstream's backoff_utils.go) ------------------

// Upstream's back-off between pod re-creations after failures: 10 s,
// doubling per failure since the last success, at most 10 minutes.
const (
	DefaultPodFailureBackOff = 10 * time.Second
	MaxPodFailureBackOff     = 10 * time.Minute
)

type backoffRecord struct {
	failuresAfterLastSuccess int32
	lastFailureTime          *time.Time
}

// backoffStore holds a record per Job key, in memory (as upstream: a
// restarted controller starts with none).
type backoffStore struct {
	mu sync.Mutex
	m  map[string]backoffRecord
}

func (s *backoffStore) update(key string, r backoffRecord) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.m[key] = r
}

func (s *backoffStore) remove(key string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.m, key)
}

// newRecord is the record after the newly finished pods (newBackoffRecord):
// failures after the last success count; a success resets.
func (s *backoffStore) newRecord(key string, succeeded, failed []*corev1.Pod) backoffRecord {
	s.mu.Lock()
	r := s.m[key]
	s.mu.Unlock()
	sortByFinishedTime(succeeded)
	sortByFinishedTime(failed)
	switch {
	case len(succeeded) == 0 && len(failed) == 0:
		return r
	case len(succeeded) == 0:
		r.failuresAfterLastSuccess += int32(len(failed))
		t := finishedTime(failed[len(failed)-1])
		r.lastFailureTime = &t
		return r
	}
	r = backoffRecord{}
	lastSuccess := finishedTime(succeeded[len(succeeded)-1])
	for i := len(failed) - 1; i >= 0; i-- {
		t := finishedTime(failed[i])
		if !t.After(lastSuccess) {
			break
		}
		if r.lastFailureTime == nil {
			r.lastFailureTime = &t
		}
		r.failuresAfterLastSuccess++
	}
	return r
}

func (r backoffRecord) remaining(clk clock.PassiveClock) time.Duration {
	return remainingForFailures(clk, r.failuresAfterLastSuccess, r.lastFailureTime)
}

// remainingPerIndex is the back-off left for an index whose last failed
// pod is last (getRemainingTimePerIndex).
func remainingPerIndex(clk clock.PassiveClock, last *corev1.Pod) time.Duration {
	if last == nil {
		return 0
	}
	t := finishedTime(last)
	return remainingForFailures(clk, absoluteFailureCount(last)+1, &t)
}

func remainingForFailures(clk clock.PassiveClock, failures int32, last *time.Time) time.Duration {
	if failures == 0 || last == nil {
		return 0
	}
	d := DefaultPodFailureBackOff
	for i := 1; i < int(failures); i++ {
		d *= 2
		if d >= MaxPodFailureBackOff {
			d = MaxPodFailureBackOff
			break
		}
	}
	if since := clk.Since(*last); d > since {
		return d - since
	}
	return 0
}

func sortByFinishedTime(pods []*corev1.Pod) {
	sort.SliceStable(pods, func(i, j int) bool { return finishedTime(pods[i]).Before(finishedTime(pods[j])) })
}

// finishedTime: the last container's finish, else the Ready=False
// transition, else the deletion time less the grace period, else the
// creation time (getFinishedTime).
func finishedTime(p *corev1.Pod) time.Time {
	var fin *time.Time
	for i := range p.Status.ContainerStatuses {
		t := p.Status.ContainerStatuses[i].State.Terminated
		if t == nil || t.FinishedAt.IsZero() {
			fin = nil
			break
		}
		if fin == nil || fin.Before(t.FinishedAt.Time) {
			fin = &t.FinishedAt.Time
		}
	}
	if fin != nil {
		return *fin
	}
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodReady && c.Status == corev1.ConditionFalse && !c.LastTransitionTime.IsZero() {
			return c.LastTransitionTime.Time
		}
	}
	if p.DeletionTimestamp != nil {
		return p.DeletionTimestamp.Add(-time.Duration(ptr.Deref(p.DeletionGracePeriodSeconds, 0)) * time.Second)
	}
	return p.CreationTimestamp.Time
}
