package ui_test

// The dashboard's cost against a plain API client in the same run:
//
//   - BenchmarkDashboardPodList1000: navigation to the pod list until the
//     frame after its 1,000 rows are in the DOM (the page's clock), against a Go HTTP client's GET of the same
//     list decoded into typed Pods (what kubectl get does before printing).
//   - BenchmarkDashboardPodUpdate: a pod status write until the row shows
//     it (a MutationObserver's timestamp in the page), against a Go watch
//     client on the same collection seeing the same event.
//
// Both report ui-ms, go-ms and their ratio (ui/go) per operation.

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"
	corev1 "k8s.io/api/core/v1"
)

const benchPods = 1000

// benchEnv: 1,000 pods that no node can run (a node selector nothing
// matches), so that they stay Pending and the node stays idle; a browser
// logged in through sessionStorage.
func benchEnv(b *testing.B) (*env, context.Context) {
	chromiumPath(b)
	e := newEnv(b)
	var wg sync.WaitGroup
	errs := make(chan error, benchPods)
	sem := make(chan struct{}, 8)
	for i := 0; i < benchPods; i++ {
		wg.Add(1)
		sem <- struct{}{}
		go func(i int) {
			defer wg.Done()
			defer func() { <-sem }()
			p := podJSON(fmt.Sprintf("bench-%04d", i), map[string]string{"app": "bench"}, nil)
			p["spec"].(map[string]any)["nodeSelector"] = map[string]string{"bench": "nowhere"}
			if code, out := e.do(b, adminToken, "POST", "/api/v1/namespaces/default/pods", "", p); code != http.StatusCreated {
				errs <- fmt.Errorf("create pod %d: %d %s", i, code, out)
			}
		}(i)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		b.Fatal(err)
	}
	ctx := browser(b, 1280, 900)
	run(b, ctx, chromedp.Navigate(e.srv.URL+"/ui/"), chromedp.WaitVisible("#token"),
		chromedp.Evaluate[chromedp.Void](`sessionStorage.setItem('wasmpod.token', `+jsString(adminToken)+`)`),
		chromedp.Navigate("about:blank"))
	return e, ctx
}

func BenchmarkDashboardPodList1000(b *testing.B) {
	e, ctx := benchEnv(b)
	// The page's own clock (chromedp's DOM queries fetch the whole tree,
	// which costs seconds with 1,000 rows): at document start, a
	// MutationObserver waits for the 1,000th row and stamps the next frame,
	// in ms since the navigation began.
	if _, err := chromedp.Call(ctx, page.AddScriptToEvaluateOnNewDocument, page.AddScriptToEvaluateOnNewDocumentParams{Source: `
		window.__rows = 0;
		new MutationObserver((_, obs) => {
			const t = document.querySelector('table#pods tbody');
			if (t && t.children.length >= ` + fmt.Sprint(benchPods) + `) {
				obs.disconnect();
				requestAnimationFrame(() => { window.__rows = performance.now(); });
			}
		}).observe(document, {subtree: true, childList: true});`}); err != nil {
		b.Fatal(err)
	}
	var ui, goc time.Duration
	for i := 0; i < b.N; i++ {
		t0 := time.Now()
		var l corev1.PodList
		if err := json.Unmarshal(e.must(b, "GET", "/api/v1/namespaces/default/pods", nil), &l); err != nil || len(l.Items) != benchPods {
			b.Fatalf("list: %v, %d pods", err, len(l.Items))
		}
		goc += time.Since(t0)

		run(b, ctx, chromedp.Navigate("about:blank"))
		run(b, ctx, chromedp.Navigate(e.srv.URL+"/ui/#/pods?ns=default"))
		waitJS(b, ctx, "1,000 rows", `window.__rows > 0`, 60*time.Second)
		ui += time.Duration(evalJS[float64](b, ctx, `window.__rows`) * float64(time.Millisecond))
	}
	reportRatio(b, ui, goc)
}

func BenchmarkDashboardPodUpdate(b *testing.B) {
	e, ctx := benchEnv(b)
	run(b, ctx, chromedp.Navigate(e.srv.URL+"/ui/#/pods?ns=default"), chromedp.WaitVisible("table#pods"))
	waitJS(b, ctx, "1,000 rows", fmt.Sprintf(`document.querySelectorAll('table#pods tbody tr').length === %d`, benchPods), 60*time.Second)
	// The page's clock: a MutationObserver stamps the first moment the
	// wanted row shows the wanted status.
	run(b, ctx, chromedp.Evaluate[chromedp.Void](`(() => {
		window.__want = null; window.__seen = 0;
		new MutationObserver(() => {
			if (!window.__want || window.__seen) return;
			const c = document.querySelector('table#pods tr[data-name="' + window.__want[0] + '"] .c-status');
			if (c && c.textContent === window.__want[1]) window.__seen = Date.now();
		}).observe(document.getElementById('main'), {subtree: true, childList: true, characterData: true});
	})()`))

	// The Go client's watch on the same collection.
	lctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	req, _ := http.NewRequestWithContext(lctx, "GET", e.srv.URL+"/api/v1/namespaces/default/pods?watch=1", nil)
	req.Header.Set("Authorization", "Bearer "+adminToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		b.Fatal(err)
	}
	defer resp.Body.Close()
	type seen struct {
		name, reason string
		at           time.Time
	}
	events := make(chan seen, 4096)
	go func() {
		sc := bufio.NewScanner(resp.Body)
		sc.Buffer(make([]byte, 1<<20), 16<<20)
		for sc.Scan() {
			var ev struct {
				Object corev1.Pod `json:"object"`
			}
			if json.Unmarshal(sc.Bytes(), &ev) == nil && ev.Object.Status.Reason != "" {
				events <- seen{ev.Object.Name, ev.Object.Status.Reason, time.Now()}
			}
		}
	}()

	var ui, goc time.Duration
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		name := fmt.Sprintf("bench-%04d", (i*37)%benchPods)
		reason := fmt.Sprintf("Bench%d", i)
		run(b, ctx, chromedp.Evaluate[chromedp.Void](`window.__seen = 0; window.__want = [`+jsString(name)+`, `+jsString(reason)+`]`))
		t0 := time.Now()
		e.do(b, adminToken, "PATCH", "/api/v1/namespaces/default/pods/"+name+"/status", "application/merge-patch+json",
			`{"status":{"reason":"`+reason+`"}}`)
		for got := false; !got; {
			select {
			case s := <-events:
				if s.name == name && s.reason == reason {
					goc += s.at.Sub(t0)
					got = true
				}
			case <-time.After(30 * time.Second):
				b.Fatalf("watch: no %s on %s", reason, name)
			}
		}
		waitJS(b, ctx, "row update", `window.__seen > 0`, 30*time.Second)
		at := evalJS[float64](b, ctx, `window.__seen`)
		ui += time.UnixMilli(int64(at)).Sub(t0.Truncate(time.Millisecond))
	}
	reportRatio(b, ui, goc)
}

func reportRatio(b *testing.B, ui, goc time.Duration) {
	b.ReportMetric(0, "ns/op")
	b.ReportMetric(float64(ui.Microseconds())/1000/float64(b.N), "ui-ms/op")
	b.ReportMetric(float64(goc.Microseconds())/1000/float64(b.N), "go-ms/op")
	if goc > 0 {
		b.ReportMetric(float64(ui)/float64(goc), "ui/go")
	}
}
