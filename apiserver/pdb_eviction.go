package apiserver

// pdb_eviction.go: pods/eviction honours PodDisruptionBudgets, as
// upstream's EvictionREST.Create (pkg/registry/core/pod/storage/
// eviction.go):
//
//   - A pod that is Succeeded, Failed, Pending or already being deleted is
//     evicted without looking at budgets (canIgnorePDB); one that is not
//     terminal nor being deleted is deleted with its resourceVersion as
//     precondition (conflicts re-read the pod and retry, unless the client
//     gave a resourceVersion precondition itself).
//   - The pod's budgets are the PDBs of its namespace whose selector
//     matches its labels. None: a plain eviction. More than one: 500 "This
//     pod has more than one PodDisruptionBudget, which the eviction
//     subresource does not support."
//   - A pod that is not ready is evicted without using the budget when the
//     PDB's unhealthyPodEvictionPolicy is AlwaysAllow, or (IfHealthyBudget,
//     the default) when currentHealthy >= desiredHealthy > 0; the delete
//     then carries the pod's resourceVersion, and a conflict (the pod
//     became ready meanwhile) is 429.
//   - Otherwise the budget is checked and decremented in one compare-and-
//     swap of the PDB's status (a write against the resourceVersion read,
//     retried on conflict): the status must be current (observedGeneration
//     >= generation, else 429 "The disruption budget NAME is still being
//     processed by the server."), disruptionsAllowed > 0 (else 429 "Cannot
//     evict pod as it would violate the pod's disruption budget." with the
//     DisruptionBudget cause "The disruption budget NAME needs D healthy
//     pods and has C currently"); a negative count or more than 2000
//     disruptedPods is 403. disruptionsAllowed goes down by one (the
//     DisruptionAllowed condition turns False/InsufficientPods at 0) and
//     disruptedPods[pod] records the eviction time (the server's clock) for
//     the disruption controller. dryRun=All decides the same and writes
//     nothing.

import (
	"context"
	"fmt"
	"net/http"
	"time"

	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	apimeta "k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/util/retry"
)

// Upstream's EvictionsRetry and MaxDisruptedPodSize.
var evictionsRetry = wait.Backoff{Steps: 20, Duration: 500 * time.Millisecond, Factor: 1.0, Jitter: 0.1}

const maxDisruptedPodSize = 2000

// Evict evicts a pod as upstream's EvictionREST.Create (see the file
// comment), with opts as the Eviction's deleteOptions.
func (s *Server) Evict(ctx context.Context, ns, name string, opts metav1.DeleteOptions) error {
	ctx = dryRunDelete(ctx, opts) // dryrun.go
	podRes := s.resources["/pods"]
	rvUnset := opts.Preconditions == nil || opts.Preconditions.ResourceVersion == nil
	shouldRetry := apierrors.IsConflict
	if !rvUnset {
		shouldRetry = func(error) bool { return false }
	}
	var pod *corev1.Pod
	deleted := false
	err := retry.OnError(evictionsRetry, shouldRetry, func() error {
		obj, err := s.Get(ctx, podRes, ns, name)
		if err != nil {
			return err
		}
		pod = obj.(*corev1.Pod)
		if !canIgnorePDB(pod) {
			return nil // to the budget checks
		}
		dopts := opts
		if shouldEnforceResourceVersion(pod) && rvUnset {
			dopts = withResourceVersion(opts, pod.ResourceVersion)
		}
		if err := s.addConditionAndDeletePod(ctx, ns, name, dopts); err != nil { // eviction.go
			return err
		}
		deleted = true
		return nil
	})
	if err != nil || deleted {
		return err
	}

	pdbs, err := s.podDisruptionBudgets(ctx, pod)
	if err != nil {
		return err
	}
	if len(pdbs) > 1 {
		return &apierrors.StatusError{ErrStatus: metav1.Status{Status: metav1.StatusFailure, Code: http.StatusInternalServerError,
			Message: "This pod has more than one PodDisruptionBudget, which the eviction subresource does not support."}}
	}
	pdbName, unhealthyOK := "", false
	if len(pdbs) == 1 {
		pdb := pdbs[0]
		pdbName = pdb.Name
		if !podIsReady(pod) {
			if p := pdb.Spec.UnhealthyPodEvictionPolicy; p != nil && *p == policyv1.AlwaysAllow {
				unhealthyOK = true
			} else if pdb.Status.CurrentHealthy >= pdb.Status.DesiredHealthy && pdb.Status.DesiredHealthy > 0 {
				unhealthyOK = true // the application is not disrupted: the unready pod may go
			}
		}
		if !unhealthyOK {
			if err := s.checkAndDecrement(ctx, pdb, pod.Name); err != nil {
				return err
			}
		}
	}
	dopts := opts
	if unhealthyOK {
		dopts = withResourceVersion(opts, pod.ResourceVersion) // the pod must not have become ready since
	}
	err = s.addConditionAndDeletePod(ctx, ns, name, dopts)
	if err != nil && apierrors.IsConflict(err) && unhealthyOK && rvUnset {
		return tooManyRequestsForBudget(pdbName)
	}
	return err
}

func withResourceVersion(opts metav1.DeleteOptions, rv string) metav1.DeleteOptions {
	pc := metav1.Preconditions{}
	if opts.Preconditions != nil {
		pc = *opts.Preconditions
	}
	pc.ResourceVersion = &rv
	opts.Preconditions = &pc
	return opts
}

