// Command hostport serves HTTP on :8080 until TERM; its pod maps host port
// 8080 to it, so the host can reach it with curl.
package main

import (
	"fmt"
	"log"
	"net/http"
	"os"
	"sync/atomic"
	"time"

	"github.com/wasmpod/wasmpod/wasm-examples/podnet"
	"github.com/wasmpod/wasmpod/wasm-examples/term"
)

func main() {
	ln, err := podnet.Listen("tcp", ":8080")
	if err != nil {
		log.Fatal(err)
	}
	var hits atomic.Int64
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := hits.Add(1)
		fmt.Fprintf(w, "hello from %s, a WebAssembly pod (request %d, %s %s, from %s, at %s)\n",
			os.Getenv("POD_NAME"), n, r.Method, r.URL.Path, r.RemoteAddr, time.Now().UTC().Format(time.RFC3339))
	})}
	go func() { <-term.Notify(); srv.Close() }()
	fmt.Println("serving on", ln.Addr(), "- try: curl http://127.0.0.1:8080/")
	if err := srv.Serve(ln); err != http.ErrServerClosed {
		log.Fatal(err)
	}
	fmt.Println("bye")
}
