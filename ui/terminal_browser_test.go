package ui_test

// The exec terminal in headless Chromium: the emulator (vt.js) fed byte
// sequences directly, and the terminal on the pod page exec'ing into a
// real toolbox pod whose shell prints escape sequences.

import (
	"context"
	"encoding/json"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	"github.com/wasmpod/wasmpod/ui"
)

// vtCases runs in the page: each case feeds a fresh Screen and checks
// its cells; the result is the list of failures.
const vtCases = `(() => {
  const fails = [];
  const S = WasmpodVT.Screen;
  const eq = (what, got, want) => { const g = JSON.stringify(got), w = JSON.stringify(want); if (g !== w) fails.push(what + ': got ' + g + ', want ' + w); };
  const mk = (rows, cols, opts) => new S(rows, cols, opts);
  const bytes = (s) => new TextEncoder().encode(s);
  let s;

  s = mk(4, 10); s.write('hello\r\nworld');
  eq('CR LF', s.lines(), ['hello', 'world', '', '']); eq('CR LF cursor', [s.y, s.x], [1, 5]);
  s = mk(3, 10); s.write('a\nb');
  eq('LF keeps the column', s.lines(), ['a', ' b', '']);

  // Line wrap: the 11th character goes to the next row; a line of exactly
  // cols characters and CR LF makes no empty row.
  s = mk(3, 10); s.write('abcdefghijKL');
  eq('wrap', s.lines(), ['abcdefghij', 'KL', '']);
  s = mk(3, 10); s.write('abcdefghij\r\nx');
  eq('full line then CRLF', s.lines(), ['abcdefghij', 'x', '']);
  s = mk(3, 10); s.write('\x1b[?7labcdefghijKL');
  eq('no autowrap', s.lines(), ['abcdefghiL', '', '']);

  // Scroll: the top row leaves to the scrollback.
  const out = [];
  s = mk(3, 10, { onScrollOut: (r) => out.push(r.map((c) => c.c).join('').trimEnd()) });
  s.write('1\r\n2\r\n3\r\n4\r\n5');
  eq('scroll', s.lines(), ['3', '4', '5']); eq('scrolled out', out, ['1', '2']);

  // BS, TAB.
  s = mk(2, 20); s.write('ab\bX\r\na\tb\tc');
  eq('BS TAB', s.lines(), ['aX', 'a' + ' '.repeat(7) + 'b' + ' '.repeat(7) + 'c']);
  s = mk(1, 12); s.write('\t\t\tz');
  eq('TAB stops at the last column', s.lines(), [' '.repeat(11) + 'z']);

  // CUP, ED, EL and the relative moves.
  s = mk(5, 20); s.write('junk\r\nmore junk\x1b[2J\x1b[3;5Hhi');
  eq('clear + CUP', s.lines(), ['', '', '    hi', '', '']); eq('CUP cursor', [s.y, s.x], [2, 6]);
  s = mk(5, 20); s.write('\x1b[H\x1b[3B\x1b[4CX\x1b[2AY\x1b[3DZ\x1b[1BW\x1b[f!');
  eq('CUU CUD CUF CUB', s.lines(), ['!', '   Z Y', '    W', '    X', '']);
  s = mk(3, 20); s.write('\x1b[10;40H@');
  eq('CUP clamps', s.lines(), ['', '', ' '.repeat(19) + '@']);
  s = mk(3, 10); s.write('abcdefgh\x1b[4D\x1b[K\r\n12345678\x1b[4D\x1b[1K\r\nxyz\x1b[2K');
  eq('EL 0 1 2', s.lines(), ['abcd', ' '.repeat(5) + '678', '']);
  s = mk(3, 5); s.write('aaaaa\r\nbbbbb\r\nccccc\x1b[2;3H\x1b[J');
  eq('ED 0', s.lines(), ['aaaaa', 'bb', '']);
  s = mk(3, 5); s.write('aaaaa\r\nbbbbb\r\nccccc\x1b[2;3H\x1b[1J');
  eq('ED 1', s.lines(), ['', '   bb', 'ccccc']);
  s = mk(1, 10); s.write('abcdef\x1b[1G\x1b[2P\x1b[2@\x1b[3G\x1b[2X');
  eq('DCH ICH CHA ECH', s.lines(), ['    ef']);
  s = mk(4, 5); s.write('1\r\n2\r\n3\r\n4\x1b[2;3r\x1b[2;1H\x1b[L');
  eq('region + IL', s.lines(), ['1', '', '2', '4']);
  s = mk(4, 5); s.write('1\r\n2\r\n3\r\n4\x1b[2;3r\x1b[3;1H\n\nx');
  eq('LF scrolls the region', s.lines(), ['1', '', 'x', '4']);

  // Save and restore the cursor (ESC 7/8 and CSI s/u), with attributes.
  s = mk(3, 10); s.write('ab\x1b7\x1b[31m\x1b[3;5Hc\x1b8d\x1b[s\x1b[2;2He\x1b[uf');
  eq('save/restore', s.lines(), ['abdf', ' e', '    c']);
  eq('restored attributes', [s.cell(0, 2).fg, s.cell(2, 4).fg], [-1, 1]);

  // SGR.
  s = mk(1, 20); s.write('\x1b[31mR\x1b[1;44mB\x1b[0mN\x1b[38;5;82mP\x1b[48;2;1;2;3mT\x1b[0;7mV\x1b[92;101mb\x1b[39;49;22;27m.\x1b[4;2;3mu\x1b[m.');
  const c = (x) => { const k = s.cell(0, x); return [k.c, k.fg, k.bg, k.f]; };
  eq('SGR cells', [0, 1, 2, 3, 4, 5, 6, 7, 8, 9].map(c), [['R', 1, -1, 0], ['B', 1, 4, 1], ['N', -1, -1, 0], ['P', 82, -1, 0], ['T', 82, 0x1000000 | 0x010203, 0],
    ['V', -1, -1, 16], ['b', 10, 9, 16], ['.', -1, -1, 0], ['u', -1, -1, 8 | 2 | 4], ['.', -1, -1, 0]]);

  // The view: classes for the 16 colours and attributes, a CSSOM colour
  // for the 256 and direct colours, reverse video swapped.
  const box = document.createElement('div'); document.body.append(box);
  const v = new WasmpodVT.View(box, s); s.write('\x1b[?25l'); v.draw();
  const spans = Array.from(box.querySelectorAll('.vt-screen .vt-row span')).map((e) => [e.textContent, e.className, e.style.color, e.style.backgroundColor]);
  eq('SGR spans', spans, [['R', 'vt-f1', '', ''], ['B', 'vt-f1 vt-b4 vt-bold', '', ''], ['P', '', 'rgb(95, 255, 0)', ''], ['T', '', 'rgb(95, 255, 0)', 'rgb(1, 2, 3)'],
    ['V', 'vt-rev vt-fdbg vt-bdfg', '', ''], ['b', 'vt-rev vt-f9 vt-b10', '', ''], ['u', 'vt-dim vt-italic vt-ul', '', '']]);
  eq('row text', box.querySelector('.vt-screen .vt-row').textContent, 'RBNPTVb.u.');
  eq('hidden cursor not drawn', box.querySelectorAll('.vt-cursor').length, 0);
  s.write('\x1b[?25h'); v.draw();
  eq('visible cursor drawn at the cursor', Array.from(box.querySelectorAll('.vt-cursor')).map((e) => e.textContent), [' ']);
  eq('256 palette', [WasmpodVT.rgb256(16), WasmpodVT.rgb256(196), WasmpodVT.rgb256(231), WasmpodVT.rgb256(232), WasmpodVT.rgb256(255)],
    ['rgb(0,0,0)', 'rgb(255,0,0)', 'rgb(255,255,255)', 'rgb(8,8,8)', 'rgb(238,238,238)']);
  box.remove();

  // Rows scrolled off the main screen go to the view's scrollback, the
  // last max of them; the alternate screen's do not.
  const sb = document.createElement('div'); document.body.append(sb);
  let view;
  s = mk(2, 10, { onScrollOut: (r) => view.scrolledOut(r) });
  view = new WasmpodVT.View(sb, s, 3);
  const back = () => Array.from(sb.querySelectorAll('.vt-scrollback .vt-row')).map((e) => e.textContent);
  s.write('\x1b[32m1\x1b[m\r\n2\r\n3\r\n4'); view.draw();
  eq('scrollback', [back(), (sb.querySelector('.vt-scrollback .vt-f2') || {}).textContent], [['1', '2'], '1']);
  s.write('\r\n5\r\n6\r\n7\r\n8'); view.draw();
  eq('scrollback keeps the last 3', back(), ['4', '5', '6']);
  s.write('\x1b[?1049h1\r\n2\r\n3\r\n4'); view.draw();
  eq('alternate screen adds no scrollback', back(), ['4', '5', '6']);
  sb.remove();

  // UTF-8 split at every byte across writes draws each character once.
  const text = 'é€😀x';
  const b = bytes(text);
  for (let i = 1; i < b.length; i++) {
    for (let j = i; j < b.length; j++) {
      s = mk(1, 10); s.write(b.subarray(0, i)); s.write(b.subarray(i, j)); s.write(b.subarray(j));
      eq('UTF-8 split at ' + i + ',' + j, s.lines(), [text]);
    }
  }
  eq('an emoji is two cells', [s.cell(0, 2).c, s.cell(0, 3).c, s.cell(0, 4).c, s.x], ['😀', '', 'x', 5]);

  // Wide characters take two cells, wrap whole; combining marks join
  // the cell before them; overwriting half a wide character blanks it.
  s = mk(2, 5); s.write('a中b');
  eq('wide', [s.lines(), s.x], [['a中b', ''], 4]);
  const wb = document.createElement('div'); wb.className = 'term'; document.body.append(wb);
  new WasmpodVT.View(wb, s).draw();
  const ws = wb.querySelector('.vt-w'), probe = document.createElement('span'); probe.textContent = 'ab'; wb.querySelector('.vt-row').append(probe);
  eq('a wide character is drawn two cells wide', [ws && ws.textContent, ws && Math.abs(ws.getBoundingClientRect().width - probe.getBoundingClientRect().width) < 0.5], ['中', true]);
  wb.remove();
  // A run of wide characters is one span, 2ch a character, each glyph
  // starting on its own cell.
  s = mk(1, 12); s.write('a中字😀b\x1b[?25l');
  const rb = document.createElement('div'); rb.className = 'term'; document.body.append(rb);
  new WasmpodVT.View(rb, s).draw();
  const cp = document.createElement('span'); cp.textContent = 'abcdefgh'; rb.append(cp);
  const runs = Array.from(rb.querySelectorAll('.vt-w')), cellw = cp.getBoundingClientRect().width / 8;
  cp.remove();
  const row0 = rb.querySelector('.vt-row').getBoundingClientRect().left;
  const at = (node, i, n) => { const g = document.createRange(); g.setStart(node, i); g.setEnd(node, i + n); return g.getBoundingClientRect().left - row0; };
  const near = (got, want) => Math.abs(got - want) < 0.75;
  const run = runs[0], tn = run && run.firstChild;
  eq('a wide run is one span', runs.map((e) => e.textContent), ['中字😀']);
  eq('wide run widths and glyph cells', tn ? [cellw > 0, near(run.getBoundingClientRect().width, 6 * cellw), near(at(tn, 0, 1), cellw), near(at(tn, 1, 1), 3 * cellw), near(at(tn, 2, 2), 5 * cellw)] : null, [true, true, true, true, true]);
  eq('after a wide run', (() => { const last = rb.querySelector('.vt-row').lastChild; return last && near(at(last, last.textContent.length - 1, 1), 7 * cellw); })(), true);
  rb.remove();
  s = mk(2, 4); s.write('abc中');
  eq('wide wraps whole', [s.lines(), s.y, s.x], [['abc', '中'], 1, 2]);
  s = mk(2, 4); s.write('ab中c');
  eq('wide fills the row', s.lines(), ['ab中', 'c']);
  s = mk(1, 5); s.write('e\u0301x');
  eq('combining', [s.cell(0, 0).c, s.cell(0, 1).c, s.x], ['e\u0301', 'x', 2]);
  s = mk(1, 5); s.write('中\x1b[2Gz');
  eq('half overwritten', s.lines(), [' z']);
  s = mk(1, 5); s.write('中字\x1b[2Gz');
  eq('right half overwritten', s.lines(), [' z字']);

  // The alternate screen: 1049 saves the cursor and clears; leaving it
  // brings the main screen and the cursor back.
  s = mk(3, 10); s.write('main\x1b[?1049h');
  eq('alt entered', [s.altActive, s.lines(), s.y, s.x], [true, ['', '', ''], 0, 0]);
  s.write('\x1b[2;2Halt\r\n\r\nscroll');
  eq('alt screen', s.lines(), [' alt', '', 'scroll']);
  s.write('\x1b[?1049lX');
  eq('alt left', [s.altActive, s.lines()], [false, ['mainX', '', '']]);
  s = mk(2, 10); s.write('m\x1b[?47hA\x1b[?47lB');
  eq('47 keeps the cursor', s.lines(), ['m B', '']);

  // OSC (a title) and charset designations print nothing; DSR answers.
  const replies = [];
  s = mk(2, 20, { onReply: (r) => replies.push(r) });
  s.write('\x1b]0;title\x07a\x1b]2;t2\x1b\\b\x1b(Bc\x1b[>0c\x1b[2;3H\x1b[6n\x1b[5n\x1b[c');
  eq('OSC and charsets', s.lines(), ['abc', '']);
  eq('replies', replies, ['\x1b[2;3R', '\x1b[0n', '\x1b[?1;2c']);
  s = mk(2, 10); s.write('\x1b[?1h'); eq('application cursor keys', s.appCursor, true);

  // Resize keeps what fits, rows above the cursor go to the scrollback.
  const gone = [];
  s = mk(4, 10, { onScrollOut: (r) => gone.push(r.map((c) => c.c).join('').trimEnd()) });
  s.write('1\r\n2\r\n3\r\n4abcdefgh');
  s.resize(2, 5);
  eq('resize', [s.lines(), gone, s.y, s.x], [['3', '4abcd'], ['1', '2'], 1, 4]);
  s.resize(3, 8); s.write('\r\nz');
  eq('resize up', s.lines(), ['3', '4abcd', 'z']);

  // Garbage does not throw.
  s = mk(3, 10); s.write('\x1b[99999999;-5H\x1b[38;5m\x1b[38;2;1m\x1b[?m\x1b[;;;J\x1b[0;0r\x1b\x1b[Aq\x9b\x00\x7f');
  return fails;
})()`

