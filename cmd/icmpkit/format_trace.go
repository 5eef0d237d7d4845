package main

import (
	"fmt"
	"io"

	"github.com/icmpkit/icmpkit/result"
)

// writeHopLine writes traceroute(8)'s line for a distance: the responder, one time per answer
// (with the unreachable annotation), and "*" for each probe without one. Further responders
// (equal-cost paths), MPLS labels and, when pmtu is nonzero, the path MTU follow.
func writeHopLine(w io.Writer, h *result.Hop, pmtu int) {
	fmt.Fprintf(w, "%2d  %s", h.Distance, h.Address)
	for _, rtt := range h.RTTs {
		fmt.Fprintf(w, "  %.3f ms", ms(rtt))
		if h.Unreachable != "" {
			io.WriteString(w, " "+h.Unreachable)
		}
	}
	for range h.PacketsSent - len(h.RTTs) {
		io.WriteString(w, " *")
	}
	for _, a := range h.Responders {
		if a != h.Address {
			fmt.Fprintf(w, "  %s", a)
		}
	}
	for _, l := range h.MPLS {
		fmt.Fprintf(w, " <MPLS:L=%d,E=%d,S=%d,T=%d>", l.Label, l.TC, b2i(l.S), l.TTL)
	}
	if pmtu > 0 {
		fmt.Fprintf(w, "  pmtu %d", pmtu)
	}
	io.WriteString(w, "\n")
}

// writeSilentLine writes traceroute(8)'s line for a distance nothing answered.
func writeSilentLine(w io.Writer, dist, probes int) {
	fmt.Fprintf(w, "%2d ", dist)
	for range probes {
		io.WriteString(w, " *")
	}
	io.WriteString(w, "\n")
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}
