package cli

// logs -l SELECTOR, as kubectl logs with a selector (the pods of a
// workload by their labels, set-based requirements included): the
// selector is passed to the server unchanged; each matching pod's default
// container is printed (the last 10 lines unless --tail is given), in
// name order (kubectl's order is its map's, i.e. random), with
// "[pod/NAME/CONTAINER] " before each line under --prefix; -f follows them
// all at once, at most --max-log-requests of them. (Kept apart from
// logs.go, which the workloads' CLI helper does not own: withLogsSelector
// adds the flags and wraps the command's action.)

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/wasmpod/wasmpod/cli/internal/cmdline"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// withLogsSelector gives the logs command -l/--selector, --prefix and
// --max-log-requests.
func withLogsSelector(cmd *cmdline.Command) *cmdline.Command {
	cmd.Flags = append(cmd.Flags,
		&cmdline.StringFlag{Name: "selector", Aliases: []string{"l"}, Usage: "selector (label query) to filter on, e.g. -l 'app=web' or -l 'env in (a,b),!canary'; the logs of every matching pod"},
		&cmdline.BoolFlag{Name: "prefix", Usage: "prefix each log line with the log source (pod name and container name)"},
		&cmdline.IntFlag{Name: "max-log-requests", Value: 5, Usage: "maximum number of concurrent logs to follow when using a selector"},
	)
	cmd.ArgsUsage = "[-f] [-p] (POD | -l SELECTOR) [-c CONTAINER]"
	cmd.Description += `

  # Return the last 10 lines of every pod labelled app=nginx, prefixed with their source
  wasmpod logs -l app=nginx --prefix`
	cmd.Description += `

  # Return the logs of the first pod of deployment nginx (of job pi, ...)
  wasmpod logs deployment/nginx`
	cmd.Flags = append(cmd.Flags, &cmdline.DurationFlag{Name: "pod-running-timeout", Value: 20 * time.Second,
		Usage: "the length of time to wait until at least one pod of TYPE/NAME exists"})
	action := cmd.Action
	cmd.Action = func(c *cmdline.Context) error {
		if c.String("selector") != "" {
			return logsBySelector(c)
		}
		if typ, name, ok := strings.Cut(c.Args().First(), "/"); ok && workloadLogTypes[strings.ToLower(typ)] {
			return logsForWorkload(c, typ, name)
		}
		return action(c)
	}
	return cmd
}

// workloadLogTypes are the TYPE words of TYPE/NAME whose pods logs reads
// (kubectl's SelectorsForObject kinds).
var workloadLogTypes = map[string]bool{}

func init() {
	for _, w := range []string{"deployment", "deployments", "deploy", "deployment.apps", "deployments.apps",
		"replicaset", "replicasets", "rs", "replicaset.apps", "replicasets.apps",
		"daemonset", "daemonsets", "ds", "daemonset.apps", "daemonsets.apps",
		"statefulset", "statefulsets", "sts", "statefulset.apps", "statefulsets.apps",
		"job", "jobs", "job.batch", "jobs.batch"} {
		workloadLogTypes[w] = true
	}
}

