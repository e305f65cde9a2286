package ui_test

// The dashboard in headless Chromium (Debian's chromium, driven with
// chromedp) against a real in-process control plane and node agent on
// loopback, with real toolbox pods: log in, a pod appears within 2 s of
// its creation through the API, its logs follow, `echo hi` runs in the
// exec terminal (WebSocket, token in the bearer subprotocol), a Deployment
// scaled from the page changes the pod list, YAML applies server-side, and
// XSS payloads (an event message, a log line) render as text; the layout
// holds on a phone-sized screen. (Without a browser: ui_test.go.)

import (
	"bytes"
	"context"
	"encoding/json"
	"image/png"
	"math"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chromedp/cdproto/page"
	cdpruntime "github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// chromiumPath finds Chromium (WASMPOD_CHROMIUM, else on PATH); without
// it the test skips, except in CI (CI set, or WASMPOD_REQUIRE_TOOLCHAINS as
// .ci/run sets it), where .ci/run installs it and its absence is a failure.
func chromiumPath(tb testing.TB) string {
	tb.Helper()
	if p := os.Getenv("WASMPOD_CHROMIUM"); p != "" {
		return p
	}
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if os.Getenv("CI") != "" || os.Getenv("WASMPOD_REQUIRE_TOOLCHAINS") != "" {
		tb.Fatal("chromium not found (CI or WASMPOD_REQUIRE_TOOLCHAINS is set: .ci/run installs Debian's chromium; apt-get install -y chromium)")
	}
	tb.Skip("chromium not found: apt-get install -y chromium (Debian) to run the dashboard's browser tests")
	return ""
}

// browser starts headless Chromium; ctx is its tab.
func browser(tb testing.TB, w, h int) context.Context {
	tb.Helper()
	// Chromium's profile, caches and NSS database go to a temporary
	// directory: the tests must leave HOME untouched (.ci/run checks).
	dir := tb.TempDir()
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chromiumPath(tb)), chromedp.NoSandbox, chromedp.DisableGPU,
		chromedp.WindowSize(w, h), chromedp.UserDataDir(filepath.Join(dir, "profile")),
		chromedp.Env("HOME="+dir, "XDG_CONFIG_HOME="+filepath.Join(dir, "config"), "XDG_CACHE_HOME="+filepath.Join(dir, "cache")))
	actx, cancelA := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(actx)
	tb.Cleanup(func() { cancel(); cancelA() })
	var mu sync.Mutex
	var logs []string
	if err := chromedp.Listen(ctx, func(ev any) {
		var line string
		switch ev := ev.(type) {
		case *cdpruntime.EventExceptionThrown:
			line = "exception: " + ev.ExceptionDetails.Text
			if ev.ExceptionDetails.Exception != nil {
				line += " " + ev.ExceptionDetails.Exception.Description
			}
		case *cdpruntime.EventConsoleAPICalled:
			line = "console." + string(ev.Type) + ":"
			for _, a := range ev.Args {
				line += " " + string(a.Value) + a.Description
			}
		default:
			return
		}
		mu.Lock()
		logs = append(logs, line)
		mu.Unlock()
	}); err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() {
		mu.Lock()
		defer mu.Unlock()
		if tb.Failed() {
			for _, l := range logs {
				tb.Log("browser: " + l)
			}
		}
	})
	return ctx
}

func run(tb testing.TB, ctx context.Context, steps ...chromedp.Action[chromedp.Void]) {
	tb.Helper()
	tctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	if err := chromedp.Do(tctx, steps...); err != nil {
		tb.Fatal(err)
	}
}

// waitJS polls the JavaScript expression until it is true.
func waitJS(tb testing.TB, ctx context.Context, what, expr string, timeout time.Duration) {
	tb.Helper()
	tctx, cancel := context.WithTimeout(ctx, timeout+5*time.Second)
	defer cancel()
	deadline := time.Now().Add(timeout)
	var err error
	for {
		_, err = chromedp.Run(tctx, chromedp.Poll[bool](expr, chromedp.WithPollingTimeout(time.Until(deadline))))
		// A navigation can replace the page's JavaScript context under the
		// poll: poll again in the new one.
		if err == nil || !strings.Contains(err.Error(), "Cannot find context") || time.Now().After(deadline) {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	if err != nil {
		diag, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`document.getElementById('main').innerText.slice(0, 2000)`))
		tb.Fatalf("%s: %v (page: %q)", what, err, diag)
	}
}

