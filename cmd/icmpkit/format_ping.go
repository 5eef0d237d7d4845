package main

import (
	"io"
	"math"
	"net/netip"
	"strconv"
	"time"

	"github.com/icmpkit/icmpkit/probe"
	"github.com/icmpkit/icmpkit/result"
	"github.com/icmpkit/icmpkit/transport"
)

// The lines of ping follow iputils ping (20221126) to the character, so that the parsers
// written for it read icmpkit's output unchanged. They are built by appending into buffers
// rather than with fmt: they are most of what a short ping does, and fmt's first use costs a
// one-packet ping more than the rest of its output.

// micros gives d in whole microseconds, the unit iputils measures in.
func micros(d time.Duration) int64 { return int64(d / time.Microsecond) }

// appendMillis appends a time given in microseconds as milliseconds with three decimals.
func appendMillis(b []byte, us int64) []byte {
	b = strconv.AppendInt(b, us/1000, 10)
	f := us % 1000
	return append(b, '.', byte('0'+f/100), byte('0'+f/10%10), byte('0'+f%10))
}

// appendReplyTime appends an RTT given in microseconds as iputils ping rounds it: three
// decimals below 1 ms, two below 10 ms, one below 100 ms, none above (0.045, 1.23, 12.3, 123).
func appendReplyTime(b []byte, us int64) []byte {
	switch {
	case us >= 100000-50:
		return strconv.AppendInt(b, (us+500)/1000, 10)
	case us >= 10000-5:
		us += 50
		b = strconv.AppendInt(b, us/1000, 10)
		return append(b, '.', byte('0'+us%1000/100))
	case us >= 1000:
		us += 5
		b = strconv.AppendInt(b, us/1000, 10)
		f := us % 1000 / 10
		return append(b, '.', byte('0'+f/10), byte('0'+f%10))
	}
	return appendMillis(b, us)
}

// replyTime formats an RTT as the reply lines show it.
func replyTime(d time.Duration) string { return string(appendReplyTime(nil, micros(d))) }

// appendTimestamp appends -D's prefix: "[seconds.microseconds] " since the epoch.
func appendTimestamp(b []byte, t time.Time) []byte {
	b = append(b, '[')
	b = strconv.AppendInt(b, t.Unix(), 10)
	us := t.Nanosecond() / 1000
	b = append(b, '.')
	for d := 100000; d > 0; d /= 10 {
		b = append(b, byte('0'+us/d%10))
	}
	return append(b, "] "...)
}

// pingHead is what ping's first line says about the run.
type pingHead struct {
	// name is the target as the header and the summary name it: the canonical name of a
	// name that resolved to IPv4, else HOST as given.
	name string
	dst  netip.Addr
	// shown is what the IPv6 header puts in parentheses: the address, or "NAME (ADDRESS)"
	// when reverse lookups are on.
	shown string
	// source and iface say where the requests go from, when -I said so ("from SRC IFACE: ");
	// source is invalid when -I was not given or its address is not known.
	source netip.Addr
	iface  string
	size   int
}

// writePingHeader writes iputils ping's first line:
//
//	PING localhost (127.0.0.1) 56(84) bytes of data.
//	PING ::1(::1) 56 data bytes
func writePingHeader(w io.Writer, h pingHead) {
	var buf [512]byte
	b := append(buf[:0], "PING "...)
	b = append(b, h.name...)
	if h.dst.Is4() {
		b = append(b, " ("...)
		b = h.dst.AppendTo(b)
		b = append(b, ") "...)
	} else {
		b = append(b, '(')
		b = append(b, h.shown...)
		b = append(b, ") "...)
	}
	if h.source.IsValid() {
		b = append(b, "from "...)
		b = h.source.AppendTo(b)
		b = append(b, ' ')
		b = append(b, h.iface...)
		b = append(b, ": "...)
	}
	b = strconv.AppendInt(b, int64(h.size), 10)
	if h.dst.Is4() {
		b = append(b, '(')
		b = strconv.AppendInt(b, int64(h.size+28), 10)
		b = append(b, ") bytes of data.\n"...)
	} else {
		b = append(b, " data bytes\n"...)
	}
	w.Write(b)
}

