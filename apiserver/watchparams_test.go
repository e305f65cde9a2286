package apiserver

// List and watch parameters kube-apiserver refuses or bounds: a negative
// timeoutSeconds, sendInitialEvents and resourceVersionMatch where
// apimachinery's ValidateListOptions forbids them, and a watch-list from a
// resourceVersion the server has not reached.

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// TestWatchParams: over HTTP against a bbolt store,
//   - ?watch=true&timeoutSeconds=-5 is a 200 that ends at once with no
//     event (it stayed open); upstream's timeout has passed;
//   - sendInitialEvents on a list, sendInitialEvents without
//     resourceVersionMatch=NotOlderThan, resourceVersionMatch on a watch
//     without sendInitialEvents, resourceVersionMatch on a list without
//     resourceVersion are 422 ListOptions.meta.k8s.io with upstream's
//     field and message (they were served); a proper watch-list still is;
//   - a watch-list (sendInitialEvents) from a resourceVersion beyond the
//     store's is one ERROR event: 504 Timeout "Too large resource version"
//     with the ResourceVersionTooLarge cause (it sent the current objects),
//     after the cache's fresh wait (shortened here); a plain watch from a
//     future resourceVersion still waits for it and gets what follows; a
//     list not older than it is the same 504 (it was the current list).
func TestWatchParams(t *testing.T) {
	s := newBboltServer(t)
	if s.cache == nil {
		t.Fatal("no watch cache")
	}
	s.cache.freshWait = 50 * time.Millisecond
	srv := httptest.NewServer(s.Handler(HandlerOptions{}))
	defer srv.Close()
	// A bound so that a watch left open fails the test rather than hangs it.
	client := &http.Client{Timeout: 30 * time.Second}
	const cms = "/api/v1/namespaces/default/configmaps"
	create := func(name string) string {
		t.Helper()
		resp, err := client.Post(srv.URL+cms, "application/json", strings.NewReader(`{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"`+name+`"}}`))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var m metav1.PartialObjectMetadata
		if err := json.NewDecoder(resp.Body).Decode(&m); err != nil || resp.StatusCode != http.StatusCreated {
			t.Fatalf("create %s: %d %v", name, resp.StatusCode, err)
		}
		return m.ResourceVersion
	}
	rv, _ := strconv.ParseInt(create("a"), 10, 64)

	t.Run("negative timeoutSeconds", func(t *testing.T) {
		resp, err := client.Get(srv.URL + cms + "?watch=true&timeoutSeconds=-5")
		if err != nil {
			t.Fatalf("watch with timeoutSeconds=-5 did not end: %v", err)
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		if err != nil || resp.StatusCode != http.StatusOK || len(b) != 0 {
			t.Fatalf("watch with timeoutSeconds=-5: %d %q %v, want 200 and no event", resp.StatusCode, b, err)
		}
	})

	t.Run("ValidateListOptions", func(t *testing.T) {
		for _, c := range []struct{ query, field, msg string }{
			{"sendInitialEvents=true", "sendInitialEvents", "sendInitialEvents is forbidden for list"},
			{"watch=true&sendInitialEvents=true", "resourceVersionMatch", "sendInitialEvents requires setting resourceVersionMatch to NotOlderThan"},
			{"watch=true&sendInitialEvents=false", "resourceVersionMatch", "sendInitialEvents requires setting resourceVersionMatch to NotOlderThan"},
			{"watch=true&resourceVersionMatch=NotOlderThan", "resourceVersionMatch", "resourceVersionMatch is forbidden for watch unless sendInitialEvents is provided"},
			{"watch=true&resourceVersion=1&resourceVersionMatch=Exact&sendInitialEvents=true", "resourceVersionMatch", `Unsupported value: "Exact": supported values: "NotOlderThan"`},
			{"resourceVersionMatch=NotOlderThan", "resourceVersionMatch", "resourceVersionMatch is forbidden unless resourceVersion is provided"},
		} {
			resp, err := client.Get(srv.URL + cms + "?" + c.query)
			if err != nil {
				t.Fatal(err)
			}
			var status metav1.Status
			err = json.NewDecoder(resp.Body).Decode(&status)
			resp.Body.Close()
			if err != nil || resp.StatusCode != http.StatusUnprocessableEntity || status.Reason != metav1.StatusReasonInvalid ||
				status.Details == nil || status.Details.Kind != "ListOptions" || status.Details.Group != "meta.k8s.io" {
				t.Errorf("%s: %d %+v %v, want 422 Invalid ListOptions.meta.k8s.io", c.query, resp.StatusCode, status, err)
				continue
			}
			found := false
			for _, cause := range status.Details.Causes {
				found = found || cause.Field == c.field && strings.Contains(cause.Message, c.msg)
			}
			if !found || !strings.HasPrefix(status.Message, `ListOptions.meta.k8s.io "" is invalid: `) {
				t.Errorf("%s: %q %+v, want %s: %s", c.query, status.Message, status.Details.Causes, c.field, c.msg)
			}
		}
		// Still served: a watch-list as client-go's reflector asks for it.
		ev := firstEvent(t, client, srv.URL+cms+"?watch=true&sendInitialEvents=true&resourceVersionMatch=NotOlderThan&allowWatchBookmarks=true")
		if ev.Type != "ADDED" {
			t.Fatalf("watch-list: first event %+v, want ADDED a", ev)
		}
	})

	t.Run("future resourceVersion", func(t *testing.T) {
		future := strconv.FormatInt(rv+1000, 10)
		ev := firstEvent(t, client, srv.URL+cms+"?watch=true&sendInitialEvents=true&resourceVersionMatch=NotOlderThan&allowWatchBookmarks=true&resourceVersion="+future)
		var status metav1.Status
		if err := json.Unmarshal(ev.Object, &status); err != nil || ev.Type != "ERROR" {
			t.Fatalf("watch-list from %s: %s %s %v, want an ERROR event", future, ev.Type, ev.Object, err)
		}
		want := fmt.Sprintf("Timeout: Too large resource version: %s, current: %d", future, rv) // apierrors.NewTimeoutError's prefix, as upstream
		if status.Code != http.StatusGatewayTimeout || status.Reason != metav1.StatusReasonTimeout || status.Message != want ||
			status.Details == nil || len(status.Details.Causes) != 1 || status.Details.Causes[0].Type != metav1.CauseTypeResourceVersionTooLarge ||
			status.Details.RetryAfterSeconds != 1 {
			t.Fatalf("watch-list from %s: %+v, want 504 Timeout %q with the ResourceVersionTooLarge cause", future, status, want)
		}
		// A list not older than it is the same 504, as an HTTP status
		// (it was the store's list at its older revision).
		for _, q := range []string{"resourceVersion=" + future, "resourceVersion=" + future + "&resourceVersionMatch=NotOlderThan"} {
			resp, err := client.Get(srv.URL + cms + "?" + q)
			if err != nil {
				t.Fatal(err)
			}
			var status metav1.Status
			err = json.NewDecoder(resp.Body).Decode(&status)
			resp.Body.Close()
			if err != nil || resp.StatusCode != http.StatusGatewayTimeout || status.Message != want || status.Details == nil ||
				len(status.Details.Causes) != 1 || status.Details.Causes[0].Type != metav1.CauseTypeResourceVersionTooLarge {
				t.Fatalf("list %s: %d %+v %v, want 504 %q with the ResourceVersionTooLarge cause", q, resp.StatusCode, status, err, want)
			}
		}
		// A plain watch from two revisions ahead waits for them.
		ahead := strconv.FormatInt(rv+2, 10)
		resp, err := client.Get(srv.URL + cms + "?watch=true&resourceVersion=" + ahead)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		create("b")
		create("c")
		create("d")
		var got watchEventJSON
		if err := json.NewDecoder(bufio.NewReader(resp.Body)).Decode(&got); err != nil || got.Type != "ADDED" || !strings.Contains(string(got.Object), `"name":"d"`) {
			t.Fatalf("plain watch from %s: %s %s %v, want ADDED d", ahead, got.Type, got.Object, err)
		}
	})
}

// firstEvent is the first event of the watch at url.
func firstEvent(t *testing.T, client *http.Client, url string) watchEventJSON {
	t.Helper()
	resp, err := client.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(resp.Body)
		t.Fatalf("%s: %d %s", url, resp.StatusCode, b)
	}
	var ev watchEventJSON
	if err := json.NewDecoder(resp.Body).Decode(&ev); err != nil {
		t.Fatalf("%s: %v", url, err)
	}
	return ev
}
