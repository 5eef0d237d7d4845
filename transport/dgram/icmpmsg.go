package dgram

import (
	"encoding/binary"
	"net/netip"
	"sync/atomic"

	"github.com/icmpkit/icmpkit/internal/wire"

	"github.com/icmpkit/icmpkit/transport"
	"golang.org/x/net/icmp"
	"golang.org/x/net/ipv4"
	"golang.org/x/net/ipv6"
)

// pattern holds the FillPayload pattern that requests asking for a generated payload send,
// grown on demand to the longest such payload so far, so that a program that never sends
// one does not pay for it. Its contents never change, so a slice of it may be read while a
// longer one replaces it.
var pattern atomic.Pointer[[]byte]

// patternOf gives the first n bytes of the FillPayload pattern.
func patternOf(n int) []byte {
	for {
		cur := pattern.Load()
		if cur != nil && len(*cur) >= n {
			return (*cur)[:n]
		}
		b := make([]byte, max(n, 512))
		transport.FillPayload(b)
		if pattern.CompareAndSwap(cur, &b) {
			return b[:n]
		}
	}
}

// payloadOf gives the bytes req sends after the ICMP header. req must be valid.
func payloadOf(req *transport.Request) []byte {
	if req.Payload != nil {
		return req.Payload
	}
	return patternOf(req.PayloadSize)
}

// putEchoHeader writes an echo request header into b[:8], with a zero checksum.
func putEchoHeader(b []byte, v6 bool, id, seq int) {
	_ = b[7]
	b[0] = wire.TypeEchoRequestV4
	if v6 {
		b[0] = wire.TypeEchoRequestV6
	}
	b[1] = 0
	b[2], b[3] = 0, 0
	binary.BigEndian.PutUint16(b[4:], uint16(id))
	binary.BigEndian.PutUint16(b[6:], uint16(seq))
}

// echoType gives the reply's ICMP type as the icmp.Type of its family.
func icmpType(v6 bool, typ byte) icmp.Type {
	if v6 {
		return ipv6.ICMPType(typ)
	}
	return ipv4.ICMPType(typ)
}

// isErrorType reports whether typ is an ICMP error message that quotes the datagram that
// caused it.
func isErrorType(v6 bool, typ byte) bool {
	if v6 {
		return typ == wire.TypeUnreachV6 || typ == wire.TypeTooBigV6 || typ == wire.TypeExceededV6 || typ == wire.TypeParamProbV6
	}
	return typ == wire.TypeUnreachV4 || typ == wire.TypeExceededV4 || typ == wire.TypeParamProbV4
}

// parseMessage reads a whole ICMP message b received from src: an echo reply, or an ICMP
// error that quotes an echo request (IPv4 or IPv6 header included). It fills r's Source,
// Destination, ID, Seq, Type, Code, Bytes, MTU, Pointer and MPLS, and reports false for
// anything else.
// Systems whose ICMP sockets hand over whole messages (macOS) use it.
func parseMessage(v6 bool, b []byte, src netip.Addr, r *transport.Reply) bool {
	if len(b) < 8 {
		return false
	}
	typ, code := b[0], b[1]
	r.Source = src
	r.Type = icmpType(v6, typ)
	r.Code = int(code)
	r.Bytes = len(b)
	r.MTU = 0
	r.Pointer = 0
	r.MPLS = nil
	if (!v6 && typ == wire.TypeEchoReplyV4) || (v6 && typ == wire.TypeEchoReplyV6) {
		r.Destination = src
		r.ID = int(binary.BigEndian.Uint16(b[4:]))
		r.Seq = int(binary.BigEndian.Uint16(b[6:]))
		return true
	}
	if !isErrorType(v6, typ) {
		return false
	}
	inner := b[8:]
	var quoted []byte
	if v6 {
		if len(inner) < 40 || inner[0]>>4 != 6 || inner[6] != wire.ProtocolICMPv6 {
			return false
		}
		r.Destination = netip.AddrFrom16([16]byte(inner[24:40]))
		quoted = inner[40:]
		if len(quoted) < 8 || quoted[0] != wire.TypeEchoRequestV6 {
			return false
		}
	} else {
		if len(inner) < 20 || inner[0]>>4 != 4 || inner[9] != wire.ProtocolICMP {
			return false
		}
		ihl := int(inner[0]&0x0f) * 4
		if ihl < 20 || len(inner) < ihl+8 {
			return false
		}
		r.Destination = netip.AddrFrom4([4]byte(inner[16:20]))
		quoted = inner[ihl:]
		if quoted[0] != wire.TypeEchoRequestV4 {
			return false
		}
	}
	r.ID = int(binary.BigEndian.Uint16(quoted[4:]))
	r.Seq = int(binary.BigEndian.Uint16(quoted[6:]))
	switch {
	case !v6 && typ == wire.TypeUnreachV4 && code == 4:
		r.MTU = int(binary.BigEndian.Uint16(b[6:]))
	case v6 && typ == wire.TypeTooBigV6:
		r.MTU = int(binary.BigEndian.Uint32(b[4:]))
	case !v6 && typ == wire.TypeParamProbV4:
		r.Pointer = int(b[4])
	case v6 && typ == wire.TypeParamProbV6:
		r.Pointer = int(binary.BigEndian.Uint32(b[4:]))
	}
	// RFC 4884: the length of the original datagram field, in 32-bit words for ICMPv4 and
	// 64-bit words for ICMPv6, says where the extension structure starts.
	var off int
	switch {
	case !v6:
		off = int(b[5]) * 4
	case typ == wire.TypeUnreachV6 || typ == wire.TypeExceededV6:
		off = int(b[4]) * 8
	}
	if off >= 128 && 8+off < len(b) {
		r.MPLS = parseExtensions(b[8+off:])
	}
	return true
}

// parseExtensions reads an RFC 4884 extension structure and gives the labels of its RFC 4950
// MPLS label stack objects, or nil. A structure whose version is not 2 or whose checksum
// (when not zero) does not verify is ignored.
func parseExtensions(ext []byte) []icmp.MPLSLabel {
	if len(ext) < 4 || ext[0]>>4 != 2 {
		return nil
	}
	if binary.BigEndian.Uint16(ext[2:]) != 0 && wire.Checksum(ext) != 0 {
		return nil
	}
	var labels []icmp.MPLSLabel
	objs := ext[4:]
	for len(objs) >= 4 {
		n := int(binary.BigEndian.Uint16(objs))
		if n < 4 || n > len(objs) {
			break
		}
		class, ctype := objs[2], objs[3]
		if class == 1 && ctype == 1 {
			for body := objs[4:n]; len(body) >= 4; body = body[4:] {
				v := binary.BigEndian.Uint32(body)
				labels = append(labels, icmp.MPLSLabel{
					Label: int(v >> 12),
					TC:    int(v>>9) & 7,
					S:     v&0x100 != 0,
					TTL:   int(v & 0xff),
				})
			}
		}
		objs = objs[n:]
	}
	return labels
}

// stripIPv4Header removes an IPv4 header from a received ICMPv4 message, if there is one.
// ICMP messages start with a type byte below 0x40 and IPv4 headers with 0x45 to 0x4f, so the
// first byte tells them apart.
func stripIPv4Header(b []byte) []byte {
	if len(b) < 20 || b[0]>>4 != 4 {
		return b
	}
	ihl := int(b[0]&0x0f) * 4
	if ihl < 20 || ihl > len(b) {
		return b
	}
	return b[ihl:]
}
