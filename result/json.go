package result

import (
	"math"
	"net/netip"
	"strconv"
	"time"
	"unicode/utf8"

	"golang.org/x/net/icmp"
)

// The JSON of Host, Hop and Trace is written by appending to a byte slice, byte for byte what
// encoding/json writes for the same objects (key order, float and string forms), without
// encoding/json: the icmpkit command prints JSON and need not link it, which keeps its
// start-up short. MarshalJSON makes the types work with encoding/json all the same.

// ms converts a duration to milliseconds, rounded to the nanosecond.
func ms(d time.Duration) float64 { return math.Round(float64(d)) / 1e6 }

// AppendJSON appends the Host object of icmpkit's JSON output to b: RTTs in milliseconds,
// packet_loss as a fraction.
func (h *Host) AppendJSON(b []byte) []byte {
	b = append(b, '{')
	b = appendHostFields(b, h)
	return append(b, '}')
}

// MarshalJSON writes the Host object of icmpkit's JSON output (see AppendJSON).
func (h Host) MarshalJSON() ([]byte, error) { return h.AppendJSON(nil), nil }

func appendHostFields(b []byte, h *Host) []byte { return appendHostFieldsLoss(b, h, -1) }

// appendHostFieldsLoss is appendHostFields with "packet_loss" given as loss, unless loss is
// negative: then it is the host's own.
func appendHostFieldsLoss(b []byte, h *Host, loss float64) []byte {
	// The keys are written as literals, commas and all: a multiping writes this for every
	// host, and hundreds of thousands of them go through here.
	b = append(b, `"address":`...)
	b = appendAddr(b, h.Address)
	if h.IsAlive() {
		b = append(b, `,"is_alive":true,"packets_sent":`...)
	} else {
		b = append(b, `,"is_alive":false,"packets_sent":`...)
	}
	b = strconv.AppendInt(b, int64(h.PacketsSent), 10)
	b = append(b, `,"packets_received":`...)
	b = strconv.AppendInt(b, int64(h.PacketsReceived()), 10)
	b = append(b, `,"packet_loss":`...)
	if loss >= 0 {
		b = appendFloat(b, loss)
	} else {
		b = appendLoss(b, h)
	}
	b = append(b, `,"min_rtt":`...)
	b = appendMS(b, h.MinRTT())
	b = append(b, `,"avg_rtt":`...)
	b = appendMS(b, h.AvgRTT())
	b = append(b, `,"max_rtt":`...)
	b = appendMS(b, h.MaxRTT())
	b = append(b, `,"stddev":`...)
	b = appendMS(b, h.StdDev())
	b = append(b, `,"jitter":`...)
	b = appendMS(b, h.Jitter())
	b = append(b, `,"rtts":[`...)
	for i, r := range h.RTTs {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendMS(b, r)
	}
	b = append(b, `],"duplicates":`...)
	b = strconv.AppendInt(b, int64(h.Duplicates), 10)
	b = append(b, `,"errors":`...)
	b = strconv.AppendInt(b, int64(h.Errors), 10)
	if h.SendErrors != 0 {
		b = append(b, `,"send_errors":`...)
		b = strconv.AppendInt(b, int64(h.SendErrors), 10)
	}
	return b
}

// appendLoss appends h.PacketLoss() as appendFloat does; nothing lost and everything lost,
// the common cases, without formatting a float.
func appendLoss(b []byte, h *Host) []byte {
	switch received := h.PacketsReceived(); {
	case h.PacketsSent == 0 || received == h.PacketsSent:
		return append(b, '0')
	case received == 0:
		return append(b, '1')
	}
	return appendFloat(b, h.PacketLoss())
}

// exactMS bounds the durations appendMS writes with integer arithmetic: below it a duration
// in nanoseconds has at most 15 digits, so its value in milliseconds, d/1e6, is a decimal of
// at most 15 significant digits. float64 holds every such decimal apart from all others
// (DBL_DIG is 15), so the shortest decimal that reads back as ms(d), which appendFloat writes,
// is that decimal itself, trailing zeros removed.
const exactMS = 1e15

// appendMS appends ms(d) as appendFloat does.
func appendMS(b []byte, d time.Duration) []byte {
	if d < 0 || d >= exactMS {
		return appendFloat(b, ms(d))
	}
	b = strconv.AppendInt(b, int64(d/1e6), 10)
	frac := int64(d % 1e6)
	if frac == 0 {
		return b
	}
	digits := 6
	for frac%10 == 0 {
		frac /= 10
		digits--
	}
	b = append(b, '.', '0', '0', '0', '0', '0', '0')[:len(b)+1+digits]
	for i := len(b) - 1; frac > 0; i-- {
		b[i] = byte('0' + frac%10)
		frac /= 10
	}
	return b
}