// writePattern writes the line iputils ping prints first with -p: "PATTERN: 0xff00".
func writePattern(w io.Writer, pattern []byte) {
	const hex = "0123456789abcdef"
	b := append(make([]byte, 0, 12+2*len(pattern)+1), "PATTERN: 0x"...)
	for _, c := range pattern {
		b = append(b, hex[c>>4], hex[c&15])
	}
	w.Write(append(b, '\n'))
}

// pingLines formats the lines of a run that concern single requests: replies, duplicates,
// ICMP errors, and -O's "no answer yet".
type pingLines struct {
	size       int  // the payload size: a shorter echo reply is "(truncated)"
	timestamps bool // -D
	// markDups adds " (DUP!)" to duplicates. iputils leaves it out when the destination is
	// a broadcast (-b) or multicast address, where several answers are the rule.
	markDups bool
	// names, when set, names the hosts that answer ("NAME (ADDRESS)"); else addresses alone.
	names *names
	buf   []byte
}

// seq16 gives the icmp_seq of a request numbered n from 0: iputils counts from 1 in 16 bits.
func seq16(n int) int64 { return int64((n + 1) & 0xffff) }

// appendHost appends the host that answered: "ADDRESS", or "NAME (ADDRESS)".
func (l *pingLines) appendHost(b []byte, a netip.Addr) []byte {
	if l.names != nil {
		return l.names.appendHost(b, a)
	}
	return a.AppendTo(b)
}

// outcome formats the line of one outcome: a reply, a duplicate or an ICMP error. A timeout
// has none.
func (l *pingLines) outcome(o *probe.Outcome) []byte {
	if o.TimedOut {
		return nil
	}
	r := &o.Reply
	b := l.buf[:0]
	if l.timestamps {
		b = appendTimestamp(b, r.ReceivedAt)
	}
	if r.Kind() != transport.KindEchoReply {
		b = append(b, "From "...)
		b = l.appendHost(b, r.Source)
		b = append(b, " icmp_seq="...)
		b = strconv.AppendInt(b, seq16(o.Seq), 10)
		b = append(b, ' ')
		b = appendICMPError(b, r)
	} else {
		b = strconv.AppendInt(b, int64(r.Bytes), 10)
		b = append(b, " bytes from "...)
		b = l.appendHost(b, r.Source)
		b = append(b, ": icmp_seq="...)
		b = strconv.AppendInt(b, seq16(o.Seq), 10)
		if r.TTL > 0 {
			b = append(b, " ttl="...)
			b = strconv.AppendInt(b, int64(r.TTL), 10)
		}
		if r.Bytes < l.size+8 {
			b = append(b, " (truncated)"...)
		} else {
			b = append(b, " time="...)
			b = appendReplyTime(b, micros(o.RTT))
			b = append(b, " ms"...)
			if o.Duplicate && l.markDups {
				b = append(b, " (DUP!)"...)
			}
		}
	}
	b = append(b, '\n')
	l.buf = b
	return b
}

// noAnswer formats -O's line for request n (from 0), still unanswered when the next went out
// at the given time.
func (l *pingLines) noAnswer(n int, at time.Time) []byte {
	b := l.buf[:0]
	if l.timestamps {
		b = appendTimestamp(b, at)
	}
	b = append(b, "no answer yet for icmp_seq="...)
	b = strconv.AppendInt(b, seq16(n), 10)
	b = append(b, '\n')
	l.buf = b
	return b
}

// The words of iputils ping for ICMPv4 Destination Unreachable codes 0..15.
var unreachableV4 = [...]string{
	"Destination Net Unreachable",
	"Destination Host Unreachable",
	"Destination Protocol Unreachable",
	"Destination Port Unreachable",
	"Frag needed and DF set", // with the MTU
	"Source Route Failed",
	"Destination Net Unknown",
	"Destination Host Unknown",
	"Source Host Isolated",
	"Destination Net Prohibited",
	"Destination Host Prohibited",
	"Destination Net Unreachable for Type of Service",
	"Destination Host Unreachable for Type of Service",
	"Packet filtered",
	"Precedence Violation",
	"Precedence Cutoff",
}

