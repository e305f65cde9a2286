package ui_test

// The terminal emulator (vt.js) against a hostile guest's output: huge
// CSI counts, endless parameter lists, unterminated OSC strings,
// invalid UTF-8, floods of wide characters and combining marks, HTML.
// Each case runs in the page (headless Chromium), fed in 32 KB frames
// as the exec stream delivers it and drawn by a View; then the page must
// still draw later output, its model must stay bounded and nothing may
// throw. A case that makes the tab hang fails at its timeout (a minute;
// the cases take milliseconds when the emulator bounds its work).

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// vtHostileHarness defines window.__hostile(input, rows, cols): input
// is a JavaScript expression's value (a string or a Uint8Array, built in
// the page so megabytes never cross the DevTools protocol), fed to a
// fresh Screen in 32 KB frames with a View drawn after each; then
// "\r\n" + a marker is written and drawn. The result names what is wrong
// ("" when nothing is).
const vtHostileHarness = `window.__hostile = (input, rows, cols, resize, absent) => {
  const box = document.createElement('div');
  document.body.append(box);
  try {
    let v;
    const s = new WasmpodVT.Screen(rows, cols, { onReply: () => {}, onScrollOut: (r) => v.scrolledOut(r) }); // as app.js
    v = new WasmpodVT.View(box, s);
    const bytes = typeof input === 'string' ? new TextEncoder().encode(input) : input;
    const dec = new TextDecoder(); // as app.js: UTF-8 decoded per channel, streamed
    for (let i = 0; i < bytes.length; i += 32768) {
      s.write(dec.decode(bytes.subarray(i, i + 32768), { stream: true }));
      v.draw();
    }
    if (resize) { s.resize(resize[0], resize[1]); v.draw(); }
    const marker = 'still-drawing-' + Math.random().toString(36).slice(2, 8);
    s.write('\x18\x07\x1b\\\x1b[0m\r\n' + marker); v.draw(); // CAN, BEL, ST end what a case left open
    const bad = [];
    if (absent && box.textContent.includes(absent)) bad.push('drawn: ' + JSON.stringify(absent));
    if (!box.textContent.includes(marker)) // in a 1-column screen most of it is in the scrollback
      bad.push('later output not drawn: ' + JSON.stringify(s.lines()));
    if (s.rows > 1000 || s.cols > 1000 || s.buf.length !== s.rows || s.buf.some((r) => r.length !== s.cols)) bad.push('screen ' + s.rows + 'x' + s.cols + ', buffer ' + s.buf.length + ' rows');
    if (s.params.length > 4096) bad.push('CSI parameters kept: ' + s.params.length + ' bytes');
    if (s.osc.length > 65536) bad.push('OSC string kept: ' + s.osc.length + ' bytes');
    let longest = 0;
    for (const r of s.buf) for (const c of r) longest = Math.max(longest, c.c.length);
    if (longest > 64) bad.push('a cell holds ' + longest + ' UTF-16 units');
    const elems = box.querySelectorAll('*').length;
    if (elems > (s.rows + v.max) * s.cols + s.rows + v.max + 10) bad.push(elems + ' elements drawn');
    return bad.join('; ');
  } catch (e) {
    return 'threw: ' + e;
  } finally {
    box.remove();
  }
};
window.__rep = (s, n) => s.repeat(n);
window.__invalidUTF8 = (n) => { const b = new Uint8Array(n); for (let i = 0; i < n; i++) b[i] = [0xff, 0xc3, 0x28, 0xe2, 0x82, 0xf0, 0x9f, 0x80, 0xed, 0xa0, 0x80, 0xc0, 0xaf][i % 13]; return b; };
true`

