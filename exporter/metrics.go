package exporter

import (
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/prometheus/client_golang/prometheus"
)

// DefaultBuckets are smokeping_prober's: prometheus.ExponentialBuckets(0.00005, 2, 20).
var DefaultBuckets = prometheus.ExponentialBuckets(0.00005, 2, 20)

// DefaultNativeHistogramBucketFactor is smokeping_prober's native histogram bucket factor.
const DefaultNativeHistogramBucketFactor = 1.05

// targetVecs holds the per-target families for one set of label names.
type targetVecs struct {
	names     []string // ip, host, source, tos, then the user's labels, sorted
	requests  *prometheus.CounterVec
	durations *prometheus.HistogramVec
	ttl       *prometheus.GaugeVec
	dups      *prometheus.CounterVec
	sendErrs  *prometheus.CounterVec
	icmpErrs  *prometheus.CounterVec // names + type, code
}

func newTargetVecs(names []string, buckets []float64, factor float64) *targetVecs {
	return &targetVecs{
		names: names,
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "smokeping_requests_total",
			Help: "Number of ping requests sent",
		}, names),
		durations: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:                        "smokeping_response_duration_seconds",
			Help:                        "A histogram of latencies for ping responses.",
			Buckets:                     buckets,
			NativeHistogramBucketFactor: factor,
		}, names),
		ttl: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "smokeping_response_ttl",
			Help: "The last response Time To Live (TTL).",
		}, names),
		dups: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "smokeping_response_duplicates_total",
			Help: "The number of duplicated response packets.",
		}, names),
		sendErrs: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "smokeping_send_errors_total",
			Help: "The number of errors when Pinger attempts to send packets.",
		}, names),
		icmpErrs: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "icmpkit_icmp_errors_total",
			Help: "ICMP error messages (destination unreachable, time exceeded ...) received for the target's requests, by ICMP type and code.",
		}, append(slices.Clip(names), "type", "code")),
	}
}

func (v *targetVecs) collectors() []prometheus.Collector {
	return []prometheus.Collector{v.requests, v.durations, v.ttl, v.dups, v.sendErrs, v.icmpErrs}
}

// handles are one target's series, looked up once.
type handles struct {
	values    []string
	key       string
	requests  prometheus.Counter
	durations prometheus.Observer
	ttl       prometheus.Gauge
	dups      prometheus.Counter
	sendErrs  prometheus.Counter
	vecs      *targetVecs

	mu       sync.Mutex
	icmpErrs map[[2]int]prometheus.Counter
}

func (v *targetVecs) handles(values []string) *handles {
	return &handles{
		values:    values,
		key:       strings.Join(values, "\xff"),
		requests:  v.requests.WithLabelValues(values...),
		durations: v.durations.WithLabelValues(values...),
		ttl:       v.ttl.WithLabelValues(values...),
		dups:      v.dups.WithLabelValues(values...),
		sendErrs:  v.sendErrs.WithLabelValues(values...),
		vecs:      v,
	}
}

// icmpError counts an ICMP error of the given type and code.
func (h *handles) icmpError(typ, code int) {
	h.mu.Lock()
	c, ok := h.icmpErrs[[2]int{typ, code}]
	if !ok {
		if h.icmpErrs == nil {
			h.icmpErrs = map[[2]int]prometheus.Counter{}
		}
		c = h.vecs.icmpErrs.WithLabelValues(append(slices.Clip(h.values), strconv.Itoa(typ), strconv.Itoa(code))...)
		h.icmpErrs[[2]int{typ, code}] = c
	}
	h.mu.Unlock()
	c.Inc()
}

// delete removes the target's series.
func (v *targetVecs) delete(values []string) {
	v.requests.DeleteLabelValues(values...)
	v.durations.DeleteLabelValues(values...)
	v.ttl.DeleteLabelValues(values...)
	v.dups.DeleteLabelValues(values...)
	v.sendErrs.DeleteLabelValues(values...)
	m := make(prometheus.Labels, len(values))
	for i, n := range v.names {
		m[n] = values[i]
	}
	v.icmpErrs.DeletePartialMatch(m)
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
	if v == nil {
		return
	}
	for _, c := range v.collectors() {
		c.Collect(ch)
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
