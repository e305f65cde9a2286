package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/wasmpod/wasmpod/cli/internal/cmdline"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
)

func deleteCommand() *cmdline.Command {
	return &cmdline.Command{
		Name:      "delete",
		Usage:     "Delete resources by file names, stdin, resources and names, or by resources and label selector",
		ArgsUsage: "([-f FILENAME] | TYPE [(NAME | -l label | --all)])",
		Description: `Deletes the named resources. Pods are terminated gracefully: they get their
terminationGracePeriodSeconds (or --grace-period) to stop before they are killed,
and the command waits until they are gone (--wait=false returns at once).

--grace-period=0 --force deletes a pod from the API at once, without waiting for
its node to confirm that it has stopped.

Examples:
  # Delete a pod using the type and name specified in pod.yaml
  wasmpod delete -f ./pod.yaml

  # Delete pods and services with label name=myLabel
  wasmpod delete pods,services -l name=myLabel

  # Delete a pod with minimal delay
  wasmpod delete pod foo --now

  # Force delete a pod on a dead node
  wasmpod delete pod foo --grace-period=0 --force

  # Delete all pods
  wasmpod delete pods --all

  # Delete a ReplicaSet after its pods, keeping it (with deletionTimestamp) until they are gone
  wasmpod delete rs web --cascade=foreground`,
		Flags: append(append(append(connFlags(), nsFlags(true)...), fileFlags("delete")...),
			&cmdline.StringFlag{Name: "selector", Aliases: []string{"l"}, Usage: "selector (label query) to filter on"},
			&cmdline.StringFlag{Name: "field-selector", Usage: "selector (field query) to filter on"},
			&cmdline.BoolFlag{Name: "all", Usage: "delete all resources, in the namespace of the specified resource types"},
			&cmdline.IntFlag{Name: "grace-period", Value: -1, Usage: "period of time in seconds given to the resource to terminate gracefully; ignored if negative; set to 1 for immediate shutdown; can only be set to 0 when --force is true (force deletion)"},
			&cmdline.BoolFlag{Name: "force", Usage: "if true, immediately remove resources from API and bypass graceful deletion"},
			&cmdline.StringFlag{Name: "cascade", Value: "background", Usage: "must be \"background\", \"orphan\", or \"foreground\": how the dependents (objects whose ownerReferences name the deleted one) are treated; background deletes them after the owner, foreground before it (the owner stays, with deletionTimestamp, until they are gone), orphan leaves them without the reference"},
			&cmdline.BoolFlag{Name: "now", Usage: "if true, resources are signaled for immediate shutdown (same as --grace-period=1)"},
			&cmdline.BoolFlag{Name: "wait", Value: true, Usage: "if true, wait for resources to be gone before returning"},
			&cmdline.DurationFlag{Name: "timeout", Usage: "the length of time to wait before giving up on a delete, zero means determine a timeout from the size of the object"},
			&cmdline.BoolFlag{Name: "ignore-not-found", Usage: "treat \"resource not found\" as a successful delete"},
			&cmdline.StringFlag{Name: "output", Aliases: []string{"o"}, Usage: "output format: name"},
		),
		Action: deleteAction,
	}
}

// target is one object to delete.
type target struct {
	mapping   *meta.RESTMapping
	namespace string
	name      string
}

