package streaming

// exec_spdy.go: exec and attach over SPDY/3.1, the kubelet's remotecommand
// protocols v4.channel.k8s.io, v3.channel.k8s.io and v2.channel.k8s.io
// (client-go's SPDY executor; kubectl's fallback when the WebSocket upgrade
// is refused). The client opens one stream per stdio stream, named by its
// "streamType" header: error, stdin, stdout, stderr (not with a TTY), and
// resize (a TTY, v3 on: a sequence of JSON {"Width","Height"}). The error
// stream carries the outcome: from v4 the metav1.Status as JSON (a
// non-zero exit is Reason NonZeroExitCode with an ExitCode cause), before
// that the failure message as text.

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/streaming/pkg/httpstream"
)

const (
	remoteCommandV4 = "v4.channel.k8s.io"
	remoteCommandV3 = "v3.channel.k8s.io"
	remoteCommandV2 = "v2.channel.k8s.io"
)

// remoteCommandSPDYProtocols are the SPDY remotecommand protocols served,
// most preferred first.
var remoteCommandSPDYProtocols = []string{remoteCommandV4, remoteCommandV3, remoteCommandV2}

type spdyStreamArrival struct {
	st        httpstream.Stream
	replySent <-chan struct{}
}

// spdyRemoteSession upgrades to SPDY and waits (StreamCreationTimeout) for
// the streams ro asks for. It returns nil when the upgrade or the streams
// failed (w is answered, or the connection closed).
func spdyRemoteSession(w http.ResponseWriter, req *http.Request, ro remoteOpts) *remoteSession {
	arrivals := make(chan spdyStreamArrival, 8)
	closed := make(chan struct{})
	conn, proto, err := upgradeSPDY(w, req, remoteCommandSPDYProtocols, func(st httpstream.Stream, replySent <-chan struct{}) error {
		switch t := st.Headers().Get(corev1.StreamType); t {
		case corev1.StreamTypeError, corev1.StreamTypeStdin, corev1.StreamTypeStdout, corev1.StreamTypeStderr, corev1.StreamTypeResize:
		default:
			return fmt.Errorf("unexpected stream type: %q", t)
		}
		select {
		case arrivals <- spdyStreamArrival{st, replySent}:
			return nil
		case <-closed:
			return errors.New("connection closed")
		}
	})
	if err != nil {
		close(closed)
		if !errors.Is(err, errUpgradeAnswered) {
			ro.errw.write(w, err)
		}
		return nil
	}
	teardown := func() {
		close(closed)
		conn.Close()
	}

	want := map[string]bool{corev1.StreamTypeError: true}
	if ro.stdin {
		want[corev1.StreamTypeStdin] = true
	}
	if ro.stdout {
		want[corev1.StreamTypeStdout] = true
	}
	if ro.stderr && !ro.tty {
		want[corev1.StreamTypeStderr] = true
	}
	if ro.tty && proto != remoteCommandV2 {
		want[corev1.StreamTypeResize] = true
	}
	got := map[string]httpstream.Stream{}
	var replies []<-chan struct{}
	timeout := time.NewTimer(StreamCreationTimeout)
	defer timeout.Stop()
	for len(got) < len(want) {
		select {
		case a := <-arrivals:
			t := a.st.Headers().Get(corev1.StreamType)
			if !want[t] || got[t] != nil {
				// Not asked for, or a second one: refused.
				a.st.Reset()
				conn.RemoveStreams(a.st)
				continue
			}
			got[t] = a.st
			replies = append(replies, a.replySent)
		case <-timeout.C:
			if es := got[corev1.StreamTypeError]; es != nil {
				es.Write([]byte("timed out waiting for client to create streams"))
			}
			teardown()
			return nil
		case <-conn.CloseChan():
			teardown()
			return nil
		}
	}
	for _, r := range replies {
		select {
		case <-r:
		case <-timeout.C:
			teardown()
			return nil
		case <-conn.CloseChan():
			teardown()
			return nil
		}
	}

	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		select {
		case <-conn.CloseChan():
		case <-ctx.Done():
		}
		cancel()
	}()
	sess := &remoteSession{ctx: ctx}
	if st := got[corev1.StreamTypeStdin]; st != nil {
		sess.streams.Stdin = st
	}
	if st := got[corev1.StreamTypeStdout]; st != nil {
		sess.streams.Stdout = st
	}
	if st := got[corev1.StreamTypeStderr]; st != nil {
		sess.streams.Stderr = st
	}
	if rs := got[corev1.StreamTypeResize]; rs != nil {
		resize := make(chan TerminalSize, 4)
		sess.streams.Resize = resize
		go func() {
			dec := json.NewDecoder(io.LimitReader(rs, 1<<20))
			for {
				var sz TerminalSize
				if dec.Decode(&sz) != nil {
					return
				}
				select {
				case resize <- sz:
				case <-ctx.Done():
					return
				default:
				}
			}
		}()
	}
	errStream := got[corev1.StreamTypeError]
	// A command that never reads its stdin blocks spdystream's frame
	// reader in the stdin stream's data hand-off, so a client that goes
	// away is never seen (its connection's close is never read) and the
	// command would run on until the 4 h idle timeout. As for WebSockets
	// (exec.go's ping), a write every PingPeriod finds out: an empty
	// data frame on the error stream (ignored by every spdystream reader);
	// once it fails the session is cancelled, the command killed.
	var pingMu sync.Mutex
	pingStopped := false
	go func() {
		t := time.NewTicker(PingPeriod)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
			pingMu.Lock()
			var err error
			if !pingStopped {
				_, err = errStream.Write(nil)
			}
			pingMu.Unlock()
			if err != nil {
				cancel()
				return
			}
		}
	}()
	sess.writeStatus = func(st *metav1.Status) {
		pingMu.Lock()
		pingStopped = true
		pingMu.Unlock()
		if proto == remoteCommandV4 {
			st.Kind, st.APIVersion = "Status", "v1"
			b, _ := json.Marshal(st)
			errStream.Write(b)
		} else if st.Status != metav1.StatusSuccess {
			errStream.Write([]byte(st.Message))
		}
		errStream.Close()
	}
	sess.close = func() {
		for _, st := range got {
			st.Close()
		}
		cancel()
		teardown()
	}
	return sess
}
