package cli

import (
	"fmt"
	"io"
	"net/url"
	"strings"

	"github.com/wasmpod/wasmpod/cli/internal/cmdline"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/cli-runtime/pkg/printers"
)

func getCommand() *cmdline.Command {
	return &cmdline.Command{
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

  # List the objects that pod.yaml (or every manifest of a directory) names
  wasmpod get -f pod.yaml

  # Watch pods change
  wasmpod get pods -w

  # List events, oldest first
  wasmpod get events

  # The image of every container of every pod
  wasmpod get pods -o jsonpath='{.items[*].spec.containers[*].image}'

  # Name and node of each pod, oldest first
  wasmpod get pods -o custom-columns=NAME:.metadata.name,NODE:.spec.nodeName --sort-by=.metadata.creationTimestamp

  # Pods with their app label as a column
  wasmpod get pods -L app`,
		Flags: append(append(append(connFlags(), nsFlags(true)...), fileFlags("get from the server")...),
			&cmdline.StringFlag{Name: "output", Aliases: []string{"o"}, Usage: "output format, one of: (" + strings.Join(allowedFormats(), ", ") + "); jsonpath=TEMPLATE, go-template=TEMPLATE, custom-columns=HEADER:PATH[,...] and their -file forms take the template or its file"},
			&cmdline.BoolFlag{Name: "show-managed-fields", Usage: "if true, keep the managedFields when printing objects in JSON or YAML format"},
			&cmdline.StringFlag{Name: "template", Usage: "template string or path to template file to use when -o=go-template, -o=go-template-file, -o=jsonpath or -o=jsonpath-file"},
			&cmdline.BoolFlag{Name: "allow-missing-template-keys", Value: true, Usage: "if true, ignore any errors in templates when a field or map key is missing in the template; only applies to golang and jsonpath output formats"},
			&cmdline.StringSliceFlag{Name: "label-columns", Aliases: []string{"L"}, Usage: "a list of labels to be presented as columns, case-sensitive; -L label1 -L label2 or -L label1,label2"},
			&cmdline.StringFlag{Name: "sort-by", Usage: "if non-empty, sort list types using this field specification, a JSONPath expression (e.g. '{.metadata.name}'); the field must be an integer, a string or a timestamp"},
			&cmdline.BoolFlag{Name: "ignore-not-found", Usage: "if the requested object does not exist the command will return exit code 0"},
			&cmdline.StringFlag{Name: "selector", Aliases: []string{"l"}, Usage: "label selector to filter on, e.g. -l key1=value1,key2=value2; supports '=', '==', '!=', 'in', 'notin'"},
			&cmdline.StringFlag{Name: "field-selector", Usage: "field selector to filter on, e.g. --field-selector status.phase=Running"},
			&cmdline.BoolFlag{Name: "watch", Aliases: []string{"w"}, Usage: "after listing/getting the requested object, watch for changes"},
			&cmdline.BoolFlag{Name: "watch-only", Usage: "watch for changes to the requested object(s), without listing/getting first"},
			&cmdline.BoolFlag{Name: "output-watch-events", Usage: "output watch event objects when --watch or --watch-only is used; existing objects are output as initial ADDED events"},
			&cmdline.BoolFlag{Name: "show-kind", Usage: "if present, list the resource type for the requested object(s)"},
			&cmdline.Int64Flag{Name: "chunk-size", Value: 500, Usage: "return large lists in chunks rather than all at once; pass 0 to disable"},
			&cmdline.StringFlag{Name: "raw", Usage: "raw URI to request from the server (GET), printed as the server sends it"},
			&cmdline.BoolFlag{Name: "no-headers", Usage: "when using the default, wide or custom-columns output format, don't print headers"},
			&cmdline.BoolFlag{Name: "show-labels", Usage: "when printing, show all labels as the last column"},
		),
		Action: getAction,
	}
}

// request is one resource type and the names asked of it (none: list).
type request struct {
	mapping *meta.RESTMapping
	names   []string
	ns      string // the object's namespace (get -f); "" for the command's
}

// fileRequests reads the objects of get -f FILE...: one request per object,
// by kind, name and the namespace the manifest gives (else ns). A
// namespace given with -n that differs from the manifest's is kubectl's
// error.
func (k *conn) fileRequests(c *cmdline.Context, files []string, ns string) ([]request, error) {
	objs, err := readManifests(c, files, c.App.Reader)
	if err != nil {
		return nil, err
	}
	var reqs []request
	for _, mo := range objs {
		o := mo.obj
		m, err := k.mappingForGVK(o.GroupVersionKind())
		if err != nil {
			return nil, err
		}
		if o.GetName() == "" {
			return nil, errorf("resource name may not be empty")
		}
		objNS := ""
		if namespaced(m) {
			objNS = o.GetNamespace()
			if objNS == "" {
				objNS = ns
			} else if c.IsSet("namespace") && objNS != ns {
				return nil, errorf("the namespace from the provided object %q does not match the namespace %q. You must pass '--namespace=%s' to perform this operation.", objNS, ns, objNS)
			}
		}
		reqs = append(reqs, request{mapping: m, names: []string{o.GetName()}, ns: objNS})
	}
	return reqs, nil
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
		// A discovery category ("all") stands for its resources, in
		// discovery's order, as kubectl expands it.
		if grs, ok := k.categories(typ); ok {
			for _, gr := range grs {
				m, err := k.mappingFor(gr.String())
				if err != nil {
					return nil, err
				}
				reqs = append(reqs, request{mapping: m, names: args[1:]})
			}
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

func getAction(c *cmdline.Context) error {
	stdout, stderr := c.App.Writer, c.App.ErrWriter
	if raw := c.String("raw"); raw != "" {
		return getRaw(c, raw)
	}
	if err := validateGet(c); err != nil {
		return err
	}
	out, err := newOutput(outputOptions{
		format:           c.String("output"),
		template:         c.String("template"),
		allowMissingKeys: c.Bool("allow-missing-template-keys"),
		noHeaders:        c.Bool("no-headers"),
		showLabels:       c.Bool("show-labels"),
		labelColumns:     c.StringSlice("label-columns"),
		sortBy:           c.String("sort-by"),

		showManagedFields: c.Bool("show-managed-fields"),
	})
	if err != nil {
		return err
	}
	watching := c.Bool("watch") || c.Bool("watch-only")
	switch {
	case c.Bool("watch") && out.opts.sortBy != "":
		fmt.Fprintf(stderr, "warning: --watch requested, --sort-by will be ignored for watch events received\n")
	case c.Bool("watch-only") && out.opts.sortBy != "":
		fmt.Fprintf(stderr, "warning: --watch-only requested, --sort-by will be ignored\n")
	}
	args := c.Args().Slice()
	files := c.StringSlice("filename")
	if len(files) > 0 && len(args) > 0 {
		return errorf("when paths, URLs, or stdin is provided as input, you may not specify resource arguments as well")
	}
	if len(args) == 0 && len(files) == 0 {
		return &cmdError{code: 1, msg: "You must specify the type of resource to get. Use \"wasmpod get pods\", \"wasmpod get nodes\", ...\n\nerror: Required resource not specified."}
	}
	k, err := connect(c)
	if err != nil {
		return err
	}
	ns, all := k.namespace(c), c.Bool("all-namespaces")
	var reqs []request
	if len(files) > 0 {
		reqs, err = k.fileRequests(c, files, ns)
	} else {
		reqs, err = k.parseResourceArgs(args)
	}
	if err != nil {
		return k.fail(err)
	}
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
	if n := c.Int64("chunk-size"); n > 0 && (out.opts.sortBy == "" || watching) {
		// kubectl lists in chunks (0 or less: at once), except to sort.
		opts.Limit = n
	}
	g := &getter{k: k, c: c, out: out, ns: ns, all: all, ignoreNotFound: c.Bool("ignore-not-found")}
	if g.tc, err = k.tableClient(); err != nil {
		return k.fail(err)
	}
	if watching {
		if len(reqs) != 1 {
			return errorf("you may only specify a single resource type")
		}
		return k.fail(g.watch(reqs[0], opts))
	}
	if out.human {
		return g.printTables(reqs, opts)
	}
	ctx := c.Context
	var objs []unstructured.Unstructured
	var errs []error
	for _, r := range reqs {
		rc := k.resourceClient(r.mapping, g.nsOf(r))
		if len(r.names) == 0 {
			l, err := listAll(ctx, rc, opts)
			if err != nil {
				return k.fail(enhanceListError(err, opts, r.mapping.Resource.String()))
			}
			objs = append(objs, l.Items...) // in the server's order, as kubectl prints them
			continue
		}
		for _, n := range r.names {
			u, err := rc.Get(ctx, n, metav1.GetOptions{})
			if err != nil {
				if isRefused(err) {
					return k.fail(err)
				}
				if !(g.ignoreNotFound && apierrors.IsNotFound(err)) {
					errs = append(errs, err)
				}
				continue
			}
			objs = append(objs, *u)
		}
	}
	// As kubectl's printGeneric: one object asked for by name prints as
	// itself, anything else as a v1 List.
	singleItem := len(reqs) == 1 && len(reqs[0].names) == 1
	if len(objs) == 0 && (g.ignoreNotFound || (singleItem && len(errs) > 0)) {
		return k.multiErr(errs)
	}
	var obj runtime.Object
	if singleItem && len(objs) == 1 {
		obj = &objs[0]
	} else {
		list := &unstructured.UnstructuredList{Object: map[string]any{"apiVersion": "v1", "kind": "List", "metadata": map[string]any{"resourceVersion": ""}}}
		list.Items = objs
		if out.opts.sortBy != "" && len(objs) > 0 {
			if err := sortBy(out.opts.sortBy, list.Items); err != nil {
				return err
			}
		}
		obj = list
	}
	if err := out.printer.PrintObj(obj, stdout); err != nil {
		errs = append(errs, printErr(err))
	}
	return k.multiErr(errs)
}

// validateGet refuses the flag combinations kubectl's get refuses, in its
// words.
func validateGet(c *cmdline.Context) error {
	format := c.String("output")
	if c.Bool("show-labels") && format != "" && format != "wide" {
		return errorf("--show-labels option cannot be used with %s printer", format)
	}
	if len(c.StringSlice("label-columns")) > 0 && strings.HasPrefix(format, "custom-columns") {
		return errorf("--label-columns option cannot be used with %s printer", format)
	}
	if c.Bool("output-watch-events") && !c.Bool("watch") && !c.Bool("watch-only") {
		return errorf("--output-watch-events option can only be used with --watch or --watch-only")
	}
	return nil
}

// getRaw is get --raw URI: the server's answer to a GET of the path, as
// it is.
func getRaw(c *cmdline.Context, raw string) error {
	if c.Args().Len() > 0 {
		return errorf("arguments may not be passed when --raw is specified")
	}
	if c.Bool("watch") || c.Bool("watch-only") || c.String("selector") != "" {
		return errorf("--raw may not be specified with other flags that filter the server request or alter the output")
	}
	if c.String("output") != "" {
		return errorf("--raw and --output are mutually exclusive")
	}
	if _, err := url.ParseRequestURI(raw); err != nil {
		return errorf("--raw must be a valid URL path: %v", err)
	}
	k, err := connect(c)
	if err != nil {
		return err
	}
	tc, err := k.tableClient()
	if err != nil {
		return k.fail(err)
	}
	stream, err := tc.rc.Get().RequestURI(raw).Stream(c.Context)
	if err != nil {
		return k.fail(err)
	}
	defer stream.Close()
	if _, err := io.Copy(c.App.Writer, stream); err != nil && err != io.EOF {
		return k.fail(err)
	}
	return nil
}

// nsOf is the namespace of a request: its own (get -f), else the command's.
func (g *getter) nsOf(r request) string {
	if r.ns != "" {
		return r.ns
	}
	return g.ns
}

// getter holds what one get command prints with.
type getter struct {
	k              *conn
	c              *cmdline.Context
	tc             *tableClient
	out            *output
	ns             string
	all            bool
	ignoreNotFound bool
}

// tablePrinter is cli-runtime's TablePrinter with get's flags for a kind.
func (g *getter) tablePrinter(m *meta.RESTMapping, withKind, withNamespace bool) printers.ResourcePrinter {
	return printers.NewTablePrinter(printers.PrintOptions{
		Kind:          m.GroupVersionKind.GroupKind(),
		WithKind:      withKind,
		NoHeaders:     g.out.opts.noHeaders,
		Wide:          g.out.wide,
		WithNamespace: withNamespace,
		ColumnLabels:  g.out.opts.labelColumns,
		ShowLabels:    g.out.opts.showLabels,
	})
}

// countingWriter counts the bytes written through it.
type countingWriter struct {
	w io.Writer
	n int
}

func (c *countingWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += n
	return n, err
}

// separatorWriter writes a blank line before the next write once ready:
// kubectl's blank line between the tables of two kinds.
type separatorWriter struct {
	w     io.Writer
	ready bool
}

func (s *separatorWriter) Write(p []byte) (int, error) {
	if s.ready && len(p) > 0 {
		s.ready = false
		if _, err := s.w.Write([]byte("\n")); err != nil {
			return 0, err
		}
	}
	return s.w.Write(p)
}

// printTables fetches each request as the server's Table and prints the
// Tables as kubectl's get does: one table per kind, separated by a blank
// line, kind/name names when several kinds print, a NAMESPACE column with
// -A, and "No resources found" on standard error when nothing printed.
func (g *getter) printTables(reqs []request, opts metav1.ListOptions) error {
	ctx := g.c.Context
	type info struct {
		m   *meta.RESTMapping
		obj runtime.Object
	}
	var infos []info
	var errs []error
	for _, r := range reqs {
		if len(r.names) == 0 {
			objs, _, err := g.tc.getTable(ctx, r.mapping, g.nsOf(r), "", opts, g.out.opts.sortBy)
			if err != nil {
				return g.k.fail(enhanceListError(err, opts, r.mapping.Resource.String()))
			}
			for _, obj := range objs {
				l, ok := obj.(*unstructured.UnstructuredList)
				if !ok {
					infos = append(infos, info{r.mapping, obj})
					continue
				}
				// No Table from the server: each object on its own, as
				// kubectl's flattened result (an empty list prints nothing).
				if g.out.opts.sortBy != "" && len(l.Items) > 0 {
					if err := sortBy(g.out.opts.sortBy, l.Items); err != nil {
						return err
					}
				}
				for i := range l.Items {
					infos = append(infos, info{r.mapping, &l.Items[i]})
				}
			}
			continue
		}
		for _, n := range r.names {
			objs, _, err := g.tc.getTable(ctx, r.mapping, g.nsOf(r), n, opts, g.out.opts.sortBy)
			if err != nil {
				if isRefused(err) {
					return g.k.fail(err)
				}
				if !(g.ignoreNotFound && apierrors.IsNotFound(err)) {
					errs = append(errs, err)
				}
				continue
			}
			for _, obj := range objs {
				infos = append(infos, info{r.mapping, obj})
			}
		}
	}
	withKind := g.c.Bool("show-kind")
	for _, inf := range infos {
		withKind = withKind || inf.m.GroupVersionKind != infos[0].m.GroupVersionKind
	}
	counted := &countingWriter{w: g.c.App.Writer}
	sep := &separatorWriter{w: counted}
	tw := printers.GetNewTabWriter(sep)
	var p printers.ResourcePrinter
	var last *meta.RESTMapping
	allNamespaced := !g.all
	// With -A, kubectl keeps the NAMESPACE column (empty) for the
	// cluster-scoped kinds that follow a namespaced one: its printer flags
	// remember it.
	withNamespace := false
	for _, inf := range infos {
		allNamespaced = allNamespaced && namespaced(inf.m)
		withNamespace = withNamespace || (g.all && namespaced(inf.m))
		if p == nil || last == nil || inf.m.Resource != last.Resource {
			tw.Flush()
			tw.SetRememberedWidths(nil)
			if last != nil && !g.out.opts.noHeaders && counted.n > 0 {
				sep.ready = true
			}
			p = g.tablePrinter(inf.m, withKind, withNamespace)
			last = inf.m
		}
		if t, ok := inf.obj.(*metav1.Table); ok && g.out.opts.sortBy != "" {
			if err := sortTableRows(g.out.opts.sortBy, t); err != nil {
				return err
			}
		}
		if err := p.PrintObj(inf.obj, tw); err != nil {
			errs = append(errs, err)
		}
	}
	tw.Flush()
	if counted.n == 0 && !g.ignoreNotFound && len(errs) == 0 {
		if allNamespaced {
			fmt.Fprintf(g.c.App.ErrWriter, "No resources found in %s namespace.\n", g.ns)
		} else {
			fmt.Fprintln(g.c.App.ErrWriter, "No resources found")
		}
	}
	return g.k.multiErr(errs)
}

// watch prints the initial list (unless --watch-only) and then the object
// of each watch event, as kubectl's get -w does: Tables through one table
// printer and one tab writer (so that columns keep their widths and the
// header prints once), other formats object by object.
func (g *getter) watch(r request, opts metav1.ListOptions) error {
	ctx := g.c.Context
	stdout := g.c.App.Writer
	m := r.mapping
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
	notFound := func() error {
		if g.ignoreNotFound {
			return nil
		}
		return apierrors.NewNotFound(m.Resource.GroupResource(), r.names[0])
	}
	printOut := !g.c.Bool("watch-only")
	// One tab writer for the whole watch, flushed after each event, as
	// kubectl's: columns keep the widths of the first rows printed.
	tw := printers.GetNewTabWriter(stdout)
	emit := func(p printers.ResourcePrinter, typ string, obj runtime.Object) error {
		if g.c.Bool("output-watch-events") {
			obj = &metav1.WatchEvent{Type: typ, Object: runtime.RawExtension{Object: obj}}
		}
		if err := p.PrintObj(obj, tw); err != nil {
			return err
		}
		return tw.Flush()
	}
	if g.out.human {
		p := g.tablePrinter(m, g.c.Bool("show-kind"), g.all && namespaced(m))
		objs, rv, err := g.tc.getTable(ctx, m, g.nsOf(r), "", opts, "")
		if err != nil {
			return err
		}
		if len(r.names) == 1 {
			found := false
			for _, obj := range objs {
				t, ok := obj.(*metav1.Table)
				found = found || (ok && len(t.Rows) > 0) || (!ok && meta.LenList(obj) > 0)
			}
			if !found {
				return notFound()
			}
		}
		if printOut {
			for _, obj := range objs {
				if err := emit(p, string(watch.Added), obj); err != nil {
					return err
				}
			}
		}
		opts.ResourceVersion = rv
		return g.tc.watchStream(ctx, m, g.nsOf(r), opts, true, func(typ string, u *unstructured.Unstructured) error {
			var obj runtime.Object = u
			if isTable(u) {
				t, err := toTable(u)
				if err != nil {
					return err
				}
				obj = t
			}
			return emit(p, typ, obj)
		})
	}
	l, err := listAll(ctx, g.k.resourceClient(m, g.nsOf(r)), opts)
	if err != nil {
		return err
	}
	if len(r.names) == 1 && len(l.Items) == 0 {
		return notFound()
	}
	if printOut {
		for i := range l.Items {
			if err := emit(g.out.printer, string(watch.Added), &l.Items[i]); err != nil {
				return err
			}
		}
	}
	opts.ResourceVersion = l.GetResourceVersion()
	return g.tc.watchStream(ctx, m, g.nsOf(r), opts, false, func(typ string, u *unstructured.Unstructured) error {
		return emit(g.out.printer, typ, u)
	})
}