// hash moves the logged-in page to another view (a same-document
// navigation: chromedp's Navigate can wait for a load that never comes).
func hash(h string) chromedp.Action[chromedp.Void] {
	return chromedp.Evaluate[chromedp.Void](`location.hash = ` + jsString(h))
}

func evalJS[T any](tb testing.TB, ctx context.Context, expr string) T {
	tb.Helper()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](expr))
	if err != nil {
		tb.Fatalf("%s: %v", expr, err)
	}
	return v
}

func login(tb testing.TB, ctx context.Context, base string) {
	tb.Helper()
	run(tb, ctx, chromedp.Navigate(base+"/ui/"), chromedp.WaitVisible("#token"))
	// A wrong token is refused, and the page says so.
	run(tb, ctx, chromedp.SendKeys("#token", "not-a-token"), chromedp.Click("#login"))
	waitJS(tb, ctx, "wrong token refused", `document.getElementById('login-error').textContent.includes('401')`, 5*time.Second)
	run(tb, ctx, chromedp.Evaluate[chromedp.Void](`document.getElementById('token').value = ''`), chromedp.SendKeys("#token", adminToken), chromedp.Click("#login"),
		chromedp.WaitVisible("#nodes"))
}

const xssLog = `<img src=x onerror="window.__xss=1;alert(1)"><script>window.__xss=2</script>`