// AppendJSON appends a Host object plus "distance" and the hop's extra fields to b.
func (h *Hop) AppendJSON(b []byte) []byte {
	b = append(b, '{')
	loss := -1.0
	if h.estimated {
		loss = h.pathLoss
	}
	b = appendHostFieldsLoss(b, &h.Host, loss)
	b = appendKey(b, "distance", false)
	b = strconv.AppendInt(b, int64(h.Distance), 10)
	b = appendKey(b, "responders", false)
	b = append(b, '[')
	for i, a := range h.Responders {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendAddr(b, a)
	}
	b = append(b, ']')
	b = appendKey(b, "rate_limited", false)
	b = strconv.AppendInt(b, int64(h.RateLimited), 10)
	if h.Unreachable != "" {
		b = appendKey(b, "unreachable", false)
		b = appendString(b, h.Unreachable)
	}
	if len(h.MPLS) > 0 {
		b = appendKey(b, "mpls", false)
		b = appendMPLS(b, h.MPLS)
	}
	if h.MTU != 0 {
		b = appendKey(b, "mtu", false)
		b = strconv.AppendInt(b, int64(h.MTU), 10)
	}
	return append(b, '}')
}

// MarshalJSON writes a Host object plus "distance" and the hop's extra fields (see
// AppendJSON).
func (h Hop) MarshalJSON() ([]byte, error) { return h.AppendJSON(nil), nil }

func appendMPLS(b []byte, ls []icmp.MPLSLabel) []byte {
	b = append(b, '[')
	for i, l := range ls {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, '{')
		b = appendKey(b, "label", true)
		b = strconv.AppendInt(b, int64(l.Label), 10)
		b = appendKey(b, "tc", false)
		b = strconv.AppendInt(b, int64(l.TC), 10)
		b = appendKey(b, "s", false)
		b = strconv.AppendBool(b, l.S)
		b = appendKey(b, "ttl", false)
		b = strconv.AppendInt(b, int64(l.TTL), 10)
		b = append(b, '}')
	}
	return append(b, ']')
}

// AppendJSON appends {"destination": ..., "reached": ..., "hops": [...]} to b, and
// "path_mtu" when path MTU discovery ran.
func (t *Trace) AppendJSON(b []byte) []byte {
	b = append(b, '{')
	b = appendKey(b, "destination", true)
	b = appendAddr(b, t.Destination)
	b = appendKey(b, "reached", false)
	b = strconv.AppendBool(b, t.Reached)
	b = appendKey(b, "hops", false)
	b = append(b, '[')
	for i := range t.Hops {
		if i > 0 {
			b = append(b, ',')
		}
		b = t.Hops[i].AppendJSON(b)
	}
	b = append(b, ']')
	if t.PathMTU != 0 {
		b = appendKey(b, "path_mtu", false)
		b = strconv.AppendInt(b, int64(t.PathMTU), 10)
	}
	return append(b, '}')
}

// MarshalJSON writes the Trace object (see AppendJSON).
func (t Trace) MarshalJSON() ([]byte, error) { return t.AppendJSON(nil), nil }

// appendKey appends "key":, after a comma unless it is the object's first.
func appendKey(b []byte, key string, first bool) []byte {
	if !first {
		b = append(b, ',')
	}
	b = append(b, '"')
	b = append(b, key...)
	return append(b, '"', ':')
}

// appendAddr appends a as a JSON string, "" for the zero Addr.
func appendAddr(b []byte, a netip.Addr) []byte {
	if !a.IsValid() {
		return append(b, '"', '"')
	}
	if a.Zone() != "" {
		return appendString(b, a.String()) // a zone is any text
	}
	b = append(b, '"')
	b = a.AppendTo(b)
	return append(b, '"')
}

// appendFloat appends f as encoding/json does: the shortest decimal that reads back as f,
// in exponent form below 1e-6 and from 1e21. f is finite: every float written here is a
// fraction or a duration in milliseconds.
func appendFloat(b []byte, f float64) []byte {
	format := byte('f')
	if abs := math.Abs(f); abs != 0 && (abs < 1e-6 || abs >= 1e21) {
		format = 'e'
	}
	b = strconv.AppendFloat(b, f, format, -1, 64)
	if format == 'e' {
		// e-09 to e-9, as encoding/json writes it.
		if n := len(b); n >= 4 && b[n-4] == 'e' && b[n-3] == '-' && b[n-2] == '0' {
			b[n-2] = b[n-1]
			b = b[:n-1]
		}
	}
	return b
}

// appendString appends s as a JSON string with encoding/json's escapes: quotes, backslashes
// and control characters; <, > and & for HTML; U+2028 and U+2029; invalid UTF-8 as U+FFFD.
func appendString(b []byte, s string) []byte {
	const hex = "0123456789abcdef"
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		if c := s[i]; c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' && c != '<' && c != '>' && c != '&' {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
		case r == '\u2028' || r == '\u2029':
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hex[r&0xf])
		default:
			i += size
			continue
		}
		i += size
		start = i
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}
