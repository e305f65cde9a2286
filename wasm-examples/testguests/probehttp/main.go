// Command probehttp is the test guest of the probe and lifecycle-hook tests
// (pods/probe.go, pods/hooks.go). The first argument selects the mode:
//
//	serve DIR       serve HTTP on :8080: /healthz answers 200 "ok", or 500
//	                while DIR/unhealthy exists; /redirect answers 302 to
//	                /healthz. On TERM it prints "term prestop=true" when
//	                DIR/prestop exists (else false) and exits 0.
//	touch PATH      create PATH (a hook)
//	check PATH      exit 0 when PATH exists, else print "missing PATH" and exit 1
//	exit N          exit with code N, printing "exit N"
package main

import (
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strconv"

	"github.com/wasmpod/wasmpod/wasm-examples/podnet"
	"github.com/wasmpod/wasmpod/wasm-examples/term"
)

func main() {
	if len(os.Args) < 3 {
		fmt.Fprintln(os.Stderr, "usage: probehttp serve DIR | touch PATH | check PATH | exit N")
		os.Exit(2)
	}
	arg := os.Args[2]
	switch os.Args[1] {
	case "serve":
		serve(arg)
	case "touch":
		if err := os.WriteFile(arg, nil, 0o644); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
	case "check":
		if _, err := os.Stat(arg); err != nil {
			fmt.Println("missing " + arg)
			os.Exit(1)
		}
	case "exit":
		n, _ := strconv.Atoi(arg)
		fmt.Println("exit " + arg)
		os.Exit(n)
	default:
		fmt.Fprintln(os.Stderr, "unknown mode "+os.Args[1])
		os.Exit(2)
	}
}

func exists(p string) bool { _, err := os.Stat(p); return err == nil }

func serve(dir string) {
	ln, err := podnet.Listen("tcp", ":8080")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, r *http.Request) {
		if exists(filepath.Join(dir, "unhealthy")) {
			http.Error(w, "unhealthy", http.StatusInternalServerError)
			return
		}
		fmt.Fprintln(w, "ok")
	})
	mux.HandleFunc("/redirect", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "/healthz", http.StatusFound)
	})
	go func() {
		<-term.Notify()
		fmt.Printf("term prestop=%v\n", exists(filepath.Join(dir, "prestop")))
		os.Exit(0)
	}()
	fmt.Println("serving")
	http.Serve(ln, mux)
}
