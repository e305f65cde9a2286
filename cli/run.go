package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/wasmpod/wasmpod/cli/internal/cmdline"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/watch"

	"github.com/wasmpod/wasmpod"
	"github.com/wasmpod/wasmpod/api"
	"github.com/wasmpod/wasmpod/images"
	"github.com/wasmpod/wasmpod/logs"
	"github.com/wasmpod/wasmpod/pods"
)

func runCommand() *cmdline.Command {
	return &cmdline.Command{
		Name:      "run",
		Usage:     "Run the Pods (and Services, ...) of a manifest in the foreground, streaming their logs",
		ArgsUsage: "FILE|DIR|-",
		Description: `Creates every object in FILE (multi-document YAML or JSON; "-" reads standard
input; a directory DIR, its .yaml, .yml and .json files in name order, as
apply -f does; Services and other kinds first) on an in-process control plane (API
server, scheduler, one node), runs its Pods and streams their logs prefixed
[pod/container]. A status line is printed to standard error
whenever a pod's status changes, with warning events.

Ctrl-C (or SIGTERM) terminates the pods gracefully, honouring each pod's
terminationGracePeriodSeconds; a second Ctrl-C kills them at once. Before
any pod started (while images build and compile) it stops the command at
once, with exit status 128 plus the signal's number (130 for Ctrl-C).

Exit status: 0 when every pod Succeeded; otherwise the exit code of the first
failed container, or 1 if there is none.`,
		Flags: []cmdline.Flag{
			&cmdline.StringFlag{Name: "data-dir", Usage: "directory for pod state (logs, emptyDir volumes); a temporary one when unset"},
			&cmdline.StringFlag{Name: "cache-dir", Usage: "directory for built images and compiled modules", Value: wasmpod.DefaultCacheDir(), DefaultText: "$XDG_CACHE_HOME/wasmpod"},
			&cmdline.BoolFlag{Name: "recursive", Aliases: []string{"R"}, Usage: "read the manifests of DIR's subdirectories too"},
			&cmdline.BoolFlag{Name: "allow-host-path", Usage: "permit hostPath volumes"},
			&cmdline.BoolFlag{Name: "deny-egress", Usage: "refuse pods' connections to addresses outside the cluster (the guest gets EACCES)"},
		},
		Action: runAction,
	}
}

