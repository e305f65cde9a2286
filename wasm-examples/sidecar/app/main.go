// Command app is the main container of the sidecar example: it fetches its
// configuration from the sidecar over localhost three times and exits 0.
package main

import (
	"fmt"
	"io"
	"os"
	"time"

	"github.com/wasmpod/wasmpod/wasm-examples/podnet"
)

func main() {
	client := podnet.HTTPClient()
	client.Timeout = 5 * time.Second
	deadline := time.Now().Add(30 * time.Second)
	for i := 1; i <= 3; {
		resp, err := client.Get("http://localhost:9000/config")
		if err != nil {
			if time.Now().After(deadline) {
				fmt.Fprintln(os.Stderr, "sidecar unreachable:", err)
				os.Exit(1)
			}
			time.Sleep(100 * time.Millisecond)
			continue
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		fmt.Printf("config %d: %s", i, b)
		i++
	}
}