func TestDashboardInBrowser(t *testing.T) {
	chromiumPath(t)
	e := newEnv(t)
	ctx := browser(t, 1280, 900)
	var dialogs atomic.Int32
	if err := chromedp.Listen(ctx, func(ev any) {
		if _, ok := ev.(*page.EventJavascriptDialogOpening); ok {
			dialogs.Add(1)
		}
	}); err != nil {
		t.Fatal(err)
	}
	// A container that exits and restarts, for the previous instance's log
	// at the end (its restart waits for the back-off).
	e.must(t, "POST", "/api/v1/namespaces/default/pods", podJSON("crasher", nil, []string{"sh", "-c", "echo instance $(date); sleep 1; exit 3"}))
	// Two containers, for the logs of each.
	two := podJSON("two", nil, []string{"sh", "-c", "while true; do echo main-says-hi; sleep 1; done"})
	two["spec"].(map[string]any)["containers"] = append(two["spec"].(map[string]any)["containers"].([]any),
		map[string]any{"name": "side", "image": "wasmpod.local/toolbox:latest", "command": []string{"sh", "-c", "while true; do echo side-says-hi; sleep 1; done"}})
	e.must(t, "POST", "/api/v1/namespaces/default/pods", two)
	login(t, ctx, e.srv.URL)
	if got := evalJS[string](t, ctx, `sessionStorage.getItem('wasmpod.token')`); got != adminToken {
		t.Errorf("token in sessionStorage: %q", got)
	}
	// The table shows at login; its rows come with the nodes' watch.
	waitJS(t, ctx, "the overview's node rows", `document.querySelectorAll('#nodes tbody tr').length >= 1`, 15*time.Second)

	// A pod created through the API is on the page within 2 s.
	run(t, ctx, hash("#/pods?ns=default"), chromedp.WaitVisible("table#pods"))
	t0 := time.Now()
	web := podJSON("web", map[string]string{"app": "web"},
		[]string{"sh", "-c", "echo '" + xssLog + "'; i=0; while true; do echo tick $i; i=$((i+1)); sleep 1; done"})
	// An annotation may carry markup (a label may not: below).
	web["metadata"].(map[string]any)["annotations"] = map[string]string{"note": xssLog}
	e.must(t, "POST", "/api/v1/namespaces/default/pods", web)
	waitJS(t, ctx, "pod row", `!!document.querySelector('table#pods tr[data-name="web"]')`, 2*time.Second)
	t.Logf("pod on the page %v after its POST", time.Since(t0).Round(time.Millisecond))
	waitJS(t, ctx, "pod Running on the page", `(document.querySelector('table#pods tr[data-name="web"] .c-status')||{}).textContent === 'Running'`, 30*time.Second)
	if lab := evalJS[string](t, ctx, `document.querySelector('table#pods tr[data-name="web"] .c-labels').textContent`); lab != "app=web" {
		t.Errorf("labels cell: %q", lab)
	}

	// A label cannot carry markup (the API server refuses it, as upstream);
	// a label value that looks like code still renders as text.
	if code, out := e.do(t, adminToken, "POST", "/api/v1/namespaces/default/pods", "", podJSON("xss-label", map[string]string{"x": "<img src=x onerror=alert(1)>"}, nil)); code != http.StatusUnprocessableEntity {
		t.Errorf("label with markup: %d %s (want 422)", code, out)
	}
	e.must(t, "POST", "/api/v1/namespaces/default/pods", podJSON("odd-label", map[string]string{"a.b/c-d": "x_y-z.1"}, []string{"sleep", "3600"}))
	waitJS(t, ctx, "odd label", `(document.querySelector('table#pods tr[data-name="odd-label"] .c-labels')||{}).textContent === 'a.b/c-d=x_y-z.1'`, 5*time.Second)

	// A Service with the pod as its endpoint.
	e.must(t, "POST", "/api/v1/namespaces/default/services", map[string]any{
		"metadata": map[string]any{"name": "web"},
		"spec":     map[string]any{"selector": map[string]any{"app": "web"}, "ports": []any{map[string]any{"port": 80, "targetPort": 8080}}},
	})
	var wp struct {
		Status struct {
			PodIP string `json:"podIP"`
		} `json:"status"`
	}
	json.Unmarshal(e.must(t, "GET", "/api/v1/namespaces/default/pods/web", nil), &wp)
	run(t, ctx, hash("#/services?ns=default"), chromedp.WaitVisible("table#services"))
	waitJS(t, ctx, "service endpoints", `(document.querySelector('table#services tr[data-name="web"] .c-endpoints')||{}).textContent === `+jsString(wp.Status.PodIP+":8080"), 15*time.Second)
	if ports := evalJS[string](t, ctx, `document.querySelector('table#services tr[data-name="web"] .c-ports').textContent`); ports != "80/TCP" {
		t.Errorf("service ports cell: %q", ports)
	}

	// An event whose message is markup renders as text on the Events page.
	e.must(t, "POST", "/api/v1/namespaces/default/events", map[string]any{
		"metadata":       map[string]any{"name": "web.xss"},
		"involvedObject": map[string]any{"kind": "Pod", "namespace": "default", "name": "web"},
		"reason":         "Test", "message": xssLog, "type": "Warning", "count": 1,
		"firstTimestamp": time.Now().UTC().Format(time.RFC3339), "lastTimestamp": time.Now().UTC().Format(time.RFC3339),
	})
	run(t, ctx, hash("#/events?ns=default"), chromedp.WaitVisible("table#events"))
	waitJS(t, ctx, "event message as text", `Array.from(document.querySelectorAll('table#events .c-message')).some(td => td.textContent === `+jsString(xssLog)+`)`, 5*time.Second)
	if n := evalJS[int](t, ctx, `document.querySelectorAll('#main img, #main script').length`); n != 0 {
		t.Errorf("events page: %d injected img/script elements", n)
	}

	// The pod's page: logs follow, with the markup line as text.
	run(t, ctx, hash("#/pod/default/web"), chromedp.WaitVisible("#logs"))
	waitJS(t, ctx, "log line", `document.getElementById('logs').textContent.includes('tick 1')`, 10*time.Second)
	before := evalJS[string](t, ctx, `document.getElementById('logs').textContent`)
	waitJS(t, ctx, "log follows", `(() => { const m = document.getElementById('logs').textContent.match(/tick (\d+)/g); return m && m.length >= 4; })()`, 10*time.Second)
	if !strings.Contains(before, xssLog+"\n") {
		t.Errorf("log's markup line not shown as text: %q", before)
	}
	if n := evalJS[int](t, ctx, `document.querySelectorAll('#logs *, #main img').length`); n != 0 {
		t.Errorf("logs: %d elements injected", n)
	}
	run(t, ctx, chromedp.Click("#tab-events"))
	waitJS(t, ctx, "pod events tab", `Array.from(document.querySelectorAll('#pod-events .c-message')).some(td => td.textContent === `+jsString(xssLog)+`)`, 5*time.Second)
	run(t, ctx, chromedp.Click("#tab-yaml"))
	waitJS(t, ctx, "yaml", `/^kind: Pod$/m.test(document.getElementById('yaml').textContent) && document.getElementById('yaml').textContent.includes('app: web')`, 5*time.Second)
	if !evalJS[bool](t, ctx, `document.getElementById('yaml').textContent.includes('<script>window.__xss=2</script>')`) {
		t.Errorf("the markup annotation is not in the YAML as text: %q", evalJS[string](t, ctx, `document.getElementById('yaml').textContent`))
	}
	if n := evalJS[int](t, ctx, `document.querySelectorAll('#yaml *, #main img, #main script').length`); n != 0 {
		t.Errorf("yaml: %d elements injected", n)
	}

	// The exec terminal: sh over the WebSocket, echo hi.
	run(t, ctx, chromedp.Click("#tab-terminal"), chromedp.WaitVisible("#term-connect"), chromedp.Click("#term-connect"))
	waitJS(t, ctx, "terminal connected", `document.getElementById('term-state').textContent.startsWith('connected (v5.channel.k8s.io)')`, 10*time.Second)
	waitJS(t, ctx, "shell prompt", termRows+`.some(l => / #$/.test(l))`, 10*time.Second)
	run(t, ctx, chromedp.SendKeys("#term-input", "echo hi\r"))
	waitJS(t, ctx, "echo hi output", termRows+`.some(l => l.trim() === 'hi')`, 10*time.Second)
	run(t, ctx, chromedp.SendKeys("#term-input", "exit\r"))
	waitJS(t, ctx, "shell exit", `/exited|closed/.test(document.getElementById('term-state').textContent)`, 10*time.Second)

	// Scale a Deployment from the page; the pod list follows.
	e.must(t, "POST", "/apis/apps/v1/namespaces/default/deployments", map[string]any{
		"metadata": map[string]any{"name": "scaler"},
		"spec": map[string]any{"replicas": 1, "selector": map[string]any{"matchLabels": map[string]any{"app": "scaler"}},
			"template": map[string]any{"metadata": map[string]any{"labels": map[string]any{"app": "scaler"}},
				"spec": map[string]any{"terminationGracePeriodSeconds": 1, "containers": []any{map[string]any{"name": "main", "image": "wasmpod.local/toolbox:latest"}}}}},
	})
	run(t, ctx, hash("#/workloads?ns=default"), chromedp.WaitVisible("table#deployments"))
	waitJS(t, ctx, "deployment complete", `(document.querySelector('table#deployments tr[data-name="scaler"] .c-rollout')||{}).textContent === 'complete'`, 30*time.Second)
	run(t, ctx, chromedp.Click(`table#deployments tr[data-name="scaler"] button[data-action="scale"]`), chromedp.WaitVisible("#modal-input"),
		chromedp.SetValue("#modal-input", "3"), chromedp.Click("#modal-ok"))
	waitJS(t, ctx, "deployment ready 3/3", `(document.querySelector('table#deployments tr[data-name="scaler"] .c-ready')||{}).textContent === '3/3'`, 30*time.Second)
	run(t, ctx, hash("#/pods?ns=default"), chromedp.WaitVisible("table#pods"))
	waitJS(t, ctx, "3 scaler pods", `document.querySelectorAll('table#pods tr[data-name^="scaler-"]').length === 3`, 10*time.Second)
	var d struct {
		Spec struct {
			Replicas int `json:"replicas"`
		} `json:"spec"`
	}
	json.Unmarshal(e.must(t, "GET", "/apis/apps/v1/namespaces/default/deployments/scaler", nil), &d)
	if d.Spec.Replicas != 3 {
		t.Errorf("deployment replicas after scaling from the page: %d", d.Spec.Replicas)
	}
	// Cancelled actions do nothing; a confirmed restart stamps the template.
	run(t, ctx, hash("#/workloads?ns=default"), chromedp.WaitVisible(`table#deployments tr[data-name="scaler"]`),
		chromedp.Click(`table#deployments tr[data-name="scaler"] button[data-action="delete"]`), chromedp.WaitVisible("#modal-ok"), chromedp.Click("#modal-cancel"),
		chromedp.Click(`table#deployments tr[data-name="scaler"] button[data-action="restart"]`), chromedp.WaitVisible("#modal-ok"), chromedp.Click("#modal-ok"))
	waitJS(t, ctx, "restart done", `(document.getElementById('flash')||{}).textContent === 'Restart: done'`, 10*time.Second)
	var dt struct {
		Spec struct {
			Template struct {
				Metadata struct {
					Annotations map[string]string `json:"annotations"`
				} `json:"metadata"`
			} `json:"template"`
		} `json:"spec"`
	}
	json.Unmarshal(e.must(t, "GET", "/apis/apps/v1/namespaces/default/deployments/scaler", nil), &dt)
	if _, err := time.Parse(time.RFC3339, dt.Spec.Template.Metadata.Annotations["kubectl.kubernetes.io/restartedAt"]); err != nil {
		t.Errorf("restartedAt after a rollout restart from the page: %v", dt.Spec.Template.Metadata.Annotations)
	}

	// Apply YAML (server-side apply, field manager wasmpod-ui).
	run(t, ctx, hash("#/apply?ns=default"), chromedp.WaitVisible("#apply-text"),
		chromedp.SetValue("#apply-text", "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: from-ui\n  labels:\n    a: b\ndata:\n  k: v\n"),
		chromedp.Click("#apply"), chromedp.WaitVisible("#modal-ok"), chromedp.Click("#modal-ok"))
	waitJS(t, ctx, "applied", `document.getElementById('apply-result').textContent.includes('configmap/from-ui serverside-applied')`, 10*time.Second)
	if cm := string(e.must(t, "GET", "/api/v1/namespaces/default/configmaps/from-ui", nil)); !strings.Contains(cm, `"manager":"wasmpod-ui"`) || !strings.Contains(cm, `"k":"v"`) {
		t.Errorf("applied ConfigMap: %s", cm)
	}

	// Delete a pod from its page, with confirmation.
	run(t, ctx, hash("#/pod/default/odd-label"), chromedp.WaitEnabled("#pod-delete"),
		chromedp.Click("#pod-delete"), chromedp.WaitVisible("#modal-ok"), chromedp.Click("#modal-ok"))
	deadline := time.Now().Add(30 * time.Second)
	for {
		code, _ := e.do(t, adminToken, "GET", "/api/v1/namespaces/default/pods/odd-label", "", nil)
		if code == http.StatusNotFound {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("pod deleted from its page still there: %d", code)
		}
		time.Sleep(100 * time.Millisecond)
	}

	// The previous instance's log, from the pod's page.
	run(t, ctx, hash("#/pod/default/crasher"), chromedp.WaitVisible("#logs"))
	waitJS(t, ctx, "a restart", `Number((document.querySelector('dd.f-restarts')||{}).textContent) >= 1`, 60*time.Second)
	run(t, ctx, chromedp.Click("#previous"))
	waitJS(t, ctx, "previous instance's log", `/^instance \S.*\n$/.test(document.getElementById('logs').textContent) && document.getElementById('logs-state').textContent === 'end of log'`, 10*time.Second)
	// The same bytes as the API's previous log (each instance prints its
	// own date; the next restart is 20 s of back-off away).
	if ui, prev := evalJS[string](t, ctx, `document.getElementById('logs').textContent`), string(e.must(t, "GET", "/api/v1/namespaces/default/pods/crasher/log?previous=true", nil)); ui != prev {
		t.Errorf("previous instance's log on the page %q, from the API %q", ui, prev)
	}

	// Each container's logs: the select picks the side container's.
	run(t, ctx, hash("#/pod/default/two"), chromedp.WaitVisible("#logs"))
	waitJS(t, ctx, "main container's log", `document.getElementById('logs').textContent.includes('main-says-hi')`, 30*time.Second)
	if got := evalJS[string](t, ctx, `Array.from(document.querySelectorAll('#container option')).map(o => o.value).join(',')`); got != "main,side" {
		t.Errorf("container choices: %q", got)
	}
	run(t, ctx, chromedp.SetValue("#container", "side"), chromedp.Evaluate[chromedp.Void](`document.getElementById('container').dispatchEvent(new Event('change'))`))
	waitJS(t, ctx, "side container's log", `(t => t.includes('side-says-hi') && !t.includes('main-says-hi'))(document.getElementById('logs').textContent)`, 10*time.Second)

	if v := evalJS[any](t, ctx, `window.__xss === undefined ? null : window.__xss`); v != nil {
		t.Errorf("injected script ran: window.__xss = %v", v)
	}
	if n := dialogs.Load(); n != 0 {
		t.Errorf("%d JavaScript dialogs opened (injected alert?)", n)
	}

	// Logging out forgets the token.
	run(t, ctx, chromedp.Click("#logout"), chromedp.WaitVisible("#token"))
	if got := evalJS[any](t, ctx, `sessionStorage.getItem('wasmpod.token')`); got != nil {
		t.Errorf("token after logout: %v", got)
	}
}

