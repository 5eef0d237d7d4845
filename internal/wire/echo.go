package wire

import (
	"encoding/binary"

	"github.com/icmpkit/icmpkit/transport"
)

// Protocol numbers of ICMP for IPv4 and IPv6, as golang.org/x/net/icmp.ParseMessage takes them.
const (
	ProtocolICMP   = 1
	ProtocolICMPv6 = 58
)

// ICMP message types that the parsers handle (RFC 792, RFC 4443).
const (
	TypeEchoReplyV4   = 0
	TypeUnreachV4     = 3
	TypeEchoRequestV4 = 8
	TypeExceededV4    = 11
	TypeParamProbV4   = 12

	TypeUnreachV6     = 1
	TypeTooBigV6      = 2
	TypeExceededV6    = 3
	TypeParamProbV6   = 4
	TypeEchoRequestV6 = 128
	TypeEchoReplyV6   = 129
)

// EchoHeaderLen is the length of an echo request's header: type, code, checksum, identifier
// and sequence.
const EchoHeaderLen = 8

// Checksum gives the Internet checksum (RFC 1071) of b: the one's complement of the one's
// complement sum of its 16-bit words, an odd last byte padded with zero. A message whose
// checksum field is right sums to zero.
func Checksum(b []byte) uint16 {
	var s uint64
	for len(b) >= 8 {
		v := binary.BigEndian.Uint64(b)
		s += v>>32 + v&0xffffffff
		b = b[8:]
	}
	if len(b) >= 4 {
		s += uint64(binary.BigEndian.Uint32(b))
		b = b[4:]
	}
	if len(b) >= 2 {
		s += uint64(binary.BigEndian.Uint16(b))
		b = b[2:]
	}
	if len(b) == 1 {
		s += uint64(b[0]) << 8
	}
	for s>>16 != 0 {
		s = s&0xffff + s>>16
	}
	return ^uint16(s)
}

// PutEchoHeader writes the header of an echo request into msg[:8], msg[8:] already holding the
// payload. For ICMPv4 it computes the checksum over the whole of msg; for ICMPv6 it leaves the
// checksum zero, as the kernel computes it on raw and datagram ICMPv6 sockets (it needs the
// IPv6 pseudo header). msg must be at least EchoHeaderLen bytes long.
func PutEchoHeader(msg []byte, v6 bool, id, seq int) {
	_ = msg[EchoHeaderLen-1]
	if v6 {
		msg[0] = TypeEchoRequestV6
	} else {
		msg[0] = TypeEchoRequestV4
	}
	msg[1] = 0
	msg[2], msg[3] = 0, 0
	binary.BigEndian.PutUint16(msg[4:6], uint16(id))
	binary.BigEndian.PutUint16(msg[6:8], uint16(seq))
	if !v6 {
		binary.BigEndian.PutUint16(msg[2:4], Checksum(msg))
	}
}

// AppendEchoRequest appends req's echo request to b and returns the extended slice: type 8
// (ICMPv4) or 128 (ICMPv6) by the family of req.Destination, code 0, req.ID, req.Seq and the
// payload (req.Payload, or req.PayloadSize bytes of transport.FillPayload's pattern). The
// result is byte for byte what golang.org/x/net/icmp.Message.Marshal(nil) gives. It does not
// validate req (see transport.Request.Validate) and does not allocate when b has room.
func AppendEchoRequest(b []byte, req *transport.Request) []byte {
	n := req.PayloadLen()
	if n < 0 {
		n = 0
	}
	off := len(b)
	b = grow(b, EchoHeaderLen+n)
	msg := b[off:]
	if req.Payload != nil {
		copy(msg[EchoHeaderLen:], req.Payload)
	} else {
		transport.FillPayload(msg[EchoHeaderLen:])
	}
	PutEchoHeader(msg, req.Destination.Is6(), req.ID, req.Seq)
	return b
}

// grow extends b by n bytes, reallocating only when its capacity is short.
func grow(b []byte, n int) []byte {
	if cap(b)-len(b) >= n {
		return b[:len(b)+n]
	}
	nb := make([]byte, len(b)+n)
	copy(nb, b)
	return nb
}
