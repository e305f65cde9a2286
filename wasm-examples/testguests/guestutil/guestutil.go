// Package guestutil holds what the test guests (netbench, netprobe) share:
// their exit conventions and a dial that waits for the server.
package guestutil

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strconv"
	"time"

	"github.com/wasmpod/wasmpod/wasm-examples/podnet"
)

// Fail reports a usage error on stderr and exits 2.
func Fail(format string, a ...any) {
	fmt.Fprintf(os.Stderr, format+"\n", a...)
	os.Exit(2)
}

// Check prints "WHAT: ERR" on stdout and exits 1 if err is not nil.
func Check(what string, err error) {
	if err != nil {
		fmt.Printf("%s: %v\n", what, err)
		os.Exit(1)
	}
}

// Atoi parses a non-negative count, or fails.
func Atoi(s string) int {
	n, err := strconv.Atoi(s)
	if err != nil || n < 0 {
		Fail("bad number %q", s)
	}
	return n
}

// DialRetry dials until the server listens, for up to 10 s.
func DialRetry(network, addr string) net.Conn {
	deadline := time.Now().Add(10 * time.Second)
	for {
		c, err := podnet.Dial(network, addr)
		if err == nil {
			return c
		}
		if time.Now().After(deadline) {
			Check("dial", err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// ServeText listens on addr, prints "listening ADDR" and answers every
// request with text until TERM (stdin EOF).
func ServeText(addr, text string) {
	ln, err := podnet.Listen("tcp", addr)
	Check("listen", err)
	fmt.Println("listening", ln.Addr())
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, text)
	})}
	go func() { io.Copy(io.Discard, os.Stdin); srv.Close() }()
	if err := srv.Serve(ln); err != nil && err != http.ErrServerClosed {
		Check("serve", err)
	}
}
