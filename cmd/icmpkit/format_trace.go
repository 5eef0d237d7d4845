package main

import (
	"fmt"
	"io"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/icmpkit/icmpkit/probe"
	"github.com/icmpkit/icmpkit/transport"
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
		s := traceSlot{answered: true, from: o.Reply.Source, rtt: o.RTT, mark: traceMark(&o.Reply)}
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

// traceMark gives traceroute(8)'s annotation of an answer: none for an echo reply, a Time
// Exceeded in transit or a Port Unreachable (the destination reached); !N, !H, !P, !S, !X,
// !V, !C or !<code> for a Destination Unreachable; !F-<mtu> for Fragmentation Needed or Packet
// Too Big; !<type-code> for any other message.
func traceMark(r *transport.Reply) string {
	typ, code := r.TypeCode()
	switch k := r.Kind(); {
	case k == transport.KindEchoReply, k == transport.KindTimeExceeded && code == 0:
		return ""
	case k == transport.KindPacketTooBig, k == transport.KindDestinationUnreachable && !r.IsV6() && code == 4:
		return "!F-" + strconv.Itoa(r.MTU)
	case k == transport.KindDestinationUnreachable && r.IsV6():
		switch code {
		case 0: // no route
			return "!N"
		case 1: // administratively prohibited
			return "!X"
		case 2, 3: // beyond the scope of the source address, address unreachable
			return "!H"
		case 4: // port unreachable
			return ""
		}
		return "!<" + strconv.Itoa(code) + ">"
	case k == transport.KindDestinationUnreachable:
		switch code {
		case 0, 6, 8, 11: // network unreachable, unknown, source host isolated, for the TOS
			return "!N"
		case 1, 7, 12: // host unreachable, unknown, for the TOS
			return "!H"
		case 2:
			return "!P"
		case 3: // port unreachable
			return ""
		case 5: // source route failed
			return "!S"
		case 9, 10, 13: // administratively prohibited
			return "!X"
		case 14: // host precedence violation
			return "!V"
		case 15: // precedence cutoff
			return "!C"
		}
		return "!<" + strconv.Itoa(code) + ">"
	}
	return fmt.Sprintf("!<%d-%d>", typ, code)
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
