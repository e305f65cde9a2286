package images

// progress.go: progress lines for long steps (a go build, a module's
// compilation, an OCI pull). On a terminal one line is rewritten in place
// every second; in a log (any other writer) a line is printed when there
// is news, at most once a second, and at least every 10 s while the step
// lasts, so that the log stays readable. Nothing is printed for a step
// shorter than a second. The lines (elapsed time in whole seconds):
//
//	Building REF: 12/40 packages (30%, 5s)            the first build of a go:// reference (buildStatus)
//	Pulling REF: 1.2 MB of 3.4 MB (35%, 2s)           an OCI pull, the module's layer (pullStatus;
//	                                                  "Pulling REF: 1.2 MB (2s)" while its size is unknown)
//	Compiling REF (3.4 MB) with wazero... 3s          a module's compilation (cli/runprogress.go)
//
// each followed, when the step ends, by a line saying how it ended
// ("Built ...", "Pulled ...", "Compiled ...", or "Failed to ...").

import (
	"fmt"
	"io"
	"os"
	"sync"
	"time"

	"golang.org/x/term"
)

// tickEvery is the refresh interval (tests shorten it).
var tickEvery = time.Second

// quietLogEvery: in a log, an unchanged status is repeated this often.
const quietLogEvery = 10

// isTerminal reports whether w is a terminal.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

// Ticker prints "<label>... <elapsed>" to w every second while a long step
// runs (e.g. Ticker(os.Stderr, "Compiling go://./hello")), until stop is
// called. Nothing is printed for a step shorter than a second. On a
// terminal the line is rewritten in place and stop erases it, so the
// caller's next line starts clean; in a log one line is printed a second
// for the first 10 s, then one every 10 s. stop waits for the printing to
// end (nothing is written after it returns) and may be called more than
// once. A nil w prints nothing.
func Ticker(w io.Writer, label string) (stop func()) {
	return startTicker(w, func(elapsed time.Duration) (string, bool) {
		return fmt.Sprintf("%s... %s", label, elapsed.Truncate(time.Second)), elapsed < quietLogEvery*tickEvery
	})
}

// startTicker calls status every tickEvery and prints its line: on a
// terminal always (rewriting the line), in a log when news is true and
// at least every quietLogEvery ticks.
func startTicker(w io.Writer, status func(elapsed time.Duration) (line string, news bool)) (stop func()) {
	if w == nil {
		return func() {}
	}
	tty := isTerminal(w)
	start := time.Now()
	done := make(chan struct{})
	finished := make(chan struct{})
	go func() {
		defer close(finished)
		t := time.NewTicker(tickEvery)
		defer t.Stop()
		printed, quiet := false, 0
		for {
			select {
			case <-done:
				if tty && printed {
					fmt.Fprint(w, "\r\x1b[K")
				}
				return
			case <-t.C:
			}
			line, news := status(time.Since(start))
			quiet++
			switch {
			case tty:
				fmt.Fprint(w, "\r\x1b[K"+line)
			case news || quiet >= quietLogEvery:
				fmt.Fprintln(w, line)
			default:
				continue
			}
			printed, quiet = true, 0
		}
	}()
	var once sync.Once
	return func() {
		once.Do(func() {
			close(done)
			<-finished
		})
	}
}

// percent is done of total in whole percent, at most 100.
func percent(done, total int64) int64 {
	if total <= 0 {
		return 0
	}
	return min(done*100/total, 100)
}

// buildStatus is a go build's progress line: packages built of those the
// main package depends on.
func buildStatus(ref string, built, total int, elapsed time.Duration) string {
	return fmt.Sprintf("Building %s: %d/%d packages (%d%%, %s)", ref, built, total, percent(int64(built), int64(total)), elapsed.Truncate(time.Second))
}

// pullStatus is an OCI pull's progress line: the bytes of the module's
// layer received, of its size when known.
func pullStatus(ref string, done, total int64, elapsed time.Duration) string {
	if total <= 0 {
		return fmt.Sprintf("Pulling %s: %s (%s)", ref, humanSize(int(done)), elapsed.Truncate(time.Second))
	}
	return fmt.Sprintf("Pulling %s: %s of %s (%d%%, %s)", ref, humanSize(int(done)), humanSize(int(total)), percent(done, total), elapsed.Truncate(time.Second))
}
