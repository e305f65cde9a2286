package cli

// rollout.go: wasmpod rollout status|history|undo|pause|resume|restart for
// Deployments (DaemonSets: rollout_daemonset.go), as kubectl rollout does them (kubectl's polymorphichelpers:
// the status viewer, the history viewer, the client-side rollback that
// patches the template of an old ReplicaSet into the Deployment, and the
// pause/resume/restart patches), with kubectl's messages.

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/wasmpod/wasmpod/cli/internal/cmdline"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/watch"
)

const (
	revisionAnnotation    = "deployment.kubernetes.io/revision"
	changeCauseAnnotation = "kubernetes.io/change-cause"
	restartedAtAnnotation = "kubectl.kubernetes.io/restartedAt"
)

func rolloutCommand() *cmdline.Command {
	flags := func(extra ...cmdline.Flag) []cmdline.Flag {
		return append(append(connFlags(), nsFlags(false)...), extra...)
	}
	sub := func(name, usage, args string, action cmdline.ActionFunc, extra ...cmdline.Flag) *cmdline.Command {
		return &cmdline.Command{Name: name, Usage: usage, ArgsUsage: args, Flags: flags(extra...), Action: action}
	}
	return &cmdline.Command{
		Name:  "rollout",
		Usage: "Manage the rollout of a deployment or daemon set",
		Description: `Manage the rollout of a Deployment or a DaemonSet (deployment/NAME, daemonset/NAME, ds NAME...).

Examples:
  # Wait until the rollout of deployment web is complete
  wasmpod rollout status deployment/web

  # Roll back to the previous revision
  wasmpod rollout undo deployment/web

  # Pause, change, resume
  wasmpod rollout pause deployment/web
  wasmpod rollout resume deployment/web`,
		Flags: flags(),
		Subcommands: []*cmdline.Command{
			sub("status", "Show the status of the rollout", "(TYPE NAME | TYPE/NAME)", byKind(rolloutStatus, dsRolloutStatus),
				&cmdline.BoolFlag{Name: "watch", Aliases: []string{"w"}, Value: true, Usage: "watch the status of the rollout until it's done"},
				&cmdline.Int64Flag{Name: "revision", Usage: "pin to a specific revision for showing its status; defaults to 0 (last revision)"},
				&cmdline.DurationFlag{Name: "timeout", Usage: "the length of time to wait before ending watch, zero means never"}),
			sub("history", "View rollout history", "(TYPE NAME | TYPE/NAME)", byKind(rolloutHistory, dsRolloutHistory),
				&cmdline.Int64Flag{Name: "revision", Usage: "see the details, including podTemplate of the revision specified"}),
			sub("undo", "Undo a previous rollout", "(TYPE NAME | TYPE/NAME) [--to-revision=N]", byKind(rolloutUndo, dsRolloutUndo),
				&cmdline.Int64Flag{Name: "to-revision", Usage: "the revision to rollback to; default to 0 (last revision)"}),
			sub("pause", "Mark the provided resource as paused", "(TYPE NAME | TYPE/NAME)",
				byKind(rolloutPause, func(c *cmdline.Context, n string) error { return dsRolloutPatch(c, n, "paused") })),
			sub("resume", "Resume a paused resource", "(TYPE NAME | TYPE/NAME)",
				byKind(rolloutResume, func(c *cmdline.Context, n string) error { return dsRolloutPatch(c, n, "resumed") })),
			sub("restart", "Restart a resource", "(TYPE NAME | TYPE/NAME)",
				byKind(rolloutRestart, func(c *cmdline.Context, n string) error { return dsRolloutPatch(c, n, "restarted") })),
		},
	}
}

// rolloutTarget parses TYPE/NAME or TYPE NAME: the kind ("deployment" or
// "daemonset") and the name.
func rolloutTarget(c *cmdline.Context) (kind, name string, err error) {
	args := c.Args().Slice()
	var typ string
	switch len(args) {
	case 1:
		var ok bool
		if typ, name, ok = strings.Cut(args[0], "/"); !ok {
			return "", "", usageErr("required resource not specified")
		}
	case 2:
		typ, name = args[0], args[1]
	default:
		return "", "", usageErr("required resource not specified")
	}
	switch strings.ToLower(typ) {
	case "deployment", "deployments", "deploy", "deployment.apps", "deployments.apps":
		kind = "deployment"
	case "daemonset", "daemonsets", "ds", "daemonset.apps", "daemonsets.apps":
		kind = "daemonset"
	default:
		return "", "", errorf("no %s rollout support for %q: only deployments and daemonsets", c.Command.Name, typ)
	}
	if name == "" {
		return "", "", usageErr("resource name may not be empty")
	}
	return kind, name, nil
}

