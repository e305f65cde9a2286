//go:build wasip1

// Command netprobe is a test guest for wasmpod's socket layer
// (runtime/wasi/wasisock). Its first argument picks a mode; see usage.
// Output lines are stable: tests match them.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"syscall"
	"time"

	"github.com/wasmpod/wasmpod/wasm-examples/podnet"
	"github.com/wasmpod/wasmpod/wasm-examples/testguests/guestutil"
)

const usage = `usage: netprobe MODE ARGS...
  echo-server ADDR N      accept N connections, echo each until EOF
  dial-once ADDR          connect once, print "connected" or "dial: ERROR"
  dial-timeout ADDR MS    as dial-once, giving up after MS milliseconds
  echo-client ADDR MSG    connect (retrying 10 s), send MSG, half-close, print "got: REPLY"
  listen-hold ADDR        listen, print "listening ADDR", wait for TERM (stdin EOF)
  bind-twice ADDR         listen twice on ADDR, print the second error
  udp-server ADDR N       answer N datagrams with their upper-case text
  udp-client ADDR MSG     send MSG, print "got: REPLY"
  lookup NAME             print the addresses of NAME, one per line
  http-server ADDR TEXT   serve TEXT on every path until TERM
  http-get URL N          GET URL N times (new connection each), print each body
  block-accept ADDR       blocking-mode sock_accept (raw ABI); never returns
  block-recv ADDR         connect to ADDR, blocking-mode sock_recv; never returns
  emfile                  open sockets until failure, print the error
  badinput                call the ABI with bad arguments, print each errno`

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
	case "echo-server":
		need(2)
		echoServer(args[0], guestutil.Atoi(args[1]))
	case "echo-client":
		need(2)
		echoClient(args[0], args[1])
	case "dial-once":
		need(1)
		c, err := podnet.Dial("tcp", args[0])
		guestutil.Check("dial", err)
		fmt.Println("connected")
		c.Close()
	case "dial-timeout":
		need(2)
		ctx, cancel := context.WithTimeout(context.Background(), time.Duration(guestutil.Atoi(args[1]))*time.Millisecond)
		defer cancel()
		c, err := podnet.DialContext(ctx, "tcp", args[0])
		guestutil.Check("dial", err)
		fmt.Println("connected")
		c.Close()
	case "listen-hold":
		need(1)
		ln, err := podnet.Listen("tcp", args[0])
		guestutil.Check("listen", err)
		fmt.Println("listening", ln.Addr())
		io.Copy(io.Discard, os.Stdin)
		ln.Close()
	case "bind-twice":
		need(1)
		ln, err := podnet.Listen("tcp", args[0])
		guestutil.Check("first listen", err)
		defer ln.Close()
		_, err = podnet.Listen("tcp", args[0])
		fmt.Println("second listen:", err)
		if errors.Is(err, syscall.EADDRINUSE) {
			fmt.Println("EADDRINUSE")
		}
	case "udp-server":
		need(2)
		udpServer(args[0], guestutil.Atoi(args[1]))
	case "udp-client":
		need(2)
		udpClient(args[0], args[1])
	case "lookup":
		need(1)
		addrs, err := podnet.LookupHost(context.Background(), args[0])
		guestutil.Check("lookup", err)
		for _, a := range addrs {
			fmt.Println(a)
		}
	case "http-server":
		need(2)
		guestutil.ServeText(args[0], args[1])
	case "http-get":
		need(2)
		httpGet(args[0], guestutil.Atoi(args[1]))
	case "block-accept":
		need(1)
		blockAccept(args[0])
	case "block-recv":
		need(1)
		blockRecv(args[0])
	case "emfile":
		need(0)
		emfile()
	case "badinput":
		need(0)
		badInput()
	default:
		guestutil.Fail(usage)
	}
}

func echoServer(addr string, n int) {
	ln, err := podnet.Listen("tcp", addr)
	guestutil.Check("listen", err)
	fmt.Println("listening", ln.Addr())
	for i := 0; i < n; i++ {
		c, err := ln.Accept()
		guestutil.Check("accept", err)
		fmt.Println("accepted from", c.RemoteAddr())
		_, err = io.Copy(c, c)
		guestutil.Check("echo", err)
		c.Close()
	}
	ln.Close()
}

func echoClient(addr, msg string) {
	c := guestutil.DialRetry("tcp", addr)
	fmt.Println("connected", c.LocalAddr(), "->", c.RemoteAddr())
	_, err := io.WriteString(c, msg)
	guestutil.Check("write", err)
	guestutil.Check("close-write", c.(interface{ CloseWrite() error }).CloseWrite())
	b, err := io.ReadAll(c)
	guestutil.Check("read", err)
	fmt.Printf("got: %s\n", b)
	c.Close()
}

func udpServer(addr string, n int) {
	pc, err := podnet.ListenPacket("udp", addr)
	guestutil.Check("listen", err)
	fmt.Println("listening", pc.LocalAddr())
	buf := make([]byte, 2048)
	for i := 0; i < n; i++ {
		k, from, err := pc.ReadFrom(buf)
		guestutil.Check("recvfrom", err)
		fmt.Printf("from %v: %s\n", from, buf[:k])
		_, err = pc.WriteTo([]byte(strings.ToUpper(string(buf[:k]))), from)
		guestutil.Check("sendto", err)
	}
	pc.Close()
}

func udpClient(addr, msg string) {
	c, err := podnet.Dial("udp", addr)
	guestutil.Check("dial", err)
	buf := make([]byte, 2048)
	// Datagrams sent before the server binds are lost: resend until a reply.
	for i := 0; i < 100; i++ {
		_, err = c.Write([]byte(msg))
		guestutil.Check("send", err)
		c.SetReadDeadline(time.Now().Add(100 * time.Millisecond))
		n, err := c.Read(buf)
		if err == nil {
			fmt.Printf("got: %s\n", buf[:n])
			return
		}
	}
	guestutil.Fail("no reply")
}

func httpGet(url string, n int) {
	tr := podnet.Transport()
	tr.DisableKeepAlives = true
	client := &http.Client{Transport: tr, Timeout: 10 * time.Second}
	deadline := time.Now().Add(20 * time.Second)
	for i := 0; i < n; {
		resp, err := client.Get(url)
		if err != nil {
			if time.Now().After(deadline) {
				guestutil.Check("get", err)
			}
			time.Sleep(50 * time.Millisecond)
			continue
		}
		b, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		guestutil.Check("read body", err)
		fmt.Printf("body: %s\n", b)
		i++
	}
}
