package main

// exec -it in a real terminal: real kubectl v1.37.2 (and the wasmpod CLI)
// run under a pseudo-terminal, as a user's shell runs them, against
// `wasmpod serve --listen`, into the toolbox example pod. The client puts
// the terminal in raw mode, so everything the user types (Enter as CR,
// ^C as the byte 0x03) reaches the shell in the pod, which echoes it.

import (
	"bytes"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/creack/pty"
)

// ttyClient is a client running under a pseudo-terminal.
type ttyClient struct {
	t    *testing.T
	ptmx *os.File
	cmd  *exec.Cmd
	mu   sync.Mutex
	out  bytes.Buffer // everything the terminal showed
	seen int          // out[:seen] has been matched by expect
	more chan struct{}
	done chan struct{}
	code int
}

func startTTY(t *testing.T, env []string, bin string, args ...string) *ttyClient {
	t.Helper()
	cmd := exec.Command(bin, args...)
	cmd.Env, cmd.Dir = env, repoRoot
	ptmx, err := pty.StartWithSize(cmd, &pty.Winsize{Rows: 24, Cols: 80})
	if err != nil {
		t.Fatal(err)
	}
	c := &ttyClient{t: t, ptmx: ptmx, cmd: cmd, more: make(chan struct{}, 1), done: make(chan struct{})}
	readDone := make(chan struct{})
	go func() {
		defer close(readDone)
		b := make([]byte, 4096)
		for {
			n, err := ptmx.Read(b)
			c.mu.Lock()
			c.out.Write(b[:n])
			c.mu.Unlock()
			select {
			case c.more <- struct{}{}:
			default:
			}
			if err != nil {
				return
			}
		}
	}()
	go func() {
		err := cmd.Wait()
		var ee *exec.ExitError
		switch {
		case errors.As(err, &ee):
			c.code = ee.ExitCode()
		case err != nil:
			c.code = -1
		}
		close(c.done)
	}()
	t.Cleanup(func() {
		cmd.Process.Kill()
		<-c.done
		ptmx.Close()
		<-readDone
	})
	return c
}

// expect waits until the output after the last match matches re and
// returns the match.
func (c *ttyClient) expect(re string, timeout time.Duration) string {
	c.t.Helper()
	rx := regexp.MustCompile(re)
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	for {
		c.mu.Lock()
		rest := c.out.Bytes()[c.seen:]
		if loc := rx.FindIndex(rest); loc != nil {
			m := string(rest[loc[0]:loc[1]])
			c.seen += loc[1]
			c.mu.Unlock()
			return m
		}
		c.mu.Unlock()
		select {
		case <-c.more:
		case <-deadline.C:
			c.t.Fatalf("the terminal did not show %q within %v; after the last match it shows:\n%q", re, timeout, c.rest())
		}
	}
}

func (c *ttyClient) rest() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return string(c.out.Bytes()[c.seen:])
}

func (c *ttyClient) all() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.out.String()
}

// typeIn writes s as keystrokes.
func (c *ttyClient) typeIn(s string) {
	c.t.Helper()
	if _, err := io.WriteString(c.ptmx, s); err != nil {
		c.t.Fatal(err)
	}
}

// wait waits for the client to exit and returns its exit code.
func (c *ttyClient) wait(timeout time.Duration) int {
	c.t.Helper()
	select {
	case <-c.done:
		return c.code
	case <-time.After(timeout):
		c.t.Fatalf("the client did not exit within %v; the terminal shows:\n%q", timeout, c.all())
		return 0
	}
}

