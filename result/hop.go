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

	// pathLoss is the estimated loss of the path up to this hop, set by Trace.EstimateLoss;
	// estimated tells that it is set.
	pathLoss  float64
	estimated bool
}

// PacketLoss gives the hop's loss, a fraction 0..1. In a Trace whose loss was estimated (as
// Traceroute returns it; see Trace.EstimateLoss) it is the estimated loss of the path up to
// this hop, which a router's refusal to answer (an ICMP rate limit) does not raise; else it
// is the share of the hop's probes left unanswered (Host.PacketLoss). RateLimited keeps the
// answers a rate limit withheld as a figure of its own.
func (h *Hop) PacketLoss() float64 {
	if h.estimated {
		return h.pathLoss
	}
	return h.Host.PacketLoss()
}

// EstimateLoss sets each hop's PacketLoss to the estimated loss of the path up to it
// (TraceLoss): loss that starts at a hop goes on to every farther hop, while a router that
// refuses to answer some probes, as its ICMP rate limit does, loses nothing for the hops
// beyond it. Hops handed on before the whole trace was known (TraceOptions.OnHop) carry their
// own figures.
func (t *Trace) EstimateLoss() {
	for i, l := range TraceLoss(t.Hops) {
		t.Hops[i].pathLoss, t.Hops[i].estimated = l, true
	}
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