func deleteAction(c *cmdline.Context) error {
	grace := int64(c.Int("grace-period"))
	force := c.Bool("force")
	if c.Bool("now") {
		if grace != -1 {
			return errorf("--now and --grace-period cannot be specified together")
		}
		grace = 1
	}
	if grace == 0 && !force {
		grace = 1 // as kubectl: --grace-period=0 needs --force
	}
	if force && grace < 0 {
		grace = 0
	}
	policy, err := cascadingStrategy(c)
	if err != nil {
		return err
	}
	files := c.StringSlice("filename")
	args := c.Args().Slice()
	sel, fsel, all := c.String("selector"), c.String("field-selector"), c.Bool("all")
	if len(files) > 0 && len(args) > 0 {
		return errorf("Unexpected args: %v\nSee 'wasmpod delete -h' for help and examples", args)
	}
	if len(files) == 0 && len(args) == 0 {
		return errorf("You must provide one or more resources by argument or filename.\nExample resource specifications include:\n   '-f rsrc.yaml'\n   '--filename=rsrc.json'\n   '<resource> <name>'\n   '<resource>'")
	}
	k, err := connect(c)
	if err != nil {
		return err
	}
	ns, allNs := k.namespace(c), c.Bool("all-namespaces")
	var targets []target
	var errs []error
	if len(files) > 0 {
		objs, err := readManifests(c, files, c.App.Reader)
		if err != nil {
			return err
		}
		for _, mo := range objs {
			m, err := k.mappingForGVK(mo.obj.GroupVersionKind())
			if err != nil {
				if isRefused(err) {
					return k.fail(err)
				}
				errs = append(errs, err)
				continue
			}
			tns := ""
			if namespaced(m) {
				tns = ns
				if on := mo.obj.GetNamespace(); on != "" {
					tns = on
				}
			}
			targets = append(targets, target{mapping: m, namespace: tns, name: mo.obj.GetName()})
		}
	} else {
		reqs, err := k.parseResourceArgs(args)
		if err != nil {
			return k.fail(err)
		}
		for _, r := range reqs {
			if len(r.names) > 0 {
				if sel != "" || all {
					return errorf("name cannot be provided when a selector is specified")
				}
				for _, n := range r.names {
					tns := ""
					if namespaced(r.mapping) {
						tns = ns
					}
					targets = append(targets, target{mapping: r.mapping, namespace: tns, name: n})
				}
				continue
			}
			if sel == "" && fsel == "" && !all {
				return errorf("resource(s) were provided, but no name was specified")
			}
			lns := ns
			if allNs {
				lns = ""
			}
			l, err := listAll(c.Context, k.resourceClient(r.mapping, lns), metav1.ListOptions{LabelSelector: sel, FieldSelector: fsel})
			if err != nil {
				return k.fail(err)
			}
			sortItems(r.mapping, l.Items)
			for _, u := range l.Items {
				targets = append(targets, target{mapping: r.mapping, namespace: u.GetNamespace(), name: u.GetName()})
			}
		}
		if len(targets) == 0 {
			fmt.Fprintln(c.App.Writer, "No resources found")
			return nil
		}
	}
	if grace == 0 && force {
		fmt.Fprintln(c.App.ErrWriter, "Warning: Immediate deletion does not wait for confirmation that the running resource has been terminated. The resource may continue to run on the cluster indefinitely.")
	}
	opts := metav1.DeleteOptions{}
	if grace >= 0 {
		opts.GracePeriodSeconds = &grace
	}
	opts.PropagationPolicy = &policy
	op := "deleted"
	if grace == 0 && force {
		op = "force deleted"
	}
	type gone struct {
		t   target
		uid types.UID
	}
	var deleted []gone
	for _, t := range targets {
		rc := k.resourceClient(t.mapping, t.namespace)
		cur, err := rc.Get(c.Context, t.name, metav1.GetOptions{})
		if err == nil {
			err = k.deleteObject(c.Context, t, opts)
		}
		if err != nil {
			if isRefused(err) {
				return k.fail(err)
			}
			if apierrors.IsNotFound(err) && c.Bool("ignore-not-found") {
				continue
			}
			errs = append(errs, err)
			continue
		}
		gk := t.mapping.GroupVersionKind.GroupKind()
		if c.String("output") == "name" {
			fmt.Fprintln(c.App.Writer, kindName(gk, t.name))
		} else {
			kind := strings.ToLower(gk.Kind)
			if gk.Group != "" {
				kind += "." + gk.Group
			}
			fmt.Fprintf(c.App.Writer, "%s %q %s\n", kind, t.name, op)
		}
		deleted = append(deleted, gone{t, cur.GetUID()})
	}
	if c.Bool("wait") && !(grace == 0 && force) {
		ctx := c.Context
		if d := c.Duration("timeout"); d > 0 {
			var cancel context.CancelFunc
			ctx, cancel = context.WithTimeout(ctx, d)
			defer cancel()
		}
		for _, g := range deleted {
			if err := k.waitGone(ctx, g.t, g.uid); err != nil {
				errs = append(errs, err)
			}
		}
	}
	return k.multiErr(errs)
}

// deleteObject sends DELETE with a meta.k8s.io/v1 DeleteOptions body.
// (client-go's dynamic client labels the body apiVersion "v1", which
// kube-apiserver accepts but wasmpod's server refuses.)
func (k *conn) deleteObject(ctx context.Context, t target, opts metav1.DeleteOptions) error {
	opts.APIVersion, opts.Kind = "meta.k8s.io/v1", "DeleteOptions"
	body, err := json.Marshal(opts)
	if err != nil {
		return err
	}
	gvr := t.mapping.Resource
	path := "/api/" + gvr.Version
	if gvr.Group != "" {
		path = "/apis/" + gvr.Group + "/" + gvr.Version
	}
	if namespaced(t.mapping) {
		path += "/namespaces/" + url.PathEscape(t.namespace)
	}
	path += "/" + gvr.Resource + "/" + url.PathEscape(t.name)
	return k.cs.CoreV1().RESTClient().Delete().AbsPath(path).SetHeader("Content-Type", "application/json").Body(body).Do(ctx).Error()
}

// waitGone polls until the object named by t with uid no longer exists.
func (k *conn) waitGone(ctx context.Context, t target, uid types.UID) error {
	rc := k.resourceClient(t.mapping, t.namespace)
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for {
		u, err := rc.Get(ctx, t.name, metav1.GetOptions{})
		switch {
		case apierrors.IsNotFound(err):
			return nil
		case err == nil && u.GetUID() != uid:
			return nil
		case err != nil && ctx.Err() == nil && !isRefused(err):
			return err
		}
		select {
		case <-ctx.Done():
			return errorf("timed out waiting for the condition on %s", t.mapping.Resource.Resource+"/"+t.name)
		case <-tick.C:
		}
	}
}

// cascadingStrategy is kubectl's GetCascadingStrategy: background,
// foreground or orphan; the deprecated booleans true and false are
// background and orphan, with kubectl's warning.
func cascadingStrategy(c *cmdline.Context) (metav1.DeletionPropagation, error) {
	v := c.String("cascade")
	b, err := strconv.ParseBool(v)
	if err != nil {
		switch v {
		case "orphan":
			return metav1.DeletePropagationOrphan, nil
		case "foreground":
			return metav1.DeletePropagationForeground, nil
		case "background":
			return metav1.DeletePropagationBackground, nil
		}
		return metav1.DeletePropagationBackground, errorf("invalid cascade value (%v). Must be \"background\", \"foreground\", or \"orphan\"", v)
	}
	repl, p := "background", metav1.DeletePropagationBackground
	if !b {
		repl, p = "orphan", metav1.DeletePropagationOrphan
	}
	fmt.Fprintf(c.App.ErrWriter, "warning: --cascade=%v is deprecated (boolean value) and can be replaced with --cascade=%s.\n", v, repl)
	return p, nil
}
