package ui_test

import (
	"testing"
)

// vtFloodHarness defines window.__flood(unit, n, draw): unit repeated
// to n bytes of UTF-8 (no newline: the screen wraps it), fed to a 24x80
// Screen in 32 KB frames as the exec stream delivers it, with a View
// (1,000 rows of scrollback, in a .term box as on the pod page) drawn
// after each frame when draw, and the last frame laid out. It returns
// the page's nanoseconds per byte.
const vtFloodHarness = `window.__flood = (unit, n, draw) => {
  const box = document.createElement('div');
  box.className = 'term';
  document.body.append(box);
  let v;
  const s = new WasmpodVT.Screen(24, 80, { onReply: () => {}, onScrollOut: (r) => v.scrolledOut(r) });
  v = new WasmpodVT.View(box, s);
  const enc = new TextEncoder();
  const bytes = enc.encode(unit.repeat(Math.ceil(n / enc.encode(unit).length)));
  const dec = new TextDecoder();
  const t0 = performance.now();
  for (let i = 0; i < bytes.length; i += 32768) {
    s.write(dec.decode(bytes.subarray(i, i + 32768), { stream: true }));
    if (draw) v.draw();
  }
  box.getBoundingClientRect();
  const ns = (performance.now() - t0) * 1e6 / bytes.length;
  box.remove();
  return ns;
};
true`

// BenchmarkTerminalFlood: a guest's flood of wide characters (中, three
// bytes and two cells each) against a flood of ASCII ('x'), each 1 MB,
// alternated in the same loop in headless Chromium: the page's time per
// byte with the View drawing every 32 KB frame (draw), and the model's
// alone (model). Reports wide-ns/B, plain-ns/B and wide/plain for both.
//
//	go test -run '^$' -bench TerminalFlood -benchtime 5x ./ui/
func BenchmarkTerminalFlood(b *testing.B) {
	ctx := emulatorPage(b)
	evalJS[bool](b, ctx, vtFloodHarness)
	const n = "1048576"
	for _, mode := range []struct{ name, draw string }{{"draw", "true"}, {"model", "false"}} {
		b.Run(mode.name, func(b *testing.B) {
			var wide, plain float64
			for range b.N {
				plain += evalJS[float64](b, ctx, `__flood('x', `+n+`, `+mode.draw+`)`)
				wide += evalJS[float64](b, ctx, `__flood('中', `+n+`, `+mode.draw+`)`)
			}
			b.ReportMetric(0, "ns/op")
			b.ReportMetric(wide/float64(b.N), "wide-ns/B")
			b.ReportMetric(plain/float64(b.N), "plain-ns/B")
			b.ReportMetric(wide/plain, "wide/plain")
		})
	}
}
