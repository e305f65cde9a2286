//go:build wasip1

package main

// spin: print "spin: ready", then loop forever without a host call,
// ignoring TERM (its stdin is never read): only a kill stops it.

import "fmt"

var spinSink uint64

func init() {
	register("spin", ": print ready, then busy-loop forever ignoring TERM", func(args []string) {
		fmt.Println("spin: ready")
		for i := uint64(0); ; i++ {
			spinSink += i * i
		}
	})
}
