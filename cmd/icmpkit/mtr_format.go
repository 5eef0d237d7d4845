package main

import (
	"bufio"
	"fmt"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/icmpkit/icmpkit/result"
)

// mtrReport writes mtr 0.95's reports: text (-r, -w), JSON and CSV, each with icmpkit's
// fields after mtr's.
type mtrReport struct {
	f     *mtrFlags
	local string // this host's name, as mtr's HOST: line shows it
	start time.Time
	names *names // nil: addresses alone
}

// mtrHostWidth is the width mtr gives the host column of a report that is not wide.
const mtrHostWidth = 33

// mtrMS gives a duration in milliseconds.
func mtrMS(d time.Duration) float64 { return float64(d) / 1e6 }

// host gives how a report names a responder: its name, or with -n its address, or with -b
// both ("name (address)"); "???" for none.
func (r *mtrReport) host(a netip.Addr) string {
	if !a.IsValid() {
		return "???"
	}
	if r.names == nil {
		return a.String()
	}
	name := r.names.get(a)
	switch {
	case name == "":
		return a.String()
	case r.f.both:
		return name + " (" + a.String() + ")"
	}
	return name
}

// mtrColumn is one column of the text report: mtr's header, width and format.
type mtrColumn struct {
	title  string
	width  int
	format string
	value  func(h *result.PathHop) any
}

// mtrColumns are mtr's default columns ("LS NABWV"), then icmpkit's: jitter mean and worst
// (mtr's and trippy's Javg, Jmax), the answers rate limits withheld (Lim) and the copies of
// answers already counted (Dup).
var mtrColumns = []mtrColumn{
	{"Loss%", 6, " %4.1f%%", func(h *result.PathHop) any { return 100 * h.Loss }},
	{"Snt", 6, " %5d", func(h *result.PathHop) any { return h.Sent }},
	{" ", 1, " ", nil},
	{"Last", 6, " %5.1f", func(h *result.PathHop) any { return mtrMS(h.Last) }},
	{"Avg", 6, " %5.1f", func(h *result.PathHop) any { return mtrMS(h.Stats.Avg()) }},
	{"Best", 6, " %5.1f", func(h *result.PathHop) any { return mtrMS(h.Stats.Min()) }},
	{"Wrst", 6, " %5.1f", func(h *result.PathHop) any { return mtrMS(h.Stats.Max()) }},
	{"StDev", 6, " %5.1f", func(h *result.PathHop) any { return mtrMS(h.Stats.StdDev()) }},
	{" ", 1, " ", nil},
	{"Javg", 5, " %4.1f", func(h *result.PathHop) any { return mtrMS(h.Stats.Jitter()) }},
	{"Jmax", 5, " %4.1f", func(h *result.PathHop) any { return mtrMS(h.JitterWorst) }},
	{"Lim", 6, " %5d", func(h *result.PathHop) any { return h.RateLimited }},
	{"Dup", 5, " %4d", func(h *result.PathHop) any { return h.Duplicates }},
}

