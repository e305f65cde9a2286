package cli

import (
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"strings"
	"time"

	ucli "github.com/urfave/cli/v2"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/watch"
	"sigs.k8s.io/yaml"
)

func getCommand() *ucli.Command {
	return &ucli.Command{
		Name:      "get",
		Usage:     "Display one or many resources",
		ArgsUsage: "TYPE[,TYPE...] [NAME...] | TYPE/NAME...",
		Description: `Prints a table of the most important information about the specified resources:
pods (po), nodes (no), namespaces (ns), events (ev) and any other resource the
server serves (services, deployments.apps, ...). Filter with a label selector (-l)
or a field selector (--field-selector; metadata.name, metadata.namespace,
spec.nodeName and status.phase for pods).

Examples:
  # List all pods in ps output format
  wasmpod get pods

  # List all pods in ps output format with more information (such as node name)
  wasmpod get pods -o wide

  # List a single pod in JSON output format
  wasmpod get -o json pod web-pod-13je7

  # List all pods in all namespaces, with their labels
  wasmpod get pods -A --show-labels

  # List the running pods on node-1
  wasmpod get pods --field-selector spec.nodeName=node-1,status.phase=Running

  # List pods and nodes together
  wasmpod get pods,nodes

  # Watch pods change
  wasmpod get pods -w

  # List events, oldest first
  wasmpod get events`,
		Flags: append(append(connFlags(), nsFlags(true)...),
			&ucli.StringFlag{Name: "output", Aliases: []string{"o"}, Usage: "output format: json, yaml, wide or name"},
			&ucli.StringFlag{Name: "selector", Aliases: []string{"l"}, Usage: "label selector to filter on, e.g. -l key1=value1,key2=value2; supports '=', '==', '!=', 'in', 'notin'"},
			&ucli.StringFlag{Name: "field-selector", Usage: "field selector to filter on, e.g. --field-selector status.phase=Running"},
			&ucli.BoolFlag{Name: "watch", Aliases: []string{"w"}, Usage: "after listing/getting the requested object, watch for changes"},
			&ucli.BoolFlag{Name: "watch-only", Usage: "watch for changes to the requested object(s), without listing/getting first"},
			&ucli.BoolFlag{Name: "no-headers", Usage: "when using the default or wide output format, don't print headers"},
			&ucli.BoolFlag{Name: "show-labels", Usage: "when printing, show all labels as the last column"},
		),
		Action: getAction,
	}
}

// request is one resource type and the names asked of it (none: list).
type request struct {
	mapping *meta.RESTMapping
	names   []string
}

// parseResourceArgs reads "TYPE[,TYPE] [NAME...]" or "TYPE/NAME...".
func (k *conn) parseResourceArgs(args []string) ([]request, error) {
	if len(args) == 0 {
		return nil, nil
	}
	var reqs []request
	if strings.Contains(args[0], "/") {
		idx := map[string]int{}
		for _, a := range args {
			typ, name, ok := strings.Cut(a, "/")
			if !ok || typ == "" || name == "" {
				return nil, errorf("there is no need to specify a resource type as a separate argument when passing arguments in resource/name form (e.g. 'wasmpod get resource/<resource_name>' instead of 'wasmpod get resource resource/<resource_name>'")
			}
			m, err := k.mappingFor(typ)
			if err != nil {
				return nil, err
			}
			key := m.Resource.String()
			if i, ok := idx[key]; ok {
				reqs[i].names = append(reqs[i].names, name)
				continue
			}
			idx[key] = len(reqs)
			reqs = append(reqs, request{mapping: m, names: []string{name}})
		}
		return reqs, nil
	}
	for _, typ := range strings.Split(args[0], ",") {
		if typ == "" {
			continue
		}
		m, err := k.mappingFor(typ)
		if err != nil {
			return nil, err
		}
		reqs = append(reqs, request{mapping: m, names: args[1:]})
	}
	for _, a := range args[1:] {
		if strings.Contains(a, "/") {
			return nil, errorf("arguments in resource/name form must have a single resource and name")
		}
	}
	return reqs, nil
}

func checkOutput(o string) error {
	switch o {
	case "", "wide", "yaml", "json", "name":
		return nil
	}
	return errorf("unable to match a printer suitable for the output format %q, allowed formats are: json,name,wide,yaml", o)
}

