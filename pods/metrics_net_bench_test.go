package pods

import (
	"fmt"
	"io"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"k8s.io/utils/ptr"
)

// BenchmarkPodNetSeries: the cost of a scrape of the pod network series
// of 1,000 pods that have traffic (5 series a pod), as podNetMetric
// writes them (label pairs made once a pod) against const metrics (made
// and checked at every scrape), gathered and encoded as /metrics is.
// Compare the two as a ratio.
func BenchmarkPodNetSeries(b *testing.B) {
	const n = 1000
	m := newAgentMetrics(nil)
	type pod struct {
		ns, name string
		labels   *[2]*dto.LabelPair
	}
	pods := make([]pod, n)
	for i := range pods {
		pods[i] = pod{ns: "default", name: fmt.Sprintf("pod-%d", i)}
		pods[i].labels = &[2]*dto.LabelPair{{Name: ptr.To("namespace"), Value: ptr.To(pods[i].ns)}, {Name: ptr.To("pod"), Value: ptr.To(pods[i].name)}}
	}
	for _, c := range []struct {
		name    string
		collect func(ch chan<- prometheus.Metric)
	}{
		{"podNetMetric", func(ch chan<- prometheus.Metric) {
			for i, p := range pods {
				ls := p.labels[:]
				v := float64(i)
				ch <- &podNetMetric{m.netRx, ls, true, v}
				ch <- &podNetMetric{m.netTx, ls, true, v}
				ch <- &podNetMetric{m.netConns, []*dto.LabelPair{inboundLabel, p.labels[0], p.labels[1]}, true, v}
				ch <- &podNetMetric{m.netConns, []*dto.LabelPair{outboundLabel, p.labels[0], p.labels[1]}, true, v}
				ch <- &podNetMetric{m.netOpen, ls, false, v}
			}
		}},
		{"const-metrics", func(ch chan<- prometheus.Metric) {
			for i, p := range pods {
				v := float64(i)
				ch <- prometheus.MustNewConstMetric(m.netRx, prometheus.CounterValue, v, p.ns, p.name)
				ch <- prometheus.MustNewConstMetric(m.netTx, prometheus.CounterValue, v, p.ns, p.name)
				ch <- prometheus.MustNewConstMetric(m.netConns, prometheus.CounterValue, v, p.ns, p.name, "inbound")
				ch <- prometheus.MustNewConstMetric(m.netConns, prometheus.CounterValue, v, p.ns, p.name, "outbound")
				ch <- prometheus.MustNewConstMetric(m.netOpen, prometheus.GaugeValue, v, p.ns, p.name)
			}
		}},
	} {
		b.Run(c.name, func(b *testing.B) {
			reg := prometheus.NewRegistry()
			reg.MustRegister(collectorFunc{descs: []*prometheus.Desc{m.netRx, m.netTx, m.netConns, m.netOpen}, collect: c.collect})
			b.ReportAllocs()
			for range b.N {
				fams, err := reg.Gather()
				if err != nil {
					b.Fatal(err)
				}
				enc := expfmt.NewEncoder(io.Discard, expfmt.NewFormat(expfmt.TypeTextPlain))
				for _, f := range fams {
					if err := enc.Encode(f); err != nil {
						b.Fatal(err)
					}
				}
			}
		})
	}
}

type collectorFunc struct {
	descs   []*prometheus.Desc
	collect func(ch chan<- prometheus.Metric)
}

func (c collectorFunc) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range c.descs {
		ch <- d
	}
}
func (c collectorFunc) Collect(ch chan<- prometheus.Metric) { c.collect(ch) }
