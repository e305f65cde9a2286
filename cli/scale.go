package cli

// wasmpod scale, as kubectl scale (k8s.io/kubectl/pkg/cmd/scale and its
// scaler, pkg/scale): the objects named by TYPE NAME..., TYPE/NAME...,
// TYPE -l SELECTOR, TYPE --all or -f FILE are read first; each is then
// scaled through its scale subresource (client-go's scale client, which
// finds it in discovery), by a merge patch of spec.replicas, or, with
// --current-replicas or --resource-version, by a GET of the Scale, a check
// of the preconditions and a PUT (retried on a conflict). Kinds without a
// scale subresource (jobs) fail as the server answers for them.

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/wasmpod/wasmpod/cli/internal/cmdline"
	autoscalingv1 "k8s.io/api/autoscaling/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/rest"
)

func scaleCommand() *cmdline.Command {
	return &cmdline.Command{
		Name:      "scale",
		Usage:     "Set a new size for a deployment, replica set or stateful set",
		ArgsUsage: "[--resource-version=version] [--current-replicas=count] --replicas=COUNT (-f FILENAME | TYPE NAME)",
		Description: `Set a new size for a deployment, replica set or stateful set, through its scale
subresource.

Scale also allows users to specify one or more preconditions for the scale action.
If --current-replicas or --resource-version is specified, it is validated before the
scale is attempted, and it is guaranteed that the precondition holds true when the
scale is sent to the server.

Examples:
  # Scale a replica set named 'foo' to 3
  wasmpod scale --replicas=3 rs/foo

  # Scale a resource identified by type and name specified in "foo.yaml" to 3
  wasmpod scale --replicas=3 -f foo.yaml

  # If the deployment named mysql's current size is 2, scale mysql to 3
  wasmpod scale --current-replicas=2 --replicas=3 deployment/mysql

  # Scale multiple replica sets
  wasmpod scale --replicas=5 rs/example1 rs/example2 rs/example3

  # Scale every deployment labelled tier in (web,api) to 0
  wasmpod scale deployments -l 'tier in (web,api)' --replicas=0`,
		Flags: append(append(append(connFlags(), nsFlags(false)...), fileFlags("identifying the resource to set a new size")...),
			&cmdline.IntFlag{Name: "replicas", Value: -1, Usage: "the new desired number of replicas; required"},
			&cmdline.IntFlag{Name: "current-replicas", Value: -1, Usage: "precondition for current size: requires that the current size of the resource match this value in order to scale; -1 (default) for no condition"},
			&cmdline.StringFlag{Name: "resource-version", Usage: "precondition for resource version: requires that the current resource version match this value in order to scale"},
			&cmdline.BoolFlag{Name: "all", Usage: "select all resources in the namespace of the specified resource types"},
			&cmdline.StringFlag{Name: "selector", Aliases: []string{"l"}, Usage: "selector (label query) to filter on, supports '=', '==', '!=', 'in', 'notin' and set-based requirements (e.g. -l 'env in (a,b),!canary')"},
			&cmdline.DurationFlag{Name: "timeout", Usage: "the length of time to wait before giving up on a scale operation, zero means don't wait; other values need a unit (e.g. 1s, 2m, 3h)"},
			&cmdline.StringFlag{Name: "dry-run", Value: "none", Usage: "must be \"none\", \"server\", or \"client\"; with client, only print the object that would be sent; with server, submit a server-side request without persisting it"},
			&cmdline.StringFlag{Name: "output", Aliases: []string{"o"}, Usage: "output format: one of (json, yaml, name)"},
		),
		Action: scaleAction,
	}
}

// scaleTarget is one object to scale, as the builder read it.
type scaleTarget struct {
	req request
	obj *unstructured.Unstructured
}

