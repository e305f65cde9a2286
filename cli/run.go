package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"sync"
	"syscall"

	ucli "github.com/urfave/cli/v2"
	corev1 "k8s.io/api/core/v1"

	"github.com/wasmpod/wasmpod"
	"github.com/wasmpod/wasmpod/logs"
)

func runCommand() *ucli.Command {
	return &ucli.Command{
		Name:      "run",
		Usage:     "Run the Pods of a manifest in the foreground, streaming their logs",
		ArgsUsage: "FILE|-",
		Description: `Runs every Pod in FILE (multi-document YAML or JSON; "-" reads standard input)
on this machine and streams their logs prefixed [pod/container]. A status line is
printed to standard error whenever a pod's status changes.

Ctrl-C (or SIGTERM) terminates the pods gracefully, honouring each pod's
terminationGracePeriodSeconds; a second Ctrl-C kills them at once.

Exit status: 0 when every pod Succeeded; otherwise the exit code of the first
failed container, or 1 if there is none.`,
		Flags: []ucli.Flag{
			&ucli.StringFlag{Name: "data-dir", Usage: "directory for pod state (logs, emptyDir volumes); a temporary one when unset"},
			&ucli.StringFlag{Name: "cache-dir", Usage: "directory for built images and compiled modules", Value: wasmpod.DefaultCacheDir(), DefaultText: "$XDG_CACHE_HOME/wasmpod"},
			&ucli.BoolFlag{Name: "allow-host-path", Usage: "permit hostPath volumes"},
		},
		Action: runAction,
	}
}

func runAction(c *ucli.Context) error {
	if c.NArg() != 1 {
		return ucli.Exit("run needs exactly one FILE argument (or - for standard input); see 'wasmpod run --help'", 2)
	}
	stdout, stderr := c.App.Writer, c.App.ErrWriter
	ps, err := wasmpod.LoadFile(c.Args().First(), wasmpod.LoadOptions{AllowHostPath: c.Bool("allow-host-path")})
	if err != nil {
		return ucli.Exit(err.Error(), 1)
	}
	if len(ps) == 0 {
		return ucli.Exit(fmt.Sprintf("no pods found in %s", c.Args().First()), 1)
	}

	pr := &statusPrinter{w: stderr, last: map[string]string{}}
	var outMu sync.Mutex
	ctx := c.Context
	cl, err := wasmpod.New(ctx, wasmpod.Config{
		DataDir:       c.String("data-dir"),
		CacheDir:      c.String("cache-dir"),
		AllowHostPath: c.Bool("allow-host-path"),
		Progress:      stderr,
		OnStatus:      pr.status,
		OnEvent:       pr.event,
		OnLog: func(pod *corev1.Pod, container string, _ logs.Stream, line string) {
			outMu.Lock()
			fmt.Fprintf(stdout, "[%s/%s] %s\n", pod.Name, container, line)
			outMu.Unlock()
		},
	})
	if err != nil {
		return ucli.Exit(err.Error(), 1)
	}
	defer cl.Close()

	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	defer signal.Stop(sigs)

	var applied []*corev1.Pod
	for _, p := range ps {
		if err := cl.Apply(ctx, p); err != nil {
			terminateAll(cl, applied, nil)
			return ucli.Exit(err.Error(), 1)
		}
		applied = append(applied, p)
	}

	done := make(chan struct{})
	go func() {
		for _, p := range applied {
			cl.Wait(context.Background(), p.Namespace, p.Name)
		}
		close(done)
	}()
	signalled := 0
	for {
		select {
		case <-done:
			var final []*corev1.Pod
			for _, p := range applied {
				got, err := cl.Get(p.Namespace, p.Name)
				if err != nil {
					return ucli.Exit(err.Error(), 1)
				}
				final = append(final, got)
			}
			if code := wasmpod.ExitCode(final); code != 0 {
				return ucli.Exit("", code)
			}
			return nil
		case sig := <-sigs:
			signalled++
			if signalled == 1 {
				fmt.Fprintf(stderr, "%s: terminating pods gracefully (repeat to kill them now)\n", sig)
				terminateAll(cl, applied, nil)
				continue
			}
			fmt.Fprintf(stderr, "%s: killing pods\n", sig)
			for _, p := range applied {
				cl.Delete(p.Namespace, p.Name, 0)
			}
		}
	}
}

func terminateAll(cl *wasmpod.Cluster, ps []*corev1.Pod, _ error) {
	for _, p := range ps {
		if err := cl.Delete(p.Namespace, p.Name, -1); err != nil && !errors.Is(err, wasmpod.ErrNotFound) {
			continue
		}
	}
}

// statusPrinter prints a line when a pod's kubectl-style status changes,
// and warning events.
type statusPrinter struct {
	mu   sync.Mutex
	w    io.Writer
	last map[string]string
}

func (p *statusPrinter) status(pod *corev1.Pod) {
	st, ready, total, restarts := podStatus(pod)
	line := fmt.Sprintf("pod/%s %s (phase: %s, ready: %d/%d, restarts: %d)", pod.Name, st, pod.Status.Phase, ready, total, restarts)
	p.mu.Lock()
	defer p.mu.Unlock()
	prev, seen := p.last[pod.Name]
	if !seen {
		fmt.Fprintf(p.w, "pod/%s created\n", pod.Name)
	}
	if prev == line {
		return
	}
	p.last[pod.Name] = line
	fmt.Fprintln(p.w, line)
}

func (p *statusPrinter) event(pod *corev1.Pod, eventType, reason, msg string) {
	if eventType != corev1.EventTypeWarning {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	fmt.Fprintf(p.w, "%s %s pod/%s: %s\n", eventType, reason, pod.Name, msg)
}
