// Command spin ignores TERM: after one line of output it loops forever
// without making a single system call, so it never notices that its stdin
// was closed. wasmpod kills it when the grace period ends, and the container
// reports exit code 137.
package main

import "fmt"

// counter is a global so that the loop has an observable effect the compiler
// must keep.
var counter uint64

func main() {
	fmt.Println("spinning, ignoring TERM")
	for {
		counter++
		// The loop's result is checked, so it is not dead code; this is only
		// true after 2^64 iterations, i.e. never in practice.
		if counter == 0 {
			fmt.Println("counter wrapped")
		}
	}
}
