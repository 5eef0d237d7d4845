package exporter

import (
	"compress/gzip"
	"io"
	"net/http/httptest"
	"sort"
	"strings"
	"testing"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/proto"
)

// TestTextExposition: the text the handler writes straight from the series parses to the
// same families, values and labels as the registry's exposition of them.
func TestTextExposition(t *testing.T) {
	e := New(Options{})
	defer e.Close()
	v := newTargetVecs(labelNames(map[string]struct{}{"zone": {}}), DefaultBuckets, 1.05)
	for i, vals := range [][]string{
		{"198.18.0.1", "a", "", "0", `quote " and \ and` + "\nnewline"},
		{"2001:db8::1", "b.example", "198.18.0.9", "32", ""},
		{"198.18.0.2", "c", "", "0", "x"},
	} {
		h := v.handles(vals)
		h.requests.Add(uint64(10 + i))
		h.dups.Add(uint64(i))
		h.sendErrs.Add(1)
		h.setTTL(60 + i)
		for k := range 5 * i {
			h.observe(0.0001 * float64(k+1))
		}
		h.observe(30) // beyond the last bucket
		h.icmpError(3, 1)
	}
	e.swap.set(v)

	rec := httptest.NewRecorder()
	req := httptest.NewRequest("GET", "/metrics", nil)
	req.Header.Set("Accept-Encoding", "gzip")
	e.Handler().ServeHTTP(rec, req)
	require.Equal(t, 200, rec.Code)
	assert.Equal(t, "gzip", rec.Header().Get("Content-Encoding"))
	zr, err := gzip.NewReader(rec.Body)
	require.NoError(t, err)
	text, err := io.ReadAll(zr)
	require.NoError(t, err)
	p := expfmt.NewTextParser(model.UTF8Validation)
	got, err := p.TextToMetricFamilies(strings.NewReader(string(text)))
	require.NoError(t, err, "%s", text)

	want, err := e.Gatherer().Gather()
	require.NoError(t, err)
	for _, mf := range want {
		g, ok := got[mf.GetName()]
		require.True(t, ok, "family %s missing from the text", mf.GetName())
		assert.Equal(t, mf.GetType(), g.GetType(), mf.GetName())
		assert.Equal(t, mf.GetHelp(), g.GetHelp(), mf.GetName())
		if !strings.HasPrefix(mf.GetName(), "smokeping_") && !strings.HasPrefix(mf.GetName(), "icmpkit_icmp") {
			continue
		}
		require.Len(t, g.Metric, len(mf.Metric), mf.GetName())
		sortMetrics(g.Metric)
		sortMetrics(mf.Metric)
		for i, m := range mf.Metric {
			if m.Counter != nil {
				m.Counter.CreatedTimestamp = nil // not in the text format
			}
			if m.Histogram != nil {
				// The text format has no native buckets and an explicit +Inf bucket.
				m.Histogram = &dto.Histogram{SampleCount: m.Histogram.SampleCount, SampleSum: m.Histogram.SampleSum, Bucket: m.Histogram.Bucket}
				gh := g.Metric[i].Histogram
				gh.Bucket = gh.Bucket[:len(gh.Bucket)-1]
			}
			assert.True(t, proto.Equal(m, g.Metric[i]), "%s:\n%v\nwant\n%v", mf.GetName(), g.Metric[i], m)
		}
	}
	// Label values are escaped as the text format wants.
	assert.Contains(t, string(text), `smokeping_response_duration_seconds_bucket{host="a",ip="198.18.0.1",source="",tos="0",zone="quote \" and \\ and\nnewline",le="5e-05"} 0`)
}

func sortMetrics(ms []*dto.Metric) {
	key := func(m *dto.Metric) string {
		var b strings.Builder
		for _, l := range m.Label {
			b.WriteString(l.GetName() + "=" + l.GetValue() + ",")
		}
		return b.String()
	}
	sort.Slice(ms, func(i, j int) bool { return key(ms[i]) < key(ms[j]) })
}
