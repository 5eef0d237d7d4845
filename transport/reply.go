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

// Mark gives traceroute(8)'s annotation of an answer to a probe, as traceroute 2.1 prints it
// after the probe's time: "" for an echo reply, a Time Exceeded in transit or a Port
// Unreachable (the destination reached); for a Destination Unreachable "!N" (no route to the
// network), "!H" (host), "!P" (protocol), "!S" (source route failed), "!X" (administratively
// prohibited), "!V" (host precedence violation), "!C" (precedence cutoff) or "!<code>" for a
// code it has no letter for; "!F-<mtu>" for Fragmentation Needed and Packet Too Big; and
// "!<type-code>" for any other message.
func (r *Reply) Mark() string {
	typ, code := r.TypeCode()
	if r.IsV6() {
		switch r.Type {
		case ipv6.ICMPTypeEchoReply:
			return ""
		case ipv6.ICMPTypeTimeExceeded:
			if code == 0 {
				return ""
			}
		case ipv6.ICMPTypePacketTooBig:
			return "!F-" + strconv.Itoa(r.MTU)
		case ipv6.ICMPTypeDestinationUnreachable:
			return unreachableMark(code, marksV6[:])
		}
		return "!<" + strconv.Itoa(typ) + "-" + strconv.Itoa(code) + ">"
	}
	switch r.Type {
	case ipv4.ICMPTypeEchoReply:
		return ""
	case ipv4.ICMPTypeTimeExceeded:
		if code == 0 {
			return ""
		}
	case ipv4.ICMPTypeDestinationUnreachable:
		if code == 4 { // fragmentation needed
			return "!F-" + strconv.Itoa(r.MTU)
		}
		return unreachableMark(code, marksV4[:])
	}
	return "!<" + strconv.Itoa(typ) + "-" + strconv.Itoa(code) + ">"
}

// markNone stands, in marksV4 and marksV6, for a code that traceroute(8) has no letter for.
const markNone = "?"

// marksV4 and marksV6 are traceroute(8)'s letters for the codes of Destination Unreachable
// (RFC 792, RFC 1812 and RFC 4443 name the codes). A port unreachable has none: the
// destination answered.
var (
	marksV4 = [...]string{
		0:  "!N",     // network unreachable
		1:  "!H",     // host unreachable
		2:  "!P",     // protocol unreachable
		3:  "",       // port unreachable
		4:  markNone, // fragmentation needed: see Mark
		5:  "!S",     // source route failed
		6:  "!N",     // destination network unknown
		7:  "!H",     // destination host unknown
		8:  "!N",     // source host isolated
		9:  "!X",     // network administratively prohibited
		10: "!X",     // host administratively prohibited
		11: "!N",     // network unreachable for the type of service
		12: "!H",     // host unreachable for the type of service
		13: "!X",     // communication administratively prohibited
		14: "!V",     // host precedence violation
		15: "!C",     // precedence cutoff in effect
	}
	marksV6 = [...]string{
		0: "!N", // no route to destination
		1: "!X", // administratively prohibited
		2: "!H", // beyond the scope of the source address
		3: "!H", // address unreachable
		4: "",   // port unreachable
	}
)

func unreachableMark(code int, marks []string) string {
	if code >= 0 && code < len(marks) && marks[code] != markNone {
		return marks[code]
	}
	return "!<" + strconv.Itoa(code) + ">"
}

// Unreachable gives Mark for a Destination Unreachable reply, and "" for other replies.
func (r *Reply) Unreachable() string {
	if r.Kind() != KindDestinationUnreachable {
		return ""
	}
	return r.Mark()
}