// byKind runs the DaemonSet variant of a rollout subcommand for a
// daemonset target, else the Deployment one.
func byKind(deploy func(*cmdline.Context) error, ds func(c *cmdline.Context, name string) error) cmdline.ActionFunc {
	return func(c *cmdline.Context) error {
		kind, name, err := rolloutTarget(c)
		if err != nil {
			return err
		}
		if kind == "daemonset" {
			return ds(c, name)
		}
		return deploy(c)
	}
}

// rolloutConn connects and reads the Deployment.
func rolloutConn(c *cmdline.Context) (*conn, string, *appsv1.Deployment, error) {
	_, name, err := rolloutTarget(c)
	if err != nil {
		return nil, "", nil, err
	}
	k, err := connect(c)
	if err != nil {
		return nil, "", nil, err
	}
	ns := k.namespace(c)
	d, err := k.cs.AppsV1().Deployments(ns).Get(c.Context, name, metav1.GetOptions{})
	if err != nil {
		return nil, "", nil, k.fail(err)
	}
	return k, ns, d, nil
}

// deploymentStatus is kubectl's DeploymentStatusViewer.Status.
func deploymentStatus(d *appsv1.Deployment, revision int64) (string, bool, error) {
	if revision > 0 {
		if r, _ := strconv.ParseInt(d.Annotations[revisionAnnotation], 10, 64); r != revision {
			return "", false, fmt.Errorf("desired revision (%d) is different from the running revision (%d)", revision, r)
		}
	}
	if d.Generation > d.Status.ObservedGeneration {
		return "Waiting for deployment spec update to be observed...\n", false, nil
	}
	for _, c := range d.Status.Conditions {
		if c.Type == appsv1.DeploymentProgressing && c.Reason == "ProgressDeadlineExceeded" {
			return "", false, fmt.Errorf("deployment %q exceeded its progress deadline", d.Name)
		}
	}
	switch {
	case d.Spec.Replicas != nil && d.Status.UpdatedReplicas < *d.Spec.Replicas:
		return fmt.Sprintf("Waiting for deployment %q rollout to finish: %d out of %d new replicas have been updated...\n", d.Name, d.Status.UpdatedReplicas, *d.Spec.Replicas), false, nil
	case d.Status.Replicas > d.Status.UpdatedReplicas:
		return fmt.Sprintf("Waiting for deployment %q rollout to finish: %d old replicas are pending termination...\n", d.Name, d.Status.Replicas-d.Status.UpdatedReplicas), false, nil
	case d.Status.AvailableReplicas < d.Status.UpdatedReplicas:
		return fmt.Sprintf("Waiting for deployment %q rollout to finish: %d of %d updated replicas are available...\n", d.Name, d.Status.AvailableReplicas, d.Status.UpdatedReplicas), false, nil
	}
	return fmt.Sprintf("deployment %q successfully rolled out\n", d.Name), true, nil
}

func rolloutStatus(c *cmdline.Context) error {
	k, ns, d, err := rolloutConn(c)
	if err != nil {
		return err
	}
	rev := c.Int64("revision")
	if rev < 0 {
		return usageErr("revision must be a positive integer")
	}
	return watchRollout(c, k, d, func(obj runtime.Object) (string, bool, error) {
		nd, ok := obj.(*appsv1.Deployment)
		if !ok {
			return "", false, nil
		}
		return deploymentStatus(nd, rev)
	}, func(ctx context.Context, opts metav1.ListOptions) (watch.Interface, error) {
		return k.cs.AppsV1().Deployments(ns).Watch(ctx, opts)
	}, func(ctx context.Context) (runtime.Object, error) {
		return k.cs.AppsV1().Deployments(ns).Get(ctx, d.Name, metav1.GetOptions{})
	})
}

// watchRollout prints status(obj) (each message once) until it says the
// rollout is done, watching obj from its resourceVersion (get reads it
// again after a watch error) unless --watch=false, within --timeout.
func watchRollout(c *cmdline.Context, k *conn, obj runtime.Object, status func(runtime.Object) (string, bool, error),
	watchFn func(context.Context, metav1.ListOptions) (watch.Interface, error), get func(context.Context) (runtime.Object, error)) error {
	out := c.App.Writer
	ctx := c.Context
	if t := c.Duration("timeout"); t > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, t)
		defer cancel()
	}
	last := ""
	show := func(o runtime.Object) (bool, error) {
		msg, done, err := status(o)
		if err != nil {
			return false, errorf("%v", err)
		}
		if msg != last {
			fmt.Fprint(out, msg)
			last = msg
		}
		return done, nil
	}
	if done, err := show(obj); done || err != nil || !c.Bool("watch") {
		return err
	}
	m, _ := meta.Accessor(obj)
	name, rv := m.GetName(), m.GetResourceVersion()
	for {
		w, err := watchFn(ctx, metav1.ListOptions{FieldSelector: fields.OneTermEqualSelector("metadata.name", name).String(), ResourceVersion: rv})
		if err != nil {
			if ctx.Err() != nil {
				return errorf("timed out waiting for the condition")
			}
			return k.fail(err)
		}
		for ev := range w.ResultChan() {
			switch ev.Type {
			case watch.Deleted:
				w.Stop()
				return errorf("object has been deleted")
			case watch.Error:
				rv = ""
			case watch.Added, watch.Modified:
				em, err := meta.Accessor(ev.Object)
				if err != nil {
					continue
				}
				rv = em.GetResourceVersion()
				if done, err := show(ev.Object); done || err != nil {
					w.Stop()
					return err
				}
			}
		}
		w.Stop()
		if ctx.Err() != nil {
			return errorf("timed out waiting for the condition")
		}
		if rv == "" {
			o, err := get(ctx)
			if err != nil {
				return k.fail(err)
			}
			rv, _ = meta.NewAccessor().ResourceVersion(o)
			if done, err := show(o); done || err != nil {
				return err
			}
		}
	}
}

