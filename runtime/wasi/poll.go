package wasi

import (
	"encoding/binary"
	"reflect"
	"time"
)

// WASI event types and event flags.
const (
	eventClock   = 0
	eventFdRead  = 1
	eventFdWrite = 2

	eventFlagHangup = 1

	subclockAbstime = 1

	subSize   = 48
	eventSize = 32
)

// maxSubscriptions bounds one poll_oneoff call.
const maxSubscriptions = 4096

type subscription struct {
	userdata uint64
	tag      uint8
	fd       int32
	deadline time.Time // clock subscriptions
}

func pollOneoff(c *Call) Errno {
	in, out, n := c.U32(0), c.U32(1), c.U32(2)
	if n == 0 {
		return EINVAL
	}
	if n > maxSubscriptions {
		return EINVAL
	}
	raw, e := c.Bytes(in, n*subSize)
	if e != 0 {
		return e
	}
	if _, e := c.Bytes(out, n*eventSize); e != 0 {
		return e
	}
	now := time.Now()
	subs := make([]subscription, n)
	for i := range subs {
		b := raw[i*subSize:]
		s := &subs[i]
		s.userdata = binary.LittleEndian.Uint64(b[0:])
		s.tag = b[8]
		switch s.tag {
		case eventClock:
			id := binary.LittleEndian.Uint32(b[16:])
			timeout := binary.LittleEndian.Uint64(b[24:])
			abs := binary.LittleEndian.Uint16(b[40:])&subclockAbstime != 0
			d, e := clockDeadline(now, id, timeout, abs)
			if e != 0 {
				return e
			}
			s.deadline = d
		case eventFdRead, eventFdWrite:
			s.fd = int32(binary.LittleEndian.Uint32(b[16:]))
		default:
			return EINVAL
		}
	}
	events := make([]byte, 0, eventSize*n)
	var chans []<-chan struct{}
	for {
		events, chans = events[:0], chans[:0]
		var earliest time.Time
		now := time.Now()
		for i := range subs {
			s := &subs[i]
			switch s.tag {
			case eventClock:
				if !now.Before(s.deadline) {
					events = appendEvent(events, s, 0, 0)
				} else if earliest.IsZero() || s.deadline.Before(earliest) {
					earliest = s.deadline
				}
			default:
				f, e := c.Sys.FD(s.fd)
				if e != 0 {
					events = appendEvent(events, s, e, 0)
					continue
				}
				ev, ch := f.Poll()
				want := Readable
				if s.tag == eventFdWrite {
					want = Writable
				}
				if ev&(want|Hangup) != 0 {
					var fl uint16
					if ev&Hangup != 0 {
						fl = eventFlagHangup
					}
					events = appendEvent(events, s, 0, fl)
				} else if ch != nil {
					chans = append(chans, ch)
				}
			}
		}
		if len(events) > 0 {
			if e := c.Write(out, events); e != 0 {
				return e
			}
			return c.WriteU32(c.U32(3), uint32(len(events)/eventSize))
		}
		if e := c.Sys.waitAny(chans, earliest); e != 0 {
			return e
		}
	}
}

func clockDeadline(now time.Time, id uint32, t uint64, abs bool) (time.Time, Errno) {
	const maxDur = time.Duration(1<<63 - 1)
	switch id {
	case clockRealtime, clockMonotonic, clockProcessCPU, clockThreadCPU:
	default:
		return time.Time{}, EINVAL
	}
	if !abs {
		if t > uint64(maxDur) {
			t = uint64(maxDur)
		}
		if d := now.Add(time.Duration(t)); d.After(now) || t == 0 {
			return d, 0
		}
		return now.Add(100 * 365 * 24 * time.Hour), 0
	}
	var d time.Duration
	switch id {
	case clockRealtime:
		d = time.Unix(0, int64(min(t, uint64(maxDur)))).Sub(now)
	case clockMonotonic:
		d = time.Duration(min(t, uint64(maxDur))) - now.Sub(monoBase)
	default:
		return time.Time{}, ENOTSUP
	}
	return now.Add(d), 0
}

func appendEvent(b []byte, s *subscription, errno Errno, flags uint16) []byte {
	var ev [eventSize]byte
	binary.LittleEndian.PutUint64(ev[0:], s.userdata)
	binary.LittleEndian.PutUint16(ev[8:], uint16(errno))
	ev[10] = s.tag
	binary.LittleEndian.PutUint16(ev[24:], flags)
	return append(b, ev[:]...)
}

// waitAny blocks until one of chans is closed, deadline passes (zero:
// none) or the System is killed (EINTR).
func (s *System) waitAny(chans []<-chan struct{}, deadline time.Time) Errno {
	var timer <-chan time.Time
	if !deadline.IsZero() {
		t := time.NewTimer(time.Until(deadline))
		defer t.Stop()
		timer = t.C
	}
	switch len(chans) {
	case 0:
		select {
		case <-timer:
			return 0
		case <-s.kill:
			return EINTR
		}
	case 1:
		select {
		case <-chans[0]:
			return 0
		case <-timer:
			return 0
		case <-s.kill:
			return EINTR
		}
	}
	cases := make([]reflect.SelectCase, 0, len(chans)+2)
	cases = append(cases, reflect.SelectCase{Dir: reflect.SelectRecv, Chan: reflect.ValueOf(s.kill)})
	if timer != nil {
		cases = append(cases, reflect.SelectCase{Dir: reflect.SelectRecv, Chan: reflect.ValueOf(timer)})
	}
	for _, ch := range chans {
		cases = append(cases, reflect.SelectCase{Dir: reflect.SelectRecv, Chan: reflect.ValueOf(ch)})
	}
	if i, _, _ := reflect.Select(cases); i == 0 {
		return EINTR
	}
	return 0
}
