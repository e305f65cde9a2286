package main

import (
	"fmt"
	"io"
	"net/http"
	"os"
	"path"
	"strings"
	"time"

	"github.com/wasmpod/wasmpod/wasm-examples/podnet"
)

// wgetMain fetches an http:// URL through the pod network (its DNS
// included) to -O FILE ("-": stdout; default: the URL's base name).
func wgetMain(p *proc, args []string) int {
	set, rest, bad := flags(args, "qsS", "OT")
	if bad != "" || len(rest) != 1 {
		return p.usage("wget", or(bad, "need one URL"))
	}
	url := rest[0]
	if !strings.Contains(url, "://") {
		url = "http://" + url
	}
	timeout := 30 * time.Second
	if v, ok := set['T']; ok {
		if d, err := time.ParseDuration(v + "s"); err == nil {
			timeout = d
		}
	}
	c := podnet.HTTPClient()
	c.Timeout = timeout
	req, err := http.NewRequestWithContext(p.ctx, http.MethodGet, url, nil)
	if err != nil {
		return p.errf("wget", "bad address '%s'", rest[0])
	}
	quiet := has(set, 'q')
	if !quiet {
		fmt.Fprintf(p.stderr, "Connecting to %s\n", req.URL.Host)
	}
	resp, err := c.Do(req)
	if err != nil {
		return p.errf("wget", "can't connect to remote host: %v", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode >= 400 {
		return p.errf("wget", "server returned error: HTTP/1.1 %s", resp.Status)
	}
	out, ok := set['O']
	if !ok {
		out = path.Base(req.URL.Path)
		if out == "/" || out == "." || out == "" {
			out = "index.html"
		}
	}
	var w io.Writer = p.stdout
	if out != "-" {
		f, err := os.Create(p.abs(out))
		if err != nil {
			return p.pathErr("wget", out, err)
		}
		defer f.Close()
		w = f
		if !quiet {
			fmt.Fprintf(p.stderr, "saving to '%s'\n", out)
		}
	}
	if _, err := io.Copy(w, resp.Body); err != nil {
		return p.errf("wget", "%v", err)
	}
	if !quiet && out != "-" {
		fmt.Fprintf(p.stderr, "'%s' saved\n", out)
	}
	return 0
}
