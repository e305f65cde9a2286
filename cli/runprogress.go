package cli

import (
	"context"
	"fmt"
	"io"
	"os"
	"time"

	"golang.org/x/term"

	"github.com/wasmpod/wasmpod/images"
	wruntime "github.com/wasmpod/wasmpod/runtime"
)

// quietCompile is how long a compile may take before it is reported: a
// module found in the compilation cache loads in well under a second, so a
// warm start prints nothing. (A variable for tests.)
var quietCompile = time.Second

// compileWithProgress compiles img with eng. A compile that takes longer
// than quietCompile (a cold one: seconds for a small Go guest, tens of
// seconds for a large one) is reported on w: "Compiling REF ..." and its
// elapsed time, every second on a terminal (rewriting the line) and every
// 5 s otherwise (one line each), then "Compiled REF in D".
func compileWithProgress(ctx context.Context, eng wruntime.Engine, ref string, img *images.Image, w io.Writer) error {
	start := time.Now()
	done := make(chan error, 1)
	go func() {
		_, err := eng.Compile(ctx, img.Digest, img.Bytes)
		done <- err
	}()
	if quietCompile > 0 {
		quiet := time.NewTimer(quietCompile)
		select {
		case err := <-done:
			quiet.Stop()
			return err
		case <-quiet.C:
		}
	}
	tty := isTerminal(w)
	every := 5 * time.Second
	if tty {
		every = time.Second
	}
	fmt.Fprintf(w, "Compiling %s ...", ref)
	if !tty {
		fmt.Fprintln(w)
	}
	tick := time.NewTicker(every)
	defer tick.Stop()
	for {
		select {
		case err := <-done:
			d := time.Since(start)
			if tty {
				fmt.Fprint(w, "\r\x1b[K")
			}
			if err != nil {
				fmt.Fprintf(w, "Failed to compile %s in %s\n", ref, roundSecond(d))
				return err
			}
			fmt.Fprintf(w, "Compiled %s in %s\n", ref, roundSecond(d))
			return nil
		case <-tick.C:
			el := time.Since(start).Round(time.Second)
			if tty {
				fmt.Fprintf(w, "\r\x1b[KCompiling %s ... %s", ref, el)
			} else {
				fmt.Fprintf(w, "Compiling %s ... %s\n", ref, el)
			}
		}
	}
}

// roundSecond rounds d to a tenth of a second.
func roundSecond(d time.Duration) time.Duration { return d.Round(100 * time.Millisecond) }

// isTerminal reports whether w is a terminal.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}