// canIgnorePDB is upstream's: terminal, pending and terminating pods.
func canIgnorePDB(p *corev1.Pod) bool {
	switch p.Status.Phase {
	case corev1.PodSucceeded, corev1.PodFailed, corev1.PodPending:
		return true
	}
	return p.DeletionTimestamp != nil
}

// shouldEnforceResourceVersion is upstream's: not for terminal or
// terminating pods.
func shouldEnforceResourceVersion(p *corev1.Pod) bool {
	return p.Status.Phase != corev1.PodSucceeded && p.Status.Phase != corev1.PodFailed && p.DeletionTimestamp == nil
}

func podIsReady(p *corev1.Pod) bool {
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

// podDisruptionBudgets is upstream's getPodDisruptionBudgets: the PDBs of
// the pod's namespace whose (valid) selector matches its labels.
func (s *Server) podDisruptionBudgets(ctx context.Context, pod *corev1.Pod) ([]*policyv1.PodDisruptionBudget, error) {
	r, ok := s.resources[policyv1.GroupName+"/poddisruptionbudgets"]
	if !ok {
		return nil, nil
	}
	list, err := s.List(ctx, r, pod.Namespace, metav1.ListOptions{})
	if err != nil {
		return nil, err
	}
	var out []*policyv1.PodDisruptionBudget
	for i := range list.(*policyv1.PodDisruptionBudgetList).Items {
		pdb := &list.(*policyv1.PodDisruptionBudgetList).Items[i]
		sel, err := metav1.LabelSelectorAsSelector(pdb.Spec.Selector)
		if err != nil || !sel.Matches(labels.Set(pod.Labels)) {
			continue
		}
		out = append(out, pdb)
	}
	return out, nil
}

// tooManyRequestsForBudget is upstream's createTooManyRequestsError.
func tooManyRequestsForBudget(name string) error {
	err := apierrors.NewTooManyRequests("Cannot evict pod as it would violate the pod's disruption budget.", 0)
	err.ErrStatus.Details.Causes = append(err.ErrStatus.Details.Causes, metav1.StatusCause{Type: policyv1.DisruptionBudgetCause,
		Message: fmt.Sprintf("The disruption budget %s is still being processed by the server.", name)})
	return err
}

// checkAndDecrement is upstream's: the budget's check and decrement, as one
// compare-and-swap of the PDB's status on the version read (update
// re-reads and re-checks on the store's conflicts; see the file comment).
func (s *Server) checkAndDecrement(ctx context.Context, pdb *policyv1.PodDisruptionBudget, podName string) error {
	r := s.resources[policyv1.GroupName+"/poddisruptionbudgets"]
	gr := schema.GroupResource{Group: policyv1.GroupName, Resource: "poddisruptionbudget"}
	_, err := s.update(ctx, r, pdb.Namespace, pdb.Name, 0, func(old runtime.Object) (runtime.Object, error) {
		cur := old.(*policyv1.PodDisruptionBudget)
		if cur.UID != pdb.UID {
			return nil, apierrors.NewConflict(r.GVR.GroupResource(), pdb.Name, fmt.Errorf("the PodDisruptionBudget was replaced"))
		}
		if cur.Status.ObservedGeneration < cur.Generation {
			return nil, tooManyRequestsForBudget(cur.Name)
		}
		if cur.Status.DisruptionsAllowed < 0 {
			return nil, apierrors.NewForbidden(gr, cur.Name, fmt.Errorf("pdb disruptions allowed is negative"))
		}
		if len(cur.Status.DisruptedPods) > maxDisruptedPodSize {
			return nil, apierrors.NewForbidden(gr, cur.Name, fmt.Errorf("DisruptedPods map too big - too many evictions not confirmed by PDB controller"))
		}
		if cur.Status.DisruptionsAllowed == 0 {
			err := apierrors.NewTooManyRequests("Cannot evict pod as it would violate the pod's disruption budget.", 0)
			err.ErrStatus.Details.Causes = append(err.ErrStatus.Details.Causes, metav1.StatusCause{Type: policyv1.DisruptionBudgetCause,
				Message: fmt.Sprintf("The disruption budget %s needs %d healthy pods and has %d currently", cur.Name, cur.Status.DesiredHealthy, cur.Status.CurrentHealthy)})
			return nil, err
		}
		cur.Status.DisruptionsAllowed--
		if cur.Status.DisruptionsAllowed == 0 {
			// upstream's pdbhelper.UpdateDisruptionAllowedCondition
			cond := metav1.Condition{Type: policyv1.DisruptionAllowedCondition, Status: metav1.ConditionFalse,
				Reason: policyv1.InsufficientPodsReason, ObservedGeneration: cur.Status.ObservedGeneration}
			if old := apimeta.FindStatusCondition(cur.Status.Conditions, cond.Type); old == nil || old.Status != cond.Status {
				cond.LastTransitionTime = metav1.NewTime(s.clock.Now())
			}
			apimeta.SetStatusCondition(&cur.Status.Conditions, cond)
		}
		if cur.Status.DisruptedPods == nil {
			cur.Status.DisruptedPods = map[string]metav1.Time{}
		}
		cur.Status.DisruptedPods[podName] = metav1.NewTime(s.clock.Now())
		return cur, nil
	}, "status")
	return err
}
