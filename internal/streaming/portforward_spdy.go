package streaming

// portforward_spdy.go serves pods/{name}/portforward over SPDY (protocol
// "portforward.k8s.io"), plain or tunnelled in WebSocket, as the kubelet's
// port-forward server does: the client opens, per forwarded connection, an
// "error" and a "data" stream carrying the same "port" and "requestID"
// headers; once both are there the server dials the port in the pod and
// copies between it and the data stream. A dial failure is written as text
// on the error stream ("error forwarding port P to pod NAME, uid UID: ...")
// and the SPDY connection stays up for the next request. A pair whose
// second stream does not arrive within StreamCreationTimeout is given up
// with "timed out waiting for streams" on its error stream.

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/streaming/pkg/httpstream"
)

const portForwardProtocolV1 = "portforward.k8s.io"

// MaxPendingPortForwardPairs bounds the requests of one connection that
// have only one of their two streams (each holds a timer until
// StreamCreationTimeout).
const MaxPendingPortForwardPairs = 256

// portForwardStreamReceived checks a new stream's headers as the kubelet
// does (a valid port, a known stream type) and hands it to streams.
func portForwardStreamReceived(streams chan<- httpstream.Stream, closed <-chan struct{}) httpstream.NewStreamHandler {
	return func(st httpstream.Stream, replySent <-chan struct{}) error {
		ps := st.Headers().Get(corev1.PortHeader)
		if ps == "" {
			return fmt.Errorf("%q header is required", corev1.PortHeader)
		}
		port, err := strconv.ParseUint(ps, 10, 16)
		if err != nil {
			return fmt.Errorf("unable to parse %q as a port: %v", ps, err)
		}
		if port < 1 {
			return fmt.Errorf("port %q must be > 0", ps)
		}
		switch t := st.Headers().Get(corev1.StreamType); t {
		case corev1.StreamTypeError, corev1.StreamTypeData:
		case "":
			return fmt.Errorf("%q header is required", corev1.StreamType)
		default:
			return fmt.Errorf("invalid stream type %q", t)
		}
		select {
		case streams <- st:
			return nil
		case <-closed:
			return errors.New("connection closed")
		}
	}
}

// pfPair is one forwarded connection's two streams.
type pfPair struct {
	id            string
	mu            sync.Mutex
	data, errs    httpstream.Stream
	complete      chan struct{}
	completedOnce bool
}

func (p *pfPair) add(st httpstream.Stream) (bool, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	switch st.Headers().Get(corev1.StreamType) {
	case corev1.StreamTypeError:
		if p.errs != nil {
			return false, errors.New("error stream already assigned")
		}
		p.errs = st
	case corev1.StreamTypeData:
		if p.data != nil {
			return false, errors.New("data stream already assigned")
		}
		p.data = st
	}
	if p.errs != nil && p.data != nil && !p.completedOnce {
		p.completedOnce = true
		close(p.complete)
		return true, nil
	}
	return false, nil
}

func (p *pfPair) printError(msg string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.errs != nil {
		p.errs.Write([]byte(msg))
	}
}

// servePortForwardSPDY answers a port-forward request that asks for SPDY
// (tunnelled or plain).
func servePortForwardSPDY(w http.ResponseWriter, req *http.Request, t pfTarget) {
	// The pod must exist and be forwardable before the upgrade, so that
	// errors are plain HTTP Status responses (any port will do here).
	if err := t.check(req.Context(), 1); err != nil {
		t.errw.write(w, err)
		return
	}
	closed := make(chan struct{})
	streams := make(chan httpstream.Stream, 1)
	conn, _, err := upgradeSPDY(w, req, []string{portForwardProtocolV1}, portForwardStreamReceived(streams, closed))
	if err != nil {
		close(closed)
		if !errors.Is(err, errUpgradeAnswered) {
			t.errw.write(w, err)
		}
		return
	}
	ctx, cancel := context.WithCancel(context.Background())
	var (
		mu    sync.Mutex
		pairs = map[string]*pfPair{}
		wg    sync.WaitGroup
	)
	defer func() {
		// Stop the forwards, then tear the connection down (its writes
		// have deadlines, so a client that stopped reading cannot hold
		// this up).
		cancel()
		close(closed)
		conn.Close()
		wg.Wait()
	}()
	remove := func(p *pfPair) {
		mu.Lock()
		defer mu.Unlock()
		p.mu.Lock()
		conn.RemoveStreams(p.data, p.errs)
		p.mu.Unlock()
		delete(pairs, p.id)
	}
	for {
		var st httpstream.Stream
		select {
		case <-conn.CloseChan():
			return
		case st = <-streams:
		}
		id := st.Headers().Get(corev1.PortForwardRequestIDHeader)
		if id == "" {
			// Older clients send no requestID: pair consecutive streams
			// as the kubelet does (error stream N, data stream N+2).
			switch st.Headers().Get(corev1.StreamType) {
			case corev1.StreamTypeError:
				id = strconv.Itoa(int(st.Identifier()))
			case corev1.StreamTypeData:
				id = strconv.Itoa(int(st.Identifier()) - 2)
			}
		}
		mu.Lock()
		p, ok := pairs[id]
		if !ok {
			if len(pairs) >= MaxPendingPortForwardPairs {
				mu.Unlock()
				st.Write([]byte(fmt.Sprintf("too many port-forward requests in progress on this connection (at most %d)", MaxPendingPortForwardPairs)))
				st.Reset()
				conn.RemoveStreams(st)
				continue
			}
			p = &pfPair{id: id, complete: make(chan struct{})}
			pairs[id] = p
			wg.Add(1)
			go func() {
				defer wg.Done()
				t := time.NewTimer(StreamCreationTimeout)
				defer t.Stop()
				select {
				case <-t.C:
					p.printError(fmt.Sprintf("(conn=%p, request=%s) timed out waiting for streams", conn, p.id))
					p.mu.Lock()
					for _, s := range []httpstream.Stream{p.data, p.errs} {
						if s != nil {
							s.Reset()
						}
					}
					p.mu.Unlock()
					remove(p)
				case <-ctx.Done():
				case <-p.complete:
				}
			}()
		}
		mu.Unlock()
		complete, err := p.add(st)
		if err != nil {
			p.printError(fmt.Sprintf("error processing stream for request %s: %v", id, err))
			st.Reset()
			conn.RemoveStreams(st)
			continue
		}
		if complete {
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer remove(p)
				portForwardPair(ctx, t, p)
			}()
		}
	}
}

// portForwardPair forwards one connection: the data stream to the pod's
// port, a failure as text on the error stream.
func portForwardPair(ctx context.Context, t pfTarget, p *pfPair) {
	defer p.errs.Close()
	defer p.data.Close()
	port, _ := strconv.ParseInt(p.data.Headers().Get(corev1.PortHeader), 10, 32)
	err := t.forward(ctx, int32(port), &spdyDataStream{p.data})
	if err != nil {
		p.errs.Write([]byte(err.Error()))
	}
}

// spdyDataStream is a data stream as PortForwarder sees it: Close (the
// pod side is done) must not half-close the stream before PortForward
// returns, which closes it then.
type spdyDataStream struct{ httpstream.Stream }

func (s *spdyDataStream) Close() error { return nil }
