package cli

// runspinner.go: `wasmpod run`'s spinner. On a terminal, while a pod of
// the run is neither Running nor finished, one line
//
//	⠙ Waiting for pod/hello to be Running... 2s
//
// is redrawn in place on stderr (spinEvery) and erased before any other
// line is printed (status lines, warning events, the pods' logs on
// stdout), so that what stays on the screen is the same lines a log gets.
// Anywhere else (a file, a pipe, a CI log) there is no spinner: the status
// lines say the same.

import (
	"fmt"
	"io"
	"os"
	"time"

	"golang.org/x/term"
	corev1 "k8s.io/api/core/v1"

	"github.com/wasmpod/wasmpod"
)

// spinEvery is the spinner's frame interval (a variable for tests).
var spinEvery = 100 * time.Millisecond

var spinFrames = []string{"⠋", "⠙", "⠹", "⠸", "⠼", "⠴", "⠦", "⠧", "⠇", "⠏"}

// isTTY reports whether w is a terminal.
func isTTY(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

// waitingFor records whether pod is still waiting to run (p.mu held).
func (p *statusPrinter) waitingFor(pod *corev1.Pod) {
	if p.waiting == nil {
		p.waiting = map[string]bool{}
	}
	if pod.Status.Phase == corev1.PodRunning || wasmpod.PodTerminal(pod) {
		delete(p.waiting, pod.Name)
		return
	}
	p.waiting[pod.Name] = true
}

// erase removes the spinner's line (p.mu held).
func (p *statusPrinter) erase() {
	if p.shown {
		fmt.Fprint(p.w, "\r\x1b[K")
		p.shown = false
	}
}

// tick draws the spinner's next frame, or erases it when no pod waits (a
// terminal only).
func (p *statusPrinter) tick(now time.Time) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.tty {
		return
	}
	name := ""
	for n := range p.waiting {
		if name == "" || n < name {
			name = n
		}
	}
	if name == "" {
		p.erase()
		return
	}
	if p.start.IsZero() {
		p.start = now
	}
	what := "pod/" + name
	if len(p.waiting) > 1 {
		what = fmt.Sprintf("%d pods", len(p.waiting))
	}
	fmt.Fprintf(p.w, "\r\x1b[K%s Waiting for %s to be Running... %s", spinFrames[p.frame%len(spinFrames)], what, now.Sub(p.start).Truncate(time.Second))
	p.frame++
	p.shown = true
}

// spin runs the spinner until stop is closed, then erases it.
func (p *statusPrinter) spin(stop <-chan struct{}) {
	t := time.NewTicker(spinEvery)
	defer t.Stop()
	for {
		select {
		case <-stop:
			p.mu.Lock()
			p.erase()
			p.mu.Unlock()
			return
		case now := <-t.C:
			p.tick(now)
		}
	}
}

// printf prints a line of its own (the spinner erased first).
func (p *statusPrinter) printf(w io.Writer, format string, args ...any) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.erase()
	fmt.Fprintf(w, format, args...)
}
