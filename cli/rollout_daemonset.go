package cli

// rollout_daemonset.go: wasmpod rollout for DaemonSets, as kubectl v1.37's
// polymorphichelpers do them: the DaemonSetStatusViewer (RollingUpdate
// only), the DaemonSetHistoryViewer over the ControllerRevisions the
// DaemonSet controls (a revision's template is the revision's patch
// applied to the DaemonSet), the DaemonSetRollbacker (the revision's
// patch sent back as a strategic merge patch, skipped when it is the
// current template byte for byte), the restartedAt restart, and pause and
// resume refused ("pausing is not supported"), with kubectl's messages.

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"time"

	"github.com/wasmpod/wasmpod/cli/internal/cmdline"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/strategicpatch"
	"k8s.io/apimachinery/pkg/watch"

	"github.com/wasmpod/wasmpod/controllers/daemonset"
)

// dsConn connects and reads the DaemonSet.
func dsConn(c *cmdline.Context, name string) (*conn, *appsv1.DaemonSet, error) {
	k, err := connect(c)
	if err != nil {
		return nil, nil, err
	}
	ds, err := k.cs.AppsV1().DaemonSets(k.namespace(c)).Get(c.Context, name, metav1.GetOptions{})
	if err != nil {
		return nil, nil, k.fail(err)
	}
	return k, ds, nil
}

// daemonSetStatus is kubectl's DaemonSetStatusViewer.Status (the
// revision is ignored, as there).
func daemonSetStatus(ds *appsv1.DaemonSet) (string, bool, error) {
	if ds.Spec.UpdateStrategy.Type != appsv1.RollingUpdateDaemonSetStrategyType {
		return "", true, fmt.Errorf("rollout status is only available for %s strategy type", appsv1.RollingUpdateDaemonSetStrategyType)
	}
	if ds.Generation > ds.Status.ObservedGeneration {
		return "Waiting for daemon set spec update to be observed...\n", false, nil
	}
	s := ds.Status
	if s.UpdatedNumberScheduled < s.DesiredNumberScheduled {
		return fmt.Sprintf("Waiting for daemon set %q rollout to finish: %d out of %d new pods have been updated...\n", ds.Name, s.UpdatedNumberScheduled, s.DesiredNumberScheduled), false, nil
	}
	if s.NumberAvailable < s.DesiredNumberScheduled {
		return fmt.Sprintf("Waiting for daemon set %q rollout to finish: %d of %d updated pods are available...\n", ds.Name, s.NumberAvailable, s.DesiredNumberScheduled), false, nil
	}
	return fmt.Sprintf("daemon set %q successfully rolled out\n", ds.Name), true, nil
}

func dsRolloutStatus(c *cmdline.Context, name string) error {
	k, ds, err := dsConn(c, name)
	if err != nil {
		return err
	}
	if c.Int64("revision") < 0 {
		return usageErr("revision must be a positive integer")
	}
	ns := ds.Namespace
	return watchRollout(c, k, ds, func(obj runtime.Object) (string, bool, error) {
		d, ok := obj.(*appsv1.DaemonSet)
		if !ok {
			return "", false, nil
		}
		return daemonSetStatus(d)
	}, func(ctx context.Context, opts metav1.ListOptions) (watch.Interface, error) {
		return k.cs.AppsV1().DaemonSets(ns).Watch(ctx, opts)
	}, func(ctx context.Context) (runtime.Object, error) {
		return k.cs.AppsV1().DaemonSets(ns).Get(ctx, name, metav1.GetOptions{})
	})
}

// dsHistory is kubectl's daemonSetHistory: the ControllerRevisions
// selected by the DaemonSet's selector that it controls.
func dsHistory(c *cmdline.Context, k *conn, ds *appsv1.DaemonSet) ([]*appsv1.ControllerRevision, error) {
	sel, err := metav1.LabelSelectorAsSelector(ds.Spec.Selector)
	if err != nil {
		return nil, errorf("failed to create selector for DaemonSet %s: %v", ds.Name, err)
	}
	l, err := k.cs.AppsV1().ControllerRevisions(ds.Namespace).List(c.Context, metav1.ListOptions{LabelSelector: sel.String()})
	if err != nil {
		return nil, errorf("unable to find history controlled by DaemonSet %s: %v", ds.Name, err)
	}
	var out []*appsv1.ControllerRevision
	for i := range l.Items {
		if metav1.IsControlledBy(&l.Items[i], ds) {
			out = append(out, &l.Items[i])
		}
	}
	return out, nil
}

// applyDSRevision is kubectl's applyDaemonSetHistory: the DaemonSet with
// the revision's patch applied.
func applyDSRevision(ds *appsv1.DaemonSet, cr *appsv1.ControllerRevision) (*appsv1.DaemonSet, error) {
	b, err := json.Marshal(ds)
	if err != nil {
		return nil, err
	}
	patched, err := strategicpatch.StrategicMergePatch(b, cr.Data.Raw, ds)
	if err != nil {
		return nil, err
	}
	out := &appsv1.DaemonSet{}
	return out, json.Unmarshal(patched, out)
}