// ownedReplicaSets are the ReplicaSets the Deployment controls, by
// revision (deploymentutil.GetAllReplicaSets).
func ownedReplicaSets(ctx context.Context, k *conn, d *appsv1.Deployment) (map[int64]*appsv1.ReplicaSet, error) {
	sel, err := metav1.LabelSelectorAsSelector(d.Spec.Selector)
	if err != nil {
		return nil, err
	}
	l, err := k.cs.AppsV1().ReplicaSets(d.Namespace).List(ctx, metav1.ListOptions{LabelSelector: sel.String()})
	if err != nil {
		return nil, err
	}
	out := map[int64]*appsv1.ReplicaSet{}
	for i := range l.Items {
		rs := &l.Items[i]
		if ref := metav1.GetControllerOf(rs); ref == nil || ref.UID != d.UID {
			continue
		}
		r, err := strconv.ParseInt(rs.Annotations[revisionAnnotation], 10, 64)
		if err != nil {
			continue
		}
		out[r] = rs
	}
	return out, nil
}

func rolloutHistory(c *cmdline.Context) error {
	k, _, d, err := rolloutConn(c)
	if err != nil {
		return err
	}
	rss, err := ownedReplicaSets(c.Context, k, d)
	if err != nil {
		return k.fail(err)
	}
	out := c.App.Writer
	if rev := c.Int64("revision"); rev != 0 {
		rs, ok := rss[rev]
		if !ok {
			return errorf("unable to find the specified revision")
		}
		fmt.Fprintf(out, "deployment.apps/%s with revision #%d\n", d.Name, rev)
		tmpl := rs.Spec.Template.DeepCopy()
		if cause := rs.Annotations[changeCauseAnnotation]; cause != "" {
			if tmpl.Annotations == nil {
				tmpl.Annotations = map[string]string{}
			}
			tmpl.Annotations[changeCauseAnnotation] = cause
		}
		describePodTemplate(prefixWriter{w: out}, tmpl) // kubectl's printTemplate: no column alignment
		fmt.Fprintln(out)
		return nil
	}
	fmt.Fprintf(out, "deployment.apps/%s \n", d.Name)
	if len(rss) == 0 {
		fmt.Fprintln(out, "No rollout history found.")
		return nil
	}
	fmt.Fprintf(out, "%s\n", historyTable(rss))
	return nil
}

// historyTable is kubectl's rollout history table (REVISION CHANGE-CAUSE,
// revisions ascending) of the objects holding each revision.
func historyTable[T metav1.Object](byRev map[int64]T) string {
	revs := make([]int64, 0, len(byRev))
	for r := range byRev {
		revs = append(revs, r)
	}
	sort.Slice(revs, func(i, j int) bool { return revs[i] < revs[j] })
	var b bytes.Buffer
	tw := tabwriter.NewWriter(&b, 0, 8, 2, ' ', 0)
	fmt.Fprintf(tw, "REVISION\tCHANGE-CAUSE\n")
	for _, r := range revs {
		cause := byRev[r].GetAnnotations()[changeCauseAnnotation]
		if cause == "" {
			cause = "<none>"
		}
		fmt.Fprintf(tw, "%d\t%s\n", r, cause)
	}
	tw.Flush()
	return b.String()
}