// The words of iputils ping for ICMPv6 Destination Unreachable codes 0..4.
var unreachableV6 = [...]string{
	"No route",
	"Administratively prohibited",
	"Beyond scope of source address",
	"Address unreachable",
	"Port unreachable",
}

// appendICMPError appends iputils ping's words for an ICMP error message: "Time to live
// exceeded", "Destination Host Unreachable", "Destination unreachable: No route",
// "Packet too big: mtu=1280" ...
func appendICMPError(b []byte, r *transport.Reply) []byte {
	typ, code := r.TypeCode()
	num := func(b []byte, n int) []byte { return strconv.AppendInt(b, int64(n), 10) }
	if r.IsV6() {
		switch typ {
		case 1:
			b = append(b, "Destination unreachable: "...)
			if code >= 0 && code < len(unreachableV6) {
				return append(b, unreachableV6[code]...)
			}
			return num(append(b, "Unknown code "...), code)
		case 2:
			b = num(append(b, "Packet too big: mtu="...), r.MTU)
			if code != 0 {
				b = num(append(b, ", code="...), code)
			}
			return b
		case 3:
			b = append(b, "Time exceeded: "...)
			switch code {
			case 0:
				return append(b, "Hop limit"...)
			case 1:
				return append(b, "Defragmentation failure"...)
			}
			return num(append(b, "code "...), code)
		case 4:
			b = append(b, "Parameter problem: "...)
			switch code {
			case 0:
				b = append(b, "Wrong header field "...)
			case 1:
				b = append(b, "Unknown header "...)
			case 2:
				b = append(b, "Unknown option "...)
			default:
				b = append(num(append(b, "code "...), code), ' ')
			}
			return num(append(b, "at "...), r.Pointer)
		case 128:
			return append(b, "Echo request"...)
		case 129:
			return append(b, "Echo reply"...)
		}
		return num(append(b, "unknown icmp type: "...), typ)
	}
	switch typ {
	case 3:
		switch {
		case code == 4:
			return append(num(append(b, "Frag needed and DF set (mtu = "...), r.MTU), ')')
		case code >= 0 && code < len(unreachableV4):
			return append(b, unreachableV4[code]...)
		}
		return num(append(b, "Dest Unreachable, Bad Code: "...), code)
	case 11:
		switch code {
		case 0:
			return append(b, "Time to live exceeded"...)
		case 1:
			return append(b, "Frag reassembly time exceeded"...)
		}
		return num(append(b, "Time exceeded, Bad Code: "...), code)
	case 12:
		return num(append(b, "Parameter problem: pointer = "...), r.Pointer)
	case 4:
		return append(b, "Source Quench"...)
	case 0:
		return append(b, "Echo Reply"...)
	case 8:
		return append(b, "Echo Request"...)
	}
	return num(append(b, "Bad ICMP type: "...), typ)
}

// pingTally counts a run as iputils ping counts it for its summary: RTTs in whole
// microseconds, duplicates included in min/avg/max/mdev, the moving average that -i 0 shows,
// the most requests out at once when an answer came (pipe), and the time from the start to
// the last request.
type pingTally struct {
	start, last time.Time // the start of the run and the last request's send time
	sent        int       // requests sent
	// -O: the last request sent, and whether an echo reply came for it.
	lastSeq     int
	lastReplied bool

	n          int64 // echo replies, duplicates included
	sum, sum2  int64 // of their RTTs in microseconds, and of the squares
	min, max   int64
	ewma       int64 // 8 times the moving average of the RTTs, iputils' rtt
	pipe       int
	backToBack bool // -i 0: the summary shows ipg/ewma
}

// sending notes that request n went out at the given time. It reports whether the request
// before it is still without an echo reply (-O's "no answer yet").
func (t *pingTally) sending(n int, at time.Time) (prevUnanswered bool) {
	prevUnanswered = n > 0 && !t.lastReplied
	t.sent = n + 1
	t.last = at
	t.lastSeq, t.lastReplied = n, false
	return prevUnanswered
}

