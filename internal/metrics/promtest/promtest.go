// Package promtest reads a Prometheus text exposition in tests: Parse
// checks it as `promtool check metrics` would have it (it parses, every
// family has HELP and TYPE, no series twice, and promtool's linter,
// promlint, finds nothing) and Value finds one sample.
package promtest

import (
	"fmt"
	"io"
	"net/http"
	"sort"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus/testutil/promlint"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// Families is a parsed exposition.
type Families map[string]*dto.MetricFamily

// Parse parses a text exposition and checks it is clean.
func Parse(t testing.TB, body string) Families {
	t.Helper()
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(strings.NewReader(body))
	if err != nil {
		t.Fatalf("exposition does not parse: %v\n%s", err, body)
	}
	// promtool check metrics' linter: naming conventions (counters end
	// in _total, base units, no reserved suffixes), HELP text.
	problems, err := promlint.New(strings.NewReader(body)).Lint()
	if err != nil {
		t.Fatalf("promlint: %v", err)
	}
	for _, p := range problems {
		t.Errorf("promtool check metrics: %s: %s", p.Metric, p.Text)
	}
	for name, f := range fams {
		if f.GetHelp() == "" || !strings.Contains(body, "# HELP "+name+" ") {
			t.Errorf("%s: no HELP", name)
		}
		if !strings.Contains(body, "# TYPE "+name+" ") {
			t.Errorf("%s: no TYPE", name)
		}
		seen := map[string]bool{}
		for _, m := range f.Metric {
			k := labelKey(m.Label)
			if seen[k] {
				t.Errorf("%s%s: the series is there twice", name, k)
			}
			seen[k] = true
		}
	}
	return fams
}

func labelKey(ls []*dto.LabelPair) string {
	parts := make([]string, 0, len(ls))
	for _, l := range ls {
		parts = append(parts, fmt.Sprintf("%s=%q", l.GetName(), l.GetValue()))
	}
	sort.Strings(parts)
	return "{" + strings.Join(parts, ",") + "}"
}

// Value is the value of the series of family name whose labels include
// want (a counter's or gauge's value, a histogram's sample count), summed
// over the series that match; ok is false when none does.
func (fs Families) Value(name string, want map[string]string) (v float64, ok bool) {
	f := fs[name]
	if f == nil {
		return 0, false
	}
	for _, m := range f.Metric {
		match := true
		for k, wv := range want {
			found := false
			for _, l := range m.Label {
				if l.GetName() == k && l.GetValue() == wv {
					found = true
				}
			}
			match = match && found
		}
		if !match {
			continue
		}
		ok = true
		switch {
		case m.Counter != nil:
			v += m.Counter.GetValue()
		case m.Gauge != nil:
			v += m.Gauge.GetValue()
		case m.Histogram != nil:
			v += float64(m.Histogram.GetSampleCount())
		case m.Untyped != nil:
			v += m.Untyped.GetValue()
		}
	}
	return v, ok
}

// Scrape GETs url with the bearer token (none when "") through c and
// returns the status code and body.
func Scrape(t testing.TB, c *http.Client, url, token string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, string(b)
}