// logsForWorkload is kubectl logs TYPE/NAME of a workload (its
// LogsForObject and AttachablePodForObject): the logs of one of the pods
// its selector matches, the most available one (kubectl's ActivePods order,
// reversed), waiting up to --pod-running-timeout for one to exist.
func logsForWorkload(c *cmdline.Context, typ, name string) error {
	args := c.Args().Slice()
	if len(args) > 2 || (len(args) == 2 && c.String("container") != "") {
		return errorf("only one of -c or an inline [CONTAINER] arg is allowed")
	}
	opts, err := logOptionsOf(c, -1)
	if err != nil {
		return err
	}
	if len(args) == 2 {
		opts.Container = args[1]
	}
	k, err := connect(c)
	if err != nil {
		return err
	}
	ctx := c.Context
	ns := k.namespace(c)
	m, err := k.mappingFor(typ)
	if err != nil {
		return k.fail(err)
	}
	u, err := k.resourceClient(m, ns).Get(ctx, name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return errorf("error from server (NotFound): %v in namespace %q", err, ns)
	}
	if err != nil {
		return k.fail(err)
	}
	var ls metav1.LabelSelector
	if raw, ok, _ := unstructured.NestedMap(u.Object, "spec", "selector"); ok {
		if err := runtime.DefaultUnstructuredConverter.FromUnstructured(raw, &ls); err != nil {
			return k.fail(err)
		}
	}
	sel, err := metav1.LabelSelectorAsSelector(&ls)
	if err != nil {
		return errorf("cannot attach to %s: invalid label selector: %v", m.GroupVersionKind.Kind, err)
	}
	deadline := time.Now().Add(c.Duration("pod-running-timeout"))
	for {
		l, err := k.cs.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{LabelSelector: sel.String()})
		if err != nil {
			return k.fail(err)
		}
		if len(l.Items) > 0 {
			pods := make([]*corev1.Pod, len(l.Items))
			for i := range l.Items {
				pods[i] = &l.Items[i]
			}
			sort.SliceStable(pods, func(i, j int) bool { return activePodLess(pods[j], pods[i]) })
			if len(pods) > 1 {
				fmt.Fprintf(c.App.ErrWriter, "Found %d pods, using pod/%s\n", len(pods), pods[0].Name)
			}
			return k.fail(k.streamLogs(ctx, ns, pods[0].Name, opts, c.App.Writer, c.App.ErrWriter))
		}
		if time.Now().After(deadline) {
			return errorf("timed out waiting for the condition")
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// activePodLess is kubectl's podutils.ActivePods order: unassigned <
// assigned; Pending < Unknown < Running; not ready < ready; deleting <
// not; ready more recently < longer; more restarts < fewer; newer < older.
func activePodLess(a, b *corev1.Pod) bool {
	if a.Spec.NodeName != b.Spec.NodeName && (a.Spec.NodeName == "" || b.Spec.NodeName == "") {
		return a.Spec.NodeName == ""
	}
	phase := map[corev1.PodPhase]int{corev1.PodPending: 0, corev1.PodUnknown: 1, corev1.PodRunning: 2}
	if phase[a.Status.Phase] != phase[b.Status.Phase] {
		return phase[a.Status.Phase] < phase[b.Status.Phase]
	}
	ready := func(p *corev1.Pod) *corev1.PodCondition {
		for i := range p.Status.Conditions {
			if c := &p.Status.Conditions[i]; c.Type == corev1.PodReady && c.Status == corev1.ConditionTrue {
				return c
			}
		}
		return nil
	}
	ra, rb := ready(a), ready(b)
	if (ra != nil) != (rb != nil) {
		return ra == nil
	}
	if (a.DeletionTimestamp != nil) != (b.DeletionTimestamp != nil) {
		return a.DeletionTimestamp != nil
	}
	if a.DeletionTimestamp != nil && b.DeletionTimestamp != nil && !a.DeletionTimestamp.Equal(b.DeletionTimestamp) {
		return a.DeletionTimestamp.Before(b.DeletionTimestamp)
	}
	afterOrZero := func(t1, t2 metav1.Time) bool {
		if t1.IsZero() || t2.IsZero() {
			return t1.IsZero()
		}
		return t1.After(t2.Time)
	}
	if ra != nil && rb != nil && !ra.LastTransitionTime.Equal(&rb.LastTransitionTime) {
		return afterOrZero(ra.LastTransitionTime, rb.LastTransitionTime)
	}
	restarts := func(p *corev1.Pod) int32 {
		n := int32(0)
		for _, s := range p.Status.ContainerStatuses {
			n = max(n, s.RestartCount)
		}
		return n
	}
	if x, y := restarts(a), restarts(b); x != y {
		return x > y
	}
	if !a.CreationTimestamp.Equal(&b.CreationTimestamp) {
		return afterOrZero(a.CreationTimestamp, b.CreationTimestamp)
	}
	return false
}

// logOptionsOf reads the log flags; tail is the --tail default (-1: all).
func logOptionsOf(c *cmdline.Context, tail int64) (*corev1.PodLogOptions, error) {
	opts := &corev1.PodLogOptions{Container: c.String("container"), Follow: c.Bool("follow"), Previous: c.Bool("previous"), Timestamps: c.Bool("timestamps")}
	if c.IsSet("tail") {
		tail = c.Int64("tail")
	}
	if tail >= 0 {
		opts.TailLines = &tail
	}
	if b := c.Int64("limit-bytes"); b > 0 {
		opts.LimitBytes = &b
	}
	if c.IsSet("since") && c.IsSet("since-time") {
		return nil, errorf("at most one of `sinceTime` or `sinceSeconds` may be specified")
	}
	if d := c.Duration("since"); d > 0 {
		s := int64(d.Round(time.Second).Seconds())
		opts.SinceSeconds = &s
	}
	if st := c.String("since-time"); st != "" {
		t, err := time.Parse(time.RFC3339, st)
		if err != nil {
			return nil, errorf("invalid --since-time %q: want RFC3339, e.g. 2006-01-02T15:04:05Z", st)
		}
		mt := metav1.NewTime(t)
		opts.SinceTime = &mt
	}
	return opts, nil
}

func logsBySelector(c *cmdline.Context) error {
	sel := c.String("selector")
	if c.Args().Len() > 0 {
		return errorf("only a selector (-l) or a POD name is allowed\nSee 'wasmpod logs -h' for help and examples")
	}
	opts, err := logOptionsOf(c, 10) // kubectl's --tail default with a selector
	if err != nil {
		return err
	}
	k, err := connect(c)
	if err != nil {
		return err
	}
	ctx := c.Context
	ns := k.namespace(c)
	lo := metav1.ListOptions{LabelSelector: sel}
	l, err := k.cs.CoreV1().Pods(ns).List(ctx, lo)
	if err != nil {
		return k.fail(enhanceListError(err, lo, schema.GroupVersionResource{Version: "v1", Resource: "pods"}.String()))
	}
	if len(l.Items) == 0 {
		fmt.Fprintf(c.App.ErrWriter, "No resources found in %s namespace.\n", ns)
		return nil
	}
	pods := l.Items
	sort.Slice(pods, func(i, j int) bool { return pods[i].Name < pods[j].Name })
	type source struct {
		pod       string
		container string
	}
	var srcs []source
	for i := range pods {
		name := opts.Container
		if name == "" {
			if name, err = defaultContainerName(&pods[i], c.App.ErrWriter, true); err != nil {
				return k.fail(err)
			}
		}
		srcs = append(srcs, source{pods[i].Name, name})
	}
	if opts.Follow && len(srcs) > 1 && len(srcs) > c.Int("max-log-requests") {
		return errorf("you are attempting to follow %d log streams, but maximum allowed concurrency is %d, use --max-log-requests to increase the limit", len(srcs), c.Int("max-log-requests"))
	}
	var mu sync.Mutex // whole lines, one writer at a time
	stream := func(ctx context.Context, s source) error {
		o := opts.DeepCopy()
		o.Container = s.container
		rc, err := k.cs.CoreV1().Pods(ns).GetLogs(s.pod, o).Stream(ctx)
		if err != nil {
			return err
		}
		defer rc.Close()
		prefix := ""
		if c.Bool("prefix") {
			prefix = fmt.Sprintf("[pod/%s/%s] ", s.pod, s.container)
		}
		r := bufio.NewReader(rc)
		for {
			line, err := r.ReadString('\n')
			if line != "" {
				mu.Lock()
				_, werr := io.WriteString(c.App.Writer, prefix+line)
				mu.Unlock()
				if werr != nil {
					return werr
				}
			}
			if err == io.EOF {
				return nil
			}
			if err != nil {
				if ctx.Err() != nil {
					return nil
				}
				return err
			}
		}
	}
	if !opts.Follow || len(srcs) == 1 {
		for _, s := range srcs {
			if err := stream(ctx, s); err != nil {
				return k.fail(err)
			}
		}
		return nil
	}
	// Following several pods: all at once; the first error ends them all,
	// as kubectl's parallelConsumeRequest.
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	errc := make(chan error, len(srcs))
	for _, s := range srcs {
		go func() { errc <- stream(ctx, s) }()
	}
	var first error
	for range srcs {
		if err := <-errc; err != nil && first == nil {
			first = err
			cancel()
		}
	}
	return k.fail(first)
}
