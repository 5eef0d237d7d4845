package result

import (
	"net/netip"

	"golang.org/x/net/icmp"
)

// Hop is one distance of a traceroute that answered: a Host whose Address is the responder,
// and whose statistics are over the probes sent with that TTL.
type Hop struct {
	Host
	// Distance is the TTL (hop limit) that elicited the answers.
	Distance int
	// Responders lists every distinct address that answered at this distance, Address first.
	// More than one means equal-cost multipath.
	Responders []netip.Addr
	// Unreachable is traceroute(8)'s annotation ("!H", "!N", "!X" ...) when the hop answered
	// Destination Unreachable, else "".
	Unreachable string
	// MPLS is the RFC 4950 label stack the router reported, if any.
	MPLS []icmp.MPLSLabel
	// RateLimited counts the sends to this distance that went unanswered and were answered
	// when sent again, at the pace the responder's ICMP rate limit allows: answers lost to
	// the limit, not to the network. They are not in PacketsSent, which counts the probes;
	// probes still unanswered after their last send are the loss.
	RateLimited int
	// MTU is, when path MTU discovery ran, the size in bytes (IP header included) of the
	// probes that reached this hop: the path MTU up to it. Else 0.
	MTU int
}

// Trace is the outcome of a traceroute.
type Trace struct {
	// Destination is the address traced.
	Destination netip.Addr
	// Reached reports whether the destination itself answered.
	Reached bool
	// Hops lists the distances that answered, ascending.
	Hops []Hop
	// PathMTU is the path MTU found, when path MTU discovery ran, else 0.
	PathMTU int
}
