package logs

import (
	"bytes"
	"io"
	"strings"
	"testing"
	"time"

	clocktesting "k8s.io/utils/clock/testing"
)

func TestWriterRecordsAndSink(t *testing.T) {
	clk := clocktesting.NewFakePassiveClock(time.Date(2026, 11, 28, 12, 0, 0, 5, time.UTC))
	var buf bytes.Buffer
	var seen []string
	f := NewFile(&buf, clk, func(s Stream, text string) { seen = append(seen, string(s)+":"+text) })
	out, errw := f.Stream(Stdout), f.Stream(Stderr)
	out.Write([]byte("hello\nwor"))
	errw.Write([]byte("oops\r\n"))
	out.Write([]byte("ld\ntail"))
	out.Close()
	want := "2026-11-28T12:00:00.000000005Z stdout F hello\n" +
		"2026-11-28T12:00:00.000000005Z stderr F oops\n" +
		"2026-11-28T12:00:00.000000005Z stdout F world\n" +
		"2026-11-28T12:00:00.000000005Z stdout P tail\n"
	if buf.String() != want {
		t.Fatalf("records:\n%s\nwant:\n%s", buf.String(), want)
	}
	if got := strings.Join(seen, "|"); got != "stdout:hello|stderr:oops|stdout:world|stdout:tail" {
		t.Fatalf("sink saw %q", got)
	}
	lines, err := ReadAll(&buf)
	if err != nil {
		t.Fatal(err)
	}
	if len(lines) != 4 || lines[2].Text != "world" || lines[1].Stream != Stderr || !lines[3].Partial {
		t.Fatalf("ReadAll = %+v", lines)
	}
}

func TestLongLinesSplitAndRejoin(t *testing.T) {
	clk := clocktesting.NewFakePassiveClock(time.Unix(0, 0))
	var buf bytes.Buffer
	var seen []string
	f := NewFile(&buf, clk, func(s Stream, text string) { seen = append(seen, text) })
	w := f.Stream(Stdout)
	long := strings.Repeat("x", MaxLineSize*2+10)
	w.Write([]byte(long + "\nnext\n"))
	if n := strings.Count(buf.String(), " P "); n != 2 {
		t.Fatalf("want 2 partial records, got %d", n)
	}
	if len(seen) != 2 || seen[0] != long || seen[1] != "next" {
		t.Fatalf("sink got %d lines (first len %d)", len(seen), len(seen[0]))
	}
	lines, err := ReadAll(&buf)
	if err != nil {
		t.Fatal(err)
	}
	if len(lines) != 2 || lines[0].Text != long || lines[0].Partial {
		t.Fatalf("rejoined %d lines", len(lines))
	}
}

func TestParseErrors(t *testing.T) {
	for _, rec := range []string{"", "nonsense", "2026-11-28T12:00:00Z stdin F x", "2026-11-28T12:00:00Z stdout X x", "yesterday stdout F x"} {
		if _, err := Parse(rec); err == nil {
			t.Errorf("Parse(%q) succeeded", rec)
		}
	}
	l, err := Parse("2026-11-28T12:00:00Z stdout F a b  c")
	if err != nil || l.Text != "a b  c" {
		t.Fatalf("Parse = %+v, %v", l, err)
	}
}

func TestParseRecordAgreesWithParse(t *testing.T) {
	for _, rec := range []string{
		"", "nonsense", "2026-11-28T12:00:00Z stdin F x", "2026-11-28T12:00:00Z stdout X x", "yesterday stdout F x",
		"2026-11-28T12:00:00Z stdout F a b  c", "2026-11-28T12:00:00.5Z stderr P part", "2026-11-28T12:00:00Z stdout F",
		"2026-11-28T12:00:00Z stdout F ", "2026-11-28T12:00:00Z stdout",
	} {
		l, err := Parse(rec)
		r, rerr := ParseRecord([]byte(rec))
		if (err == nil) != (rerr == nil) {
			t.Errorf("%q: Parse %v, ParseRecord %v", rec, err, rerr)
			continue
		}
		if err == nil && (!l.Time.Equal(r.Time) || l.Stream != r.Stream || l.Partial != r.Partial || l.Text != string(r.Text)) {
			t.Errorf("%q: Parse %+v, ParseRecord %+v", rec, l, r)
		}
	}
}

// A guest that writes without ever ending its line must not make the
// writer hold the whole line for the sink (issue 8: host memory outside
// every budget): the sink gets it in pieces of at most MaxSinkLine, and
// every byte still reaches it once.
func TestSinkBoundsUnterminatedLine(t *testing.T) {
	clk := clocktesting.NewFakePassiveClock(time.Unix(0, 0))
	var longest, total int
	f := NewFile(io.Discard, clk, func(_ Stream, text string) {
		longest = max(longest, len(text))
		total += len(text)
	})
	w := f.Stream(Stdout)
	chunk := bytes.Repeat([]byte("y"), 1<<20)
	const chunks = 32
	for range chunks {
		if _, err := w.Write(chunk); err != nil {
			t.Fatal(err)
		}
		if cap(w.partial) > MaxSinkLine {
			t.Fatalf("writer holds %d bytes of an unterminated line for the sink, want at most %d", cap(w.partial), MaxSinkLine)
		}
	}
	w.Write([]byte("\n"))
	w.Close()
	if longest > MaxSinkLine {
		t.Errorf("sink got a %d-byte line, want at most %d", longest, MaxSinkLine)
	}
	if total != chunks*len(chunk) {
		t.Errorf("sink got %d bytes, want %d", total, chunks*len(chunk))
	}
}
