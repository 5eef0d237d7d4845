package exporter

import (
	"math"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"google.golang.org/protobuf/proto"
)

// DefaultBuckets are smokeping_prober's: prometheus.ExponentialBuckets(0.00005, 2, 20).
var DefaultBuckets = prometheus.ExponentialBuckets(0.00005, 2, 20)

// DefaultNativeHistogramBucketFactor is smokeping_prober's native histogram bucket factor.
const DefaultNativeHistogramBucketFactor = 1.05

// targetVecs holds the per-target families for one set of label names. Each target's
// series live in one compact struct (handles) rather than in client_golang's vectors: a few
// hundred bytes a target instead of several kilobytes, which matters at 100,000 targets.
type targetVecs struct {
	names     []string // ip, host, source, tos, then the user's labels, sorted
	requests  *prometheus.Desc
	durations *prometheus.Desc
	ttl       *prometheus.Desc
	dups      *prometheus.Desc
	sendErrs  *prometheus.Desc
	icmpErrs  *prometheus.CounterVec // names + type, code; rare, so client_golang's own
	bounds    []float64              // classic buckets' upper bounds, without +Inf
	schema    int32                  // native histogram schema
	native    bool

	mu  sync.RWMutex
	all map[string]*handles
}

func newTargetVecs(names []string, buckets []float64, factor float64) *targetVecs {
	v := &targetVecs{
		names:     names,
		requests:  prometheus.NewDesc("smokeping_requests_total", "Number of ping requests sent", names, nil),
		durations: prometheus.NewDesc("smokeping_response_duration_seconds", "A histogram of latencies for ping responses.", names, nil),
		ttl:       prometheus.NewDesc("smokeping_response_ttl", "The last response Time To Live (TTL).", names, nil),
		dups:      prometheus.NewDesc("smokeping_response_duplicates_total", "The number of duplicated response packets.", names, nil),
		sendErrs:  prometheus.NewDesc("smokeping_send_errors_total", "The number of errors when Pinger attempts to send packets.", names, nil),
		icmpErrs: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "icmpkit_icmp_errors_total",
			Help: "ICMP error messages (destination unreachable, time exceeded ...) received for the target's requests, by ICMP type and code.",
		}, append(slices.Clip(names), "type", "code")),
		bounds: slices.DeleteFunc(slices.Clone(buckets), func(b float64) bool { return math.IsInf(b, 1) }),
		all:    map[string]*handles{},
	}
	if factor > 1 {
		v.native = true
		v.schema = schemaFor(factor)
	}
	return v
}

// schemaFor gives the native histogram schema client_golang picks for a bucket factor: the
// largest growth factor 2^(2^-schema) not above it, schema in -4..8.
func schemaFor(factor float64) int32 {
	s := int32(-4)
	for s < 8 && math.Pow(2, math.Pow(2, -float64(s))) > factor {
		s++
	}
	return s
}

// handles are one target's series.
type handles struct {
	values []string
	key    string
	labels []*dto.LabelPair // sorted by name
	text   string           // the labels in the text format, `{ip="...",...` without the brace
	vecs   *targetVecs

	requests, dups, sendErrs atomic.Uint64
	ttl                      atomic.Int32

	mu      sync.Mutex
	count   uint64
	sum     float64
	buckets []uint64    // per classic bucket, not cumulative; the last is +Inf
	zero    uint64      // native: observations at or below the zero threshold
	sparse  []nativeBkt // native: sorted by key

	emu      sync.Mutex
	icmpErrs map[[2]int]prometheus.Counter
}

type nativeBkt struct {
	key   int32
	count uint32
}

// zeroThreshold is client_golang's default native zero bucket width.
var zeroThreshold = math.Ldexp(1, -128)