func rolloutUndo(c *cmdline.Context) error {
	k, ns, d, err := rolloutConn(c)
	if err != nil {
		return err
	}
	if _, ok := d.Annotations[corev1.LastAppliedConfigAnnotation]; ok {
		fmt.Fprintf(c.App.ErrWriter, "Warning: resource deployments/%s was previously managed with 'kubectl apply'. Rolling back will not update the kubectl.kubernetes.io/last-applied-configuration annotation, which may cause unexpected behavior on future 'kubectl apply' operations. Consider using 'kubectl apply' with your previous configuration file instead.\n", d.Name)
	}
	if d.Spec.Paused {
		return errorf("you cannot rollback a paused deployment; resume it first with 'kubectl rollout resume' and try again")
	}
	rss, err := ownedReplicaSets(c.Context, k, d)
	if err != nil {
		return k.fail(err)
	}
	to := c.Int64("to-revision")
	if to < 0 {
		return usageErr("revision must be a positive integer")
	}
	var target *appsv1.ReplicaSet
	if to > 0 {
		if target = rss[to]; target == nil {
			return errorf("unable to find specified revision %d in history", to)
		}
	} else {
		// The previous revision: the highest but one.
		var max, second int64
		for r := range rss {
			if r > max {
				max, second = r, max
			} else if r > second {
				second = r
			}
		}
		if second == 0 {
			return errorf("no rollout history found for deployment %q", d.Name)
		}
		to, target = second, rss[second]
	}
	tmpl := target.Spec.Template.DeepCopy()
	delete(tmpl.Labels, appsv1.DefaultDeploymentUniqueLabelKey)
	if equality.Semantic.DeepEqual(tmpl, &d.Spec.Template) {
		fmt.Fprintf(c.App.Writer, "deployment.apps/%s skipped rollback (current template already matches revision %d)\n", d.Name, to)
		return nil
	}
	// kubectl's rollback: the old template and the annotations the
	// Deployment would have had (the ReplicaSet's, but the controller's
	// own), as a JSON patch tested against the Deployment's annotations.
	ann := map[string]string{}
	for k, v := range d.Annotations {
		if skipRollbackAnnotation(k) {
			ann[k] = v
		}
	}
	for k, v := range target.Annotations {
		if !skipRollbackAnnotation(k) {
			ann[k] = v
		}
	}
	patch, _ := json.Marshal([]map[string]any{
		{"op": "replace", "path": "/spec/template", "value": tmpl},
		{"op": "replace", "path": "/metadata/annotations", "value": ann},
	})
	if _, err := k.cs.AppsV1().Deployments(ns).Patch(c.Context, d.Name, types.JSONPatchType, patch, metav1.PatchOptions{}); err != nil {
		return k.fail(err)
	}
	fmt.Fprintf(c.App.Writer, "deployment.apps/%s rolled back\n", d.Name)
	return nil
}

// skipRollbackAnnotation: the annotations a rollback does not take from
// the ReplicaSet (kubectl's annotationsToSkip).
func skipRollbackAnnotation(k string) bool {
	switch k {
	case corev1.LastAppliedConfigAnnotation, revisionAnnotation, "deployment.kubernetes.io/revision-history",
		"deployment.kubernetes.io/desired-replicas", "deployment.kubernetes.io/max-replicas", "deprecated.deployment.rollback.to":
		return true
	}
	return false
}

// rolloutPatch applies a strategic merge patch of the Deployment and
// prints kubectl's "deployment.apps/NAME VERB".
func rolloutPatch(c *cmdline.Context, k *conn, d *appsv1.Deployment, patch any, verb string) error {
	body, _ := json.Marshal(patch)
	if _, err := k.cs.AppsV1().Deployments(d.Namespace).Patch(c.Context, d.Name, types.StrategicMergePatchType, body, metav1.PatchOptions{}); err != nil {
		if apierrors.IsNotFound(err) {
			return k.fail(err)
		}
		return k.fail(err)
	}
	fmt.Fprintf(c.App.Writer, "deployment.apps/%s %s\n", d.Name, verb)
	return nil
}

func rolloutPause(c *cmdline.Context) error {
	k, _, d, err := rolloutConn(c)
	if err != nil {
		return err
	}
	if d.Spec.Paused {
		return errorf("deployments.apps %q is already paused", d.Name)
	}
	return rolloutPatch(c, k, d, map[string]any{"spec": map[string]any{"paused": true}}, "paused")
}

func rolloutResume(c *cmdline.Context) error {
	k, _, d, err := rolloutConn(c)
	if err != nil {
		return err
	}
	if !d.Spec.Paused {
		return errorf("deployments.apps %q is not paused", d.Name)
	}
	return rolloutPatch(c, k, d, map[string]any{"spec": map[string]any{"paused": nil}}, "resumed")
}

func rolloutRestart(c *cmdline.Context) error {
	k, _, d, err := rolloutConn(c)
	if err != nil {
		return err
	}
	if d.Spec.Paused {
		return errorf("deployments.apps %q can't restart paused deployment (run rollout resume first)", d.Name)
	}
	return rolloutPatch(c, k, d, map[string]any{"spec": map[string]any{"template": map[string]any{"metadata": map[string]any{
		"annotations": map[string]string{restartedAtAnnotation: time.Now().Format(time.RFC3339)}}}}}, "restarted")
}
