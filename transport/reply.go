package transport

import (
	"net/netip"
	"strconv"
	"time"

	icmperrors "github.com/icmpkit/icmpkit/errors"
	"golang.org/x/net/icmp"
	"golang.org/x/net/ipv4"
	"golang.org/x/net/ipv6"
)

// Reply is what came back for a request: an echo reply, or an ICMP error message that quotes
// the request (Time Exceeded, Destination Unreachable, Packet Too Big, Parameter Problem).
// Either way ID, Seq and Destination name the request it answers.
type Reply struct {
	// Source is the host or router that sent the message.
	Source netip.Addr
	// Destination is the destination of the request this reply concerns: the echo reply's
	// sender, or the destination quoted in an ICMP error.
	Destination netip.Addr
	// ID and Seq are the identifier and sequence of the request this reply concerns.
	ID, Seq int
	// Type is the ICMP message type: an ipv4.ICMPType or an ipv6.ICMPType.
	Type icmp.Type
	// Code is the ICMP code.
	Code int
	// Bytes is the size of the ICMP message received, header included (iputils' "64 bytes").
	Bytes int
	// TTL is the received IPv4 TTL or IPv6 hop limit; 0 when the transport cannot tell.
	TTL int
	// ReceivedAt is the receive time, the kernel's timestamp where the transport has one.
	ReceivedAt time.Time
	// MTU is the next-hop MTU of a Packet Too Big or Fragmentation Needed message, else 0.
	MTU int
	// Pointer is the pointer of a Parameter Problem message: the offset of the octet in the
	// quoted request where the error was found (RFC 792, RFC 4443). Else 0.
	Pointer int
	// MPLS is the RFC 4950 label stack a router attached to an ICMP error, if any.
	MPLS []icmp.MPLSLabel
}

// Kind classifies replies across ICMPv4 and ICMPv6.
type Kind uint8

// Kinds of reply.
const (
	KindOther Kind = iota
	KindEchoReply
	KindDestinationUnreachable
	KindTimeExceeded
	KindPacketTooBig
	KindParameterProblem
)

var kindNames = [...]string{"other", "echo reply", "destination unreachable", "time exceeded", "packet too big", "parameter problem"}

func (k Kind) String() string {
	if int(k) < len(kindNames) {
		return kindNames[k]
	}
	return "unknown"
}

// IsV6 reports whether the reply is ICMPv6.
func (r *Reply) IsV6() bool {
	_, ok := r.Type.(ipv6.ICMPType)
	return ok
}

// TypeCode gives the numeric ICMP type and code, or -1 for a missing type.
func (r *Reply) TypeCode() (typ, code int) {
	switch t := r.Type.(type) {
	case ipv4.ICMPType:
		return int(t), r.Code
	case ipv6.ICMPType:
		return int(t), r.Code
	}
	return -1, r.Code
}

// Kind classifies the reply.
func (r *Reply) Kind() Kind {
	switch r.Type {
	case ipv4.ICMPTypeEchoReply, ipv6.ICMPTypeEchoReply:
		return KindEchoReply
	case ipv4.ICMPTypeDestinationUnreachable, ipv6.ICMPTypeDestinationUnreachable:
		return KindDestinationUnreachable
	case ipv4.ICMPTypeTimeExceeded, ipv6.ICMPTypeTimeExceeded:
		return KindTimeExceeded
	case ipv6.ICMPTypePacketTooBig:
		return KindPacketTooBig
	case ipv4.ICMPTypeParameterProblem, ipv6.ICMPTypeParameterProblem:
		return KindParameterProblem
	}
	return KindOther
}

// Err is icmplib's raise_for_status: nil for an echo reply, else an *errors.ICMPError that
// matches errors.ErrDestinationUnreachableV4, errors.ErrTimeExceededV6 and so on.
func (r *Reply) Err() error {
	if r.Kind() == KindEchoReply {
		return nil
	}
	typ, code := r.TypeCode()
	return &icmperrors.ICMPError{
		Source: r.Source, Destination: r.Destination,
		ID: r.ID, Seq: r.Seq,
		Type: typ, Code: code, V6: r.IsV6(),
	}
}

// Message gives the text of the reply's type and code ("Time to live exceeded").
func (r *Reply) Message() string {
	typ, code := r.TypeCode()
	return icmperrors.Message(r.IsV6(), typ, code)
}

// Unreachable gives traceroute(8)'s annotation for a Destination Unreachable reply: "!N",
// "!H", "!P", "!F", "!X", "!A" ..., or "" for other replies.
func (r *Reply) Unreachable() string {
	if r.Kind() != KindDestinationUnreachable {
		return ""
	}
	if r.IsV6() {
		switch r.Code {
		case 0:
			return "!N"
		case 1:
			return "!X"
		case 2:
			return "!S"
		case 3:
			return "!H"
		case 4:
			return "!P"
		case 5, 6:
			return "!X"
		}
		return "!<" + strconv.Itoa(r.Code) + ">"
	}
	switch r.Code {
	case 0, 6, 11:
		return "!N"
	case 1, 7, 8, 12:
		return "!H"
	case 2:
		return "!P"
	case 4:
		return "!F"
	case 5:
		return "!S"
	case 9, 10, 13:
		return "!X"
	case 14:
		return "!V"
	case 15:
		return "!C"
	}
	return "!<" + strconv.Itoa(r.Code) + ">"
}
