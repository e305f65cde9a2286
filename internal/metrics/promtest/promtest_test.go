package promtest

import (
	"fmt"
	"strings"
	"testing"
)

// recorder keeps what Parse reports.
type recorder struct {
	testing.TB
	errs []string
}

func (r *recorder) Helper() {}
func (r *recorder) Errorf(format string, args ...any) {
	r.errs = append(r.errs, fmt.Sprintf(format, args...))
}

// TestParseLints: an exposition promtool check metrics refuses (a counter
// without _total, a non-base unit) is reported, naming the metric; a
// clean one is not.
func TestParseLints(t *testing.T) {
	r := &recorder{TB: t}
	Parse(r, "# HELP pulls Image pulls.\n# TYPE pulls counter\npulls 3\n"+
		"# HELP wait_milliseconds Waits.\n# TYPE wait_milliseconds gauge\nwait_milliseconds 1\n")
	got := strings.Join(r.errs, "\n")
	if !strings.Contains(got, "pulls: counter metrics should have \"_total\" suffix") || !strings.Contains(got, "wait_milliseconds: ") {
		t.Errorf("lint problems reported:\n%s", got)
	}
	r = &recorder{TB: t}
	if fs := Parse(r, "# HELP pulls_total Image pulls.\n# TYPE pulls_total counter\npulls_total 3\n"); len(r.errs) != 0 || len(fs) != 1 {
		t.Errorf("a clean exposition: %v", r.errs)
	}
}