// TestExecInteractiveTerminal: `kubectl exec -it toolbox -- sh` and
// `wasmpod exec -it toolbox -- sh` in a real terminal: a prompt, what the
// user types is echoed and run, ^C drops the line being typed and
// interrupts a running command without ending the session, a resize
// neither breaks nor ends it, and `exit 3` ends the client with exit
// code 3 (kubectl also prints "command terminated with exit code 3").
func TestExecInteractiveTerminal(t *testing.T) {
	t.Parallel()
	dir, addr := t.TempDir(), freeAddr(t)
	serve(t, dir, "--listen", addr)
	kc := filepath.Join(dir, "kubeconfig")
	mustClient(t, buildEnv(t, kc), binPath, "apply", "-f", "wasm-examples/toolbox/pod.yaml")
	k := newKubectlUser(t, kc)
	// A cold cache compiles the 13 MB toolbox first: minutes on a busy
	// machine (each kubectl run is bounded to 2 minutes).
	for i := 0; ; i++ {
		_, errOut, code := k.run(t, "wait", "--for=condition=Ready", "pod/toolbox", "--timeout=100s")
		if code == 0 {
			break
		}
		if i == 3 {
			t.Fatalf("the toolbox pod is not Ready: %s", errOut)
		}
	}

	for _, client := range []struct{ name, bin string }{{"kubectl", k.bin}, {"wasmpod", binPath}} {
		t.Run(client.name, func(t *testing.T) {
			c := startTTY(t, k.env, client.bin, "exec", "-it", "toolbox", "--", "sh")
			const prompt = `/ # `
			c.expect(regexp.QuoteMeta(prompt), time.Minute)
			// Enter is CR in a raw terminal.
			c.typeIn("echo hi-$((1+2))\r")
			c.expect(regexp.QuoteMeta("echo hi-$((1+2))\r\nhi-3\r\n"+prompt), 30*time.Second)
			// A line ended by LF runs too.
			c.typeIn("echo $GREETING\n")
			c.expect(regexp.QuoteMeta("\r\nhello from the pod's environment\r\n"+prompt), 30*time.Second)
			// ^C drops the line being typed: the session goes on.
			c.typeIn("echo never\x03")
			c.expect(regexp.QuoteMeta("echo never^C\r\n"+prompt), 30*time.Second)
			// ^C interrupts the command that runs, not the shell.
			t0 := time.Now()
			c.typeIn("sleep 30; echo slept\r")
			c.expect(regexp.QuoteMeta("sleep 30; echo slept\r\n"), 30*time.Second)
			time.Sleep(300 * time.Millisecond) // sleep is running
			c.typeIn("\x03")
			c.expect(`\^C\r\n`+regexp.QuoteMeta(prompt), 20*time.Second)
			if d := time.Since(t0); d > 20*time.Second {
				t.Errorf("^C did not interrupt sleep 30: the prompt came back after %v", d)
			}
			if strings.Contains(c.all(), "slept") && !strings.Contains(c.all(), "echo slept") {
				t.Errorf("the interrupted list went on: %q", c.all())
			}
			c.typeIn("echo still-$((2*3))\r")
			c.expect(regexp.QuoteMeta("still-6\r\n"+prompt), 30*time.Second)
			// A resize reaches the client (SIGWINCH) and goes to the
			// server; WASI has no terminal, so the guest cannot see it,
			// but the session must go on.
			if err := pty.Setsize(c.ptmx, &pty.Winsize{Rows: 40, Cols: 120}); err != nil {
				t.Fatal(err)
			}
			c.typeIn("echo after-resize\r")
			c.expect(regexp.QuoteMeta("after-resize\r\n"+prompt), 30*time.Second)
			// A command that is not found, and a bad script, as sh.
			c.typeIn("nosuchcmd\r")
			c.expect(regexp.QuoteMeta("sh: nosuchcmd: not found\r\n"+prompt), 30*time.Second)
			c.typeIn("echo $?\r")
			c.expect(regexp.QuoteMeta("127\r\n"+prompt), 30*time.Second)
			c.typeIn("exit 3\r")
			if code := c.wait(30 * time.Second); code != 3 {
				t.Errorf("exit 3: the client exited %d; the terminal shows:\n%q", code, c.all())
			}
			if client.name == "kubectl" {
				// The client has exited; its last output may still be on
				// its way through the terminal to our reader.
				c.expect(regexp.QuoteMeta("command terminated with exit code 3"), 10*time.Second)
			}
		})
	}
}
