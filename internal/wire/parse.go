package wire

import (
	"encoding/binary"
	stderrors "errors"
	"net/netip"

	icmperrors "github.com/icmpkit/icmpkit/errors"
	"github.com/icmpkit/icmpkit/transport"
	"golang.org/x/net/icmp"
	"golang.org/x/net/ipv4"
	"golang.org/x/net/ipv6"
)

// Parse errors. They are allocated once, so that dropping a packet costs nothing; all match
// errors.ErrInvalidArgument.
var (
	// ErrTruncated: the packet is shorter than its headers say.
	ErrTruncated error = parseError("packet truncated")
	// ErrMalformed: a header field is impossible (IP version, header length, protocol).
	ErrMalformed error = parseError("packet malformed")
	// ErrChecksum: the ICMPv4 checksum is wrong.
	ErrChecksum error = parseError("bad ICMP checksum")
	// ErrNotReply: the packet is well formed but neither an echo reply nor an ICMP error
	// that quotes an echo request (an echo request, a redirect, an error about a TCP segment).
	ErrNotReply error = parseError("not an echo reply or an error about an echo request")
)

func parseError(msg string) *icmperrors.Error {
	return &icmperrors.Error{Op: "parse ICMP", Class: icmperrors.ErrInvalidArgument, Err: stderrors.New(msg)}
}

const (
	ipv4HeaderLen = 20
	ipv6HeaderLen = 40
	extHeaderLen  = 4   // RFC 4884 extension header: version, reserved, checksum
	compatOrigLen = 128 // where extensions sit in messages without a length attribute
)

// Quote is the echo request that an ICMP error message quotes.
type Quote struct {
	// Source and Destination are the addresses of the quoted IP header.
	Source, Destination netip.Addr
	// ID and Seq are the quoted echo request's identifier and sequence.
	ID, Seq int
}

// ParseIPv4 parses an IPv4 datagram carrying ICMP, IP header first, as a raw IPv4 socket
// reads it. Header options (IHL > 5) are skipped, and the header's total length trims
// trailing bytes. It fills r as ParseICMPv4 does, with the header's source, and sets r.TTL
// to the header's TTL.
func ParseIPv4(b []byte, r *transport.Reply) error {
	if len(b) < ipv4HeaderLen {
		return ErrTruncated
	}
	if b[0]>>4 != 4 {
		return ErrMalformed
	}
	ihl := int(b[0]&0x0f) * 4
	if ihl < ipv4HeaderLen {
		return ErrMalformed
	}
	tot := int(binary.BigEndian.Uint16(b[2:4]))
	switch {
	case tot < ihl:
		return ErrMalformed
	case tot > len(b):
		return ErrTruncated
	}
	b = b[:tot]
	if b[9] != ProtocolICMP {
		return ErrMalformed
	}
	if binary.BigEndian.Uint16(b[6:8])&0x3fff != 0 {
		// A fragment: the kernel hands raw sockets whole datagrams only.
		return ErrMalformed
	}
	src := netip.AddrFrom4([4]byte(b[12:16]))
	ttl := int(b[8])
	if err := ParseICMPv4(b[ihl:], src, r); err != nil {
		return err
	}
	r.TTL = ttl
	return nil
}

// reset clears r for a new message from src, keeping r.ReceivedAt and the backing array of
// r.MPLS.
func reset(r *transport.Reply, src netip.Addr) {
	*r = transport.Reply{Source: src, ReceivedAt: r.ReceivedAt, MPLS: r.MPLS[:0]}
}