func scaleAction(c *cmdline.Context) error {
	if !c.IsSet("replicas") {
		return errorf("required flag(s) \"replicas\" not set")
	}
	replicas, current := c.Int("replicas"), c.Int("current-replicas")
	if replicas < 0 {
		return errorf("The --replicas=COUNT flag is required, and COUNT must be greater than or equal to 0")
	}
	if current < -1 {
		return errorf("The --current-replicas must specify an integer of -1 or greater")
	}
	dryRun := c.String("dry-run")
	switch dryRun {
	case "none", "server", "client":
	default:
		return errorf("Invalid dry-run value (%s). Must be \"none\", \"server\", or \"client\".", dryRun)
	}
	format := c.String("output")
	switch format {
	case "", "name", "json", "yaml":
	default:
		return errorf("unable to match a printer suitable for the output format %q, allowed formats are: json,name,yaml", format)
	}
	files, args := c.StringSlice("filename"), c.Args().Slice()
	sel, all := c.String("selector"), c.Bool("all")
	if len(files) == 0 && len(args) == 0 {
		return errorf("You must provide one or more resources by argument or filename.\nExample resource specifications include:\n   '-f rsrc.yaml'\n   '--filename=rsrc.json'\n   '<resource> <name>'\n   '<resource>'")
	}
	if len(files) > 0 && len(args) > 0 {
		return errorf("Unexpected args: %v\nSee 'wasmpod scale -h' for help and examples", args)
	}
	k, err := connect(c)
	if err != nil {
		return err
	}
	ctx := c.Context
	ns := k.namespace(c)

	// The objects first, as kubectl's builder (ContinueOnError): a missing
	// one is an error reported after the others are scaled.
	var targets []scaleTarget
	var infoErrs []error
	get := func(r request, ns, name string) {
		u, err := k.resourceClient(r.mapping, ns).Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			infoErrs = append(infoErrs, err)
			return
		}
		targets = append(targets, scaleTarget{req: r, obj: u})
	}
	if len(files) > 0 {
		reqs, err := k.fileRequests(c, files, ns)
		if err != nil {
			return k.fail(err)
		}
		for _, r := range reqs {
			tns := r.ns
			if !namespaced(r.mapping) {
				tns = ""
			}
			get(r, tns, r.names[0])
		}
	} else {
		reqs, err := k.parseResourceArgs(args)
		if err != nil {
			return k.fail(err)
		}
		for _, r := range reqs {
			if len(r.names) > 0 {
				if sel != "" {
					return errorf("name cannot be provided when a selector is specified")
				}
				continue
			}
			if sel == "" && !all {
				return errorf("resource(s) were provided, but no name was specified")
			}
		}
		for _, r := range reqs {
			for _, n := range r.names {
				get(r, ns, n)
			}
			if len(r.names) > 0 {
				continue
			}
			opts := metav1.ListOptions{LabelSelector: sel}
			l, err := listAll(ctx, k.resourceClient(r.mapping, ns), opts)
			if err != nil {
				if isRefused(err) {
					return k.fail(err)
				}
				infoErrs = append(infoErrs, enhanceListError(err, opts, r.mapping.Resource.String()))
				continue
			}
			for i := range l.Items {
				targets = append(targets, scaleTarget{req: r, obj: &l.Items[i]})
			}
		}
	}
	for _, err := range infoErrs {
		if isRefused(err) {
			return k.fail(err)
		}
	}
	if c.String("resource-version") != "" && len(targets) > 1 {
		return errorf("cannot use --resource-version with multiple resources")
	}
	if len(targets) == 0 {
		if len(infoErrs) > 0 {
			return k.multiErr(infoErrs)
		}
		return errorf("no objects passed to scale")
	}

	scales := &scaleClient{rc: k.cs.CoreV1().RESTClient(), mapper: k.restMapper()}
	var pre *scalePrecondition
	if current != -1 || c.String("resource-version") != "" {
		pre = &scalePrecondition{size: current, resourceVersion: c.String("resource-version")}
	}
	out, err := newOutput(outputOptions{format: format})
	if err != nil {
		return err
	}
	for _, t := range targets {
		gvr := t.req.mapping.Resource
		gk := t.req.mapping.GroupVersionKind.GroupKind()
		if dryRun != "client" {
			size, err := scaleOne(ctx, scales, t.obj.GetNamespace(), t.obj.GetName(), int32(replicas), pre, gvr, dryRun == "server")
			if err != nil {
				return k.fail(err)
			}
			if d := c.Duration("timeout"); d > 0 && dryRun == "none" {
				if err := waitScaled(ctx, scales, t.obj.GetNamespace(), t.obj.GetName(), int32(replicas), gvr.GroupResource(), d); err != nil {
					return k.fail(err)
				}
			}
			replicasSet(t.obj, int64(size), gk.Group)
		} else {
			replicasSet(t.obj, int64(replicas), gk.Group)
		}
		switch format {
		case "":
			suffix := ""
			switch dryRun {
			case "client":
				suffix = " (dry run)"
			case "server":
				suffix = " (server dry run)"
			}
			fmt.Fprintf(c.App.Writer, "%s scaled%s\n", kindName(gk, t.obj.GetName()), suffix)
		case "name":
			fmt.Fprintln(c.App.Writer, kindName(gk, t.obj.GetName()))
		default:
			if err := out.printer.PrintObj(t.obj, c.App.Writer); err != nil {
				return err
			}
		}
	}
	return k.multiErr(infoErrs)
}

