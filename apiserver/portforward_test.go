package apiserver

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	corev1 "k8s.io/api/core/v1"
)

// pfNode echoes each port-forward stream after a "port:" prefix; port 9
// is refused.
type pfNode struct{ fakeNode }

func (f *pfNode) PortForward(ctx context.Context, pod *corev1.Pod, port int32, conn io.ReadWriteCloser) error {
	if port == 9 {
		return fmt.Errorf("error forwarding port 9 to pod %s: connection refused", pod.Name)
	}
	fmt.Fprintf(conn, "%d:", port)
	_, err := io.Copy(conn, conn)
	return err
}

func pfServer(t *testing.T, node NodeConnector) (*Server, string) {
	t.Helper()
	s, _ := newServer(t)
	if node != nil {
		s.RegisterNode("node-1", node)
	}
	p := testPod("web")
	p.Spec.NodeName = "node-1"
	if _, err := s.Create(context.Background(), res(t, s, "", "pods"), "default", p); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(s.Handler(HandlerOptions{}))
	t.Cleanup(srv.Close)
	return s, "ws" + strings.TrimPrefix(srv.URL, "http") + "/api/v1/namespaces/default/pods/web/portforward"
}

func TestPortForwardWebSocket(t *testing.T) {
	_, url := pfServer(t, &pfNode{})
	d := websocket.Dialer{Subprotocols: PortForwardProtocols}
	conn, _, err := d.Dial(url+"?ports=8080,9", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if conn.Subprotocol() != "v5.channel.k8s.io" {
		t.Errorf("subprotocol %q", conn.Subprotocol())
	}
	conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	// Four port-prefix messages: channels 0..3, ports 8080, 8080, 9, 9.
	for i, want := range []uint16{8080, 8080, 9, 9} {
		_, m, err := conn.ReadMessage()
		if err != nil || len(m) != 3 || int(m[0]) != i || binary.LittleEndian.Uint16(m[1:]) != want {
			t.Fatalf("prefix %d: %v %v", i, m, err)
		}
	}
	conn.WriteMessage(websocket.BinaryMessage, append([]byte{0}, "hello"...))
	conn.WriteMessage(websocket.BinaryMessage, []byte{255, 0}) // end of input on channel 0
	var data, errs0, errs3 bytes.Buffer
	for {
		_, m, err := conn.ReadMessage()
		if err != nil {
			break
		}
		switch m[0] {
		case 0:
			data.Write(m[1:])
		case 1:
			errs0.Write(m[1:])
		case 3:
			errs3.Write(m[1:])
		}
	}
	if data.String() != "8080:hello" || errs0.Len() != 0 {
		t.Errorf("port 8080: %q, errors %q", data.String(), errs0.String())
	}
	if !strings.Contains(errs3.String(), "connection refused") {
		t.Errorf("port 9 error channel: %q", errs3.String())
	}
}

func TestPortForwardErrors(t *testing.T) {
	_, url := pfServer(t, &fakeNode{}) // no PortForward capability
	httpURL := "http" + strings.TrimPrefix(url, "ws")
	d := websocket.Dialer{Subprotocols: PortForwardProtocols}
	cases := []struct {
		url  string
		code int
		msg  string
	}{
		{url + "?ports=8080", http.StatusServiceUnavailable, "node node-1 does not support port-forward"},
		{url, http.StatusBadRequest, `query parameter \"ports\" is required`},
		{url + "?ports=0", http.StatusBadRequest, "unable to parse"},
		{strings.Replace(url, "/web/", "/nope/", 1) + "?ports=80", http.StatusNotFound, `pods \"nope\" not found`},
	}
	for _, c := range cases {
		_, resp, err := d.Dial(c.url, nil)
		if err == nil || resp == nil {
			t.Errorf("%s: dial succeeded", c.url)
			continue
		}
		body, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != c.code || !strings.Contains(string(body), c.msg) {
			t.Errorf("%s: %d %s, want %d %q", c.url, resp.StatusCode, body, c.code, c.msg)
		}
	}
	resp, err := http.Get(httpURL + "?ports=80")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusBadRequest || !strings.Contains(string(body), "pods/portforward needs an upgrade") {
		t.Errorf("plain GET: %d %s", resp.StatusCode, body)
	}
}