func TestTerminalHostileGuest(t *testing.T) {
	ctx := emulatorPage(t)
	evalJS[bool](t, ctx, vtHostileHarness)

	mb := "1048576"
	cases := []struct{ name, input, rows, cols, resize, absent string }{
		{name: "ICH 999999999", input: `'abc\x1b[H\x1b[999999999@'`},
		{name: "DCH 999999999", input: `'abc\x1b[H\x1b[999999999P'`},
		{name: "ECH huge", input: `'abc\x1b[H\x1b[99999999999999999999X'`},
		{name: "IL 99999999", input: `'a\r\nb\x1b[H\x1b[99999999L'`},
		{name: "DL 99999999", input: `'a\r\nb\x1b[H\x1b[99999999M'`},
		{name: "SU SD 9999999999", input: `'\x1b[9999999999S\x1b[9999999999T'`},
		{name: "scroll region 999999", input: `'\x1b[999999;999999r\x1b[2;999999r\x1b[0;0r\x1b[5;3r\r\n\r\n\x1b[99999999L'`},
		{name: "CUP 9999999999999999999", input: `'\x1b[9999999999999999999;9999999999999999999H\x1b[` + `' + '9'.repeat(400) + 'Cx\x1b[' + '9'.repeat(400) + 'A\x1b[' + '9'.repeat(400) + 'Dy'`},
		{name: "1 MB parameter list", input: `'\x1b[' + __rep('1;', ` + mb + `) + 'm'`},
		{name: "1 MB parameter list of ?1049", input: `'\x1b[?' + __rep('1049;', 200000) + 'h'`},
		{name: "1 MB of intermediates before a parameter", input: `'\x1b[' + __rep(' ', ` + mb + `) + '1m'`},
		{name: "many SGR 38;2 sequences", input: `__rep('\x1b[38;2;999;-1;1e9m\x1b[48;5;99999mX', 20000)`},
		{name: "unterminated 4 MB OSC", input: `'\x1b]0;' + __rep('A', 4 * ` + mb + `)`, absent: "AAAAAAAA"},
		{name: "OSC of 4 MB then BEL", input: `'\x1b]2;' + __rep('<b>', ` + mb + `) + '\x07'`, absent: "<b>"},
		{name: "invalid UTF-8", input: `__invalidUTF8(` + mb + `)`},
		{name: "wide characters at the last column", input: `'\x1b[1;80H' + __rep('中😀', 50000)`},
		{name: "wide characters, no autowrap", input: `'\x1b[?7l' + __rep('中', 200000)`},
		{name: "wide characters in a 1-column screen", input: `__rep('中a\u0301', 50000)`, rows: "3", cols: "1"},
		{name: "1 MB of combining marks", input: `'a' + __rep('\u0301', 500000)`},
		{name: "ICH/DCH over wide characters", input: `__rep('中\x1b[D\x1b[@\x1b[P\x1b[3@', 20000)`},
		{name: "DSR flood", input: `__rep('\x1b[6n\x1b[5n\x1b[c', 50000)`},
		{name: "alternate screen flood", input: `__rep('\x1b[?1049h\x1b[2J\x1b[?1049l\x1b[?47h\x1b[?47l', 50000)`},
		{name: "3 MB of lines", input: `__rep('x'.repeat(99) + '\r\n', 30000)`},
		{name: "resize to 0x0", input: `'hello\r\nworld'`, resize: "[0, 0]"},
		{name: "resize to negative", input: `'hello'`, resize: "[-5, -1e9]"},
		{name: "resize huge", input: `'hello'`, resize: "[1e9, 1e9]"},
		{name: "resize NaN", input: `'hello'`, resize: "[NaN, Infinity]"},
		{name: "created huge", input: `'hello'`, rows: "1e9", cols: "1e9"},
		{name: "created 0x0", input: `'hello\x1b[999999999@\x1b[9999S'`, rows: "0", cols: "0"},
	}
	hung := false
	for _, c := range cases {
		if hung {
			t.Errorf("%s: not run, the tab is stuck in an earlier case", c.name)
			continue
		}
		t.Run(c.name, func(t *testing.T) {
			rows, cols, resize := c.rows, c.cols, c.resize
			if rows == "" {
				rows, cols = "24", "80"
			}
			if resize == "" {
				resize = "null"
			}
			tctx, cancel := context.WithTimeout(ctx, time.Minute)
			defer cancel()
			got, err := chromedp.Run(tctx, chromedp.Evaluate[string](`__hostile(`+c.input+`, `+rows+`, `+cols+`, `+resize+`, `+jsString(c.absent)+`)`))
			if err != nil {
				hung = true
				t.Fatalf("the page did not answer in a minute (hung): %v", err)
			}
			if got != "" {
				t.Error(got)
			}
		})
	}
}

// TestTerminalGuestHTML: a guest's output is text, never markup: tags,
// entities and script in exec output appear as the characters printed
// and make no element, handler or script run, also inside coloured runs
// and wide-character spans.
func TestTerminalGuestHTML(t *testing.T) {
	ctx := emulatorPage(t)
	payloads := []string{
		`<img src=x onerror="window.__xss=1">`,
		`<script>window.__xss=2</script>`,
		`&lt;b&gt;&amp;`,
		`<svg onload="window.__xss=3">`,
		`"><iframe srcdoc="<script>parent.__xss=4</script>">`,
	}
	js := `(() => {
  const box = document.createElement('div'); box.id = 'hostile-term'; document.body.append(box);
  const s = new WasmpodVT.Screen(12, 120), v = new WasmpodVT.View(box, s);
  const ps = ` + jsonString(payloads) + `;
  s.write(ps[0] + '\r\n\x1b[31m' + ps[1] + '\x1b[0m\r\n' + ps[2] + '\r\n\x1b[7m中' + ps[3] + '\x1b[m\r\n\x1b]0;' + ps[4] + '\x07' + ps[4]);
  v.draw();
  return true;
})()`
	evalJS[bool](t, ctx, js)
	// Give an injected handler or frame time to run.
	time.Sleep(500 * time.Millisecond)
	rows := evalJS[[]string](t, ctx, `Array.from(document.querySelectorAll('#hostile-term .vt-screen .vt-row')).map(r => r.textContent.trimEnd())`)
	want := []string{payloads[0], payloads[1], payloads[2], "中" + payloads[3], payloads[4]}
	for i, w := range want {
		if i >= len(rows) || rows[i] != w {
			t.Errorf("row %d: %q, want the text %q", i, rows, w)
			break
		}
	}
	if n := evalJS[int](t, ctx, `document.querySelectorAll('#hostile-term img, #hostile-term script, #hostile-term svg, #hostile-term iframe, #hostile-term b').length`); n != 0 {
		t.Errorf("%d elements made from the guest's output", n)
	}
	if x := evalJS[any](t, ctx, `window.__xss === undefined ? null : window.__xss`); x != nil {
		t.Errorf("the guest's script ran: __xss = %v", x)
	}
	if h := evalJS[string](t, ctx, `document.querySelector('#hostile-term .vt-screen').innerHTML`); !strings.Contains(h, "&lt;img src=x") {
		t.Errorf("markup not escaped: %.300s", h)
	}
}

