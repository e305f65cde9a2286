// Command burn keeps its CPU busy, for the HorizontalPodAutoscaler: with
// $BURN unset or anything but "0" it spins in a tight loop (no system
// calls), so its usage is whatever the node gives it; with BURN=0 it
// idles (sleeps). A Deployment of it with a cpu request and an HPA scales
// up while it burns, and down after `kubectl set env deployment/burn
// BURN=0` rolls idle pods out.
package main

import (
	"fmt"
	"os"
	"time"
)

// counter is a global so that the loop has an observable effect the
// compiler must keep.
var counter uint64

func main() {
	if os.Getenv("BURN") == "0" {
		fmt.Println("idling (BURN=0)")
		for {
			time.Sleep(time.Hour)
		}
	}
	fmt.Println("burning CPU")
	for {
		counter++
		if counter == 0 {
			fmt.Println("counter wrapped")
		}
	}
}