// handles gives the series of the target with these label values, made when new.
func (v *targetVecs) handles(values []string) *handles {
	key := strings.Join(values, "\xff")
	v.mu.RLock()
	old := v.all[key]
	v.mu.RUnlock()
	if old != nil {
		return old
	}
	h := &handles{values: values, key: key, vecs: v, buckets: make([]uint64, len(v.bounds)+1)}
	for i, n := range v.names {
		h.labels = append(h.labels, &dto.LabelPair{Name: proto.String(n), Value: proto.String(values[i])})
	}
	sort.Slice(h.labels, func(i, j int) bool { return h.labels[i].GetName() < h.labels[j].GetName() })
	names := make([]string, len(h.labels))
	vals := make([]string, len(h.labels))
	for i, l := range h.labels {
		names[i], vals[i] = l.GetName(), l.GetValue()
	}
	h.text = labelText(names, vals)
	v.mu.Lock()
	v.all[h.key] = h
	v.mu.Unlock()
	return h
}

// observe records one RTT in seconds.
func (h *handles) observe(s float64) {
	b := sort.SearchFloat64s(h.vecs.bounds, s) // first bound >= s: le is inclusive
	h.mu.Lock()
	h.count++
	h.sum += s
	h.buckets[b]++
	if h.vecs.native {
		if s <= zeroThreshold {
			h.zero++
		} else {
			k := nativeKey(s, h.vecs.schema)
			i, found := slices.BinarySearchFunc(h.sparse, k, func(b nativeBkt, k int32) int { return int(b.key) - int(k) })
			if found {
				h.sparse[i].count++
			} else {
				h.sparse = slices.Insert(h.sparse, i, nativeBkt{key: k, count: 1})
			}
		}
	}
	h.mu.Unlock()
}

// nativeKey gives the index of the native bucket holding v > 0, as client_golang computes
// it: bucket k covers (2^((k-1)/2^schema), 2^(k/2^schema)].
func nativeKey(v float64, schema int32) int32 {
	frac, exp := math.Frexp(v) // v = frac × 2^exp, frac in [0.5, 1)
	if schema > 0 {
		b := octaveBounds(schema)
		return int32(sort.SearchFloat64s(b, frac) + (exp-1)*len(b))
	}
	k := exp
	if frac == 0.5 {
		k--
	}
	off := (1 << -schema) - 1
	return int32((k + off) >> -schema)
}

var (
	boundsMu sync.Mutex
	bounds   = map[int32][]float64{}
)

// octaveBounds gives 2^(i/2^schema - 1) for i in 0..2^schema-1: where the buckets of one
// octave of fractions [0.5, 1) begin.
func octaveBounds(schema int32) []float64 {
	boundsMu.Lock()
	defer boundsMu.Unlock()
	b, ok := bounds[schema]
	if !ok {
		n := 1 << schema
		b = make([]float64, n)
		for i := range b {
			b[i] = math.Exp2(float64(i)/float64(n) - 1)
		}
		bounds[schema] = b
	}
	return b
}

func (h *handles) setTTL(ttl int) { h.ttl.Store(int32(ttl)) }

// icmpError counts an ICMP error of the given type and code.
func (h *handles) icmpError(typ, code int) {
	h.emu.Lock()
	c, ok := h.icmpErrs[[2]int{typ, code}]
	if !ok {
		if h.icmpErrs == nil {
			h.icmpErrs = map[[2]int]prometheus.Counter{}
		}
		c = h.vecs.icmpErrs.WithLabelValues(append(slices.Clip(h.values), strconv.Itoa(typ), strconv.Itoa(code))...)
		h.icmpErrs[[2]int{typ, code}] = c
	}
	h.emu.Unlock()
	c.Inc()
}

// delete removes the target's series.
func (v *targetVecs) delete(values []string) {
	v.mu.Lock()
	delete(v.all, strings.Join(values, "\xff"))
	v.mu.Unlock()
	m := make(prometheus.Labels, len(values))
	for i, n := range v.names {
		m[n] = values[i]
	}
	v.icmpErrs.DeletePartialMatch(m)
}

// collect sends every target's series.
func (v *targetVecs) collect(ch chan<- prometheus.Metric) {
	v.mu.RLock()
	all := make([]*handles, 0, len(v.all))
	for _, h := range v.all {
		all = append(all, h)
	}
	v.mu.RUnlock()
	for _, h := range all {
		ch <- &series{h: h, kind: kindRequests}
		ch <- &series{h: h, kind: kindDurations}
		ch <- &series{h: h, kind: kindTTL}
		ch <- &series{h: h, kind: kindDups}
		ch <- &series{h: h, kind: kindSendErrs}
	}
	v.icmpErrs.Collect(ch)
}