// replicasSet sets spec.replicas of the printed object, for the built-in
// kinds only (apps and core), as kubectl's updateReplicas.
func replicasSet(u *unstructured.Unstructured, n int64, group string) {
	if group == "apps" || group == "" {
		_ = unstructured.SetNestedField(u.Object, n, "spec", "replicas")
	}
}

// scalePrecondition is --current-replicas (-1: none) and
// --resource-version ("": none).
type scalePrecondition struct {
	size            int
	resourceVersion string
}

// preconditionError is kubectl's scale.PreconditionError.
type preconditionError struct{ what, want, got string }

func (e preconditionError) Error() string {
	return fmt.Sprintf("Expected %s to be %s, was %s", e.what, e.want, e.got)
}

func (p *scalePrecondition) check(s *autoscalingv1.Scale) error {
	if p.size != -1 && int(s.Spec.Replicas) != p.size {
		return preconditionError{"replicas", strconv.Itoa(p.size), strconv.Itoa(int(s.Spec.Replicas))}
	}
	if p.resourceVersion != "" && s.ResourceVersion != p.resourceVersion {
		return preconditionError{"resource version", p.resourceVersion, s.ResourceVersion}
	}
	return nil
}

// scaleOne sets the scale of ns/name to n and returns the replicas the
// server answered: with a precondition, GET, check and PUT, retried (every
// second, up to 5 minutes) while the PUT conflicts; without, one merge
// patch (kubectl's genericScaler.ScaleSimple and Scale).
func scaleOne(ctx context.Context, scales *scaleClient, ns, name string, n int32, pre *scalePrecondition, gvr schema.GroupVersionResource, dryRun bool) (int32, error) {
	var dry []string
	if dryRun {
		dry = []string{metav1.DryRunAll}
	}
	if pre == nil {
		patch, _ := json.Marshal(map[string]any{"spec": map[string]any{"replicas": n}})
		s, err := scales.Scales(ns).Patch(ctx, gvr, name, types.MergePatchType, patch, metav1.PatchOptions{DryRun: dry})
		if err != nil {
			return 0, err
		}
		return s.Spec.Replicas, nil
	}
	var size int32
	err := wait.PollUntilContextTimeout(ctx, time.Second, 5*time.Minute, true, func(ctx context.Context) (bool, error) {
		s, err := scales.Scales(ns).Get(ctx, gvr.GroupResource(), name, metav1.GetOptions{})
		if err != nil {
			return false, err
		}
		if err := pre.check(s); err != nil {
			return false, err
		}
		s.Spec.Replicas = n
		s, err = scales.Scales(ns).Update(ctx, gvr.GroupResource(), s, metav1.UpdateOptions{DryRun: dry})
		if apierrors.IsConflict(err) {
			return false, nil
		}
		if err != nil {
			return false, err
		}
		size = s.Spec.Replicas
		return true, nil
	})
	return size, err
}

