package main

import (
	"fmt"
	"io"
	"net/netip"
	"strings"
	"time"

	"github.com/icmpkit/icmpkit/probe"
	"golang.org/x/net/icmp"
)

// traceSlot is one probe's place in a traceroute(8) line.
type traceSlot struct {
	answered bool
	from     netip.Addr
	rtt      time.Duration
	mark     string // traceroute(8)'s annotation: "!H", "!F-1400" ...; "" for none
	ext      string // the ICMP extensions as traceroute -e shows them; "" for none or without -e
}

// traceLine is one distance's line: its probes in the order they were sent.
type traceLine struct {
	dist  int
	slots []traceSlot
	pmtu  int // with --pmtu, the path MTU to show; 0 for none
}

// traceSlots gives the places of a distance's probes from their outcomes: count probes, or
// fewer when some were never sent (--fast). The library reports each probe once, in its round,
// also one it sent again after a router's rate limit took it; an outcome of a round beyond
// count takes, when answered, the place of the last probe. Without outcomes,
// count probes went unanswered. With ext, MPLS label stacks are shown as traceroute -e does.
func traceSlots(outs []probe.TraceOutcome, count int, ext bool) []traceSlot {
	slots := make([]traceSlot, count)
	if len(outs) == 0 {
		return slots
	}
	sent := make([]bool, count)
	for i := range outs {
		o := &outs[i]
		r := o.Round
		if r >= count {
			if o.TimedOut || slots[count-1].answered {
				continue
			}
			r = count - 1
		}
		sent[r] = true
		if o.TimedOut {
			continue
		}
		s := traceSlot{answered: true, from: o.Reply.Source, rtt: o.RTT, mark: o.Reply.Mark()}
		if ext {
			s.ext = mplsExtension(o.Reply.MPLS)
		}
		slots[r] = s
	}
	kept := slots[:0]
	for i, s := range slots {
		if sent[i] {
			kept = append(kept, s)
		}
	}
	return kept
}

// writeTraceLine writes l as traceroute(8) does: the distance, then each probe in turn, the
// responder (with its extensions) before its time whenever it differs from the previous
// answer's, "*" for a probe without answer, annotations after the time. named gives a
// responder's name, "" when it has none (shown "addr (addr)"); nil shows addresses alone (-n).
func writeTraceLine(w io.Writer, l *traceLine, named func(netip.Addr) string) {
	fmt.Fprintf(w, "%2d ", l.dist)
	var prev *traceSlot
	for i := range l.slots {
		s := &l.slots[i]
		if !s.answered {
			io.WriteString(w, " *")
			continue
		}
		if prev == nil || prev.from != s.from || prev.ext != s.ext {
			addr := s.from.String()
			if named == nil {
				io.WriteString(w, " "+addr)
			} else {
				n := named(s.from)
				if n == "" {
					n = addr
				}
				io.WriteString(w, " "+n+" ("+addr+")")
			}
			if s.ext != "" {
				io.WriteString(w, " <"+s.ext+">")
			}
		}
		fmt.Fprintf(w, "  %.3f ms", ms(s.rtt))
		if s.mark != "" {
			io.WriteString(w, " "+s.mark)
		}
		prev = s
	}
	if l.pmtu > 0 {
		fmt.Fprintf(w, "  pmtu %d", l.pmtu)
	}
	io.WriteString(w, "\n")
}

// mplsExtension gives an RFC 4950 label stack as traceroute -e shows it:
// "MPLS:L=100,E=0,S=0,T=1/L=200,E=0,S=1,T=1"; "" for none.
func mplsExtension(labels []icmp.MPLSLabel) string {
	if len(labels) == 0 {
		return ""
	}
	var b strings.Builder
	b.WriteString("MPLS:")
	for i, l := range labels {
		if i > 0 {
			b.WriteByte('/')
		}
		fmt.Fprintf(&b, "L=%d,E=%d,S=%d,T=%d", l.Label, l.TC, b2i(l.S), l.TTL)
	}
	return b.String()
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}
