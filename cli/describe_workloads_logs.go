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
	"sync"

	ucli "github.com/urfave/cli/v2"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// withLogsSelector gives the logs command -l/--selector, --prefix and
// --max-log-requests.
func withLogsSelector(cmd *ucli.Command) *ucli.Command {
	cmd.Flags = append(cmd.Flags,
		&ucli.StringFlag{Name: "selector", Aliases: []string{"l"}, Usage: "selector (label query) to filter on, e.g. -l 'app=web' or -l 'env in (a,b),!canary'; the logs of every matching pod"},
		&ucli.BoolFlag{Name: "prefix", Usage: "prefix each log line with the log source (pod name and container name)"},
		&ucli.IntFlag{Name: "max-log-requests", Value: 5, Usage: "maximum number of concurrent logs to follow when using a selector"},
	)
	cmd.ArgsUsage = "[-f] [-p] (POD | -l SELECTOR) [-c CONTAINER]"
	cmd.Description += `

  # Return the last 10 lines of every pod labelled app=nginx, prefixed with their source
  wasmpod logs -l app=nginx --prefix`
	action := cmd.Action
	cmd.Action = func(c *ucli.Context) error {
		if c.String("selector") == "" {
			return action(c)
		}
		return logsBySelector(c)
	}
	return cmd
}

func logsBySelector(c *ucli.Context) error {
	sel := c.String("selector")
	if c.Args().Len() > 0 {
		return errorf("only a selector (-l) or a POD name is allowed\nSee 'wasmpod logs -h' for help and examples")
	}
	opts := &corev1.PodLogOptions{Container: c.String("container"), Follow: c.Bool("follow"), Previous: c.Bool("previous"), Timestamps: c.Bool("timestamps")}
	tail := int64(10) // kubectl's default with a selector
	if c.IsSet("tail") {
		tail = c.Int64("tail")
	}
	if tail >= 0 {
		opts.TailLines = &tail
	}
	if b := c.Int64("limit-bytes"); b > 0 {
		opts.LimitBytes = &b
	}
	if d := c.Duration("since"); d > 0 {
		s := int64(d.Round(1e9).Seconds())
		opts.SinceSeconds = &s
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
