package main

import (
	"bufio"
	"io"
	"strconv"
	"time"

	"github.com/icmpkit/icmpkit/probe"
	"github.com/icmpkit/icmpkit/result"
	"github.com/icmpkit/icmpkit/transport"
)

// multiping's text is fping 5.1's, line for line, but that its summary lines go to standard
// output (fping writes them to standard error) and a target is followed by one space before
// its colon (fping pads every target to the longest one's width).

// fpingTime formats an RTT as fping does: three significant decimals below 1 ms, then fewer
// as the figure grows (0.045, 1.23, 12.3, 123).
func fpingTime(b []byte, d time.Duration) []byte {
	t := ms(d)
	switch {
	case t < 1:
		return strconv.AppendFloat(b, t, 'f', 3, 64)
	case t < 10:
		return strconv.AppendFloat(b, t, 'f', 2, 64)
	case t < 100:
		return strconv.AppendFloat(b, t, 'f', 1, 64)
	case t < 1e6:
		return strconv.AppendFloat(b, t, 'f', 0, 64)
	}
	return strconv.AppendFloat(b, t, 'e', 3, 64)
}

// fpingLoss is a host's loss as fping counts it: a whole percentage, rounded down.
func fpingLoss(h *result.Host) int64 {
	if h.PacketsSent == 0 {
		return 0
	}
	return int64((h.PacketsSent - h.PacketsReceived()) * 100 / h.PacketsSent)
}

// appendFpingLoss appends fping's running loss, "0% loss", from a host's figures.
func appendFpingLoss(b []byte, h *result.Host) []byte {
	b = strconv.AppendInt(b, fpingLoss(h), 10)
	return append(b, "% loss)"...)
}

// appendSummary appends fping's summary line of a host (fping -c, -q).
func appendSummary(b []byte, name []byte, h *result.Host) []byte {
	b = append(b, name...)
	b = append(b, " : xmt/rcv/%loss = "...)
	b = strconv.AppendInt(b, int64(h.PacketsSent), 10)
	b = append(b, '/')
	b = strconv.AppendInt(b, int64(h.PacketsReceived()), 10)
	b = append(b, '/')
	b = strconv.AppendInt(b, fpingLoss(h), 10)
	b = append(b, '%')
	if h.PacketsReceived() > 0 {
		b = append(b, ", min/avg/max = "...)
		b = fpingTime(b, h.MinRTT())
		b = append(b, '/')
		b = fpingTime(b, h.AvgRTT())
		b = append(b, '/')
		b = fpingTime(b, h.MaxRTT())
	}
	return append(b, '\n')
}

// appendReply appends fping's per-reply line.
func appendReply(b []byte, name []byte, o *probe.Outcome) []byte {
	b = appendAnswer(b, name, "[", o)
	b = append(b, " ("...)
	b = fpingTime(b, o.Host.AvgRTT())
	b = append(b, " avg, "...)
	b = appendFpingLoss(b, o.Host)
	b = appendFrom(b, o)
	return append(b, '\n')
}

// appendDuplicate appends fping -q's line, on standard error, for a further copy of a reply.
func appendDuplicate(b []byte, name []byte, o *probe.Outcome) []byte {
	b = appendAnswer(b, name, "duplicate for [", o)
	b = appendFrom(b, o)
	return append(b, '\n')
}

// appendAnswer appends what fping's lines of an echo reply begin with: "NAME : [N], 64
// bytes, 0.045 ms", with open before the request's number.
func appendAnswer(b []byte, name []byte, open string, o *probe.Outcome) []byte {
	b = append(b, name...)
	b = append(b, " : "...)
	b = append(b, open...)
	b = strconv.AppendInt(b, int64(o.Seq), 10)
	b = append(b, "], "...)
	b = strconv.AppendInt(b, int64(o.Reply.Bytes), 10)
	b = append(b, " bytes, "...)
	b = fpingTime(b, o.RTT)
	return append(b, " ms"...)
}

// appendFrom appends " [<- SOURCE]" when the answer came from another address than the one
// probed (a broadcast's answers).
func appendFrom(b []byte, o *probe.Outcome) []byte {
	if !o.Reply.Source.IsValid() || o.Reply.Source == o.Destination {
		return b
	}
	b = append(b, " [<- "...)
	b = o.Reply.Source.AppendTo(b)
	return append(b, ']')
}

// appendTimeout appends fping's line for a request that got no reply.
func appendTimeout(b []byte, name []byte, o *probe.Outcome) []byte {
	b = append(b, name...)
	b = append(b, " : ["...)
	b = strconv.AppendInt(b, int64(o.Seq), 10)
	b = append(b, "], timed out ("...)
	if o.Host.PacketsReceived() > 0 {
		b = fpingTime(b, o.Host.AvgRTT())
	} else {
		b = append(b, "NaN"...)
	}
	b = append(b, " avg, "...)
	b = appendFpingLoss(b, o.Host)
	return append(b, '\n')
}

// fpingUnreachable names ICMPv4 Destination Unreachable codes as fping does.
var fpingUnreachable = [...]string{
	"ICMP Network Unreachable",
	"ICMP Host Unreachable",
	"ICMP Protocol Unreachable",
	"ICMP Port Unreachable",
	"ICMP Unreachable (Fragmentation Needed)",
	"ICMP Unreachable (Source Route Failed)",
	"ICMP Unreachable (Destination Network Unknown)",
	"ICMP Unreachable (Destination Host Unknown)",
	"ICMP Unreachable (Source Host Isolated)",
	"ICMP Unreachable (Communication with Network Prohibited)",
	"ICMP Unreachable (Communication with Host Prohibited)",
	"ICMP Unreachable (Network Unreachable For Type Of Service)",
	"ICMP Unreachable (Host Unreachable For Type Of Service)",
	"ICMP Unreachable (Communication Administratively Prohibited)",
	"ICMP Unreachable (Host Precedence Violation)",
	"ICMP Unreachable (Precedence cutoff in effect)",
}