// TestDashboardLayout: the structure of the overview and pod list on a
// desktop and on a phone-sized viewport, checked on the DOM and on a
// screenshot's dimensions (not its pixels). WASMPOD_UI_SCREENSHOT=PATH
// writes the desktop pod list's screenshot (docs/ui-pods.png).
func TestDashboardLayout(t *testing.T) {
	chromiumPath(t)
	e := newEnv(t)
	for _, name := range []string{"api-7d4b9", "worker-0", "worker-1"} {
		e.must(t, "POST", "/api/v1/namespaces/default/pods", podJSON(name, map[string]string{"app": strings.SplitN(name, "-", 2)[0], "tier": "demo"}, nil))
	}
	ctx := browser(t, 1100, 640)
	login(t, ctx, e.srv.URL)
	waitJS(t, ctx, "overview charts", `document.querySelectorAll('#pod-charts .chart svg').length === 3 && document.querySelectorAll('#nodes tbody tr').length >= 1`, 10*time.Second)
	// Node usage from metrics.k8s.io: a CPU figure in the nodes table and
	// two charts, once the agent has a sample (its window is 10 s).
	waitJS(t, ctx, "node usage", `document.querySelectorAll('#node-usage .chart svg').length === 2 && /^\d+m \(\d+%\)$/.test(document.querySelector('#nodes td.c-cpuuse').textContent)`, 45*time.Second)
	for _, sel := range []string{"#nav a[href='#/pods']", "#nav a[href='#/workloads']", "#nav a[href='#/services']", "#nav a[href='#/events']", "#nav a[href='#/apply']", "#ns", "#logout", "#live"} {
		if !evalJS[bool](t, ctx, `!!document.querySelector(`+jsString(sel)+`)`) {
			t.Errorf("overview: no %s", sel)
		}
	}
	run(t, ctx, hash("#/pods?ns=default"), chromedp.WaitVisible("table#pods"))
	waitJS(t, ctx, "three running pods", `Array.from(document.querySelectorAll('table#pods .c-status')).filter(x => x.textContent === 'Running').length === 3`, 30*time.Second)
	checkPodStartChart(t, ctx, e, 3)
	run(t, ctx, hash("#/pods?ns=default"), chromedp.WaitVisible("table#pods"))
	heads := evalJS[[]string](t, ctx, `Array.from(document.querySelectorAll('table#pods th')).map(th => th.textContent)`)
	if got := strings.Join(heads, ","); got != "Name,Ready,Status,Restarts,Age,Node,IP,Labels," {
		t.Errorf("pod list columns: %s", got)
	}
	run(t, ctx, chromedp.EmulateViewport(1100, 640))
	shot, err := chromedp.Run(ctx, chromedp.CaptureScreenshot())
	if err != nil {
		t.Fatal(err)
	}
	img, err := png.Decode(bytes.NewReader(shot))
	if err != nil {
		t.Fatal(err)
	}
	if b := img.Bounds(); b.Dx() != 1100 || b.Dy() != 640 {
		t.Errorf("screenshot %v", b)
	}
	if p := os.Getenv("WASMPOD_UI_SCREENSHOT"); p != "" {
		if err := os.WriteFile(p, shot, 0o644); err != nil {
			t.Fatal(err)
		}
		t.Logf("wrote %s (%d bytes)", p, len(shot))
	}
	// A pod's CPU and memory from metrics.k8s.io, drawn as lines from the
	// server's history (5 samples a minute apart) on the page's opening,
	// then the samples taken while the page is open.
	e.sampleHistory(t, "api-7d4b9", 5)
	run(t, ctx, hash("#/pod/default/api-7d4b9"), chromedp.WaitVisible("#usage"))
	waitJS(t, ctx, "pod usage from history", `document.querySelectorAll('#usage polyline').length === 2 && Array.from(document.querySelectorAll('#usage polyline')).every(l => l.getAttribute('points').split(' ').length >= 5)`, 10*time.Second)
	waitJS(t, ctx, "pod usage charts", `document.querySelectorAll('#usage .chart svg').length === 2 && /^CPU: \d+m$/.test(document.querySelector('#usage .chart h3').textContent) && /^Memory: [\d.]+[MG]i$/.test(document.querySelectorAll('#usage .chart h3')[1].textContent)`, 45*time.Second)
	run(t, ctx, hash("#/pods?ns=default"), chromedp.WaitVisible("table#pods tr[data-name='api-7d4b9']"))

	// A phone: optional columns hidden, nothing wider than the screen.
	run(t, ctx, chromedp.EmulateViewport(390, 844, chromedp.EmulateScale(2), chromedp.EmulateMobile))
	waitJS(t, ctx, "phone layout", `getComputedStyle(document.querySelector('table#pods td.c-node')).display === 'none'`, 5*time.Second)
	if w := evalJS[int](t, ctx, `document.documentElement.scrollWidth`); w > 390 {
		t.Errorf("phone: page %d px wide on a 390 px screen", w)
	}
	if !evalJS[bool](t, ctx, `getComputedStyle(document.querySelector('table#pods td.c-status')).display !== 'none'`) {
		t.Error("phone: the status column is hidden")
	}
}

