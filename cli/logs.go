package cli

import (
	"context"
	"fmt"
	"io"
	"math"
	"strings"
	"time"

	"github.com/wasmpod/wasmpod/cli/internal/cmdline"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func logsCommand() *cmdline.Command {
	return &cmdline.Command{
		Name:      "logs",
		Aliases:   []string{"log"},
		Usage:     "Print the logs for a container in a pod",
		ArgsUsage: "POD [-c CONTAINER]",
		Description: `Prints the logs of a container of a pod. Without -c, the container named by
the pod's kubectl.kubernetes.io/default-container annotation is used, else the
first container (with a notice on stderr when the pod has others).

Examples:
  # Return snapshot logs from pod nginx with only one container
  wasmpod logs nginx

  # Begin streaming the logs of the ruby container in pod web-1
  wasmpod logs -f -c ruby web-1

  # Show the logs of the previous, terminated instance of the container
  wasmpod logs -p web-1

  # Display only the most recent 20 lines of output, with timestamps
  wasmpod logs --tail=20 --timestamps nginx

  # Show all logs from pod nginx written in the last hour
  wasmpod logs --since=1h nginx`,
		Flags: append(append(connFlags(), nsFlags(false)...),
			&cmdline.StringFlag{Name: "container", Aliases: []string{"c"}, Usage: "print the logs of this container"},
			&cmdline.BoolFlag{Name: "follow", Aliases: []string{"f"}, Usage: "specify if the logs should be streamed"},
			&cmdline.BoolFlag{Name: "previous", Aliases: []string{"p"}, Usage: "print the logs for the previous instance of the container in a pod if it exists"},
			&cmdline.Int64Flag{Name: "tail", Value: -1, Usage: "lines of recent log file to display; -1 shows all lines"},
			&cmdline.BoolFlag{Name: "timestamps", Usage: "include timestamps on each line in the log output"},
			&cmdline.DurationFlag{Name: "since", Usage: "only return logs newer than a relative duration like 5s, 2m, or 3h; defaults to all logs"},
			&cmdline.StringFlag{Name: "since-time", Usage: "only return logs after a specific date (RFC3339)"},
			&cmdline.Int64Flag{Name: "limit-bytes", Usage: "maximum bytes of logs to return; defaults to no limit"},
		),
		Action: logsAction,
	}
}

func logsAction(c *cmdline.Context) error {
	args := c.Args().Slice()
	if len(args) == 0 {
		return errorf("expected POD or TYPE/NAME; see 'wasmpod logs -h' for help and examples")
	}
	if len(args) > 2 || (len(args) == 2 && c.String("container") != "") {
		return errorf("expected POD [CONTAINER] (at most one container name); see 'wasmpod logs -h'")
	}
	name := args[0]
	if typ, n, ok := strings.Cut(name, "/"); ok {
		if typ != "pod" && typ != "pods" && typ != "po" {
			return errorf("cannot get the logs from %s: only pods are supported", typ)
		}
		name = n
	}
	container := c.String("container")
	if len(args) == 2 {
		container = args[1]
	}
	opts := &corev1.PodLogOptions{Container: container, Follow: c.Bool("follow"), Previous: c.Bool("previous"), Timestamps: c.Bool("timestamps")}
	if t := c.Int64("tail"); t >= 0 {
		opts.TailLines = &t
	}
	if b := c.Int64("limit-bytes"); b > 0 {
		opts.LimitBytes = &b
	}
	if c.IsSet("since") && c.IsSet("since-time") {
		return errorf("at most one of `sinceTime` or `sinceSeconds` may be specified")
	}
	if d := c.Duration("since"); d > 0 {
		s := int64(math.Ceil(d.Seconds()))
		opts.SinceSeconds = &s
	}
	if st := c.String("since-time"); st != "" {
		t, err := time.Parse(time.RFC3339, st)
		if err != nil {
			return errorf("invalid --since-time %q: want RFC3339, e.g. 2006-01-02T15:04:05Z", st)
		}
		mt := metav1.NewTime(t)
		opts.SinceTime = &mt
	}
	k, err := connect(c)
	if err != nil {
		return err
	}
	ns := k.namespace(c)
	return k.fail(k.streamLogs(c.Context, ns, name, opts, c.App.Writer, c.App.ErrWriter))
}

// streamLogs picks the default container as kubectl does (its notice goes
// to warn) and copies the pods/log stream to w.
func (k *conn) streamLogs(ctx context.Context, ns, name string, opts *corev1.PodLogOptions, w, warn io.Writer) error {
	pod, err := k.cs.CoreV1().Pods(ns).Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		return err
	}
	if opts.Container == "" {
		c, err := defaultContainerName(pod, warn, true)
		if err != nil {
			return err
		}
		opts.Container = c
	}
	rc, err := k.cs.CoreV1().Pods(ns).GetLogs(name, opts).Stream(ctx)
	if err != nil {
		return err
	}
	defer rc.Close()
	_, err = io.Copy(w, rc)
	if err != nil && ctx.Err() != nil {
		return nil
	}
	return err
}

// defaultContainerName is kubectl's choice of container when -c is not
// given (podcmd.FindOrDefaultContainerByName): the container named by the
// kubectl.kubernetes.io/default-container annotation, else the first
// container, with kubectl's notice on warn when there was a choice. For
// logs, an annotation naming no container is reported (as kubectl logs
// does); exec ignores it silently.
func defaultContainerName(pod *corev1.Pod, warn io.Writer, forLogs bool) (string, error) {
	if len(pod.Spec.Containers) == 0 {
		return "", errorf("pod %s/%s does not have any containers", pod.Namespace, pod.Name)
	}
	if def := pod.Annotations[defaultContainerAnnotation]; def != "" {
		for _, ct := range pod.Spec.Containers {
			if ct.Name == def {
				return def, nil
			}
		}
		for _, ct := range pod.Spec.InitContainers {
			if ct.Name == def {
				return def, nil
			}
		}
		if forLogs && warn != nil {
			fmt.Fprintf(warn, "Default container name %q not found in pod %s\n", def, pod.Name)
		}
	}
	name := pod.Spec.Containers[0].Name
	if warn != nil && (len(pod.Spec.Containers) > 1 || len(pod.Spec.InitContainers) > 0 || len(pod.Spec.EphemeralContainers) > 0) {
		fmt.Fprintf(warn, "Defaulted container %q out of: %s\n", name, allContainerNames(pod))
	}
	return name, nil
}

const defaultContainerAnnotation = "kubectl.kubernetes.io/default-container"

// allContainerNames is kubectl's list: containers, then ephemeral ones
// marked "(ephem)", then init containers marked "(init)".
func allContainerNames(pod *corev1.Pod) string {
	var names []string
	for _, ct := range pod.Spec.Containers {
		names = append(names, ct.Name)
	}
	for _, ct := range pod.Spec.EphemeralContainers {
		names = append(names, ct.Name+" (ephem)")
	}
	for _, ct := range pod.Spec.InitContainers {
		names = append(names, ct.Name+" (init)")
	}
	return strings.Join(names, ", ")
}
