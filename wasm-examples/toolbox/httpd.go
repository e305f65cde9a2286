package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"

	"github.com/wasmpod/wasmpod/wasm-examples/podnet"
)

// httpdMain is busybox's httpd: serve the files under -h HOME (default
// the working directory) over HTTP on -p [IP:]PORT (default 80) through
// the pod network, until the instance is stopped. It always runs in the
// foreground (-f is accepted): WASI has no daemons. `-p 127.0.0.1:8080`
// listens on the pod's loopback only, which the node's probes cannot
// reach, as on a real node.
func httpdMain(p *proc, args []string) int {
	set, rest, bad := flags(args, "fvi", "phc")
	if bad != "" || len(rest) != 0 {
		return p.usage("httpd", or(bad, "unexpected argument "+strings.Join(rest, " ")))
	}
	addr := or(set['p'], "80")
	if !strings.Contains(addr, ":") {
		addr = ":" + addr
	}
	home := p.abs(or(set['h'], "."))
	ln, err := podnet.Listen("tcp", addr)
	if err != nil {
		return p.errf("httpd", "bind: %v", err)
	}
	srv := &http.Server{Handler: http.FileServer(http.Dir(home)), BaseContext: func(net.Listener) context.Context { return p.ctx }}
	go func() {
		<-p.ctx.Done()
		srv.Close()
	}()
	if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
		fmt.Fprintf(p.stderr, "httpd: %v\n", err)
		return 1
	}
	return 0
}