// ParseICMPv4 parses an ICMPv4 message (no IP header) sent by src. It accepts an echo reply,
// and a Destination Unreachable, Time Exceeded or Parameter Problem that quotes an echo
// request; anything else gives an error, ErrNotReply for a well-formed message of no
// interest. The checksum is verified.
//
// It fills every field of r but ReceivedAt: Source is src; ID, Seq and Destination name the
// echo request concerned (for an echo reply, Destination is src); Bytes is len(b); MTU is the
// next-hop MTU of a Fragmentation Needed message; Pointer is the pointer of a Parameter
// Problem; MPLS holds the RFC 4950 label stack of an RFC 4884 multi-part message, appended to
// r.MPLS[:0]; TTL is 0. On error r holds garbage.
func ParseICMPv4(b []byte, src netip.Addr, r *transport.Reply) error {
	if len(b) < EchoHeaderLen {
		return ErrTruncated
	}
	if Checksum(b) != 0 {
		return ErrChecksum
	}
	reset(r, src)
	typ := b[0]
	r.Type = ipv4.ICMPType(typ)
	r.Code = int(b[1])
	r.Bytes = len(b)
	switch typ {
	case TypeEchoReplyV4:
		r.Destination = src
		r.ID = int(binary.BigEndian.Uint16(b[4:6]))
		r.Seq = int(binary.BigEndian.Uint16(b[6:8]))
		return nil
	case TypeUnreachV4, TypeExceededV4, TypeParamProbV4:
	default:
		return ErrNotReply
	}
	orig, ext := splitMultipart(false, b)
	q, err := ParseQuotedIPv4(orig)
	if err != nil {
		return err
	}
	r.Destination, r.ID, r.Seq = q.Destination, q.ID, q.Seq
	switch {
	case typ == TypeUnreachV4 && r.Code == 4:
		r.MTU = int(binary.BigEndian.Uint16(b[6:8]))
	case typ == TypeParamProbV4:
		r.Pointer = int(b[4])
	}
	if ext {
		// A broken extension does not spoil the rest of the message.
		r.MPLS, _ = ParseExtensions(false, b, r.MPLS)
	}
	return nil
}

// ParseICMPv6 parses an ICMPv6 message sent by src, as raw and datagram ICMPv6 sockets read
// it (the kernel has verified the checksum). It accepts an echo reply, and a Destination
// Unreachable, Packet Too Big, Time Exceeded or Parameter Problem that quotes an echo request,
// and fills r as ParseICMPv4 does; MTU comes from Packet Too Big, Pointer from Parameter
// Problem. TTL is 0: the hop limit travels in a control message, not in these bytes.
func ParseICMPv6(b []byte, src netip.Addr, r *transport.Reply) error {
	if len(b) < EchoHeaderLen {
		return ErrTruncated
	}
	reset(r, src)
	typ := b[0]
	r.Type = ipv6.ICMPType(typ)
	r.Code = int(b[1])
	r.Bytes = len(b)
	var orig []byte
	ext := false
	switch typ {
	case TypeEchoReplyV6:
		r.Destination = src
		r.ID = int(binary.BigEndian.Uint16(b[4:6]))
		r.Seq = int(binary.BigEndian.Uint16(b[6:8]))
		return nil
	case TypeUnreachV6, TypeExceededV6:
		orig, ext = splitMultipart(true, b)
	case TypeTooBigV6:
		r.MTU = int(binary.BigEndian.Uint32(b[4:8]))
		orig = b[EchoHeaderLen:]
	case TypeParamProbV6:
		r.Pointer = int(binary.BigEndian.Uint32(b[4:8]))
		orig = b[EchoHeaderLen:]
	default:
		return ErrNotReply
	}
	q, err := ParseQuotedIPv6(orig)
	if err != nil {
		return err
	}
	r.Destination, r.ID, r.Seq = q.Destination, q.ID, q.Seq
	if ext {
		r.MPLS, _ = ParseExtensions(true, b, r.MPLS)
	}
	return nil
}

// splitMultipart finds the original datagram field of an ICMP error message msg (header
// included, at least 8 bytes) and whether RFC 4884 extensions follow it. The rules are those
// of golang.org/x/net/icmp: the length attribute when it is plausible, else offset 128 for the
// senders that predate RFC 4884, and an extension header only counts when its version is 2 and
// its checksum, if set, is right.
func splitMultipart(v6 bool, msg []byte) (orig []byte, ext bool) {
	body := msg[EchoHeaderLen:]
	var l int
	if v6 {
		l = int(msg[4]) * 8
	} else {
		l = int(msg[5]) * 4
	}
	if l < compatOrigLen || l+2*extHeaderLen > len(body) {
		l = compatOrigLen
	}
	if l+2*extHeaderLen > len(body) {
		return body, false
	}
	if validExtensionHeader(body[l:]) {
		return body[:l], true
	}
	if l != compatOrigLen && validExtensionHeader(body[compatOrigLen:]) {
		return body[:compatOrigLen], true
	}
	return body, false
}

// validExtensionHeader reports whether b starts an RFC 4884 extension structure: version 2 and
// a checksum over the structure that is either absent or right.
func validExtensionHeader(b []byte) bool {
	if len(b) < extHeaderLen || b[0]>>4 != 2 {
		return false
	}
	return binary.BigEndian.Uint16(b[2:4]) == 0 || Checksum(b) == 0
}