// text writes the report of -r (and -w) as mtr does: "Start:", the "HOST:" header, a line per
// hop, every other responder of a hop on a line of its own below it, and with -e its MPLS
// labels. A hop whose Loss% rests on too few probes is marked "?", explained in a last line.
func (r *mtrReport) text(out *bufio.Writer, tg *mtrTarget, p *result.Path) {
	width := mtrHostWidth
	if r.f.wide {
		width = len(r.local)
		for i := range p.Hops {
			width = max(width, len(r.host(p.Hops[i].Address)))
		}
	}
	fmt.Fprintf(out, "Start: %s\n", r.start.Format("2006-01-02T15:04:05-0700"))
	// mtr writes its columns from the host column's width on, over the end of a longer
	// name, except in a wide report.
	line := func(b []byte, format string, args ...any) []byte {
		b = fmt.Appendf(b, format, args...)
		if !r.f.wide && len(b) > width {
			b = b[:width]
		}
		return b
	}
	b := line(nil, "HOST: %-*s", width, r.local)
	for _, c := range mtrColumns {
		b = fmt.Appendf(b, "%*s", c.width, c.title)
	}
	out.Write(append(b, '\n'))
	uncertain := false
	for i := range p.Hops {
		h := &p.Hops[i]
		b = line(b[:0], " %2d.|-- %-*s", h.Distance, width, r.host(h.Address))
		for _, c := range mtrColumns {
			if c.value == nil {
				b = append(b, c.format...)
				continue
			}
			b = fmt.Appendf(b, c.format, c.value(h))
		}
		if h.Uncertain && h.Sent > 0 {
			b = append(b, " ?"...)
			uncertain = true
		}
		out.Write(append(b, '\n'))
		if r.f.mpls {
			for _, l := range h.MPLS {
				fmt.Fprintf(out, "       [MPLS: Lbl %d TC %d S %d TTL %d]\n", l.Label, l.TC, boolInt(l.S), l.TTL)
			}
		}
		for _, x := range h.Responders {
			if x.Address != h.Address {
				fmt.Fprintf(out, "    %-*s\n", width, r.host(x.Address))
			}
		}
	}
	if uncertain {
		fmt.Fprintf(out, "?: Loss%% rests on fewer than %d probes\n", result.MinLossSamples)
	}
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

// json writes mtr's JSON report: {"report": {"mtr": {...}, "hubs": [...]}}, each hub with
// mtr's fields ("count", "host", "Loss%", "Snt", "Last", "Avg", "Best", "Wrst", "StDev"), then
// icmpkit's: Drop, Rcv, Jttr, Javg, Jmax (as mtr names them when asked for), and RateLimited,
// Dup (duplicates), Pinged, PingLost, PingRefused (echo requests to the router itself), Unpaced, Pace (ms), FirstLost, RouteChanges, Uncertain, Target, Hosts (every responder).
func (r *mtrReport) json(out *bufio.Writer, tg *mtrTarget, p *result.Path) {
	var b []byte
	b = append(b, "{\n    \"report\": {\n        \"mtr\": {\n"...)
	b = fmt.Appendf(b, "            \"src\": %s,\n", strconv.Quote(r.local))
	b = fmt.Appendf(b, "            \"dst\": %s,\n", strconv.Quote(tg.host))
	b = fmt.Appendf(b, "            \"tos\": %d,\n", r.f.tc)
	b = fmt.Appendf(b, "            \"tests\": %d,\n", p.Cycles)
	b = fmt.Appendf(b, "            \"psize\": \"%d\",\n", r.f.size)
	b = append(b, "            \"bitpattern\": \"0x00\"\n        },\n        \"hubs\": ["...)
	for i := range p.Hops {
		h := &p.Hops[i]
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, "\n            {\n"...)
		b = fmt.Appendf(b, "                \"count\": %d,\n", h.Distance)
		b = fmt.Appendf(b, "                \"host\": %s,\n", strconv.Quote(r.host(h.Address)))
		b = fmt.Appendf(b, "                \"Loss%%\": %.1f,\n", 100*h.Loss)
		b = fmt.Appendf(b, "                \"Snt\": %d,\n", h.Sent)
		for _, f := range []struct {
			name string
			d    time.Duration
		}{{"Last", h.Last}, {"Avg", h.Stats.Avg()}, {"Best", h.Stats.Min()}, {"Wrst", h.Stats.Max()}, {"StDev", h.Stats.StdDev()}} {
			b = fmt.Appendf(b, "                \"%s\": %.3f,\n", f.name, mtrMS(f.d))
		}
		b = fmt.Appendf(b, "                \"Drop\": %d,\n", h.Sent-h.Received)
		b = fmt.Appendf(b, "                \"Rcv\": %d,\n", h.Received)
		b = fmt.Appendf(b, "                \"Jttr\": %.3f,\n", mtrMS(h.JitterLast))
		b = fmt.Appendf(b, "                \"Javg\": %.3f,\n", mtrMS(h.Stats.Jitter()))
		b = fmt.Appendf(b, "                \"Jmax\": %.3f,\n", mtrMS(h.JitterWorst))
		b = fmt.Appendf(b, "                \"RateLimited\": %d,\n", h.RateLimited)
		b = fmt.Appendf(b, "                \"Dup\": %d,\n", h.Duplicates)
		b = fmt.Appendf(b, "                \"Pinged\": %d,\n", h.Pinged)
		b = fmt.Appendf(b, "                \"PingLost\": %d,\n", h.PingLost)
		b = fmt.Appendf(b, "                \"PingRefused\": %t,\n", h.PingRefused)
		b = fmt.Appendf(b, "                \"Unpaced\": %d,\n", h.Unpaced)
		b = fmt.Appendf(b, "                \"Pace\": %.3f,\n", mtrMS(h.Pace))
		b = fmt.Appendf(b, "                \"FirstLost\": %d,\n", h.FirstLost)
		b = fmt.Appendf(b, "                \"RouteChanges\": %d,\n", h.RouteChanges)
		b = fmt.Appendf(b, "                \"Uncertain\": %t,\n", h.Uncertain)
		b = fmt.Appendf(b, "                \"Target\": %t,\n", h.Target)
		b = append(b, "                \"Hosts\": ["...)
		for j, x := range h.Responders {
			if j > 0 {
				b = append(b, ", "...)
			}
			b = fmt.Appendf(b, "{\"host\": %s, \"ip\": \"%s\", \"Rcv\": %d}", strconv.Quote(r.host(x.Address)), x.Address, x.Count)
		}
		b = append(b, "]\n            }"...)
	}
	if len(p.Hops) > 0 {
		b = append(b, "\n        "...)
	}
	b = append(b, "]\n    }\n}\n"...)
	out.Write(b)
}