func getAction(c *ucli.Context) error {
	stdout, stderr := c.App.Writer, c.App.ErrWriter
	out := c.String("output")
	if err := checkOutput(out); err != nil {
		return err
	}
	args := c.Args().Slice()
	if len(args) == 0 {
		return &cmdError{code: 1, msg: "You must specify the type of resource to get. Use \"wasmpod get pods\", \"wasmpod get nodes\", ...\n\nerror: Required resource not specified."}
	}
	k, err := connect(c)
	if err != nil {
		return err
	}
	reqs, err := k.parseResourceArgs(args)
	if err != nil {
		return k.fail(err)
	}
	ns, all := c.String("namespace"), c.Bool("all-namespaces")
	if all {
		ns = ""
	}
	byName := false
	for _, r := range reqs {
		byName = byName || len(r.names) > 0
	}
	if all && byName {
		return errorf("a resource cannot be retrieved by name across all namespaces")
	}
	opts := metav1.ListOptions{LabelSelector: c.String("selector"), FieldSelector: c.String("field-selector")}
	if c.Bool("watch") || c.Bool("watch-only") {
		if len(reqs) != 1 {
			return errorf("you may only specify a single resource type")
		}
		return k.fail(k.watch(c, reqs[0], ns, all, opts))
	}
	ctx := c.Context
	type result struct {
		req   request
		items []unstructured.Unstructured
	}
	var results []result
	var errs []error
	for _, r := range reqs {
		rc := k.resourceClient(r.mapping, ns)
		res := result{req: r}
		if len(r.names) == 0 {
			l, err := listAll(ctx, rc, opts)
			if err != nil {
				return k.fail(err)
			}
			res.items = l.Items
			sortItems(r.mapping, res.items)
		} else {
			for _, n := range r.names {
				u, err := rc.Get(ctx, n, metav1.GetOptions{})
				if err != nil {
					if isRefused(err) {
						return k.fail(err)
					}
					errs = append(errs, err)
					continue
				}
				res.items = append(res.items, *u)
			}
		}
		results = append(results, res)
	}
	var objs []unstructured.Unstructured
	for _, r := range results {
		objs = append(objs, r.items...)
	}
	switch out {
	case "yaml", "json":
		if len(objs) > 0 || !byName {
			var v any
			if byName && len(objs) == 1 && len(reqs) == 1 && len(reqs[0].names) == 1 {
				v = objs[0].Object
			} else {
				items := make([]any, len(objs))
				for i := range objs {
					items[i] = objs[i].Object
				}
				v = map[string]any{"apiVersion": "v1", "kind": "List", "metadata": map[string]any{"resourceVersion": ""}, "items": items}
			}
			if err := printObject(stdout, out, v); err != nil {
				return err
			}
		}
	case "name":
		for _, r := range results {
			for _, u := range r.items {
				fmt.Fprintln(stdout, kindName(r.req.mapping.GroupVersionKind.GroupKind(), u.GetName()))
			}
		}
	default:
		now := time.Now()
		printed := false
		for _, r := range results {
			if len(r.items) == 0 {
				continue
			}
			gk := r.req.mapping.GroupVersionKind.GroupKind()
			o := tableOptions{wide: out == "wide", noHeaders: c.Bool("no-headers"), showLabels: c.Bool("show-labels"),
				allNamespaces: all && namespaced(r.req.mapping), withKind: len(reqs) > 1}
			headers, rows := printerFor(gk).table(r.items, gk, o, now)
			if o.noHeaders {
				headers = nil
			}
			if printed {
				fmt.Fprintln(stdout)
			}
			writeRows(stdout, headers, rows)
			printed = true
		}
	}
	if len(objs) == 0 && len(errs) == 0 && (out == "" || out == "wide" || out == "name") {
		nsd := false
		for _, r := range reqs {
			nsd = nsd || namespaced(r.mapping)
		}
		if nsd && !all {
			fmt.Fprintf(stderr, "No resources found in %s namespace.\n", ns)
		} else {
			fmt.Fprintln(stderr, "No resources found")
		}
	}
	return k.multiErr(errs)
}

