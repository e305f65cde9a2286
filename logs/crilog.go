// Package logs writes and reads container logs in the CRI log format that the
// kubelet uses (one record a line):
//
//	2016-10-06T00:17:09.669794202Z stdout F a full line
//	2016-10-06T00:17:09.669794203Z stderr P part of a long line
//
// The tag is F for a full line and P for a partial one (a line longer than
// MaxLineSize, or output cut short by the stream's end). Timestamps are
// RFC 3339 with nanoseconds, in UTC.
//
// A Writer is safe for concurrent use by several streams sharing one file.
package logs

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"time"

	"k8s.io/utils/clock"
)

// MaxLineSize is the longest line written as one record; longer lines are
// split into partial records, as the kubelet does (16 KiB).
const MaxLineSize = 16 * 1024

// MaxSinkLine bounds the text a StreamWriter passes to its Sink as one
// line: a longer line reaches the sink in pieces of at most this size, so
// that a guest never ending its line cannot make the host hold it whole
// (the log file has it as MaxLineSize partial records either way).
const MaxSinkLine = 4 * MaxLineSize

// Stream names a container output stream.
type Stream string

const (
	Stdout Stream = "stdout"
	Stderr Stream = "stderr"
)

// Line is one decoded log record.
type Line struct {
	Time    time.Time
	Stream  Stream
	Partial bool
	Text    string
}

// Sink receives every complete log line as it is written (for live streaming).
type Sink func(stream Stream, text string)

// File is the shared destination of a container instance's streams.
type File struct {
	mu    sync.Mutex
	w     io.Writer
	clock clock.PassiveClock
	sink  Sink
	buf   []byte // the record being written (guarded by mu)
}

// NewFile writes CRI records to w, timestamped from clk, and passes each
// line's text to sink (which may be nil).
func NewFile(w io.Writer, clk clock.PassiveClock, sink Sink) *File {
	return &File{w: w, clock: clk, sink: sink}
}