// outcome notes one outcome.
func (t *pingTally) outcome(o *probe.Outcome) {
	if o.TimedOut {
		return
	}
	echo := o.Reply.Kind() == transport.KindEchoReply
	if echo || !o.Reply.IsV6() {
		// As iputils' acknowledge: the requests sent from this one on, when its answer
		// came. iputils does not count ICMPv6 errors there.
		t.pipe = max(t.pipe, t.sent-o.Seq)
	}
	if !echo {
		return
	}
	if o.Seq == t.lastSeq {
		t.lastReplied = true
	}
	us := micros(o.RTT)
	if t.n == 0 || us < t.min {
		t.min = us
	}
	t.max = max(t.max, us)
	t.n++
	t.sum += us
	t.sum2 += us * us
	if t.ewma == 0 {
		t.ewma = us * 8
	} else {
		t.ewma += us - t.ewma/8
	}
}

// elapsed gives the summary's "time": from the start to the last request, in whole
// milliseconds rounded, as iputils counts it.
func (t *pingTally) elapsed() time.Duration {
	if t.sent == 0 {
		return 0
	}
	return t.last.Sub(t.start)
}

// mdev gives the mean deviation of the RTTs in microseconds, computed as iputils does.
func (t *pingTally) mdev() int64 {
	var v int64
	if t.sum < math.MaxInt32 {
		v = (t.sum2 - t.sum*t.sum/t.n) / t.n
	} else {
		avg := t.sum / t.n
		v = t.sum2/t.n - avg*avg
	}
	return llsqrt(v)
}

// llsqrt is the integer square root by Newton's method, as iputils takes it.
func llsqrt(a int64) int64 {
	x := a
	if x > 0 {
		for prev := int64(math.MaxInt64); x < prev; {
			prev = x
			x = (x + a/x) / 2
		}
	}
	return x
}

// appendLoss appends the packet loss percentage as iputils computes and prints it: a float
// with %g's six significant digits (0, 25, 33.3333, 100).
func appendLoss(b []byte, sent, received int) []byte {
	loss := float32(float64(sent-received) * 100 / float64(sent))
	return strconv.AppendFloat(b, float64(loss), 'g', 6, 32)
}

// writePingSummary writes iputils ping's statistics of host (as the header names it): the
// counts of h, and what t measured.
func writePingSummary(w io.Writer, host string, h *result.Host, t *pingTally) {
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
	elapsed := t.elapsed()
	if h.PacketsSent > 0 {
		b = append(b, ", "...)
		b = appendLoss(b, h.PacketsSent, h.PacketsReceived())
		b = append(b, "% packet loss, time "...)
		b = strconv.AppendInt(b, int64((elapsed+500*time.Microsecond)/time.Millisecond), 10)
		b = append(b, "ms"...)
	}
	b = append(b, '\n')
	// The last line: the RTTs, the pipe and the gaps between requests, each when there is
	// something to say; iputils ends the summary with this line even when it is empty.
	sep := ""
	if h.PacketsReceived() > 0 && t.n > 0 {
		b = append(b, "rtt min/avg/max/mdev = "...)
		b = appendMillis(b, t.min)
		b = append(b, '/')
		b = appendMillis(b, t.sum/t.n)
		b = append(b, '/')
		b = appendMillis(b, t.max)
		b = append(b, '/')
		b = appendMillis(b, t.mdev())
		b = append(b, " ms"...)
		sep = ", "
	}
	if t.pipe > 1 {
		b = append(b, sep...)
		b = append(b, "pipe "...)
		b = strconv.AppendInt(b, int64(t.pipe), 10)
		sep = ", "
	}
	if t.backToBack && h.PacketsReceived() > 0 && h.PacketsSent > 1 {
		ipg := micros(elapsed) / int64(h.PacketsSent-1)
		b = append(b, sep...)
		b = append(b, "ipg/ewma "...)
		b = appendMillis(b, ipg)
		b = append(b, '/')
		b = appendMillis(b, t.ewma/8)
		b = append(b, " ms"...)
	}
	w.Write(append(b, '\n'))
}
