package locate

import (
	"bufio"
	"fmt"
	"net"
	"net/http"
	"path/filepath"
	"testing"
)

// The loopback tunnel used for exec over a Unix socket must not let other
// local users reach the socket: CONNECT without this process's secret is
// refused.
func TestUnixTunnelRequiresSecret(t *testing.T) {
	sock := filepath.Join(t.TempDir(), "s.sock")
	ln, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	p := &unixProxy{path: sock}
	req, _ := http.NewRequest("GET", "http://localhost/api/v1/namespaces/default/pods/x/exec", nil)
	req.Header.Set("Upgrade", "websocket")
	u, err := p.proxy(req)
	if err != nil || u == nil {
		t.Fatalf("proxy: %v %v", u, err)
	}
	connect := func(auth string) string {
		c, err := net.Dial("tcp", u.Host)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		fmt.Fprintf(c, "CONNECT localhost:80 HTTP/1.1\r\nHost: localhost:80\r\n")
		if auth != "" {
			fmt.Fprintf(c, "Proxy-Authorization: %s\r\n", auth)
		}
		fmt.Fprint(c, "\r\n")
		resp, err := http.ReadResponse(bufio.NewReader(c), nil)
		if err != nil {
			t.Fatal(err)
		}
		return resp.Status
	}
	if st := connect(""); st != "407 Proxy Authentication Required" {
		t.Fatalf("no secret: %s", st)
	}
	if st := connect("Basic d2FzbXBvZDp3cm9uZw=="); st != "407 Proxy Authentication Required" {
		t.Fatalf("wrong secret: %s", st)
	}
	if st := connect(p.auth); st != "200 Connection established" {
		t.Fatalf("right secret: %s", st)
	}
}
