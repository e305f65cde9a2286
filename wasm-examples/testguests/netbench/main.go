// Command netbench is the guest of wasmpod's pod-network benchmarks
// (net_bench_test.go in the repository root). Servers print "listening ADDR"
// and serve until TERM (stdin EOF). Clients connect first (retrying up to
// 10 s), print "ready", wait for one line on stdin, then do the timed work
// and print "elapsed-ns N" last, so a benchmark leaves out the guest's
// start-up. Built for another GOOS it runs natively over the host's network
// (podnet is then a wrapper over package net).
package main

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strconv"
	"time"

	"github.com/wasmpod/wasmpod/wasm-examples/podnet"
	"github.com/wasmpod/wasmpod/wasm-examples/testguests/guestutil"
)

const usage = `usage: netbench MODE ARGS...
  sink ADDR                   accept connections until TERM; read each to EOF, then close it
  closer ADDR                 accept connections until TERM; close each at once
  http-server ADDR TEXT       serve TEXT on every path until TERM
  stream ADDR BYTES CHUNK     connect; timed: send BYTES in writes of CHUNK, half-close, wait for EOF
  connect ADDR N              timed: N times connect, wait for the server's close, close;
                              also prints dial-ns (total time in Dial) and read-ns
  http-load URL N KEEPALIVE   one GET (retrying); timed: N GETs (KEEPALIVE true or false);
                              prints "answers K" (K distinct bodies)
clients print "ready" and wait for a line on stdin before the timed part`

func main() {
	if len(os.Args) < 2 {
		guestutil.Fail(usage)
	}
	args := os.Args[2:]
	need := func(n int) {
		if len(args) != n {
			guestutil.Fail(usage)
		}
	}
	switch os.Args[1] {
	case "sink":
		need(1)
		serve(args[0], func(c net.Conn) {
			io.Copy(io.Discard, c)
			c.Close()
		})
	case "closer":
		need(1)
		serve(args[0], func(c net.Conn) { c.Close() })
	case "http-server":
		need(2)
		guestutil.ServeText(args[0], args[1])
	case "stream":
		need(3)
		stream(args[0], guestutil.Atoi(args[1]), guestutil.Atoi(args[2]))
	case "connect":
		need(2)
		connect(args[0], guestutil.Atoi(args[1]))
	case "http-load":
		need(3)
		keep, err := strconv.ParseBool(args[2])
		if err != nil {
			guestutil.Fail("bad KEEPALIVE %q", args[2])
		}
		httpLoad(args[0], guestutil.Atoi(args[1]), keep)
	default:
		guestutil.Fail(usage)
	}
}

// serve accepts until stdin reaches EOF (TERM) and hands each connection to
// handle on its own goroutine.
func serve(addr string, handle func(net.Conn)) {
	ln, err := podnet.Listen("tcp", addr)
	guestutil.Check("listen", err)
	fmt.Println("listening", ln.Addr())
	go func() { io.Copy(io.Discard, os.Stdin); ln.Close() }()
	for {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		go handle(c)
	}
}

// ready reports that the untimed set-up is done and waits for the go line.
func ready() {
	fmt.Println("ready")
	_, err := bufio.NewReader(os.Stdin).ReadString('\n')
	guestutil.Check("wait for go", err)
}

func stream(addr string, total, chunk int) {
	buf := make([]byte, chunk)
	for i := range buf {
		buf[i] = byte(i)
	}
	c := guestutil.DialRetry("tcp", addr)
	ready()
	start := time.Now()
	for sent := 0; sent < total; {
		n := min(chunk, total-sent)
		k, err := c.Write(buf[:n])
		guestutil.Check("write", err)
		sent += k
	}
	guestutil.Check("close-write", c.(interface{ CloseWrite() error }).CloseWrite())
	_, err := io.Copy(io.Discard, c) // the sink closes after reading everything
	guestutil.Check("read", err)
	elapsed := time.Since(start)
	c.Close()
	fmt.Println("sent", total)
	fmt.Println("elapsed-ns", elapsed.Nanoseconds())
}

func connect(addr string, n int) {
	guestutil.DialRetry("tcp", addr).Close() // the server is up
	buf := make([]byte, 1)
	ready()
	var dialing, reading time.Duration
	start := time.Now()
	for i := 0; i < n; i++ {
		t0 := time.Now()
		c, err := podnet.Dial("tcp", addr)
		guestutil.Check("dial", err)
		t1 := time.Now()
		if _, err := c.Read(buf); err != io.EOF {
			guestutil.Check("read", fmt.Errorf("want EOF, got %v", err))
		}
		reading += time.Since(t1)
		dialing += t1.Sub(t0)
		c.Close()
	}
	elapsed := time.Since(start)
	fmt.Println("connects", n)
	fmt.Println("dial-ns", dialing.Nanoseconds())
	fmt.Println("read-ns", reading.Nanoseconds())
	fmt.Println("elapsed-ns", elapsed.Nanoseconds())
}

func httpLoad(url string, n int, keepAlive bool) {
	tr := podnet.Transport()
	tr.DisableKeepAlives = !keepAlive
	client := &http.Client{Transport: tr, Timeout: 10 * time.Second}
	get := func() (string, error) {
		resp, err := client.Get(url)
		if err != nil {
			return "", err
		}
		b, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err == nil && resp.StatusCode != http.StatusOK {
			err = fmt.Errorf("%s: %s", url, resp.Status)
		}
		return string(b), err
	}
	// Wait for the Service to have endpoints (up to 10 s).
	deadline := time.Now().Add(10 * time.Second)
	for {
		_, err := get()
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			guestutil.Check("get", err)
		}
		time.Sleep(20 * time.Millisecond)
	}
	seen := map[string]bool{}
	ready()
	start := time.Now()
	for i := 0; i < n; i++ {
		body, err := get()
		guestutil.Check("get", err)
		seen[body] = true
	}
	elapsed := time.Since(start)
	fmt.Println("requests", n)
	fmt.Println("answers", len(seen))
	fmt.Println("elapsed-ns", elapsed.Nanoseconds())
}
