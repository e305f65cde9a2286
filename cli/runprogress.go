package cli

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/wasmpod/wasmpod/images"
	wruntime "github.com/wasmpod/wasmpod/runtime"
)

// quietCompile is how long a compile may take before it is reported: a
// module found in the compilation cache loads in well under a second, so a
// warm start prints nothing. (A variable for tests.)
var quietCompile = time.Second

// compileWithProgress compiles img with eng, reporting a compile that takes
// longer than quietCompile (a cold one: seconds for a small Go guest, tens
// of seconds for a large one) on w: "Compiling REF (3.4 MB) with wazero... 3s"
// (the module's size; a compile's share done is not known) as it runs
// (images.Ticker: rewritten in place on a terminal, a line a second in a
// log), then "Compiled REF in D".
func compileWithProgress(ctx context.Context, eng wruntime.Engine, ref string, img *images.Image, w io.Writer) error {
	start := time.Now()
	stop := images.Ticker(w, fmt.Sprintf("Compiling %s (%s) with wazero", ref, humanBytes(len(img.Bytes))))
	done := make(chan error, 1)
	go func() {
		_, err := eng.Compile(ctx, img.Digest, img.Bytes)
		done <- err
	}()
	var err error
	select {
	case err = <-done:
	case <-ctx.Done(): // the compile may not stop at once: do not wait for it
		err = ctx.Err()
	}
	stop()
	if ctx.Err() != nil {
		return ctx.Err()
	}
	d := time.Since(start)
	if d < quietCompile {
		return err
	}
	if err != nil {
		fmt.Fprintf(w, "Failed to compile %s in %s\n", ref, roundSecond(d))
		return err
	}
	fmt.Fprintf(w, "Compiled %s in %s\n", ref, roundSecond(d))
	return nil
}

// roundSecond rounds d to a tenth of a second.
func roundSecond(d time.Duration) time.Duration { return d.Round(100 * time.Millisecond) }