func dsRolloutHistory(c *cmdline.Context, name string) error {
	k, ds, err := dsConn(c, name)
	if err != nil {
		return err
	}
	hist, err := dsHistory(c, k, ds)
	if err != nil {
		return err
	}
	out := c.App.Writer
	byRev := map[int64]*appsv1.ControllerRevision{}
	for _, h := range hist {
		byRev[h.Revision] = h
	}
	rev := c.Int64("revision")
	header := fmt.Sprintf("daemonset.apps/%s ", ds.Name)
	if rev > 0 {
		header = fmt.Sprintf("daemonset.apps/%s with revision #%d", ds.Name, rev)
	}
	if len(byRev) == 0 {
		fmt.Fprintf(out, "%s\nNo rollout history found.\n", header)
		return nil
	}
	if rev > 0 {
		h, ok := byRev[rev]
		if !ok {
			return errorf("unable to find the specified revision")
		}
		applied, err := applyDSRevision(ds, h)
		if err != nil {
			return errorf("unable to parse history %s", h.Name)
		}
		fmt.Fprintf(out, "%s\n", header)
		describePodTemplate(prefixWriter{w: out}, &applied.Spec.Template) // kubectl's printTemplate
		fmt.Fprintln(out)
		return nil
	}
	fmt.Fprintf(out, "%s\n%s\n", header, historyTable(byRev))
	return nil
}

func dsRolloutUndo(c *cmdline.Context, name string) error {
	k, ds, err := dsConn(c, name)
	if err != nil {
		return err
	}
	if _, ok := ds.Annotations[corev1.LastAppliedConfigAnnotation]; ok {
		fmt.Fprintf(c.App.ErrWriter, "Warning: resource daemonsets/%s was previously managed with 'kubectl apply'. Rolling back will not update the kubectl.kubernetes.io/last-applied-configuration annotation, which may cause unexpected behavior on future 'kubectl apply' operations. Consider using 'kubectl apply' with your previous configuration file instead.\n", ds.Name)
	}
	to := c.Int64("to-revision")
	if to < 0 {
		return usageErr("revision must be a positive integer")
	}
	hist, err := dsHistory(c, k, ds)
	if err != nil {
		return err
	}
	if to == 0 && len(hist) <= 1 {
		return errorf("no last revision to roll back to")
	}
	// kubectl's findHistory: the given revision, else the one before the
	// latest.
	var target *appsv1.ControllerRevision
	if to == 0 {
		sort.Slice(hist, func(i, j int) bool { return hist[i].Revision < hist[j].Revision })
		target = hist[len(hist)-2]
	} else {
		for _, h := range hist {
			if h.Revision == to {
				target = h
				break
			}
		}
	}
	if target == nil {
		return errorf("unable to find specified revision %d in history", to)
	}
	cur, err := daemonset.RevisionData(ds) // kubectl's getDaemonSetPatch
	if err != nil {
		return errorf("%v", err)
	}
	if bytes.Equal(cur, target.Data.Raw) {
		fmt.Fprintf(c.App.Writer, "daemonset.apps/%s skipped rollback (current template already matches revision %d)\n", ds.Name, to)
		return nil
	}
	if _, err := k.cs.AppsV1().DaemonSets(ds.Namespace).Patch(c.Context, ds.Name, types.StrategicMergePatchType, target.Data.Raw, metav1.PatchOptions{}); err != nil {
		return errorf("failed restoring revision %d: %v", to, err)
	}
	fmt.Fprintf(c.App.Writer, "daemonset.apps/%s rolled back\n", ds.Name)
	return nil
}

// dsRolloutPatch is kubectl's pause, resume and restart of a DaemonSet:
// pause and resume are not supported (objectpauser, objectresumer); a
// restart stamps the template with restartedAt.
func dsRolloutPatch(c *cmdline.Context, name, verb string) error {
	k, ds, err := dsConn(c, name)
	if err != nil {
		return err
	}
	switch verb {
	case "paused":
		return errorf("daemonsets.apps %q pausing is not supported", ds.Name)
	case "resumed":
		return errorf("daemonsets.apps %q resuming is not supported", ds.Name)
	}
	body, _ := json.Marshal(map[string]any{"spec": map[string]any{"template": map[string]any{"metadata": map[string]any{
		"annotations": map[string]string{restartedAtAnnotation: time.Now().Format(time.RFC3339)}}}}})
	if _, err := k.cs.AppsV1().DaemonSets(ds.Namespace).Patch(c.Context, ds.Name, types.StrategicMergePatchType, body, metav1.PatchOptions{}); err != nil {
		return k.fail(err)
	}
	fmt.Fprintf(c.App.Writer, "daemonset.apps/%s restarted\n", ds.Name)
	return nil
}
