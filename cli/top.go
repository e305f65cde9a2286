package cli

// wasmpod top pod|node, as kubectl top (k8s.io/kubectl/pkg/cmd/top and
// its metricsutil printer): the resource metrics API (metrics.k8s.io,
// which serve answers itself: apiserver/metrics_api.go) read through
// discovery and GET, printed with kubectl's columns, units and order: CPU
// in millicores ("12m"), memory in MiB ("3Mi"), node percentages of the
// allocatable (--show-capacity: of the capacity), nodes without metrics
// as <unknown>, sorted by name (and namespace with -A) unless --sort-by
// cpu|memory.

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/url"
	"sort"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/cli-runtime/pkg/printers"
	metricsv1beta1 "k8s.io/metrics/pkg/apis/metrics/v1beta1"

	"github.com/wasmpod/wasmpod/cli/internal/cmdline"
)

func topCommand() *cmdline.Command {
	common := func(extra ...cmdline.Flag) []cmdline.Flag {
		return append(append(connFlags(), extra...),
			&cmdline.StringFlag{Name: "selector", Aliases: []string{"l"}, Usage: "selector (label query) to filter on, supports '=', '==', '!=', 'in', 'notin'"},
			&cmdline.BoolFlag{Name: "no-headers", Usage: "if present, print output without headers"},
			&cmdline.StringFlag{Name: "sort-by", Usage: "if non-empty, sort the list using the specified field: 'cpu' or 'memory'"},
		)
	}
	return &cmdline.Command{
		Name:  "top",
		Usage: "Display resource (CPU/memory) usage",
		Description: `Display resource (CPU/memory) usage of pods or nodes, from the resource metrics API
(metrics.k8s.io), with kubectl top's columns.

Examples:
  # Show metrics for all pods in the default namespace
  wasmpod top pod

  # Show metrics for the pods of every namespace, with their containers
  wasmpod top pod -A --containers

  # Show metrics for all nodes
  wasmpod top node`,
		Subcommands: []*cmdline.Command{
			{
				Name: "pod", Aliases: []string{"pods", "po"}, Usage: "Display resource (CPU/memory) usage of pods",
				ArgsUsage: "[NAME | -l label]",
				Flags: common(append(nsFlags(true),
					&cmdline.BoolFlag{Name: "containers", Usage: "if present, print usage of containers within a pod"},
					&cmdline.BoolFlag{Name: "sum", Usage: "print the sum of the resource usage"})...),
				Action: topPodAction,
			},
			{
				Name: "node", Aliases: []string{"nodes", "no"}, Usage: "Display resource (CPU/memory) usage of nodes",
				ArgsUsage: "[NAME | -l label]",
				Flags:     common(&cmdline.BoolFlag{Name: "show-capacity", Usage: "print node resources based on Capacity instead of Allocatable (default) of the nodes"}),
				Action:    topNodeAction,
			},
		},
	}
}

// topSetup checks the arguments and the metrics API's presence.
func topSetup(c *cmdline.Context) (*conn, string, labels.Selector, error) {
	if c.NArg() > 1 {
		return nil, "", nil, errorf("only one NAME may be given, not %d", c.NArg())
	}
	sortBy := c.String("sort-by")
	if sortBy != "" && sortBy != "cpu" && sortBy != "memory" {
		return nil, "", nil, errorf("--sort-by accepts only cpu or memory, not %q", sortBy)
	}
	sel := labels.Everything()
	if s := c.String("selector"); s != "" {
		var err error
		if sel, err = labels.Parse(s); err != nil {
			return nil, "", nil, errorf("--selector: %v", err)
		}
	}
	name := ""
	if c.NArg() == 1 {
		name = c.Args().First()
		if !sel.Empty() {
			return nil, "", nil, errorf("only one of NAME or --selector can be provided")
		}
	}
	k, err := connect(c)
	if err != nil {
		return nil, "", nil, err
	}
	var groups metav1.APIGroupList
	b, err := k.cs.CoreV1().RESTClient().Get().AbsPath("/apis").SetHeader("Accept", "application/json").DoRaw(c.Context)
	if err == nil {
		err = json.Unmarshal(b, &groups)
	}
	if err != nil {
		return nil, "", nil, k.fail(err)
	}
	for _, g := range groups.Groups {
		if g.Name != "metrics.k8s.io" {
			continue
		}
		for _, v := range g.Versions {
			if v.Version == "v1beta1" {
				return k, name, sel, nil
			}
		}
	}
	return nil, "", nil, errorf("Metrics API not available")
}

