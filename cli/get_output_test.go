package cli

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	apierrors "k8s.io/apimachinery/pkg/api/errors"

	"github.com/wasmpod/wasmpod/apiserver"
	"github.com/wasmpod/wasmpod/store/memory"
)

// TestGetSortByMissingField: a --sort-by path that no object has is an
// error with the table output too (kubectl drops it there and prints
// nothing, as if there were no objects).
func TestGetSortByMissingField(t *testing.T) {
	e := newEnv(t)
	seed(t, e)
	out, errOut, code := e.run("get", "pods", "--sort-by=.spec.nope")
	if code != 1 || out != "" || errOut != "error: couldn't find any field with path \"{.spec.nope}\" in the list of objects\n" {
		t.Errorf("get pods --sort-by=.spec.nope: exit %d\nstdout: %q\nstderr: %q", code, out, errOut)
	}
	// A path that some objects have sorts them after those without it.
	out = e.ok("get", "pods", "-A", "--sort-by=.spec.nodeName", "--no-headers", "-o", "custom-columns=N:.metadata.name")
	if got := strings.Fields(out); strings.Join(got, " ") != "sys web crash" {
		t.Errorf("sorted by nodeName: %q", got)
	}
}

// TestGetWatchErrorEvent: a watch the server ends with an ERROR event (a
// Status, here 410 Gone as for a too old resourceVersion) ends get -w with
// the server's error, not with the Status printed as a row.
func TestGetWatchErrorEvent(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	s, err := apiserver.New(ctx, memory.New(), apiserver.Options{})
	if err != nil {
		t.Fatal(err)
	}
	h := s.Handler(apiserver.HandlerOptions{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Query().Get("watch") == "" {
			h.ServeHTTP(w, r)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		st := apierrors.NewResourceExpired("too old resource version: 1 (5)").Status()
		b, _ := json.Marshal(map[string]any{"type": "ERROR", "object": st})
		w.Write(append(b, '\n'))
	}))
	defer srv.Close()
	var out, errb syncBuffer
	code := runAppContext(ctx, App(&out, &errb), []string{"wasmpod", "get", "pods", "-w", "--server", srv.URL})
	if code != 1 || errb.String() != "Error from server (Expired): too old resource version: 1 (5)\n" || out.String() != "" {
		t.Errorf("get -w ended by an ERROR event: exit %d\nstdout: %q\nstderr: %q", code, out.String(), errb.String())
	}
}
