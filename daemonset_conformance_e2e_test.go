package wasmpod_test

// Upstream's DaemonSet behaviours (test/e2e/apps/daemon_set.go, Kubernetes
// v1.37) that the kubectl e2e (daemonset_e2e_test.go) does not cover, with
// real pods (image busybox: the toolbox), the DaemonSet controller and
// client-go, on one 3-node cluster shared by parallel subtests, each in a
// namespace of its own. Each subtest is named after the upstream
// behaviour; docs/conformance-apps.md maps every behaviour.

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/wasmpod/wasmpod"
	"github.com/wasmpod/wasmpod/internal/kube/kubernetes"
)

// confDSPods describes the DaemonSet's pods that are not being deleted as
// "node:ready" items, sorted ("" when there are none).
func confDSPods(t *testing.T, cs kubernetes.Interface, ns string, owner types.UID) string {
	t.Helper()
	var out []string
	for _, p := range controlledPods(t, cs, ns, owner) {
		ready := false
		for _, c := range p.Status.Conditions {
			ready = ready || (c.Type == corev1.PodReady && c.Status == corev1.ConditionTrue)
		}
		out = append(out, fmt.Sprintf("%s:%v", p.Spec.NodeName, ready && p.Status.Phase == corev1.PodRunning))
	}
	sort.Strings(out)
	return strings.Join(out, ",")
}

// setNodeLabel sets (value != "") or removes the node's label key.
func setNodeLabel(t *testing.T, cs kubernetes.Interface, node, key, value string) {
	t.Helper()
	patch := fmt.Sprintf(`{"metadata":{"labels":{%q:null}}}`, key)
	if value != "" {
		patch = fmt.Sprintf(`{"metadata":{"labels":{%q:%q}}}`, key, value)
	}
	if _, err := cs.CoreV1().Nodes().Patch(context.Background(), node, types.StrategicMergePatchType, []byte(patch), metav1.PatchOptions{}); err != nil {
		t.Fatalf("label node %s: %v", node, err)
	}
}

func TestConformanceDaemonSet(t *testing.T) {
	cc := newConformanceCluster(t, func(cfg *wasmpod.Config) {
		cfg.NodeSpecs = []wasmpod.NodeSpec{{Name: "node-1"}, {Name: "node-2"}, {Name: "node-3"}}
	})
	cs := cc.cs
	ctx := context.Background()

	// ginkgo.It("should run and stop complex daemon with node affinity"):
	// a DaemonSet whose pods require (node affinity, In) a label no node
	// has runs nowhere; a node labelled with it gets a ready daemon pod and
	// the status counts it; the label removed, the pod goes.
	t.Run("should run and stop complex daemon with node affinity", func(t *testing.T) {
		t.Parallel()
		ns := confNamespace(t, cs, "ds-affinity")
		const name, colorKey = "daemon-set", "daemonset-color"
		labels := map[string]string{"daemonset-name": name}
		one := int64(1)
		ds := &appsv1.DaemonSet{
			ObjectMeta: metav1.ObjectMeta{Name: name},
			Spec: appsv1.DaemonSetSpec{
				Selector: &metav1.LabelSelector{MatchLabels: labels},
				Template: corev1.PodTemplateSpec{
					ObjectMeta: metav1.ObjectMeta{Labels: labels},
					Spec: corev1.PodSpec{
						TerminationGracePeriodSeconds: &one,
						Containers:                    []corev1.Container{{Name: "app", Image: "busybox", Command: []string{"sh", "-c", "sleep 3600"}}},
						Affinity: &corev1.Affinity{NodeAffinity: &corev1.NodeAffinity{
							RequiredDuringSchedulingIgnoredDuringExecution: &corev1.NodeSelector{
								NodeSelectorTerms: []corev1.NodeSelectorTerm{{MatchExpressions: []corev1.NodeSelectorRequirement{{
									Key: colorKey, Operator: corev1.NodeSelectorOpIn, Values: []string{"blue"}}}}}}}},
					},
				},
			},
		}
		// A green node never matches.
		setNodeLabel(t, cs, "node-3", colorKey, "green")
		ds, err := cs.AppsV1().DaemonSets(ns).Create(ctx, ds, metav1.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}

		// Initially, daemon pods should not be running on any nodes: the
		// controller observed the DaemonSet and schedules none.
		waitFor(t, "the status observed with no node scheduled", 30*time.Second, func() bool {
			got, err := cs.AppsV1().DaemonSets(ns).Get(ctx, name, metav1.GetOptions{})
			if err != nil {
				t.Fatal(err)
			}
			return got.Status.ObservedGeneration >= got.Generation && got.Generation > 0
		})
		if got, _ := cs.AppsV1().DaemonSets(ns).Get(ctx, name, metav1.GetOptions{}); got.Status.DesiredNumberScheduled != 0 || got.Status.CurrentNumberScheduled != 0 {
			t.Fatalf("status %+v with no blue node", got.Status)
		}
		if got := confDSPods(t, cs, ns, ds.UID); got != "" {
			t.Fatalf("daemon pods %s with no blue node", got)
		}

		// Change node label to blue, check that daemon pod is launched.
		setNodeLabel(t, cs, "node-2", colorKey, "blue")
		waitFor(t, "a ready daemon pod on node-2 only", 60*time.Second, func() bool {
			return confDSPods(t, cs, ns, ds.UID) == "node-2:true"
		})
		pod := controlledPods(t, cs, ns, ds.UID)[0]
		// The pod's required affinity names its node (upstream's
		// ReplaceDaemonSetPodNodeNameNodeAffinity).
		terms := pod.Spec.Affinity.NodeAffinity.RequiredDuringSchedulingIgnoredDuringExecution.NodeSelectorTerms
		if len(terms) != 1 || len(terms[0].MatchFields) != 1 || terms[0].MatchFields[0].Key != "metadata.name" ||
			fmt.Sprint(terms[0].MatchFields[0].Values) != "[node-2]" {
			t.Fatalf("daemon pod's node affinity %+v, want matchFields metadata.name In [node-2]", terms)
		}
		// checkDaemonStatus: desired, current and ready all 1.
		waitFor(t, "status 1 desired, scheduled and ready", 30*time.Second, func() bool {
			got, err := cs.AppsV1().DaemonSets(ns).Get(ctx, name, metav1.GetOptions{})
			if err != nil {
				t.Fatal(err)
			}
			s := got.Status
			return s.DesiredNumberScheduled == 1 && s.CurrentNumberScheduled == 1 && s.NumberReady == 1 &&
				s.UpdatedNumberScheduled == 1 && s.NumberMisscheduled == 0
		})

		// Remove the node label and wait for daemons to be unscheduled.
		setNodeLabel(t, cs, "node-2", colorKey, "")
		waitFor(t, "the daemon pod gone", 60*time.Second, func() bool {
			return confDSPods(t, cs, ns, ds.UID) == ""
		})
		waitFor(t, "status 0 desired", 30*time.Second, func() bool {
			got, err := cs.AppsV1().DaemonSets(ns).Get(ctx, name, metav1.GetOptions{})
			if err != nil {
				t.Fatal(err)
			}
			return got.Status.DesiredNumberScheduled == 0 && got.Status.CurrentNumberScheduled == 0
		})
		if err := cs.AppsV1().DaemonSets(ns).Delete(ctx, name, metav1.DeleteOptions{}); err != nil {
			t.Fatal(err)
		}
	})
}