// getMetrics GETs a metrics.k8s.io/v1beta1 path into out.
func (k *conn) getMetrics(ctx context.Context, path string, sel labels.Selector, out any) error {
	req := k.cs.CoreV1().RESTClient().Get().AbsPath("/apis/metrics.k8s.io/v1beta1/"+path).SetHeader("Accept", "application/json")
	if !sel.Empty() {
		req = req.Param("labelSelector", sel.String())
	}
	b, err := req.DoRaw(ctx)
	if err != nil {
		// The server's Status, for kubectl's wording of it.
		var st metav1.Status
		if json.Unmarshal(b, &st) == nil && st.Kind == "Status" && st.Message != "" {
			return &apierrors.StatusError{ErrStatus: st}
		}
		return err
	}
	return json.Unmarshal(b, out)
}

func topPodAction(c *cmdline.Context) error {
	k, name, sel, err := topSetup(c)
	if err != nil {
		return err
	}
	ctx := c.Context
	all := c.Bool("all-namespaces")
	ns := k.namespace(c)
	path := "pods"
	if !all {
		path = "namespaces/" + url.PathEscape(ns) + "/pods"
	}
	var items []metricsv1beta1.PodMetrics
	if name != "" {
		var m metricsv1beta1.PodMetrics
		if err := k.getMetrics(ctx, "namespaces/"+url.PathEscape(ns)+"/pods/"+url.PathEscape(name), labels.Everything(), &m); err != nil {
			return k.fail(err)
		}
		items = append(items, m)
		all = false
	} else {
		var list metricsv1beta1.PodMetricsList
		if err := k.getMetrics(ctx, path, sel, &list); err != nil {
			return k.fail(err)
		}
		items = list.Items
	}
	if len(items) == 0 {
		// As kubectl: pods that exist but have no metrics yet are "not
		// available yet"; none at all is "No resources found".
		podNS := ns
		if all {
			podNS = ""
		}
		pods, err := k.cs.CoreV1().Pods(podNS).List(ctx, metav1.ListOptions{LabelSelector: sel.String()})
		if err != nil {
			return k.fail(err)
		}
		if len(pods.Items) > 0 {
			return errorf("metrics not available yet")
		}
		if all {
			fmt.Fprintln(c.App.ErrWriter, "No resources found")
		} else {
			fmt.Fprintf(c.App.ErrWriter, "No resources found in %s namespace.\n", ns)
		}
		return nil
	}
	printPodMetrics(c.App.Writer, items, c.Bool("containers"), all, c.Bool("no-headers"), c.String("sort-by"), c.Bool("sum"))
	return nil
}

func topNodeAction(c *cmdline.Context) error {
	k, name, sel, err := topSetup(c)
	if err != nil {
		return err
	}
	ctx := c.Context
	var items []metricsv1beta1.NodeMetrics
	var nodes []corev1.Node
	if name != "" {
		var m metricsv1beta1.NodeMetrics
		if err := k.getMetrics(ctx, "nodes/"+url.PathEscape(name), labels.Everything(), &m); err != nil {
			return k.fail(err)
		}
		items = append(items, m)
	} else {
		var list metricsv1beta1.NodeMetricsList
		if err := k.getMetrics(ctx, "nodes", sel, &list); err != nil {
			return k.fail(err)
		}
		items = list.Items
	}
	if len(items) == 0 {
		return errorf("metrics not available yet")
	}
	if name != "" {
		n, err := k.cs.CoreV1().Nodes().Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return k.fail(err)
		}
		nodes = append(nodes, *n)
	} else {
		list, err := k.cs.CoreV1().Nodes().List(ctx, metav1.ListOptions{LabelSelector: sel.String()})
		if err != nil {
			return k.fail(err)
		}
		nodes = list.Items
	}
	available := map[string]corev1.ResourceList{}
	for _, n := range nodes {
		if c.Bool("show-capacity") {
			available[n.Name] = n.Status.Capacity
		} else {
			available[n.Name] = n.Status.Allocatable
		}
	}
	printNodeMetrics(c.App.Writer, items, available, c.Bool("no-headers"), c.String("sort-by"))
	return nil
}

// topWriter is kubectl's tab writer.
func topWriter(w io.Writer) interface {
	io.Writer
	Flush() error
} {
	return printers.GetNewTabWriter(w)
}

func cpuText(q resource.Quantity) string { return fmt.Sprintf("%vm", q.MilliValue()) }
func memText(q resource.Quantity) string { return fmt.Sprintf("%vMi", q.Value()/(1024*1024)) }