func runAction(c *cmdline.Context) error {
	if c.NArg() != 1 {
		return cmdline.Exit("run needs exactly one FILE or DIR argument (or - for standard input); see 'wasmpod run --help'", 2)
	}
	stdout, stderr := c.App.Writer, c.App.ErrWriter
	files, err := manifestFiles(c.Args().First(), c.Bool("recursive"))
	if err != nil {
		return err
	}
	var ps []*corev1.Pod
	var podDocs []api.Document // where each of ps came from, for errors
	var others []runtime.Object
	for _, f := range files {
		docs, err := wasmpod.LoadDocuments(f, wasmpod.LoadOptions{AllowHostPath: c.Bool("allow-host-path")})
		if err != nil {
			return cmdline.Exit(err.Error(), 1)
		}
		for _, d := range docs {
			if p, ok := d.Object.(*corev1.Pod); ok {
				ps = append(ps, p)
				podDocs = append(podDocs, d)
			} else {
				others = append(others, d.Object)
			}
		}
	}
	if len(ps) == 0 {
		return cmdline.Exit(fmt.Sprintf("no pods found in %s", c.Args().First()), 1)
	}
	// The status lines, the spinner and the pods' logs take turns.
	pr := &statusPrinter{w: stderr, last: map[string]string{}, events: map[string]int32{}, tty: isTTY(stderr)}
	ctx := c.Context
	cl, err := wasmpod.New(ctx, wasmpod.Config{
		DataDir:       c.String("data-dir"),
		CacheDir:      c.String("cache-dir"),
		AllowHostPath: c.Bool("allow-host-path"),
		DenyEgress:    c.Bool("deny-egress"),
		Progress:      stderr,
		OnLog: func(pod *corev1.Pod, container string, _ logs.Stream, line string) {
			pr.printf(stdout, "[%s/%s] %s\n", pod.Name, container, line)
		},
	})
	if err != nil {
		return cmdline.Exit(err.Error(), 1)
	}
	defer cl.Close()

	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	defer signal.Stop(sigs)

	// Resolve and compile every image first: a bad image fails the command,
	// naming its place in the manifest, instead of leaving a pod in
	// ImagePullBackOff. Ctrl-C (or SIGTERM) meanwhile stops the command at
	// once (a first build and compile take a while): no pod runs yet.
	if sig, err := prepareInterruptibly(ctx, cl, podDocs, stderr, sigs); sig != nil {
		return cmdline.Exit(fmt.Sprintf("%s: stopped before any pod started", sig), 128+int(sig.(syscall.Signal)))
	} else if err != nil {
		return cmdline.Exit(err.Error(), 1)
	}

	want := map[string]bool{}
	for _, p := range ps {
		want[p.Namespace+"/"+p.Name] = true
	}
	podW, err := cl.Watch(ctx, "pods", "", metav1.ListOptions{})
	if err != nil {
		return cmdline.Exit(err.Error(), 1)
	}
	defer podW.Stop()
	evW, err := cl.Watch(ctx, "events", "", metav1.ListOptions{FieldSelector: "type=Warning"})
	if err != nil {
		return cmdline.Exit(err.Error(), 1)
	}
	defer evW.Stop()
	go func() {
		for ev := range evW.ResultChan() {
			if e, ok := ev.Object.(*corev1.Event); ok && want[e.InvolvedObject.Namespace+"/"+e.InvolvedObject.Name] {
				pr.event(e)
			}
		}
	}()

	// Services, ConfigMaps and the like first, as their pods may need them.
	for _, o := range others {
		out, err := cl.Apply(ctx, o)
		if err != nil {
			return cmdline.Exit(err.Error(), 1)
		}
		if m, err := meta.Accessor(out); err == nil {
			fmt.Fprintf(stderr, "%s/%s created\n", strings.ToLower(out.GetObjectKind().GroupVersionKind().Kind), m.GetName())
		}
	}
	for _, p := range ps {
		if _, err := cl.Apply(ctx, p); err != nil {
			return cmdline.Exit(err.Error(), 1)
		}
	}
	if pr.tty {
		stopSpin, spinDone := make(chan struct{}), make(chan struct{})
		go func() { pr.spin(stopSpin); close(spinDone) }()
		defer func() { close(stopSpin); <-spinDone }()
	}

	final := map[string]*corev1.Pod{}
	killed := false
	signalled := 0
	for len(final) < len(ps) {
		select {
		case ev, ok := <-podW.ResultChan():
			if !ok {
				return cmdline.Exit("watch of pods ended unexpectedly", 1)
			}
			p, isPod := ev.Object.(*corev1.Pod)
			if !isPod || !want[p.Namespace+"/"+p.Name] {
				continue
			}
			k := p.Namespace + "/" + p.Name
			switch {
			case ev.Type == watch.Deleted:
				final[k] = p
			case ev.Type == watch.Added || ev.Type == watch.Modified:
				pr.status(p)
				if wasmpod.PodTerminal(p) {
					final[k] = p
				}
			}
		case sig := <-sigs:
			signalled++
			grace := (*int64)(nil)
			if signalled == 1 {
				pr.printf(stderr, "%s: terminating pods gracefully (repeat to kill them now)\n", sig)
			} else {
				pr.printf(stderr, "%s: killing pods\n", sig)
				zero := int64(0)
				grace, killed = &zero, true
			}
			for _, p := range ps {
				if final[p.Namespace+"/"+p.Name] == nil {
					cl.Delete(context.Background(), "pods", p.Namespace, p.Name, metav1.DeleteOptions{GracePeriodSeconds: grace})
				}
			}
		}
	}
	var out []*corev1.Pod
	for _, p := range ps {
		out = append(out, final[p.Namespace+"/"+p.Name])
	}
	if code := exitCode(out, killed); code != 0 {
		return cmdline.Exit("", code)
	}
	return nil
}

