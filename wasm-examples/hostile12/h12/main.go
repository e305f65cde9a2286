//go:build wasip1

// Command h12 is the hostile guest of the issue-12 attack tests
// (hostile12_*_test.go): one argument per operation, run in order.
//
//	memgrow:MIB      allocate and touch MIB MiB; print "memgrow ok MIB"
//	                 (a refused growth crashes the Go runtime, exit 2)
//	print:TEXT       print TEXT and a newline
//	flood:MIB        print MIB MiB of one line without a newline (0: forever)
//	write:PATH=TEXT  create/truncate PATH with TEXT; "write PATH ok" or the error
//	symlink:T=L      make symlink L -> T; "symlink L ok" or the error
//	cat:PATH         print "cat PATH=" and the contents quoted, or the error
//	ls:DIR           print "ls DIR=a,b" (all names)
//	serve:PORT=MODE  serve HTTP on PORT in the background: MODE ok (200 "ok"),
//	                 redirect=URL (302 to URL), bigbody (200, endless body),
//	                 slowheader (never answers)
//	exit:N           exit with code N
//	hold             block forever, ignoring TERM
//	spin             busy-loop forever
package main

import (
	"fmt"
	"net/http"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/wasmpod/wasmpod/wasm-examples/podnet"
)

var hoard [][]byte

func main() {
	for _, a := range os.Args[1:] {
		op, arg, _ := strings.Cut(a, ":")
		switch op {
		case "memgrow":
			n, _ := strconv.Atoi(arg)
			for i := 0; i < n; i++ {
				b := make([]byte, 1<<20)
				for j := 0; j < len(b); j += 4096 {
					b[j] = 1
				}
				hoard = append(hoard, b)
			}
			fmt.Printf("memgrow ok %d\n", n)
		case "print":
			fmt.Println(arg)
		case "flood":
			n, _ := strconv.Atoi(arg)
			chunk := []byte(strings.Repeat("x", 1<<16))
			for i := 0; n == 0 || i < n*16; i++ {
				if _, err := os.Stdout.Write(chunk); err != nil {
					os.Exit(5)
				}
			}
		case "write":
			p, txt, _ := strings.Cut(arg, "=")
			report("write "+p, os.WriteFile(p, []byte(txt), 0o644))
		case "symlink":
			t, l, _ := strings.Cut(arg, "=")
			report("symlink "+l, os.Symlink(t, l))
		case "cat":
			b, err := os.ReadFile(arg)
			if err != nil {
				report("cat "+arg, err)
				continue
			}
			fmt.Printf("cat %s=%q\n", arg, b)
		case "ls":
			ents, err := os.ReadDir(arg)
			if err != nil {
				report("ls "+arg, err)
				continue
			}
			var names []string
			for _, e := range ents {
				names = append(names, e.Name())
			}
			fmt.Printf("ls %s=%s\n", arg, strings.Join(names, ","))
		case "serve":
			port, mode, _ := strings.Cut(arg, "=")
			go serve(port, mode)
		case "exit":
			n, _ := strconv.Atoi(arg)
			os.Exit(n)
		case "hold":
			for {
				time.Sleep(time.Hour)
			}
		case "spin":
			x := 0
			for {
				x++
			}
		default:
			fmt.Fprintf(os.Stderr, "h12: unknown op %q\n", a)
			os.Exit(2)
		}
	}
}

func report(what string, err error) {
	if err != nil {
		fmt.Printf("%s error=%v\n", what, err)
		return
	}
	fmt.Printf("%s ok\n", what)
}

func serve(port, mode string) {
	ln, err := podnet.Listen("tcp", ":"+port)
	if err != nil {
		fmt.Printf("serve error=%v\n", err)
		return
	}
	fmt.Printf("serving %s %s\n", port, mode)
	http.Serve(ln, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case mode == "ok":
			w.Write([]byte("ok"))
		case strings.HasPrefix(mode, "redirect="):
			http.Redirect(w, r, strings.TrimPrefix(mode, "redirect="), http.StatusFound)
		case mode == "bigbody":
			b := []byte(strings.Repeat("b", 1<<16))
			for {
				if _, err := w.Write(b); err != nil {
					return
				}
			}
		case mode == "slowheader":
			time.Sleep(time.Hour)
		}
	}))
}