const (
	kindRequests = iota
	kindDurations
	kindTTL
	kindDups
	kindSendErrs
)

// series is one of a target's metrics, read when the registry writes it.
type series struct {
	h    *handles
	kind int
}

func (s *series) Desc() *prometheus.Desc {
	v := s.h.vecs
	switch s.kind {
	case kindRequests:
		return v.requests
	case kindDurations:
		return v.durations
	case kindTTL:
		return v.ttl
	case kindDups:
		return v.dups
	}
	return v.sendErrs
}

func (s *series) Write(m *dto.Metric) error {
	h := s.h
	m.Label = h.labels
	switch s.kind {
	case kindRequests:
		m.Counter = &dto.Counter{Value: proto.Float64(float64(h.requests.Load()))}
	case kindDups:
		m.Counter = &dto.Counter{Value: proto.Float64(float64(h.dups.Load()))}
	case kindSendErrs:
		m.Counter = &dto.Counter{Value: proto.Float64(float64(h.sendErrs.Load()))}
	case kindTTL:
		m.Gauge = &dto.Gauge{Value: proto.Float64(float64(h.ttl.Load()))}
	case kindDurations:
		m.Histogram = h.histogram()
	}
	return nil
}

func (h *handles) histogram() *dto.Histogram {
	v := h.vecs
	h.mu.Lock()
	defer h.mu.Unlock()
	d := &dto.Histogram{SampleCount: proto.Uint64(h.count), SampleSum: proto.Float64(h.sum)}
	d.Bucket = make([]*dto.Bucket, len(v.bounds))
	var cum uint64
	for i, b := range v.bounds {
		cum += h.buckets[i]
		d.Bucket[i] = &dto.Bucket{CumulativeCount: proto.Uint64(cum), UpperBound: proto.Float64(b)}
	}
	if v.native {
		d.Schema = proto.Int32(v.schema)
		d.ZeroThreshold = proto.Float64(zeroThreshold)
		d.ZeroCount = proto.Uint64(h.zero)
		// Spans and deltas as client_golang writes them: a gap of one or two buckets is
		// filled with empty buckets rather than starting a new span.
		var prevKey int32
		var prevCount int64
		for i, b := range h.sparse {
			gap := b.key - prevKey - 1
			switch {
			case i == 0:
				d.PositiveSpan = append(d.PositiveSpan, &dto.BucketSpan{Offset: proto.Int32(b.key), Length: proto.Uint32(0)})
			case gap > 2:
				d.PositiveSpan = append(d.PositiveSpan, &dto.BucketSpan{Offset: proto.Int32(gap), Length: proto.Uint32(0)})
			default:
				for range gap {
					*d.PositiveSpan[len(d.PositiveSpan)-1].Length++
					d.PositiveDelta = append(d.PositiveDelta, -prevCount)
					prevCount = 0
				}
			}
			*d.PositiveSpan[len(d.PositiveSpan)-1].Length++
			d.PositiveDelta = append(d.PositiveDelta, int64(b.count)-prevCount)
			prevKey, prevCount = b.key, int64(b.count)
		}
	}
	return d
}

// swapCollector forwards to the current targetVecs, whose label names may change at a reload.
// It describes nothing, so the registry takes it unchecked.
type swapCollector struct {
	mu   sync.RWMutex
	vecs *targetVecs
}

func (s *swapCollector) Describe(chan<- *prometheus.Desc) {}

func (s *swapCollector) Collect(ch chan<- prometheus.Metric) {
	s.mu.RLock()
	v := s.vecs
	s.mu.RUnlock()
	if v != nil {
		v.collect(ch)
	}
}

func (s *swapCollector) set(v *targetVecs) {
	s.mu.Lock()
	s.vecs = v
	s.mu.Unlock()
}

// labelNames gives ip, host, source, tos and then the extra names, sorted, without repeats of
// the first four.
func labelNames(extra map[string]struct{}) []string {
	names := slices.Clone(reservedLabels)
	var ex []string
	for k := range extra {
		if !slices.Contains(reservedLabels, k) {
			ex = append(ex, k)
		}
	}
	slices.Sort(ex)
	return append(names, ex...)
}
