package apiserver

import (
	"bytes"
	"errors"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestHostile12PodStreamSessionsBounded: a pod's concurrent exec, attach
// and port-forward sessions are bounded (one client opened 300 concurrent
// execs, each a running instance: +854 MiB in the server). Past the bound
// the real kubectl (WebSocket, and SPDY) is refused with 429 naming it;
// once a session ends another is admitted.
func TestHostile12PodStreamSessionsBounded(t *testing.T) {
	defer func(n int) { maxPodStreamSessions = n }(maxPodStreamSessions)
	maxPodStreamSessions = 2
	e := newEnv(t, HandlerOptions{})
	startBoundPod(t, e.client(t, "http"))
	k := newKubectl(t, e.srv.URL)
	type held struct {
		c     *exec.Cmd
		stdin interface{ Close() error }
		out   *lockedBuffer
	}
	var hs []held
	for i := 0; i < 2; i++ {
		c := k.cmd("exec", "-i", "p", "--", "cat")
		in, _ := c.StdinPipe()
		out := &lockedBuffer{}
		c.Stdout, c.Stderr = out, out
		if err := c.Start(); err != nil {
			t.Fatal(err)
		}
		in.Write([]byte("held\n"))
		hs = append(hs, held{c, in, out})
	}
	for _, h := range hs {
		deadline := time.Now().Add(30 * time.Second)
		for !strings.Contains(h.out.String(), "held") && time.Now().Before(deadline) {
			time.Sleep(50 * time.Millisecond)
		}
		if !strings.Contains(h.out.String(), "held") {
			t.Fatalf("a held exec did not start: %q", h.out.String())
		}
	}
	for _, ws := range []string{"true", "false"} {
		c := k.cmd("exec", "p", "--", "cat")
		c.Env = append(c.Env, "KUBECTL_REMOTE_COMMAND_WEBSOCKETS="+ws)
		var stderr bytes.Buffer
		c.Stderr = &stderr
		err := c.Run()
		var ee *exec.ExitError
		if !errors.As(err, &ee) || !strings.Contains(stderr.String(), "too many concurrent exec, attach and port-forward sessions on pod default/p (at most 2)") {
			t.Errorf("websockets=%s: a third exec: %v %q, want refused naming the bound", ws, err, stderr.String())
		}
	}
	hs[0].stdin.Close()
	hs[0].c.Wait()
	c := k.cmd("exec", "-i", "p", "--", "cat")
	c.Stdin = strings.NewReader("again")
	out, err := c.Output()
	if err != nil || string(out) != "again" {
		t.Errorf("after a session ended, an exec: %v %q", err, out)
	}
	hs[1].stdin.Close()
	hs[1].c.Wait()
}

type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}