// emulatorPage is the dashboard's login page in a browser tab: vt.js
// loaded, no API behind it (the emulator's own tests).
func emulatorPage(t testing.TB) context.Context {
	t.Helper()
	chromiumPath(t)
	srv := httptest.NewServer(ui.Handler())
	t.Cleanup(srv.Close)
	ctx := browser(t, 800, 600)
	run(t, ctx, chromedp.Navigate(srv.URL+"/ui/"), chromedp.WaitVisible("#token"))
	return ctx
}

func TestTerminalEmulator(t *testing.T) {
	ctx := emulatorPage(t)
	fails := evalJS[[]string](t, ctx, vtCases)
	for _, f := range fails {
		t.Error(f)
	}
}

// termRows: the terminal's screen rows as text (one div per row).
const termRows = `Array.from(document.querySelectorAll('#term .vt-screen .vt-row')).map(r => r.textContent.trimEnd())` // the cursor's cell is drawn

// TestDashboardTerminal: the pod page's terminal exec's sh in a real
// toolbox pod; keys typed into the terminal run `printenv SEQ`, whose
// value is escape sequences (clear, cursor move, colours) and multi-byte
// characters, and the screen shows them where a terminal would; arrows
// and Ctrl-C leave as a terminal's bytes; the screen's size goes out on
// the resize channel, again when the window changes.
func TestDashboardTerminal(t *testing.T) {
	chromiumPath(t)
	e := newEnv(t)
	pod := podJSON("tty", nil, []string{"sleep", "3600"})
	ctr := pod["spec"].(map[string]any)["containers"].([]any)[0].(map[string]any)
	ctr["env"] = []any{map[string]any{"name": "SEQ", "value": "\x1b[2J\x1b[3;5Hhello \x1b[31mred\x1b[0m \x1b[1;38;5;82mgreen\x1b[0m é€ \x1b[7mrev\x1b[m"}}
	e.must(t, "POST", "/api/v1/namespaces/default/pods", pod)
	ctx := browser(t, 1100, 800)
	login(t, ctx, e.srv.URL)
	run(t, ctx, hash("#/pod/default/tty"), chromedp.WaitVisible("#tab-terminal"))
	waitJS(t, ctx, "pod running", `(document.querySelector('dd.f-status')||{}).textContent === 'Running'`, 30*time.Second)
	// Record what the page sends on the WebSocket.
	run(t, ctx, chromedp.Evaluate[chromedp.Void](`window.__sent = []; (() => { const o = WebSocket.prototype.send; WebSocket.prototype.send = function (b) { window.__sent.push(Array.from(new Uint8Array(b))); return o.call(this, b); }; })()`))
	run(t, ctx, chromedp.Click("#tab-terminal"), chromedp.WaitVisible("#term-connect"), chromedp.Click("#term-connect"))
	waitJS(t, ctx, "terminal connected", `document.getElementById('term-state').textContent.startsWith('connected (v5.channel.k8s.io)')`, 10*time.Second)
	waitJS(t, ctx, "shell prompt", termRows+`.some(l => / #$/.test(l))`, 15*time.Second)

	// The first resize: the emulator's size, on channel 4.
	size := func() (int, int, int) {
		var w, h, n int
		for _, f := range evalJS[[][]int](t, ctx, `window.__sent.filter(f => f[0] === 4)`) {
			b := make([]byte, len(f)-1)
			for i, x := range f[1:] {
				b[i] = byte(x)
			}
			var sz struct{ Width, Height int }
			if err := json.Unmarshal(b, &sz); err != nil {
				t.Fatalf("resize frame %q: %v", b, err)
			}
			w, h, n = sz.Width, sz.Height, n+1
		}
		return w, h, n
	}
	w, h, n := size()
	if cols, rows := evalJS[int](t, ctx, `document.getElementById('term').vt.cols`), evalJS[int](t, ctx, `document.getElementById('term').vt.rows`); n != 1 || w != cols || h != rows || w < 60 || h < 10 {
		t.Errorf("resize frames %d, last %dx%d; the screen is %dx%d", n, w, h, cols, rows)
	}
	if got := evalJS[int](t, ctx, `document.querySelectorAll('#term .vt-screen .vt-row').length`); got != h {
		t.Errorf("%d rows drawn, %d sent", got, h)
	}

	// Typed into the terminal itself (key events, not the line box).
	run(t, ctx, chromedp.Click("#term"), chromedp.KeyEvent("printenv SEQ\r"))
	want := "    hello red green é€ rev"
	waitJS(t, ctx, "escape sequences drawn", `(() => { const r = `+termRows+`; return r[2] === `+jsString(want)+` && / #$/.test(r[3]); })()`, 15*time.Second)
	rows := evalJS[[]string](t, ctx, termRows)
	if rows[0] != "" || rows[1] != "" || !strings.HasSuffix(rows[3], " #") {
		t.Errorf("screen after clear + CUP: %q", rows[:5])
	}
	spans := evalJS[[][]string](t, ctx, `Array.from(document.querySelectorAll('#term .vt-screen .vt-row')[2].querySelectorAll('span')).map(e => [e.textContent, e.className, e.style.color])`)
	wantSpans := [][]string{{"red", "vt-f1", ""}, {"green", "vt-bold", "rgb(95, 255, 0)"}, {"rev", "vt-rev vt-fdbg vt-bdfg", ""}}
	if g, w := jsonString(spans), jsonString(wantSpans); g != w {
		t.Errorf("coloured spans %s, want %s", g, w)
	}
	if n := evalJS[int](t, ctx, `(document.getElementById('term').textContent.match(/€/g) || []).length`); n != 1 {
		t.Errorf("€ drawn %d times", n)
	}

	// Keys: arrows as CSI, Ctrl-U, Tab, Backspace; Ctrl-C as 0x03
	// interrupts a running command.
	run(t, ctx, chromedp.Evaluate[chromedp.Void](`window.__sent = []`),
		chromedp.KeyEvent(kb.ArrowUp+kb.ArrowLeft), chromedp.KeyEvent("u", chromedp.KeyModifiers(chromedp.ModifierCtrl)),
		chromedp.KeyEvent("x\tyz"+kb.Backspace), chromedp.KeyEvent("u", chromedp.KeyModifiers(chromedp.ModifierCtrl)))
	waitJS(t, ctx, "keys sent", `window.__sent.length >= 9`, 5*time.Second)
	if got, want := jsonString(evalJS[[][]int](t, ctx, `window.__sent`)), jsonString([][]int{{0, 27, 91, 65}, {0, 27, 91, 68}, {0, 21}, {0, 'x'}, {0, 9}, {0, 'y'}, {0, 'z'}, {0, 127}, {0, 21}}); got != want {
		t.Errorf("keys sent %s, want %s", got, want)
	}
	run(t, ctx, chromedp.KeyEvent("sleep 60; echo not-interrupted\r"))
	waitJS(t, ctx, "sleep running", termRows+`.some(l => l.endsWith('sleep 60; echo not-interrupted'))`, 10*time.Second)
	// The echo comes just before the shell starts the command: a ^C in
	// between reaches the prompt's line instead, so ^C again until one
	// interrupts (each is one 0x03 frame).
	interrupted := `(() => { const r = ` + termRows + `; const i = r.findIndex(l => l === '^C'); return i > 0 && / #$/.test(r[i + 1]); })()`
	for try := 0; ; try++ {
		run(t, ctx, chromedp.KeyEvent("c", chromedp.KeyModifiers(chromedp.ModifierCtrl)))
		if got := evalJS[[]int](t, ctx, `window.__sent[window.__sent.length - 1]`); jsonString(got) != "[0,3]" {
			t.Fatalf("Ctrl-C sent %v", got)
		}
		ok, err := chromedp.Run(ctx, chromedp.Poll[bool](interrupted, chromedp.WithPollingTimeout(3*time.Second)))
		if err == nil && ok {
			break
		}
		if try == 5 {
			waitJS(t, ctx, "^C interrupts", interrupted, time.Second)
		}
	}
	run(t, ctx, chromedp.KeyEvent("echo $?\r"))
	waitJS(t, ctx, "status 130", termRows+`.includes('130')`, 10*time.Second)
	if evalJS[bool](t, ctx, termRows+`.includes('not-interrupted')`) {
		t.Error("the rest of the line ran after ^C")
	}

	// A smaller window: a new size on the resize channel.
	run(t, ctx, chromedp.EmulateViewport(700, 600))
	waitJS(t, ctx, "resize sent", `window.__sent.some(f => f[0] === 4)`, 10*time.Second)
	w2, _, _ := size()
	if cols := evalJS[int](t, ctx, `document.getElementById('term').vt.cols`); w2 >= w || w2 != cols {
		t.Errorf("after the window shrank: sent width %d (before %d), screen %d columns", w2, w, cols)
	}
	// A phone: the terminal fits the screen, with a usable width.
	run(t, ctx, chromedp.EmulateViewport(390, 844, chromedp.EmulateScale(2), chromedp.EmulateMobile))
	waitJS(t, ctx, "phone resize sent", `document.getElementById('term').vt.cols < `+strconv.Itoa(w2), 10*time.Second)
	if pw, cols := evalJS[int](t, ctx, `document.documentElement.scrollWidth`), evalJS[int](t, ctx, `document.getElementById('term').vt.cols`); pw > 390 || cols < 30 {
		t.Errorf("phone: page %d px wide on a 390 px screen, terminal %d columns", pw, cols)
	}
	if w3, _, _ := size(); w3 != evalJS[int](t, ctx, `document.getElementById('term').vt.cols`) {
		t.Errorf("phone: sent width %d", w3)
	}
	run(t, ctx, chromedp.KeyEvent("exit\r"))
	waitJS(t, ctx, "shell exit", `/exited|closed/.test(document.getElementById('term-state').textContent)`, 10*time.Second)
}

func jsonString(v any) string { b, _ := json.Marshal(v); return string(b) }