// mtrCSVHeader is mtr 0.95's CSV header, then icmpkit's fields.
var mtrCSVHeader = []string{"Mtr_Version", "Start_Time", "Status", "Host", "Hop", "Ip", "Loss%", "Snt", " ", "Last", "Avg", "Best", "Wrst", "StDev",
	"Drop", "Rcv", "Jttr", "Javg", "Jmax", "RateLimited", "Dup", "Pinged", "PingLost", "PingRefused", "Unpaced", "Pace", "FirstLost", "RouteChanges", "Uncertain", "Target", "Hosts"}

// csv writes mtr's CSV report: a header (before the first target's lines), then a line per hop.
// Like mtr's, the " " column holds the probes unanswered (mtr's Drop) and the header ends
// with a comma; Hosts lists every responder, separated by spaces.
func (r *mtrReport) csv(out *bufio.Writer, tg *mtrTarget, p *result.Path, header bool) {
	if header {
		out.WriteString(strings.Join(mtrCSVHeader, ",") + ",\n")
	}
	for i := range p.Hops {
		h := &p.Hops[i]
		status := "OK"
		var b []byte
		b = fmt.Appendf(b, "MTR.0.95,%d,%s,%s,%d,%s,%.2f,%d,%d", r.start.Unix(), status, tg.host, h.Distance, r.host(h.Address), 100*h.Loss, h.Sent, h.Sent-h.Received)
		for _, d := range []time.Duration{h.Last, h.Stats.Avg(), h.Stats.Min(), h.Stats.Max(), h.Stats.StdDev()} {
			b = fmt.Appendf(b, ",%.2f", mtrMS(d))
		}
		b = fmt.Appendf(b, ",%d,%d,%.2f,%.2f,%.2f,%d,%d,%d,%d,%t,%d,%.2f,%d,%d,%t,%t,", h.Sent-h.Received, h.Received,
			mtrMS(h.JitterLast), mtrMS(h.Stats.Jitter()), mtrMS(h.JitterWorst), h.RateLimited, h.Duplicates,
			h.Pinged, h.PingLost, h.PingRefused, h.Unpaced, mtrMS(h.Pace),
			h.FirstLost, h.RouteChanges, h.Uncertain, h.Target)
		for j, x := range h.Responders {
			if j > 0 {
				b = append(b, ' ')
			}
			b = append(b, x.Address.String()...)
		}
		out.Write(append(b, '\n'))
	}
}