func printNodeMetrics(out io.Writer, items []metricsv1beta1.NodeMetrics, available map[string]corev1.ResourceList, noHeaders bool, sortBy string) {
	w := topWriter(out)
	defer w.Flush()
	sort.SliceStable(items, func(i, j int) bool {
		a, b := items[i].Usage, items[j].Usage
		switch sortBy {
		case "cpu":
			return a.Cpu().MilliValue() > b.Cpu().MilliValue()
		case "memory":
			return a.Memory().Value() > b.Memory().Value()
		}
		return items[i].Name < items[j].Name
	})
	if !noHeaders {
		fmt.Fprint(w, "NAME\tCPU(cores)\tCPU(%)\tMEMORY(bytes)\tMEMORY(%)\t\n")
	}
	for _, m := range items {
		fmt.Fprintf(w, "%s\t", m.Name)
		avail, have := available[m.Name]
		for _, res := range []corev1.ResourceName{corev1.ResourceCPU, corev1.ResourceMemory} {
			q := m.Usage[res]
			if res == corev1.ResourceCPU {
				fmt.Fprintf(w, "%s\t", cpuText(q))
			} else {
				fmt.Fprintf(w, "%s\t", memText(q))
			}
			if a, ok := avail[res]; have && ok {
				fraction := 0.0
				if !a.IsZero() {
					fraction = float64(q.MilliValue()) / float64(a.MilliValue()) * 100
				}
				fmt.Fprintf(w, "%d%%\t", int64(fraction))
			}
		}
		fmt.Fprint(w, "\n")
		delete(available, m.Name)
	}
	missing := make([]string, 0, len(available))
	for n := range available {
		missing = append(missing, n)
	}
	sort.Strings(missing)
	for _, n := range missing {
		fmt.Fprintf(w, "%s\t<unknown>\t<unknown>\t<unknown>\t<unknown>\t\n", n)
	}
}

// podUsage sums a pod's containers.
func podUsage(m *metricsv1beta1.PodMetrics) (cpu, mem resource.Quantity) {
	for _, c := range m.Containers {
		cpu.Add(c.Usage[corev1.ResourceCPU])
		mem.Add(c.Usage[corev1.ResourceMemory])
	}
	return cpu, mem
}

func printPodMetrics(out io.Writer, items []metricsv1beta1.PodMetrics, containers, withNamespace, noHeaders bool, sortBy string, sum bool) {
	w := topWriter(out)
	defer w.Flush()
	if !noHeaders {
		if withNamespace {
			fmt.Fprint(w, "NAMESPACE\t")
		}
		if containers {
			fmt.Fprint(w, "POD\t")
		}
		fmt.Fprint(w, "NAME\tCPU(cores)\tMEMORY(bytes)\t\n")
	}
	sort.SliceStable(items, func(i, j int) bool {
		switch sortBy {
		case "cpu":
			a, _ := podUsage(&items[i])
			b, _ := podUsage(&items[j])
			return a.MilliValue() > b.MilliValue()
		case "memory":
			_, a := podUsage(&items[i])
			_, b := podUsage(&items[j])
			return a.Value() > b.Value()
		}
		if withNamespace && items[i].Namespace != items[j].Namespace {
			return items[i].Namespace < items[j].Namespace
		}
		return items[i].Name < items[j].Name
	})
	var totalCPU, totalMem resource.Quantity
	for i := range items {
		m := &items[i]
		if containers {
			cs := m.Containers
			sort.SliceStable(cs, func(a, b int) bool {
				switch sortBy {
				case "cpu":
					return cs[a].Usage.Cpu().MilliValue() > cs[b].Usage.Cpu().MilliValue()
				case "memory":
					return cs[a].Usage.Memory().Value() > cs[b].Usage.Memory().Value()
				}
				return cs[a].Name < cs[b].Name
			})
			for _, ct := range cs {
				if withNamespace {
					fmt.Fprintf(w, "%s\t", m.Namespace)
				}
				fmt.Fprintf(w, "%s\t%s\t%s\t%s\t\n", m.Name, ct.Name, cpuText(ct.Usage[corev1.ResourceCPU]), memText(ct.Usage[corev1.ResourceMemory]))
			}
		} else {
			cpu, mem := podUsage(m)
			if withNamespace {
				fmt.Fprintf(w, "%s\t", m.Namespace)
			}
			fmt.Fprintf(w, "%s\t%s\t%s\t\n", m.Name, cpuText(cpu), memText(mem))
		}
		cpu, mem := podUsage(m)
		totalCPU.Add(cpu)
		totalMem.Add(mem)
	}
	if sum {
		// kubectl's sum row: dashes under the text columns, then the totals.
		cols := 1
		if withNamespace {
			cols++
		}
		if containers {
			cols++
		}
		for range cols {
			fmt.Fprint(w, "\t")
		}
		fmt.Fprint(w, "________\t________\t\n")
		for range cols {
			fmt.Fprint(w, "\t")
		}
		fmt.Fprintf(w, "%s\t%s\t\n", cpuText(totalCPU), memText(totalMem))
	}
}