// waitScaled waits (--timeout) until the scale's status has the desired
// replicas, or someone else changed its spec (kubectl's
// WaitForScaleHasDesiredReplicas).
func waitScaled(ctx context.Context, scales *scaleClient, ns, name string, n int32, gr schema.GroupResource, timeout time.Duration) error {
	err := wait.PollUntilContextTimeout(ctx, time.Second, timeout, true, func(ctx context.Context) (bool, error) {
		s, err := scales.Scales(ns).Get(ctx, gr, name, metav1.GetOptions{})
		if err != nil {
			return false, err
		}
		if s.Spec.Replicas != n {
			return true, nil
		}
		return s.Status.Replicas == n, nil
	})
	if errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("timed out waiting for %q to be synced", name)
	}
	return err
}

// scaleClient reads and writes the scale subresource as client-go's
// scale.ScalesGetter does, in autoscaling/v1 (the version wasmpod's
// server answers the subresource in); client-go's package links its
// discovery client, and with it every Kubernetes API group.
type scaleClient struct {
	rc     rest.Interface
	mapper meta.RESTMapper
}

type scaleNS struct {
	c  *scaleClient
	ns string
}

func (c *scaleClient) Scales(ns string) scaleNS { return scaleNS{c, ns} }

// req is a request to the scale subresource of gr's name.
func (s scaleNS) req(r *rest.Request, gr schema.GroupResource, name string) (*rest.Request, error) {
	gvr, err := s.c.mapper.ResourceFor(gr.WithVersion(""))
	if err != nil {
		return nil, err
	}
	prefix := []string{"/apis", gvr.Group, gvr.Version}
	if gvr.Group == "" {
		prefix = []string{"/api", gvr.Version}
	}
	if s.ns != "" {
		prefix = append(prefix, "namespaces", s.ns)
	}
	return r.AbsPath(append(prefix, gvr.Resource, name, "scale")...).SetHeader("Accept", "application/json"), nil
}

func (s scaleNS) do(ctx context.Context, r *rest.Request, err error) (*autoscalingv1.Scale, error) {
	if err != nil {
		return nil, err
	}
	raw, err := r.Do(ctx).Raw()
	if err != nil {
		return nil, err
	}
	out := &autoscalingv1.Scale{}
	return out, json.Unmarshal(raw, out)
}

func (s scaleNS) Get(ctx context.Context, gr schema.GroupResource, name string, opts metav1.GetOptions) (*autoscalingv1.Scale, error) {
	r, err := s.req(s.c.rc.Get().VersionedParams(&opts, metav1.ParameterCodec), gr, name)
	return s.do(ctx, r, err)
}

func (s scaleNS) Update(ctx context.Context, gr schema.GroupResource, sc *autoscalingv1.Scale, opts metav1.UpdateOptions) (*autoscalingv1.Scale, error) {
	sc.APIVersion, sc.Kind = autoscalingv1.SchemeGroupVersion.String(), "Scale"
	body, err := json.Marshal(sc)
	if err != nil {
		return nil, err
	}
	r, err := s.req(s.c.rc.Put().VersionedParams(&opts, metav1.ParameterCodec), gr, sc.Name)
	if r != nil {
		r = r.SetHeader("Content-Type", "application/json").Body(body)
	}
	return s.do(ctx, r, err)
}

func (s scaleNS) Patch(ctx context.Context, gvr schema.GroupVersionResource, name string, pt types.PatchType, data []byte, opts metav1.PatchOptions) (*autoscalingv1.Scale, error) {
	r, err := s.req(s.c.rc.Patch(pt).VersionedParams(&opts, metav1.ParameterCodec), gvr.GroupResource(), name)
	if r != nil {
		r = r.Body(data)
	}
	return s.do(ctx, r, err)
}
