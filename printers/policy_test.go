package printers

import (
	"testing"
	"time"

	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
)

// TestPodDisruptionBudgetRows: upstream's printPodDisruptionBudget — the
// integer or percentage as given, N/A for the unset one, the allowed
// disruptions from the status.
func TestPodDisruptionBudgetRows(t *testing.T) {
	pct, two := intstr.FromString("25%"), intstr.FromInt32(2)
	if got := columnNames(t, &policyv1.PodDisruptionBudget{}, true); got != "Name|Min Available|Max Unavailable|Allowed Disruptions|Age" {
		t.Errorf("columns %s", got)
	}
	check(t, "minAvailable", &policyv1.PodDisruptionBudget{ObjectMeta: metav1.ObjectMeta{Name: "zk", CreationTimestamp: ago(90 * time.Second)},
		Spec: policyv1.PodDisruptionBudgetSpec{MinAvailable: &two}, Status: policyv1.PodDisruptionBudgetStatus{DisruptionsAllowed: 1}},
		false, "zk", "2", "N/A", int64(1), "90s")
	check(t, "maxUnavailable", &policyv1.PodDisruptionBudget{ObjectMeta: metav1.ObjectMeta{Name: "web", CreationTimestamp: ago(3 * time.Hour)},
		Spec: policyv1.PodDisruptionBudgetSpec{MaxUnavailable: &pct}},
		false, "web", "N/A", "25%", int64(0), "3h")
	check(t, "list", &policyv1.PodDisruptionBudgetList{Items: []policyv1.PodDisruptionBudget{{ObjectMeta: metav1.ObjectMeta{Name: "none", CreationTimestamp: ago(time.Minute)}}}},
		false, "none", "N/A", "N/A", int64(0), "60s")
}
