package main

import (
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/icmpkit/icmpkit/probe"
	"github.com/icmpkit/icmpkit/transport"
	"github.com/stretchr/testify/assert"
	"golang.org/x/net/icmp"
	"golang.org/x/net/ipv4"
)

func TestWriteTraceLine(t *testing.T) {
	a, b := addr("198.18.1.2"), addr("198.18.1.3")
	ans := func(from netip.Addr, rtt time.Duration, mark, ext string) traceSlot {
		return traceSlot{answered: true, from: from, rtt: rtt, mark: mark, ext: ext}
	}
	lost := traceSlot{}
	named := func(x netip.Addr) string {
		if x == a {
			return "a.lab"
		}
		return ""
	}
	for _, c := range []struct {
		line  traceLine
		named func(netip.Addr) string
		want  string
	}{
		{traceLine{dist: 1, slots: []traceSlot{ans(a, time.Millisecond, "", ""), ans(a, 2*time.Millisecond, "", ""), ans(a, 3*time.Millisecond, "", "")}},
			nil, " 1  198.18.1.2  1.000 ms  2.000 ms  3.000 ms"},
		{traceLine{dist: 1, slots: []traceSlot{ans(a, time.Millisecond, "", "")}},
			named, " 1  a.lab (198.18.1.2)  1.000 ms"},
		// Several responders: each named where it changes, in probe order.
		{traceLine{dist: 12, slots: []traceSlot{ans(a, time.Millisecond, "", ""), ans(b, 2*time.Millisecond, "", ""), ans(a, 3*time.Millisecond, "", "")}},
			named, "12  a.lab (198.18.1.2)  1.000 ms 198.18.1.3 (198.18.1.3)  2.000 ms a.lab (198.18.1.2)  3.000 ms"},
		{traceLine{dist: 2, slots: []traceSlot{ans(a, time.Millisecond, "", ""), ans(b, 2*time.Millisecond, "", ""), ans(b, 3*time.Millisecond, "", "")}},
			nil, " 2  198.18.1.2  1.000 ms 198.18.1.3  2.000 ms  3.000 ms"},
		// Lost probes in their places; a responder after a lost one is compared with the
		// answer before it.
		{traceLine{dist: 3, slots: []traceSlot{lost, ans(a, time.Millisecond, "", ""), lost, ans(a, 2*time.Millisecond, "", ""), lost}},
			nil, " 3  * 198.18.1.2  1.000 ms *  2.000 ms *"},
		{traceLine{dist: 3, slots: []traceSlot{ans(a, time.Millisecond, "", ""), lost, ans(b, 2*time.Millisecond, "", "")}},
			nil, " 3  198.18.1.2  1.000 ms * 198.18.1.3  2.000 ms"},
		{traceLine{dist: 4, slots: []traceSlot{lost, lost, lost}}, named, " 4  * * *"},
		// Marks after each time.
		{traceLine{dist: 5, slots: []traceSlot{ans(a, time.Millisecond, "!H", ""), lost, ans(a, time.Millisecond, "!H", "")}},
			nil, " 5  198.18.1.2  1.000 ms !H *  1.000 ms !H"},
		// Extensions after the responder, which is named again when they change.
		{traceLine{dist: 6, slots: []traceSlot{ans(a, time.Millisecond, "", "MPLS:L=100,E=0,S=1,T=1"), ans(a, time.Millisecond, "", "MPLS:L=100,E=0,S=1,T=1"), ans(a, time.Millisecond, "", "MPLS:L=200,E=0,S=1,T=1"), ans(a, time.Millisecond, "", "")}},
			named, " 6  a.lab (198.18.1.2) <MPLS:L=100,E=0,S=1,T=1>  1.000 ms  1.000 ms a.lab (198.18.1.2) <MPLS:L=200,E=0,S=1,T=1>  1.000 ms a.lab (198.18.1.2)  1.000 ms"},
		// Long and short times; --pmtu's own note last.
		{traceLine{dist: 7, slots: []traceSlot{ans(a, 1234567891*time.Nanosecond, "", ""), ans(a, 1500, "", "")}, pmtu: 1400},
			nil, " 7  198.18.1.2  1234.568 ms  0.002 ms  pmtu 1400"},
		{traceLine{dist: 255, slots: []traceSlot{ans(addr("2001:db8::2"), time.Millisecond, "!F-1280", "")}},
			named, "255  2001:db8::2 (2001:db8::2)  1.000 ms !F-1280"},
	} {
		var b strings.Builder
		writeTraceLine(&b, &c.line, c.named)
		assert.Equal(t, c.want+"\n", b.String())
	}
}

func TestTraceSlots(t *testing.T) {
	a := addr("198.18.1.2")
	te := transport.Reply{Source: a, Type: ipv4.ICMPTypeTimeExceeded, MPLS: []icmp.MPLSLabel{{Label: 16, TC: 5, S: false, TTL: 1}, {Label: 1048575, TC: 7, S: true, TTL: 255}}}
	answer := func(round int) probe.TraceOutcome {
		return probe.TraceOutcome{Distance: 2, Round: round, Reply: te, RTT: time.Duration(round+1) * time.Millisecond}
	}
	timeout := func(round int) probe.TraceOutcome {
		return probe.TraceOutcome{Distance: 2, Round: round, TimedOut: true}
	}
	ok := func(round int, ext string) traceSlot {
		return traceSlot{answered: true, from: a, rtt: time.Duration(round+1) * time.Millisecond, ext: ext}
	}
	const stack = "MPLS:L=16,E=5,S=0,T=1/L=1048575,E=7,S=1,T=255"
	for _, c := range []struct {
		name string
		outs []probe.TraceOutcome
		ext  bool
		want []traceSlot
	}{
		{"in round order", []probe.TraceOutcome{answer(2), timeout(0), answer(1)}, false, []traceSlot{{}, ok(1, ""), ok(2, "")}},
		{"with -e", []probe.TraceOutcome{answer(0), answer(1), answer(2)}, true, []traceSlot{ok(0, stack), ok(1, stack), ok(2, stack)}},
		{"nothing reported", nil, false, []traceSlot{{}, {}, {}}},
		{"fast mode sent one", []probe.TraceOutcome{answer(0)}, false, []traceSlot{ok(0, "")}},
		{"the answered retry takes the last place", []probe.TraceOutcome{timeout(0), timeout(1), timeout(2), answer(3)}, false, []traceSlot{{}, {}, ok(3, "")}},
		{"an unanswered retry changes nothing", []probe.TraceOutcome{timeout(0), timeout(1), timeout(2), timeout(3)}, false, []traceSlot{{}, {}, {}}},
	} {
		assert.Equal(t, c.want, traceSlots(c.outs, 3, c.ext), c.name)
	}
}