// TestTerminalHostileGuestExec: the same through a real exec: a toolbox
// pod's shell prints an environment variable of hostile sequences (huge
// ICH, DCH, IL, SU and CUP counts, a long parameter list, a 64 KB OSC
// string, markup) 20 times; the terminal then draws what the shell
// prints next (a marker the command line itself does not contain), and
// the markup is text.
func TestTerminalHostileGuestExec(t *testing.T) {
	chromiumPath(t)
	e := newEnv(t)
	seq := "\x1b[999999999@\x1b[999999999P\x1b[99999999L\x1b[9999999999S\x1b[999999;999999r\x1b[9999999999999999999H" +
		"\x1b[" + strings.Repeat("1;", 20000) + "m\x1b]0;" + strings.Repeat("T", 64<<10) + "\x07" +
		"\x1b[H\x1b[2J<img src=x onerror=\"window.__xss=1\">" + strings.Repeat("\u0301", 5000) + "\r\n"
	pod := podJSON("hostile", nil, []string{"sleep", "3600"})
	ctr := pod["spec"].(map[string]any)["containers"].([]any)[0].(map[string]any)
	ctr["env"] = []any{map[string]any{"name": "SEQ", "value": seq}}
	e.must(t, "POST", "/api/v1/namespaces/default/pods", pod)
	ctx := browser(t, 1100, 800)
	login(t, ctx, e.srv.URL)
	run(t, ctx, hash("#/pod/default/hostile"), chromedp.WaitVisible("#tab-terminal"))
	waitJS(t, ctx, "pod running", `(document.querySelector('dd.f-status')||{}).textContent === 'Running'`, 30*time.Second)
	run(t, ctx, chromedp.Click("#tab-terminal"), chromedp.WaitVisible("#term-connect"), chromedp.Click("#term-connect"))
	waitJS(t, ctx, "shell prompt", termRows+`.some(l => / #$/.test(l))`, 15*time.Second)
	run(t, ctx, chromedp.Click("#term"), chromedp.KeyEvent("for i in 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20; do printenv SEQ; done; echo after-$((6*7))\r"))
	// Not waitJS: its diagnosis would wait on a hung tab for ever.
	tctx, cancel := context.WithTimeout(ctx, 90*time.Second)
	defer cancel()
	if _, err := chromedp.Run(tctx, chromedp.Poll[bool](termRows+`.some(l => l.startsWith('after-42'))`, chromedp.WithPollingTimeout(60*time.Second))); err != nil {
		t.Fatalf("the output after the hostile sequences is not drawn (the tab hung?): %v", err)
	}
	if got := evalJS[bool](t, ctx, `document.getElementById('term').textContent.includes('<img src=x onerror="window.__xss=1">')`); !got {
		t.Errorf("the markup is not drawn as text: %q", evalJS[[]string](t, ctx, termRows))
	}
	if n := evalJS[int](t, ctx, `document.querySelectorAll('#term img').length`); n != 0 {
		t.Errorf("%d img elements from the guest's output", n)
	}
	if evalJS[bool](t, ctx, `document.getElementById('term').textContent.includes('TTTTTTTT')`) {
		t.Error("the OSC string is drawn")
	}
	if x := evalJS[any](t, ctx, `window.__xss === undefined ? null : window.__xss`); x != nil {
		t.Errorf("the guest's script ran: %v", x)
	}
	// The terminal still answers keys.
	run(t, ctx, chromedp.KeyEvent("echo still-$((7*6))x\r"))
	waitJS(t, ctx, "a later command drawn", termRows+`.some(l => l.startsWith('still-42x'))`, 30*time.Second)
}
