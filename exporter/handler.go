package exporter

import (
	"bufio"
	"compress/gzip"
	"io"
	"math"
	"net/http"
	"strconv"
	"strings"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/prometheus/common/expfmt"
)

// Handler serves the metrics. A scraper that asks for the protobuf format (Prometheus with
// native histograms) gets promhttp's exposition of every family, native histograms
// included. Any other gets the text format, in which the per-target families are written
// straight from the targets' series rather than through the registry: at 100,000 targets
// that is the difference between seconds and a fraction of a second a scrape.
func (e *Exporter) Handler() http.Handler {
	proto := promhttp.HandlerFor(e.Gatherer(), promhttp.HandlerOpts{MaxRequestsInFlight: 4})
	sem := make(chan struct{}, 4)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.Contains(r.Header.Get("Accept"), "application/vnd.google.protobuf") {
			proto.ServeHTTP(w, r)
			return
		}
		select {
		case sem <- struct{}{}:
			defer func() { <-sem }()
		default:
			http.Error(w, "too many scrapes at once", http.StatusServiceUnavailable)
			return
		}
		mfs, err := e.reg.Gather()
		if err != nil {
			http.Error(w, "gathering metrics: "+err.Error(), http.StatusInternalServerError)
			return
		}
		w.Header().Set("Content-Type", string(expfmt.NewFormat(expfmt.TypeTextPlain)))
		var out io.Writer = w
		if acceptsGzip(r.Header.Get("Accept-Encoding")) {
			w.Header().Set("Content-Encoding", "gzip")
			gz, _ := gzip.NewWriterLevel(w, gzip.BestSpeed)
			defer gz.Close()
			out = gz
		}
		bw := bufio.NewWriterSize(out, 1<<16)
		defer bw.Flush()
		for _, mf := range mfs {
			if _, err := expfmt.MetricFamilyToText(bw, mf); err != nil {
				return
			}
		}
		e.swap.writeText(bw)
	})
}

func acceptsGzip(h string) bool {
	for _, part := range strings.Split(h, ",") {
		enc, q, _ := strings.Cut(strings.TrimSpace(part), ";")
		if strings.TrimSpace(enc) == "gzip" && strings.TrimSpace(q) != "q=0" {
			return true
		}
	}
	return false
}

func (s *swapCollector) writeText(w *bufio.Writer) {
	s.mu.RLock()
	v := s.vecs
	s.mu.RUnlock()
	if v != nil {
		v.writeText(w)
	}
}

// writeText writes the per-target families in the text format, as expfmt would.
func (v *targetVecs) writeText(w *bufio.Writer) {
	v.mu.RLock()
	all := make([]*handles, 0, len(v.all))
	for _, h := range v.all {
		all = append(all, h)
	}
	v.mu.RUnlock()
	les := make([]string, len(v.bounds))
	for i, b := range v.bounds {
		les[i] = `,le="` + formatFloat(b) + `"} `
	}
	var num []byte
	counter := func(name, help string, get func(*handles) float64, typ string) {
		w.WriteString("# HELP " + name + " " + help + "\n# TYPE " + name + " " + typ + "\n")
		for _, h := range all {
			w.WriteString(name)
			w.WriteString(h.text)
			w.WriteString("} ")
			num = appendFloat(num[:0], get(h))
			w.Write(num)
			w.WriteByte('\n')
		}
	}
	counter("smokeping_requests_total", "Number of ping requests sent", func(h *handles) float64 { return float64(h.requests.Load()) }, "counter")
	const hist = "smokeping_response_duration_seconds"
	w.WriteString("# HELP " + hist + " A histogram of latencies for ping responses.\n# TYPE " + hist + " histogram\n")
	cum := make([]uint64, len(v.bounds))
	for _, h := range all {
		h.mu.Lock()
		var c uint64
		for i := range v.bounds {
			c += h.buckets[i]
			cum[i] = c
		}
		count, sum := h.count, h.sum
		h.mu.Unlock()
		for i := range v.bounds {
			w.WriteString(hist + "_bucket")
			w.WriteString(h.text)
			w.WriteString(les[i])
			w.Write(strconv.AppendUint(num[:0], cum[i], 10))
			w.WriteByte('\n')
		}
		w.WriteString(hist + "_bucket")
		w.WriteString(h.text)
		w.WriteString(`,le="+Inf"} `)
		w.Write(strconv.AppendUint(num[:0], count, 10))
		w.WriteString("\n" + hist + "_sum")
		w.WriteString(h.text)
		w.WriteString("} ")
		w.Write(appendFloat(num[:0], sum))
		w.WriteString("\n" + hist + "_count")
		w.WriteString(h.text)
		w.WriteString("} ")
		w.Write(strconv.AppendUint(num[:0], count, 10))
		w.WriteByte('\n')
	}
	counter("smokeping_response_ttl", "The last response Time To Live (TTL).", func(h *handles) float64 { return float64(h.ttl.Load()) }, "gauge")
	counter("smokeping_response_duplicates_total", "The number of duplicated response packets.", func(h *handles) float64 { return float64(h.dups.Load()) }, "counter")
	counter("smokeping_send_errors_total", "The number of errors when Pinger attempts to send packets.", func(h *handles) float64 { return float64(h.sendErrs.Load()) }, "counter")
	r := prometheus.NewRegistry()
	if r.Register(v.icmpErrs) == nil {
		if mfs, err := r.Gather(); err == nil {
			for _, mf := range mfs {
				expfmt.MetricFamilyToText(w, mf)
			}
		}
	}
}

// labelText gives `{name="value",...` (without the closing brace) for sorted label pairs.
func labelText(names, values []string) string {
	var b strings.Builder
	b.WriteByte('{')
	for i, n := range names {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(n)
		b.WriteString(`="`)
		b.WriteString(escapeLabel(values[i]))
		b.WriteByte('"')
	}
	return b.String()
}

var labelEscaper = strings.NewReplacer(`\`, `\\`, "\n", `\n`, `"`, `\"`)

func escapeLabel(s string) string { return labelEscaper.Replace(s) }

func formatFloat(f float64) string { return string(appendFloat(nil, f)) }

// appendFloat writes a sample value as expfmt does.
func appendFloat(b []byte, f float64) []byte {
	switch {
	case f == 1:
		return append(b, '1')
	case f == 0:
		return append(b, '0')
	case f == -1:
		return append(b, "-1"...)
	case math.IsNaN(f):
		return append(b, "NaN"...)
	case math.IsInf(f, +1):
		return append(b, "+Inf"...)
	case math.IsInf(f, -1):
		return append(b, "-Inf"...)
	}
	return strconv.AppendFloat(b, f, 'g', -1, 64)
}