// sortItems orders a list as kubectl shows it: by namespace and name,
// events by the time they were last seen.
func sortItems(m *meta.RESTMapping, items []unstructured.Unstructured) {
	if m.GroupVersionKind.Group == "" && m.GroupVersionKind.Kind == "Event" {
		last := func(u *unstructured.Unstructured) time.Time {
			var e corev1.Event
			_ = runtime.DefaultUnstructuredConverter.FromUnstructured(u.Object, &e)
			return eventLast(&e)
		}
		sort.SliceStable(items, func(i, j int) bool { return last(&items[i]).Before(last(&items[j])) })
		return
	}
	sort.SliceStable(items, func(i, j int) bool {
		if items[i].GetNamespace() != items[j].GetNamespace() {
			return items[i].GetNamespace() < items[j].GetNamespace()
		}
		return items[i].GetName() < items[j].GetName()
	})
}

// printObject writes v as YAML or as kubectl's 4-space-indented JSON.
func printObject(w io.Writer, format string, v any) error {
	if format == "json" {
		b, err := json.MarshalIndent(v, "", "    ")
		if err != nil {
			return err
		}
		_, err = fmt.Fprintf(w, "%s\n", b)
		return err
	}
	b, err := yaml.Marshal(v)
	if err != nil {
		return err
	}
	_, err = w.Write(b)
	return err
}

// watch prints the initial list (unless --watch-only) and then a row per
// watch event until the watch or the command's context ends.
func (k *conn) watch(c *ucli.Context, r request, ns string, all bool, opts metav1.ListOptions) error {
	ctx := c.Context
	stdout, stderr := c.App.Writer, c.App.ErrWriter
	out := c.String("output")
	gk := r.mapping.GroupVersionKind.GroupKind()
	if len(r.names) > 1 {
		return errorf("watch is only supported on individual resources and resource collections, but %d resources were found", len(r.names))
	}
	if len(r.names) == 1 {
		sel := fields.OneTermEqualSelector("metadata.name", r.names[0]).String()
		if opts.FieldSelector != "" {
			sel += "," + opts.FieldSelector
		}
		opts.FieldSelector = sel
	}
	rc := k.resourceClient(r.mapping, ns)
	o := tableOptions{wide: out == "wide", noHeaders: c.Bool("no-headers"), showLabels: c.Bool("show-labels"), allNamespaces: all && namespaced(r.mapping)}
	p := printerFor(gk)
	headerDone := o.noHeaders
	emit := func(items []unstructured.Unstructured) error {
		switch out {
		case "yaml", "json":
			for _, u := range items {
				if out == "yaml" {
					fmt.Fprintln(stdout, "---")
				}
				if err := printObject(stdout, out, u.Object); err != nil {
					return err
				}
			}
		case "name":
			for _, u := range items {
				fmt.Fprintln(stdout, kindName(gk, u.GetName()))
			}
		default:
			headers, rows := p.table(items, gk, o, time.Now())
			if headerDone {
				headers = nil
			}
			headerDone = true
			writeRows(stdout, headers, rows)
		}
		return nil
	}
	if !c.Bool("watch-only") {
		l, err := listAll(ctx, rc, opts)
		if err != nil {
			return err
		}
		if len(r.names) == 1 && len(l.Items) == 0 {
			return apierrors.NewNotFound(r.mapping.Resource.GroupResource(), r.names[0])
		}
		sortItems(r.mapping, l.Items)
		if len(l.Items) == 0 {
			if namespaced(r.mapping) && !all {
				fmt.Fprintf(stderr, "No resources found in %s namespace.\n", ns)
			} else {
				fmt.Fprintln(stderr, "No resources found")
			}
		} else if err := emit(l.Items); err != nil {
			return err
		}
		opts.ResourceVersion = l.GetResourceVersion()
	}
	opts.Watch = true
	w, err := rc.Watch(ctx, opts)
	if err != nil {
		return err
	}
	defer w.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case ev, ok := <-w.ResultChan():
			if !ok {
				return nil
			}
			if ev.Type == watch.Error {
				return apierrors.FromObject(ev.Object)
			}
			u, ok := ev.Object.(*unstructured.Unstructured)
			if !ok {
				continue
			}
			if err := emit([]unstructured.Unstructured{*u}); err != nil {
				return err
			}
		}
	}
}
