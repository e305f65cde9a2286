package overlay

import (
	"time"

	"github.com/hashicorp/yamux"
)

// drainPoll is how often a draining session is checked for open streams.
const drainPoll = 100 * time.Millisecond

// drain closes s once no stream is open on it, or after DrainTimeout,
// whichever comes first. key names the direction and node ("in/NODE",
// "out/NODE"): at most one session drains per key, an older one is closed
// when a newer one starts, so a peer that keeps replacing its session
// holds at most two of ours at once.
func (o *Overlay) drain(key string, s *yamux.Session) {
	o.mu.Lock()
	if o.closed {
		o.mu.Unlock()
		s.Close()
		return
	}
	prev := o.draining[key]
	o.draining[key] = s
	o.wg.Add(1)
	o.mu.Unlock()
	if prev != nil && prev != s {
		prev.Close()
	}
	go func() {
		defer o.wg.Done()
		defer func() {
			s.Close()
			o.mu.Lock()
			if o.draining[key] == s {
				delete(o.draining, key)
			}
			o.mu.Unlock()
		}()
		_ = s.GoAway() // the peer opens no new stream on it
		deadline := time.NewTimer(o.cfg.DrainTimeout)
		defer deadline.Stop()
		tick := time.NewTicker(drainPoll)
		defer tick.Stop()
		for s.NumStreams() > 0 {
			select {
			case <-s.CloseChan():
				return
			case <-deadline.C:
				return
			case <-tick.C:
			}
		}
	}()
}
