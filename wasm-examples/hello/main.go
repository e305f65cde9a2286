// Command hello is the smallest wasmpod guest: it greets with the pod name
// (from the POD_NAME environment variable, which pod.yaml fills in through
// the downward API), prints its arguments and exits 0.
package main

import (
	"fmt"
	"os"
	"strings"
)

func main() {
	name := os.Getenv("POD_NAME")
	if name == "" {
		name = "an unnamed pod"
	}
	fmt.Printf("hello from %s\n", name)
	fmt.Printf("args: %s\n", strings.Join(os.Args[1:], " "))
}