// TestDashboardRBAC: logged in with a ServiceAccount's token, the page
// sees what RBAC lets the account see and nothing more: a Role with
// get/list/watch on pods in default shows default's pods; nodes and other
// namespaces show the API's Forbidden; a delete from the page is refused
// (403, shown) and the pod stays.
func TestDashboardRBAC(t *testing.T) {
	chromiumPath(t)
	e := newEnv(t)
	e.must(t, "POST", "/api/v1/namespaces/default/pods", podJSON("visible", nil, nil))
	e.must(t, "POST", "/api/v1/namespaces/default/serviceaccounts", map[string]any{"metadata": map[string]any{"name": "viewer"}})
	e.must(t, "POST", "/apis/rbac.authorization.k8s.io/v1/namespaces/default/roles", map[string]any{
		"metadata": map[string]any{"name": "pod-reader"},
		"rules":    []any{map[string]any{"apiGroups": []string{""}, "resources": []string{"pods", "pods/log"}, "verbs": []string{"get", "list", "watch"}}},
	})
	e.must(t, "POST", "/apis/rbac.authorization.k8s.io/v1/namespaces/default/rolebindings", map[string]any{
		"metadata": map[string]any{"name": "viewer-pod-reader"},
		"roleRef":  map[string]any{"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "pod-reader"},
		"subjects": []any{map[string]any{"kind": "ServiceAccount", "name": "viewer", "namespace": "default"}},
	})
	var tr struct {
		Status struct {
			Token string `json:"token"`
		} `json:"status"`
	}
	if err := json.Unmarshal(e.must(t, "POST", "/api/v1/namespaces/default/serviceaccounts/viewer/token",
		map[string]any{"apiVersion": "authentication.k8s.io/v1", "kind": "TokenRequest", "spec": map[string]any{}}), &tr); err != nil || tr.Status.Token == "" {
		t.Fatalf("token request: %v %q", err, tr.Status.Token)
	}

	ctx := browser(t, 1280, 900)
	run(t, ctx, chromedp.Navigate(e.srv.URL+"/ui/"), chromedp.WaitVisible("#token"),
		chromedp.SendKeys("#token", tr.Status.Token), chromedp.Click("#login"), chromedp.WaitVisible("#nodes"))
	waitJS(t, ctx, "nodes forbidden", `Array.from(document.querySelectorAll('#main p.err')).some(p => !p.hidden && /forbidden/.test(p.textContent) && /nodes/.test(p.textContent))`, 10*time.Second)
	if n := evalJS[int](t, ctx, `document.querySelectorAll('#nodes tbody tr').length`); n != 0 {
		t.Errorf("a ServiceAccount without access to nodes sees %d node rows", n)
	}
	waitJS(t, ctx, "no pod-start chart without nodes", `/^No node metrics: .*forbidden/.test(document.getElementById('pod-start').textContent)`, 10*time.Second)
	run(t, ctx, hash("#/pods?ns=default"), chromedp.WaitVisible("table#pods"))
	waitJS(t, ctx, "default's pods", `!!document.querySelector('table#pods tr[data-name="visible"]')`, 10*time.Second)
	run(t, ctx, chromedp.Click(`table#pods tr[data-name="visible"] button[data-action="delete"]`), chromedp.WaitVisible("#modal-ok"), chromedp.Click("#modal-ok"))
	waitJS(t, ctx, "delete refused", `/^Delete: .*forbidden/.test((document.getElementById('flash')||{}).textContent || '')`, 10*time.Second)
	if code, _ := e.do(t, adminToken, "GET", "/api/v1/namespaces/default/pods/visible", "", nil); code != http.StatusOK {
		t.Errorf("pod after a forbidden delete from the page: %d", code)
	}
	run(t, ctx, hash("#/pods?ns=kube-system"), chromedp.WaitVisible("table#pods"))
	waitJS(t, ctx, "kube-system forbidden", `Array.from(document.querySelectorAll('#main p.err')).some(p => !p.hidden && /forbidden/.test(p.textContent))`, 10*time.Second)
}

// checkPodStartChart: the overview's pod-start histogram shows the node
// agent's kubelet_pod_start_duration_seconds, read from the API's node
// proxy as the page reads it: each bar is its bucket's own count (the
// cumulative counts differenced), at least `pods` pods counted.
func checkPodStartChart(t *testing.T, ctx context.Context, e *env, pods int) {
	t.Helper()
	run(t, ctx, hash("#/overview"), chromedp.WaitVisible("#pod-start"))
	// The page scrapes every 10 s: wait for a chart that has the pods.
	bars := `Array.from(document.querySelectorAll('#pod-start rect.bar')).map(r => [r.getAttribute('data-label'), Number(r.getAttribute('data-value'))])`
	waitJS(t, ctx, "pod-start chart", `(() => { const b = `+bars+`; return b.length > 0 && b.reduce((a, x) => a + x[1], 0) >= `+strconv.Itoa(pods)+`; })()`, 45*time.Second)
	// No pod starts while we compare: the page's last scrape and ours agree.
	var page [][]any
	var want []bucket
	for try := 0; ; try++ {
		page = evalJS[[][]any](t, ctx, bars)
		want = scrapePodStart(t, e)
		if len(page) <= len(want) && len(page) > 0 {
			ok := true
			for i, b := range page {
				if b[0] != want[i].label || b[1] != float64(want[i].n) {
					ok = false
				}
			}
			if ok {
				break
			}
		}
		if try == 30 {
			t.Fatalf("pod-start chart %v, the agent's /metrics %v", page, want)
		}
		time.Sleep(time.Second)
	}
	var total, shown uint64
	for i, b := range want {
		total += b.n
		if i < len(page) {
			shown += b.n
		}
	}
	if shown != total || total < uint64(pods) {
		t.Errorf("chart shows %d of %d pod starts (want all, at least %d): %v", shown, total, pods, page)
	}
	if title := evalJS[string](t, ctx, `document.querySelector('#pod-start h3').textContent`); !strings.Contains(title, "("+strconv.FormatUint(total, 10)+" pods, mean ") {
		t.Errorf("pod-start chart title %q, want %d pods", title, total)
	}
	t.Logf("pod-start chart: %v", page)
}

type bucket struct {
	label string
	n     uint64
}

// scrapePodStart reads every node's kubelet_pod_start_duration_seconds
// through the node proxy, parsed by Prometheus's text parser, as
// per-bucket counts labelled as the chart labels them.
func scrapePodStart(t *testing.T, e *env) []bucket {
	t.Helper()
	var nodes struct {
		Items []struct {
			Metadata struct {
				Name string `json:"name"`
			} `json:"metadata"`
		} `json:"items"`
	}
	if err := json.Unmarshal(e.must(t, "GET", "/api/v1/nodes", nil), &nodes); err != nil {
		t.Fatal(err)
	}
	cum := map[float64]uint64{}
	for _, n := range nodes.Items {
		code, body := e.do(t, adminToken, "GET", "/api/v1/nodes/"+n.Metadata.Name+"/proxy/metrics", "", nil)
		if code != http.StatusOK {
			t.Fatalf("node %s metrics: %d %s", n.Metadata.Name, code, body)
		}
		p := expfmt.NewTextParser(model.UTF8Validation)
		fams, err := p.TextToMetricFamilies(bytes.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		f := fams["kubelet_pod_start_duration_seconds"]
		if f == nil {
			t.Fatalf("node %s: no kubelet_pod_start_duration_seconds", n.Metadata.Name)
		}
		for _, m := range f.GetMetric() {
			for _, b := range m.GetHistogram().GetBucket() {
				if !math.IsInf(b.GetUpperBound(), 1) { // +Inf is the sample count
					cum[b.GetUpperBound()] += b.GetCumulativeCount()
				}
			}
			cum[math.Inf(1)] += m.GetHistogram().GetSampleCount()
		}
	}
	les := make([]float64, 0, len(cum))
	for le := range cum {
		les = append(les, le)
	}
	sort.Float64s(les)
	var out []bucket
	var prev uint64
	for i, le := range les {
		label := "≤" + strconv.FormatFloat(le, 'g', -1, 64) + "s"
		if math.IsInf(le, 1) {
			label = ">" + strconv.FormatFloat(les[i-1], 'g', -1, 64) + "s"
		}
		out = append(out, bucket{label, cum[le] - prev})
		prev = cum[le]
	}
	return out
}
