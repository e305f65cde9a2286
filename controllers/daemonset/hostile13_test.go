package daemonset

// Hostile users against the DaemonSet controller (issue 13's attacker).

import (
	"fmt"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// TestHostile13LongName: a DaemonSet named with 253 characters (a valid
// name) still runs its pods: upstream's ControllerRevisionName cuts the
// prefix to 223 characters before "-<hash>", and generateName cuts the
// pods' base to 58.
func TestHostile13LongName(t *testing.T) {
	e := setup(t, "n1", "n2")
	name := strings.Repeat("d", 253)
	ds := newDS(name)
	ds.Spec.Selector.MatchLabels = map[string]string{"app": "long"}
	ds.Spec.Template.Labels = map[string]string{"app": "long"}
	e.create(ds)
	e.waitFor("a pod on each node", func() bool {
		l, err := e.cs.CoreV1().Pods("default").List(e.ctx, metav1.ListOptions{LabelSelector: "app=long"})
		return err == nil && len(l.Items) == 2
	})
	revs, err := e.cs.AppsV1().ControllerRevisions("default").List(e.ctx, metav1.ListOptions{})
	if err != nil || len(revs.Items) != 1 {
		t.Fatalf("controller revisions: %v %d", err, len(revs.Items))
	}
	if n := revs.Items[0].Name; len(n) > 253 || !strings.HasPrefix(n, strings.Repeat("d", 223)+"-") {
		t.Errorf("controller revision name %q (%d characters)", n, len(n))
	}
}

// TestHostile13NodeChurn: 30 nodes join and leave in quick succession:
// each node that is left has exactly one daemon pod and no pod names a
// node that is gone.
func TestHostile13NodeChurn(t *testing.T) {
	e := setup(t, "base")
	ds := newDS("churn")
	e.create(ds)
	for i := range 30 {
		e.addNode(fmt.Sprintf("c%d", i), nil, nil)
	}
	for i := 0; i < 30; i += 2 {
		if err := e.cs.CoreV1().Nodes().Delete(e.ctx, fmt.Sprintf("c%d", i), metav1.DeleteOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	want := []string{"base"}
	for i := 1; i < 30; i += 2 {
		want = append(want, fmt.Sprintf("c%d", i))
	}
	e.waitFor("one pod per remaining node", func() bool {
		l, err := e.cs.CoreV1().Pods("default").List(e.ctx, metav1.ListOptions{})
		if err != nil {
			return false
		}
		per := map[string]int{}
		for _, p := range l.Items {
			if p.DeletionTimestamp != nil {
				continue
			}
			per[nodeOfPod(p)]++
		}
		if len(per) != len(want) {
			return false
		}
		for _, n := range want {
			if per[n] != 1 {
				return false
			}
		}
		return true
	})
}

// nodeOfPod is the node a daemon pod is for: spec.nodeName or the
// matchFields metadata.name term of its required node affinity.
func nodeOfPod(p corev1.Pod) string {
	if p.Spec.NodeName != "" {
		return p.Spec.NodeName
	}
	if a := p.Spec.Affinity; a != nil && a.NodeAffinity != nil && a.NodeAffinity.RequiredDuringSchedulingIgnoredDuringExecution != nil {
		for _, term := range a.NodeAffinity.RequiredDuringSchedulingIgnoredDuringExecution.NodeSelectorTerms {
			for _, f := range term.MatchFields {
				if f.Key == "metadata.name" && len(f.Values) == 1 {
					return f.Values[0]
				}
			}
		}
	}
	return ""
}
