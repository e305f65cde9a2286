package apiserver

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/wasmpod/wasmpod/internal/streaming"
)

// TestHostile12SPDYPingsKeepLiveSessions: the empty data frames that
// SPDY exec sessions write on their error stream every streaming.PingPeriod (to
// see a vanished client, exec_spdy.go) do not disturb a live client: the
// real kubectl over SPDY, idle across many pings, streams and exits 0.
func TestHostile12SPDYPingsKeepLiveSessions(t *testing.T) {
	defer func(p time.Duration) { streaming.PingPeriod = p }(streaming.PingPeriod)
	streaming.PingPeriod = 50 * time.Millisecond
	e := newEnv(t, HandlerOptions{})
	startBoundPod(t, e.client(t, "http"))
	k := newKubectl(t, e.srv.URL)
	c := k.cmd("exec", "-i", "p", "--", "cat")
	c.Env = append(c.Env, "KUBECTL_REMOTE_COMMAND_WEBSOCKETS=false")
	in, _ := c.StdinPipe()
	out := &lockedBuffer{}
	var stderr bytes.Buffer
	c.Stdout, c.Stderr = out, &stderr
	if err := c.Start(); err != nil {
		t.Fatal(err)
	}
	in.Write([]byte("before "))
	time.Sleep(time.Second) // about 20 pings
	in.Write([]byte("after"))
	in.Close()
	if err := c.Wait(); err != nil || out.String() != "before after" || stderr.String() != "ran cat" {
		t.Errorf("kubectl over SPDY across pings: %v stdout %q stderr %q", err, out.String(), stderr.String())
	}
	if got := e.requests(); !strings.Contains(got, "POST /api/v1/namespaces/default/pods/p/exec") {
		t.Errorf("no SPDY (POST) exec among the requests:\n%s", got)
	}
}
