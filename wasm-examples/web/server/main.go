// Command server answers every HTTP request on :8080 with its pod name and
// shuts down cleanly on TERM. It is the backend of the web example.
package main

import (
	"context"
	"fmt"
	"log"
	"net/http"
	"os"
	"time"

	"github.com/wasmpod/wasmpod/wasm-examples/podnet"
	"github.com/wasmpod/wasmpod/wasm-examples/term"
)

func main() {
	name := os.Getenv("POD_NAME")
	ln, err := podnet.Listen("tcp", ":8080")
	if err != nil {
		log.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "hello from %s\n", name)
	})}
	go func() {
		<-term.Notify()
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		srv.Shutdown(ctx)
	}()
	fmt.Printf("%s listening on %s\n", name, ln.Addr())
	if err := srv.Serve(ln); err != http.ErrServerClosed {
		log.Fatal(err)
	}
	fmt.Println("shut down")
}