// fpingErrorName gives fping's words for an ICMP error. fping 5.1 names ICMPv4 errors only;
// ICMPv6 ones get the words of their ICMPv4 counterparts.
func fpingErrorName(r *transport.Reply) string {
	typ, code := r.TypeCode()
	if r.IsV6() {
		switch typ {
		case 1: // Destination Unreachable
			switch code {
			case 0, 2, 6: // no route, beyond the scope of the source, reject route
				return "ICMP Network Unreachable"
			case 1, 5: // administratively prohibited, source address failed policy
				return "ICMP Unreachable (Communication Administratively Prohibited)"
			case 3:
				return "ICMP Host Unreachable"
			case 4:
				return "ICMP Port Unreachable"
			}
			return "ICMP Unreachable (Invalid Code)"
		case 2:
			return "ICMP Unreachable (Fragmentation Needed)"
		case 3:
			return "ICMP Time Exceeded"
		case 4:
			return "ICMP Parameter Problem"
		}
		return "ICMPv6 " + strconv.Itoa(typ)
	}
	switch typ {
	case 3:
		if code >= 0 && code < len(fpingUnreachable) {
			return fpingUnreachable[code]
		}
		return "ICMP Unreachable (Invalid Code)"
	case 4:
		return "ICMP Source Quench"
	case 5:
		return "ICMP Redirect"
	case 11:
		return "ICMP Time Exceeded"
	case 12:
		return "ICMP Parameter Problem"
	}
	return "ICMP " + strconv.Itoa(typ)
}

// appendError appends fping's line, on standard error, for an ICMP error quoting a request.
func appendError(b []byte, name []byte, o *probe.Outcome) []byte {
	b = append(b, fpingErrorName(&o.Reply)...)
	b = append(b, " from "...)
	b = o.Reply.Source.AppendTo(b)
	b = append(b, " for ICMP Echo sent to "...)
	b = append(b, name...)
	return append(b, '\n')
}

// appendRTTList appends fping -C's line: every request's RTT in order, "-" for a loss.
func appendRTTList(b []byte, name []byte, rtts []time.Duration) []byte {
	b = append(b, name...)
	b = append(b, " :"...)
	for _, d := range rtts {
		b = append(b, ' ')
		if d < 0 {
			b = append(b, '-')
		} else {
			b = fpingTime(b, d)
		}
	}
	return append(b, '\n')
}

// fpingStats are the figures of fping -s's block, over every host.
type fpingStats struct {
	targets, alive, unreachable int
	timeouts, sent, received    int
	otherICMP                   int
	unknown                     int // lines of files that named no address
	minRTT, maxRTT, sumRTT      time.Duration
	replies                     int
	start                       time.Time
}

// add counts a completed host.
func (s *fpingStats) add(h *result.Host) {
	s.targets++
	if h.IsAlive() {
		s.alive++
	} else {
		s.unreachable++
	}
	recv := h.PacketsReceived()
	s.sent += h.PacketsSent
	s.received += recv
	s.timeouts += h.PacketsSent - recv
	s.otherICMP += h.Errors
	if recv > 0 {
		if s.replies == 0 || h.MinRTT() < s.minRTT {
			s.minRTT = h.MinRTT()
		}
		s.maxRTT = max(s.maxRTT, h.MaxRTT())
		s.sumRTT += h.AvgRTT() * time.Duration(recv)
		s.replies += recv
	}
}

// write writes the block as fping -s does, on standard error.
func (s *fpingStats) write(w io.Writer, end time.Time) {
	bw := bufio.NewWriter(w)
	line := func(n int, what string) {
		var b [32]byte
		num := strconv.AppendInt(b[:0], int64(n), 10)
		bw.WriteString(" ")
		for range 7 - len(num) {
			bw.WriteByte(' ')
		}
		bw.Write(num)
		bw.WriteString(" " + what + "\n")
	}
	bw.WriteString("\n")
	line(s.targets, "targets")
	line(s.alive, "alive")
	line(s.unreachable, "unreachable")
	line(s.unknown, "unknown addresses")
	bw.WriteString("\n")
	line(s.timeouts, "timeouts (waiting for response)")
	line(s.sent, "ICMP Echos sent")
	line(s.received, "ICMP Echo Replies received")
	line(s.otherICMP, "other ICMP received")
	bw.WriteString("\n")
	var avg time.Duration
	if s.replies > 0 {
		avg = s.sumRTT / time.Duration(s.replies)
	}
	for _, r := range []struct {
		d    time.Duration
		what string
	}{{s.minRTT, "min"}, {avg, "avg"}, {s.maxRTT, "max"}} {
		bw.WriteString(" ")
		bw.Write(fpingTime(nil, r.d))
		bw.WriteString(" ms (" + r.what + " round trip time)\n")
	}
	elapsed := strconv.FormatFloat(end.Sub(s.start).Seconds(), 'f', 3, 64)
	for range 12 - len(elapsed) {
		bw.WriteByte(' ')
	}
	bw.WriteString(" " + elapsed + " sec (elapsed real time)\n\n")
	bw.Flush()
}
