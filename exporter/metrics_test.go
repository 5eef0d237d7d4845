package exporter

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/proto"
)

// TestHistogramMatchesClientGolang: the compact series write the same histogram, classic and
// native, as client_golang's own Histogram fed the same observations.
func TestHistogramMatchesClientGolang(t *testing.T) {
	for _, factor := range []float64{1.05, 1.1, 2, 4, 0} {
		ref := prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "x", Help: "x", Buckets: DefaultBuckets, NativeHistogramBucketFactor: factor,
		})
		v := newTargetVecs(labelNames(nil), DefaultBuckets, factor)
		h := v.handles([]string{"198.18.0.1", "a", "", "0"})
		var empty dto.Metric
		require.NoError(t, ref.Write(&empty))
		empty.Histogram.CreatedTimestamp = nil
		assert.True(t, proto.Equal(empty.Histogram, h.histogram()), "empty, factor %v: %v, want %v", factor, h.histogram(), empty.Histogram)
		r := rand.New(rand.NewPCG(1, uint64(factor*100)))
		values := []float64{5e-05, 0.0001, 0.00015, 1, 0.5, 0.25, 26.2144, 30, 1e-300, 0}
		for range 2000 {
			values = append(values, math.Exp(r.Float64()*12-12)) // 6 µs .. 1 s
		}
		for _, x := range values {
			ref.Observe(x)
			h.observe(x)
		}
		var want dto.Metric
		require.NoError(t, ref.Write(&want))
		got := h.histogram()
		w := want.Histogram
		assert.Equal(t, w.GetSampleCount(), got.GetSampleCount(), "factor %v", factor)
		assert.InDelta(t, w.GetSampleSum(), got.GetSampleSum(), 1e-9)
		require.Len(t, got.Bucket, len(w.Bucket))
		for i := range w.Bucket {
			assert.Equal(t, w.Bucket[i].GetUpperBound(), got.Bucket[i].GetUpperBound())
			assert.Equal(t, w.Bucket[i].GetCumulativeCount(), got.Bucket[i].GetCumulativeCount(), "bucket %v", w.Bucket[i].GetUpperBound())
		}
		if factor == 0 {
			assert.Nil(t, got.Schema)
			continue
		}
		assert.Equal(t, w.GetSchema(), got.GetSchema(), "factor %v", factor)
		assert.Equal(t, w.GetZeroThreshold(), got.GetZeroThreshold())
		assert.Equal(t, w.GetZeroCount(), got.GetZeroCount())
		assert.True(t, proto.Equal(&dto.Histogram{PositiveSpan: w.PositiveSpan, PositiveDelta: w.PositiveDelta},
			&dto.Histogram{PositiveSpan: got.PositiveSpan, PositiveDelta: got.PositiveDelta}),
			"factor %v: spans %v deltas %v, want %v %v", factor, got.PositiveSpan, got.PositiveDelta, w.PositiveSpan, w.PositiveDelta)
	}
}
