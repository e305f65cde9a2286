// Command helper is the sidecar of the sidecar example: it serves a small
// configuration document on localhost:9000, which only the containers of
// its own pod can reach, until TERM.
package main

import (
	"fmt"
	"log"
	"net/http"
	"os"

	"github.com/wasmpod/wasmpod/wasm-examples/podnet"
	"github.com/wasmpod/wasmpod/wasm-examples/term"
)

func main() {
	ln, err := podnet.Listen("tcp", "127.0.0.1:9000")
	if err != nil {
		log.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "greeting=hello from the sidecar of %s (you are %s)\n", os.Getenv("POD_NAME"), r.RemoteAddr)
	})}
	go func() { <-term.Notify(); srv.Close() }()
	fmt.Println("sidecar serving on", ln.Addr())
	if err := srv.Serve(ln); err != http.ErrServerClosed {
		log.Fatal(err)
	}
}
