// Command graceful shows graceful shutdown on wasmpod. It does periodic work
// until TERM arrives (wasmpod closes the container's stdin; see package
// term), then cleans up and exits 0 well within its grace period.
package main

import (
	"fmt"
	"time"

	"github.com/wasmpod/wasmpod/wasm-examples/term"
)

func main() {
	termCh := term.Notify()
	fmt.Println("ready")

	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	for running := true; running; {
		select {
		case <-tick.C:
			fmt.Println("working")
		case <-termCh:
			running = false
		}
	}

	fmt.Println("TERM received, cleaning up")
	time.Sleep(200 * time.Millisecond) // stands in for flushing state, closing connections...
	fmt.Println("clean exit")
}