// ParseQuotedIPv4 parses the original datagram field of an ICMPv4 error: an IPv4 header
// (options skipped) and at least the first 8 bytes of an ICMP echo request. Anything other
// than an echo request, or a later fragment, gives ErrNotReply.
func ParseQuotedIPv4(b []byte) (Quote, error) {
	if len(b) < ipv4HeaderLen {
		return Quote{}, ErrTruncated
	}
	if b[0]>>4 != 4 {
		return Quote{}, ErrMalformed
	}
	ihl := int(b[0]&0x0f) * 4
	if ihl < ipv4HeaderLen {
		return Quote{}, ErrMalformed
	}
	if len(b) < ihl+EchoHeaderLen {
		return Quote{}, ErrTruncated
	}
	if b[9] != ProtocolICMP || binary.BigEndian.Uint16(b[6:8])&0x1fff != 0 {
		return Quote{}, ErrNotReply
	}
	m := b[ihl:]
	if m[0] != TypeEchoRequestV4 {
		return Quote{}, ErrNotReply
	}
	return Quote{
		Source:      netip.AddrFrom4([4]byte(b[12:16])),
		Destination: netip.AddrFrom4([4]byte(b[16:20])),
		ID:          int(binary.BigEndian.Uint16(m[4:6])),
		Seq:         int(binary.BigEndian.Uint16(m[6:8])),
	}, nil
}

// maxExtensionHeaders bounds the walk through a quoted IPv6 header chain.
const maxExtensionHeaders = 8

// ParseQuotedIPv6 parses the original datagram field of an ICMPv6 error: an IPv6 header, any
// Hop-by-Hop, Routing, Destination Options, Authentication and first-Fragment headers, and at
// least the first 8 bytes of an ICMPv6 echo request.
func ParseQuotedIPv6(b []byte) (Quote, error) {
	if len(b) < ipv6HeaderLen {
		return Quote{}, ErrTruncated
	}
	if b[0]>>4 != 6 {
		return Quote{}, ErrMalformed
	}
	nh, off := b[6], ipv6HeaderLen
	for i := 0; nh != ProtocolICMPv6; i++ {
		if i == maxExtensionHeaders {
			return Quote{}, ErrMalformed
		}
		if len(b) < off+8 {
			return Quote{}, ErrTruncated
		}
		switch nh {
		case 0, 43, 60: // Hop-by-Hop, Routing, Destination Options
			nh, off = b[off], off+(int(b[off+1])+1)*8
		case 44: // Fragment: only the first one carries the ICMPv6 header
			if binary.BigEndian.Uint16(b[off+2:off+4])&0xfff8 != 0 {
				return Quote{}, ErrNotReply
			}
			nh, off = b[off], off+8
		case 51: // Authentication Header, length in 4-byte units minus 2
			nh, off = b[off], off+(int(b[off+1])+2)*4
		default:
			return Quote{}, ErrNotReply
		}
	}
	if len(b) < off+EchoHeaderLen {
		return Quote{}, ErrTruncated
	}
	m := b[off:]
	if m[0] != TypeEchoRequestV6 {
		return Quote{}, ErrNotReply
	}
	return Quote{
		Source:      netip.AddrFrom16([16]byte(b[8:24])),
		Destination: netip.AddrFrom16([16]byte(b[24:40])),
		ID:          int(binary.BigEndian.Uint16(m[4:6])),
		Seq:         int(binary.BigEndian.Uint16(m[6:8])),
	}, nil
}

// ParseExtensions reads the RFC 4884 extensions of an ICMP error message msg (ICMP header
// first) with golang.org/x/net/icmp and appends the entries of every RFC 4950 MPLS label
// stack object to labels. A message without extensions leaves labels as they are. It
// allocates, so parsers call it only when splitMultipart found an extension header.
func ParseExtensions(v6 bool, msg []byte, labels []icmp.MPLSLabel) (out []icmp.MPLSLabel, err error) {
	proto := ProtocolICMP
	if v6 {
		proto = ProtocolICMPv6
	}
	defer func() {
		// golang.org/x/net/icmp is not ours to audit: a panic on hostile bytes must not
		// take the caller down.
		if recover() != nil {
			out, err = labels, ErrMalformed
		}
	}()
	m, perr := icmp.ParseMessage(proto, msg)
	if perr != nil {
		return labels, ErrMalformed
	}
	var exts []icmp.Extension
	switch body := m.Body.(type) {
	case *icmp.TimeExceeded:
		exts = body.Extensions
	case *icmp.DstUnreach:
		exts = body.Extensions
	case *icmp.ParamProb:
		exts = body.Extensions
	}
	for _, e := range exts {
		if ls, ok := e.(*icmp.MPLSLabelStack); ok {
			labels = append(labels, ls.Labels...)
		}
	}
	return labels, nil
}
