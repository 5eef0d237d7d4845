package main

import (
	"fmt"
	"io"
	"strconv"
	"time"

	"github.com/icmpkit/icmpkit/probe"
	"github.com/icmpkit/icmpkit/result"
	"github.com/icmpkit/icmpkit/transport"
)

// ms gives d in milliseconds.
func ms(d time.Duration) float64 { return float64(d) / 1e6 }

// replyTime formats an RTT as iputils ping does: three significant decimals below 1 ms,
// fewer above (0.045, 1.23, 12.3, 123).
func replyTime(d time.Duration) string {
	m := ms(d)
	switch {
	case m >= 100:
		return strconv.FormatFloat(m, 'f', 0, 64)
	case m >= 10:
		return strconv.FormatFloat(m, 'f', 1, 64)
	case m >= 1:
		return strconv.FormatFloat(m, 'f', 2, 64)
	}
	return strconv.FormatFloat(m, 'f', 3, 64)
}

// lossPercent formats a packet loss fraction as a percentage with up to four significant
// digits: 0, 25, 33.33, 100.
func lossPercent(h *result.Host) string {
	return strconv.FormatFloat(h.PacketLoss()*100, 'g', 4, 64)
}

// writeOutcome writes iputils ping's line for one outcome: a reply, a duplicate, or an ICMP
// error by name. A timeout writes nothing.
func writeOutcome(w io.Writer, o probe.Outcome) {
	if o.TimedOut {
		return
	}
	r := &o.Reply
	if r.Kind() != transport.KindEchoReply {
		fmt.Fprintf(w, "From %s icmp_seq=%d %s\n", r.Source, o.Seq+1, r.Message())
		return
	}
	fmt.Fprintf(w, "%d bytes from %s: icmp_seq=%d", r.Bytes, r.Source, o.Seq+1)
	if r.TTL > 0 {
		fmt.Fprintf(w, " ttl=%d", r.TTL)
	}
	fmt.Fprintf(w, " time=%s ms", replyTime(o.RTT))
	if o.Duplicate {
		io.WriteString(w, " (DUP!)")
	}
	io.WriteString(w, "\n")
}

// writePingSummary writes iputils ping's statistics for host, as given on the command line.
func writePingSummary(w io.Writer, host string, h *result.Host, elapsed time.Duration) {
	fmt.Fprintf(w, "\n--- %s ping statistics ---\n", host)
	fmt.Fprintf(w, "%d packets transmitted, %d received", h.PacketsSent, h.PacketsReceived())
	if h.Duplicates > 0 {
		fmt.Fprintf(w, ", +%d duplicates", h.Duplicates)
	}
	if h.Errors > 0 {
		fmt.Fprintf(w, ", +%d errors", h.Errors)
	}
	fmt.Fprintf(w, ", %s%% packet loss, time %dms\n", lossPercent(h), elapsed.Milliseconds())
	if h.PacketsReceived() > 0 {
		fmt.Fprintf(w, "rtt min/avg/max/mdev = %.3f/%.3f/%.3f/%.3f ms\n", ms(h.MinRTT()), ms(h.AvgRTT()), ms(h.MaxRTT()), ms(h.StdDev()))
	}
}

// writeHostLine writes fping -q's line for a host.
func writeHostLine(w io.Writer, h *result.Host) {
	loss := 0
	if h.PacketsSent > 0 {
		loss = (h.PacketsSent - h.PacketsReceived()) * 100 / h.PacketsSent
	}
	// Built by appending into a buffer on the stack: a multiping writes a line a host, and
	// hundreds of thousands of them go through here.
	var buf [160]byte
	b := h.Address.AppendTo(buf[:0])
	b = append(b, " : xmt/rcv/%loss = "...)
	b = strconv.AppendInt(b, int64(h.PacketsSent), 10)
	b = append(b, '/')
	b = strconv.AppendInt(b, int64(h.PacketsReceived()), 10)
	b = append(b, '/')
	b = strconv.AppendInt(b, int64(loss), 10)
	b = append(b, '%')
	if h.PacketsReceived() > 0 {
		b = append(b, ", min/avg/max = "...)
		b = strconv.AppendFloat(b, ms(h.MinRTT()), 'f', 3, 64)
		b = append(b, '/')
		b = strconv.AppendFloat(b, ms(h.AvgRTT()), 'f', 3, 64)
		b = append(b, '/')
		b = strconv.AppendFloat(b, ms(h.MaxRTT()), 'f', 3, 64)
	}
	b = append(b, '\n')
	w.Write(b)
}

// writeHopLine writes traceroute(8)'s line for a distance: the responder, one time per answer
// (with the unreachable annotation), and "*" for each probe without one. Further responders
// (equal-cost paths), MPLS labels and, when pmtu is nonzero, the path MTU follow.
func writeHopLine(w io.Writer, h *result.Hop, pmtu int) {
	fmt.Fprintf(w, "%2d  %s", h.Distance, h.Address)
	for _, rtt := range h.RTTs {
		fmt.Fprintf(w, "  %.3f ms", ms(rtt))
		if h.Unreachable != "" {
			io.WriteString(w, " "+h.Unreachable)
		}
	}
	for range h.PacketsSent - len(h.RTTs) {
		io.WriteString(w, " *")
	}
	for _, a := range h.Responders {
		if a != h.Address {
			fmt.Fprintf(w, "  %s", a)
		}
	}
	for _, l := range h.MPLS {
		fmt.Fprintf(w, " <MPLS:L=%d,E=%d,S=%d,T=%d>", l.Label, l.TC, b2i(l.S), l.TTL)
	}
	if pmtu > 0 {
		fmt.Fprintf(w, "  pmtu %d", pmtu)
	}
	io.WriteString(w, "\n")
}

// writeSilentLine writes traceroute(8)'s line for a distance nothing answered.
func writeSilentLine(w io.Writer, dist, probes int) {
	fmt.Fprintf(w, "%2d ", dist)
	for range probes {
		io.WriteString(w, " *")
	}
	io.WriteString(w, "\n")
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}
