// Command app is the app container of the init example: it starts only after
// both init containers succeeded, prints /work/config.txt and exits 0.
package main

import (
	"fmt"
	"os"
)

const config = "/work/config.txt"

func main() {
	data, err := os.ReadFile(config)
	if err != nil {
		fmt.Fprintln(os.Stderr, "app:", err)
		os.Exit(1)
	}
	fmt.Printf("app: %s contains:\n%s", config, data)
}
