package wire

import (
	"encoding/binary"
	"sync/atomic"

	"github.com/icmpkit/icmpkit/transport"
	"golang.org/x/net/icmp"
	"golang.org/x/net/ipv4"
	"golang.org/x/net/ipv6"
)

// What the transports that do not build whole packets themselves (datagram ICMP sockets, the
// Windows ICMP API) need besides the parsers: the payload to point at, an echo header whose
// checksum the system fills, the pieces of an ICMP error that the system has already taken
// apart.

// pattern holds the FillPayload pattern that requests asking for a generated payload send,
// grown on demand to the longest such payload so far, so that a program that never sends
// one does not pay for it. Its contents never change, so a slice of it may be read while a
// longer one replaces it.
var pattern atomic.Pointer[[]byte]

// Pattern gives the first n bytes of transport.FillPayload's pattern. The bytes are shared:
// they must not be written.
func Pattern(n int) []byte {
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

// Payload gives the bytes req sends after the ICMP header: req.Payload, or Pattern's. req
// must be valid.
func Payload(req *transport.Request) []byte {
	if req.Payload != nil {
		return req.Payload
	}
	return Pattern(req.PayloadSize)
}

// PutEchoHeaderNoSum writes an echo request header into b[:8] with a zero checksum, for
// systems that compute the checksum themselves (datagram ICMP sockets).
func PutEchoHeaderNoSum(b []byte, v6 bool, id, seq int) {
	_ = b[EchoHeaderLen-1]
	b[0] = TypeEchoRequestV4
	if v6 {
		b[0] = TypeEchoRequestV6
	}
	b[1] = 0
	b[2], b[3] = 0, 0
	binary.BigEndian.PutUint16(b[4:], uint16(id))
	binary.BigEndian.PutUint16(b[6:], uint16(seq))
}

// ICMPType gives typ as the icmp.Type of its family.
func ICMPType(v6 bool, typ byte) icmp.Type {
	if v6 {
		return ipv6.ICMPType(typ)
	}
	return ipv4.ICMPType(typ)
}

// IsErrorType reports whether typ is an ICMP error message that quotes the datagram that
// caused it and that the parsers accept: Destination Unreachable, Time Exceeded, Parameter
// Problem, and on IPv6 Packet Too Big.
func IsErrorType(v6 bool, typ byte) bool {
	if v6 {
		return typ == TypeUnreachV6 || typ == TypeTooBigV6 || typ == TypeExceededV6 || typ == TypeParamProbV6
	}
	return typ == TypeUnreachV4 || typ == TypeExceededV4 || typ == TypeParamProbV4
}

// ParseQuotedEcho reads the quoted echo request of an ICMP error whose IP header the system
// has already removed (a Linux ping socket's error queue): b starts at the request's ICMP
// header. It gives the request's identifier and sequence, or ErrTruncated or ErrNotReply.
func ParseQuotedEcho(v6 bool, b []byte) (id, seq int, err error) {
	if len(b) < EchoHeaderLen {
		return 0, 0, ErrTruncated
	}
	want := byte(TypeEchoRequestV4)
	if v6 {
		want = TypeEchoRequestV6
	}
	if b[0] != want || b[1] != 0 {
		return 0, 0, ErrNotReply
	}
	return int(binary.BigEndian.Uint16(b[4:6])), int(binary.BigEndian.Uint16(b[6:8])), nil
}

// ParseExtensionStructure reads an RFC 4884 extension structure that the system has already
// found (a Linux ping socket's error queue gives its offset) and appends the labels of its
// RFC 4950 MPLS label stack objects to labels. A structure whose version is not 2 or whose
// checksum (when not zero) does not verify adds none.
func ParseExtensionStructure(ext []byte, labels []icmp.MPLSLabel) []icmp.MPLSLabel {
	if !validExtensionHeader(ext) {
		return labels
	}
	objs := ext[extHeaderLen:]
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

// StripIPv4Header removes an IPv4 header from a received ICMPv4 message, if there is one
// (macOS datagram sockets keep it). ICMP messages start with a type byte below 0x40 and IPv4
// headers with 0x45 to 0x4f, so the first byte tells them apart. It gives the header's TTL,
// or 0 when there was no header.
func StripIPv4Header(b []byte) (msg []byte, ttl int) {
	if len(b) < ipv4HeaderLen || b[0]>>4 != 4 {
		return b, 0
	}
	ihl := int(b[0]&0x0f) * 4
	if ihl < ipv4HeaderLen || ihl > len(b) {
		return b, 0
	}
	return b[ihl:], int(b[8])
}
