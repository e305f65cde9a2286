// Command prepare is the first init container of the init example: it writes
// /work/config.txt into the pod's emptyDir volume.
package main

import (
	"fmt"
	"os"
)

const config = "/work/config.txt"

func main() {
	if err := os.WriteFile(config, []byte("greeting=hello from init\n"), 0o644); err != nil {
		fmt.Fprintln(os.Stderr, "prepare:", err)
		os.Exit(1)
	}
	fmt.Println("prepare: wrote", config)
}
