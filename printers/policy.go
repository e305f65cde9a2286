package printers

// The policy kinds' columns and cells, as upstream's AddHandlers and
// printPodDisruptionBudget
// (k8s.io/kubernetes/pkg/printers/internalversion/printers.go).

import (
	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func init() {
	register(policyv1.SchemeGroupVersion.WithKind("PodDisruptionBudget"), &policyv1.PodDisruptionBudgetList{}, []metav1.TableColumnDefinition{
		nameColumn,
		{Name: "Min Available", Type: "string", Description: "The minimum number of pods that must be available."},
		{Name: "Max Unavailable", Type: "string", Description: "The maximum number of pods that may be unavailable."},
		{Name: "Allowed Disruptions", Type: "integer", Description: "Calculated number of pods that may be disrupted at this time."},
		ageColumn,
	}, printPodDisruptionBudget)
}

// printPodDisruptionBudget: MIN AVAILABLE and MAX UNAVAILABLE as given
// (an integer or a percentage), N/A when unset.
func printPodDisruptionBudget(pdb *policyv1.PodDisruptionBudget, o *options) []any {
	minAvailable, maxUnavailable := "N/A", "N/A"
	if v := pdb.Spec.MinAvailable; v != nil {
		minAvailable = v.String()
	}
	if v := pdb.Spec.MaxUnavailable; v != nil {
		maxUnavailable = v.String()
	}
	return []any{pdb.Name, minAvailable, maxUnavailable, int64(pdb.Status.DisruptionsAllowed), translateTimestampSince(pdb.CreationTimestamp, o.now)}
}