// exitCode is wasmpod.ExitCode, counting a pod that was killed (deleted
// with grace 0) before it finished as killed: 137.
func exitCode(ps []*corev1.Pod, killed bool) int {
	if killed {
		for _, p := range ps {
			if !wasmpod.PodTerminal(p) {
				return 137 // deleted with grace 0 while it ran (or was starting)
			}
		}
	}
	return wasmpod.ExitCode(ps)
}

// statusPrinter prints a line when a pod's kubectl-style status changes,
// and warning events.
type statusPrinter struct {
	mu     sync.Mutex
	w      io.Writer
	last   map[string]string
	events map[string]int32

	// The spinner (runspinner.go): on a terminal only; the pods not yet
	// Running, the frame, whether it is on the screen, since when.
	tty     bool
	waiting map[string]bool
	frame   int
	shown   bool
	start   time.Time
	since   time.Time
}

func (p *statusPrinter) status(pod *corev1.Pod) {
	st, ready, total, restarts := podStatus(pod)
	line := fmt.Sprintf("pod/%s %s (phase: %s, ready: %d/%d, restarts: %d)", pod.Name, st, pod.Status.Phase, ready, total, restarts)
	p.mu.Lock()
	defer p.mu.Unlock()
	p.waitingFor(pod)
	prev, seen := p.last[pod.Name]
	if !seen {
		p.erase()
		fmt.Fprintf(p.w, "pod/%s created\n", pod.Name)
	}
	if prev == line {
		return
	}
	p.last[pod.Name] = line
	p.erase()
	fmt.Fprintln(p.w, line)
}

func (p *statusPrinter) event(e *corev1.Event) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if e.Count <= p.events[string(e.UID)] && e.Count != 0 {
		return
	}
	p.events[string(e.UID)] = e.Count
	p.erase()
	fmt.Fprintf(p.w, "%s %s pod/%s: %s\n", e.Type, e.Reason, e.InvolvedObject.Name, e.Message)
}

// prepareInterruptibly is prepareImages, cancelled by a signal on sigs:
// then it returns the signal (and a signal that comes after it finished is
// left on sigs).
func prepareInterruptibly(ctx context.Context, cl *wasmpod.Cluster, docs []api.Document, w io.Writer, sigs <-chan os.Signal) (os.Signal, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var sig os.Signal
	finished, watched := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(watched)
		select {
		case sig = <-sigs:
			cancel()
		case <-finished:
		}
	}()
	err := prepareImages(ctx, cl, docs, w)
	close(finished)
	<-watched
	return sig, err
}

// prepareImages resolves (building go:// images) and compiles the image of
// every container of the pods in docs, in order, printing progress to w. An
// error names the manifest file, document and field of the image, as
// api.Error does for manifest errors.
func prepareImages(ctx context.Context, cl *wasmpod.Cluster, docs []api.Document, w io.Writer) error {
	for _, d := range docs {
		p := d.Object.(*corev1.Pod)
		type ref struct {
			field string
			image string
		}
		var refs []ref
		for i, ctr := range p.Spec.InitContainers {
			refs = append(refs, ref{fmt.Sprintf("spec.initContainers[%d].image", i), ctr.Image})
		}
		for i, ctr := range p.Spec.Containers {
			refs = append(refs, ref{fmt.Sprintf("spec.containers[%d].image", i), ctr.Image})
		}
		for _, r := range refs {
			fail := func(err error) error {
				cause := err
				if ie := (*images.Error)(nil); errors.As(err, &ie) && ie.Err != nil {
					cause = ie.Err // its message repeats `image "REF": `
				}
				return &api.Error{Source: d.Source, Index: d.Index, Item: d.Item, Line: d.Line,
					Kind: "Pod", Name: p.Name, Field: r.field,
					Detail: fmt.Sprintf("image %q: %v", r.image, cause), Err: err}
			}
			img, err := cl.Images().Resolve(ctx, r.image, p.Annotations[pods.AnnotationManifestDir])
			if err != nil {
				return fail(err)
			}
			if err := compileWithProgress(ctx, cl.Engine(), r.image, img, w); err != nil {
				return fail(err)
			}
		}
	}
	return nil
}