func (f *File) record(s Stream, partial bool, text []byte) error {
	tag := "F"
	if partial {
		tag = "P"
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	// One Write per record: a RotatingFile rotates between records.
	b := f.clock.Now().UTC().AppendFormat(f.buf[:0], time.RFC3339Nano)
	b = append(b, ' ')
	b = append(b, s...)
	b = append(b, ' ')
	b = append(b, tag...)
	b = append(b, ' ')
	b = append(b, text...)
	b = append(b, '\n')
	f.buf = b[:0]
	_, err := f.w.Write(b)
	return err
}

// Stream returns a writer for one stream. Close it to flush a trailing
// unterminated line.
func (f *File) Stream(s Stream) *StreamWriter {
	return &StreamWriter{f: f, s: s}
}

// StreamWriter splits a byte stream into records. It is not safe for
// concurrent use; each stream has its own.
type StreamWriter struct {
	f       *File
	s       Stream
	buf     []byte
	partial []byte // text of partial records already written for this line
}

// Write implements io.Writer. It never fails because of the guest: a write
// error of the underlying file is returned but the bytes are consumed.
func (w *StreamWriter) Write(p []byte) (int, error) {
	n := len(p)
	w.buf = append(w.buf, p...)
	var err error
	for {
		i := bytes.IndexByte(w.buf, '\n')
		if i < 0 {
			break
		}
		line := bytes.TrimSuffix(w.buf[:i], []byte("\r"))
		for len(line) > MaxLineSize {
			if e := w.emit(line[:MaxLineSize], true); e != nil && err == nil {
				err = e
			}
			line = line[MaxLineSize:]
		}
		if e := w.emit(line, false); e != nil && err == nil {
			err = e
		}
		w.buf = w.buf[i+1:]
	}
	for len(w.buf) >= MaxLineSize {
		if e := w.emit(w.buf[:MaxLineSize], true); e != nil && err == nil {
			err = e
		}
		w.buf = w.buf[MaxLineSize:]
	}
	// Keep the buffer from pinning a large backing array.
	w.buf = append([]byte(nil), w.buf...)
	return n, err
}

func (w *StreamWriter) emit(text []byte, partial bool) error {
	err := w.f.record(w.s, partial, text)
	if w.f.sink == nil {
		return err
	}
	if partial {
		if len(w.partial)+len(text) > MaxSinkLine {
			w.f.sink(w.s, string(w.partial))
			w.partial = w.partial[:0]
		}
		if w.partial == nil {
			w.partial = make([]byte, 0, MaxSinkLine)
		}
		w.partial = append(w.partial, text...)
		return err
	}
	w.f.sink(w.s, string(w.partial)+string(text))
	w.partial = w.partial[:0]
	return err
}

// Close flushes an unterminated last line as a partial record.
func (w *StreamWriter) Close() error {
	if len(w.buf) == 0 {
		return nil
	}
	err := w.f.record(w.s, true, w.buf)
	if w.f.sink != nil {
		w.f.sink(w.s, string(w.partial)+string(w.buf))
	}
	w.buf, w.partial = nil, nil
	return err
}

// Parse decodes one CRI record (without its newline).
func Parse(record string) (Line, error) {
	parts := strings.SplitN(record, " ", 4)
	if len(parts) < 3 {
		return Line{}, fmt.Errorf("malformed CRI log record %q", record)
	}
	ts, err := time.Parse(time.RFC3339Nano, parts[0])
	if err != nil {
		return Line{}, fmt.Errorf("malformed CRI log timestamp %q: %w", parts[0], err)
	}
	l := Line{Time: ts, Stream: Stream(parts[1])}
	if l.Stream != Stdout && l.Stream != Stderr {
		return Line{}, fmt.Errorf("malformed CRI log stream %q", parts[1])
	}
	switch parts[2] {
	case "F":
	case "P":
		l.Partial = true
	default:
		return Line{}, fmt.Errorf("malformed CRI log tag %q", parts[2])
	}
	if len(parts) == 4 {
		l.Text = parts[3]
	}
	return l, nil
}

// Record is a decoded CRI record whose Text aliases the bytes it was
// parsed from.
type Record struct {
	Time    time.Time
	Stream  Stream
	Partial bool
	Text    []byte
}

// ParseRecord decodes one CRI record (without its newline) as Parse does,
// without copying its text.
func ParseRecord(rec []byte) (Record, error) {
	i := bytes.IndexByte(rec, ' ')
	if i < 0 {
		return Record{}, fmt.Errorf("malformed CRI log record %q", rec)
	}
	ts, err := time.Parse(time.RFC3339Nano, string(rec[:i]))
	if err != nil {
		return Record{}, fmt.Errorf("malformed CRI log timestamp %q: %w", rec[:i], err)
	}
	r := Record{Time: ts}
	rest := rec[i+1:]
	j := bytes.IndexByte(rest, ' ')
	if j < 0 {
		return Record{}, fmt.Errorf("malformed CRI log record %q", rec)
	}
	switch string(rest[:j]) {
	case string(Stdout):
		r.Stream = Stdout
	case string(Stderr):
		r.Stream = Stderr
	default:
		return Record{}, fmt.Errorf("malformed CRI log stream %q", rest[:j])
	}
	rest = rest[j+1:]
	tag := rest
	if k := bytes.IndexByte(rest, ' '); k >= 0 {
		tag, r.Text = rest[:k], rest[k+1:]
	}
	switch string(tag) {
	case "F":
	case "P":
		r.Partial = true
	default:
		return Record{}, fmt.Errorf("malformed CRI log tag %q", tag)
	}
	return r, nil
}

// ReadAll decodes every record of r, joining partial records into lines.
func ReadAll(r io.Reader) ([]Line, error) {
	var out []Line
	var pending *Line
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64*1024), 2*MaxLineSize+1024)
	for sc.Scan() {
		l, err := Parse(sc.Text())
		if err != nil {
			return out, err
		}
		if pending != nil && pending.Stream == l.Stream {
			pending.Text += l.Text
			pending.Partial = l.Partial
		} else {
			if pending != nil {
				out = append(out, *pending)
			}
			cp := l
			pending = &cp
		}
		if !pending.Partial {
			out = append(out, *pending)
			pending = nil
		}
	}
	if pending != nil {
		out = append(out, *pending)
	}
	if err := sc.Err(); err != nil && !errors.Is(err, io.EOF) {
		return out, err
	}
	return out, nil
}
