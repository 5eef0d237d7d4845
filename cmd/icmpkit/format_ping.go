package main

import (
	"io"
	"net/netip"
	"strconv"
	"time"

	"github.com/icmpkit/icmpkit/probe"
	"github.com/icmpkit/icmpkit/result"
	"github.com/icmpkit/icmpkit/transport"
)

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

// The ping lines are built by appending into a buffer on the stack rather than with fmt: they
// are most of what a short ping does, and fmt's first use costs a one-packet ping more than
// the rest of its output.

// writePingHeader writes iputils ping's first line for host, which resolved to dst.
func writePingHeader(w io.Writer, host string, dst netip.Addr, size int) {
	var buf [256]byte
	b := append(buf[:0], "PING "...)
	b = append(b, host...)
	b = append(b, " ("...)
	b = dst.AppendTo(b)
	b = append(b, ") "...)
	b = strconv.AppendInt(b, int64(size), 10)
	if dst.Is4() {
		b = append(b, '(')
		b = strconv.AppendInt(b, int64(size+28), 10)
		b = append(b, ") bytes of data.\n"...)
	} else {
		b = append(b, " data bytes\n"...)
	}
	w.Write(b)
}

// writeOutcome writes iputils ping's line for one outcome: a reply, a duplicate, or an ICMP
// error by name. A timeout writes nothing.
func writeOutcome(w io.Writer, o probe.Outcome) {
	if o.TimedOut {
		return
	}
	r := &o.Reply
	var buf [256]byte
	var b []byte
	if r.Kind() != transport.KindEchoReply {
		b = append(buf[:0], "From "...)
		b = r.Source.AppendTo(b)
		b = append(b, " icmp_seq="...)
		b = strconv.AppendInt(b, int64(o.Seq+1), 10)
		b = append(b, ' ')
		b = append(b, r.Message()...)
	} else {
		b = strconv.AppendInt(buf[:0], int64(r.Bytes), 10)
		b = append(b, " bytes from "...)
		b = r.Source.AppendTo(b)
		b = append(b, ": icmp_seq="...)
		b = strconv.AppendInt(b, int64(o.Seq+1), 10)
		if r.TTL > 0 {
			b = append(b, " ttl="...)
			b = strconv.AppendInt(b, int64(r.TTL), 10)
		}
		b = append(b, " time="...)
		b = append(b, replyTime(o.RTT)...)
		b = append(b, " ms"...)
		if o.Duplicate {
			b = append(b, " (DUP!)"...)
		}
	}
	w.Write(append(b, '\n'))
}

// writePingSummary writes iputils ping's statistics for host, as given on the command line.
func writePingSummary(w io.Writer, host string, h *result.Host, elapsed time.Duration) {
	var buf [512]byte
	b := append(buf[:0], "\n--- "...)
	b = append(b, host...)
	b = append(b, " ping statistics ---\n"...)
	b = strconv.AppendInt(b, int64(h.PacketsSent), 10)
	b = append(b, " packets transmitted, "...)
	b = strconv.AppendInt(b, int64(h.PacketsReceived()), 10)
	b = append(b, " received"...)
	if h.Duplicates > 0 {
		b = append(b, ", +"...)
		b = strconv.AppendInt(b, int64(h.Duplicates), 10)
		b = append(b, " duplicates"...)
	}
	if h.Errors > 0 {
		b = append(b, ", +"...)
		b = strconv.AppendInt(b, int64(h.Errors), 10)
		b = append(b, " errors"...)
	}
	b = append(b, ", "...)
	b = append(b, lossPercent(h)...)
	b = append(b, "% packet loss, time "...)
	b = strconv.AppendInt(b, elapsed.Milliseconds(), 10)
	b = append(b, "ms\n"...)
	if h.PacketsReceived() > 0 {
		b = append(b, "rtt min/avg/max/mdev = "...)
		for i, d := range [...]time.Duration{h.MinRTT(), h.AvgRTT(), h.MaxRTT(), h.StdDev()} {
			if i > 0 {
				b = append(b, '/')
			}
			b = strconv.AppendFloat(b, ms(d), 'f', 3, 64)
		}
		b = append(b, " ms\n"...)
	}
	w.Write(b)
}
