package apiserver

import (
	"net/http"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// TestHostile12ExecWebSocketMessageBounded: a client may not make the
// server hold an unbounded WebSocket message of an exec (attach shares its
// session) or port-forward stream in memory. A hostile client sends one stdin message in frames
// without ever ending it: the server must refuse it once it passes a
// bound (upstream's wsstream: 32 MiB), closing the connection, instead of
// reading the whole message into memory (gorilla's ReadMessage with no
// read limit: memory grows with every byte sent).
func TestHostile12ExecWebSocketMessageBounded(t *testing.T) {
	for _, sub := range []string{"exec?command=cat&stdin=1&stdout=1", "portforward?ports=80"} {
		t.Run(strings.Split(sub, "?")[0], func(t *testing.T) {
			_, pf, _ := pfRunningServer(t, &pfNode{})
			u := "ws" + strings.TrimPrefix(strings.TrimSuffix(pf, "portforward"), "http") + sub
			d := websocket.Dialer{Subprotocols: []string{"v5.channel.k8s.io"}}
			conn, resp, err := d.Dial(u, http.Header{})
			if err != nil {
				t.Fatalf("dial: %v (%v)", err, resp)
			}
			defer conn.Close()
			var before runtime.MemStats
			runtime.GC()
			runtime.ReadMemStats(&before)
			w, err := conn.NextWriter(websocket.BinaryMessage)
			if err != nil {
				t.Fatal(err)
			}
			chunk := make([]byte, 1<<20)
			const total = 160 // MiB
			sent := 0
			conn.SetWriteDeadline(time.Now().Add(60 * time.Second))
			if _, err := w.Write([]byte{0}); err == nil {
				for sent < total {
					if _, err := w.Write(chunk); err != nil {
						break
					}
					sent++
				}
			}
			var after runtime.MemStats
			runtime.ReadMemStats(&after)
			grew := int64(after.HeapAlloc) - int64(before.HeapAlloc)
			if sent >= total {
				t.Errorf("the server read %d MiB of one unfinished stdin message without refusing it (heap grew by %d MiB)", sent, grew>>20)
			}
			if grew > 80<<20 {
				t.Errorf("the server's heap grew by %d MiB while one client sent %d MiB of one message", grew>>20, sent)
			}
		})
	}
}
