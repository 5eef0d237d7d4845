package result

import (
	"net/netip"
	"slices"
	"time"

	"golang.org/x/net/icmp"
)

// Path is a path monitor's running view of the route to a destination (mtr's): every
// distance up to the destination, with the statistics of every cycle so far.
type Path struct {
	// Destination is the address monitored.
	Destination netip.Addr
	// Cycles counts the cycles completed; each sends one probe to every distance.
	Cycles int
	// Reached reports whether the destination answered in the last cycle.
	Reached bool
	// Hops lists distances from the first probed, nearest first, up to the destination's, or
	// when it has not answered, up to the farthest distance that answered.
	Hops []PathHop
}

// PathHop is one distance of a Path.
type PathHop struct {
	// Distance is the TTL (hop limit) of the probes.
	Distance int
	// Address is the responder that answered last; the zero Addr if none has.
	Address netip.Addr
	// Responders lists every address that answered at this distance (at most
	// MaxPathResponders, those heard from most recently), in the order first heard.
	Responders []PathResponder
	// Sent counts the probes sent (mtr's Snt), Received those answered.
	Sent, Received int
	// FirstLost counts the probes whose first send went unanswered, answered later or not
	// (the monitor sends each probe once: the probes lost).
	FirstLost int
	// Unpaced counts the probes that could have met a router's limit: sent sooner after its
	// last answer than the pace the monitor found it keeps (see Pace). They are in Sent, but
	// neither their answers nor their losses are in Loss.
	Unpaced int
	// RateLimited counts the Unpaced probes that went unanswered: answers the responder's
	// limit withheld, most of them.
	RateLimited int
	// Pinged counts the echo requests sent to this distance's responder itself (Address)
	// that were answered or timed out, PingLost those unanswered: the method of Windows'
	// pathping. They cross the path up to the router as its Time Exceeded answers do, and
	// routers answer echo requests beyond their ICMP error limits (Linux does not limit its
	// echo replies at all), so they measure the path's loss where the paced probes are few:
	// Loss rests on them (see Path.EstimateLoss).
	Pinged, PingLost int
	// PingRefused reports that the responder loses more of those echo requests than the
	// distances beyond it lose, by more than chance explains: it filters or limits them. Loss
	// then rests on the paced probes (and the monitor stops sending them).
	PingRefused bool
	// Duplicates counts further copies of answers already counted (mtr has no such column;
	// ping's DUP!). They are not in Received.
	Duplicates int
	// Pace is the least time the monitor keeps between two probes to this distance's router
	// (a quarter of a second at first, a second or more once the router was found to limit its
	// answers); 0 for the destination, probed every cycle.
	Pace time.Duration
	// Stats summarizes every RTT (mtr's Avg, Best, Wrst, StDev).
	Stats Stats
	// Last is the RTT of the last answer.
	Last time.Duration
	// JitterLast and JitterWorst are the last and the largest absolute difference between
	// two consecutive RTTs (trippy's Jttr and Jmax); Stats.Jitter is their mean (Javg).
	JitterLast, JitterWorst time.Duration
	// Recent holds the last RTTs, oldest first (at most the monitor's window of them).
	Recent []time.Duration
	// Loss is the estimated loss of the path up to this distance, 0..1 (see PathLoss): not
	// the share of probes unanswered, which a router's rate limit inflates.
	Loss float64
	// Uncertain reports that Loss rests on too few probes to be trusted yet.
	Uncertain bool
	// RouteChanges counts the cycles whose answer here came from another responder than the
	// answer before it.
	RouteChanges int
	// Target reports that the destination answers at this distance.
	Target bool
	// Unreachable is traceroute(8)'s annotation ("!H", "!N" ...) of the last Destination
	// Unreachable answer, else "".
	Unreachable string
	// MPLS is the RFC 4950 label stack of the last answer that carried one.
	MPLS []icmp.MPLSLabel
}

// PathResponder is one address that answered at a distance.
type PathResponder struct {
	Address netip.Addr
	// Count is the answers it gave; LastCycle the cycle (from 1) of its last.
	Count, LastCycle int
}

// MaxPathResponders bounds the responders a PathHop lists.
const MaxPathResponders = 16

// AnswerLoss is the share of probes left unanswered, 0..1: the figure mtr shows as Loss%,
// which counts a router's refusal to answer as loss.
func (h *PathHop) AnswerLoss() float64 {
	if h.Sent == 0 {
		return 0
	}
	return 1 - float64(h.Received)/float64(h.Sent)
}

// Answered reports whether any probe of this distance was answered.
func (h *PathHop) Answered() bool { return h.Received > 0 }

// AddRTT records one answer's RTT.
func (h *PathHop) AddRTT(rtt time.Duration, window int) {
	if h.Stats.Count() > 0 {
		j := rtt - h.Last
		if j < 0 {
			j = -j
		}
		h.JitterLast = j
		h.JitterWorst = max(h.JitterWorst, j)
	}
	h.Stats.Add(rtt)
	h.Last = rtt
	if window <= 0 {
		return
	}
	if len(h.Recent) >= window {
		copy(h.Recent, h.Recent[len(h.Recent)-window+1:])
		h.Recent = h.Recent[:window-1]
	}
	h.Recent = append(h.Recent, rtt)
}

// Heard records an answer from a at cycle and reports whether it came from another
// responder than the answer before it.
func (h *PathHop) Heard(a netip.Addr, cycle int) (changed bool) {
	changed = h.Address.IsValid() && h.Address != a
	if changed {
		h.RouteChanges++
	}
	h.Address = a
	for i := range h.Responders {
		if r := &h.Responders[i]; r.Address == a {
			r.Count++
			r.LastCycle = cycle
			return changed
		}
	}
	if len(h.Responders) >= MaxPathResponders {
		// Forget the one heard from longest ago.
		old := 0
		for i := range h.Responders {
			if h.Responders[i].LastCycle < h.Responders[old].LastCycle {
				old = i
			}
		}
		h.Responders = slices.Delete(h.Responders, old, old+1)
	}
	h.Responders = append(h.Responders, PathResponder{Address: a, Count: 1, LastCycle: cycle})
	return changed
}

// Clone gives a deep copy of p.
func (p *Path) Clone() *Path {
	c := *p
	c.Hops = slices.Clone(p.Hops)
	for i := range c.Hops {
		h := &c.Hops[i]
		h.Responders = slices.Clone(h.Responders)
		h.Recent = slices.Clone(h.Recent)
		h.MPLS = slices.Clone(h.MPLS)
	}
	return &c
}

// EstimateLoss sets every hop's Loss and Uncertain (see PacedPathLoss) from its echo requests
// to its responder (Pinged), or, where there are none or it refuses them, from the probes
// counted, the Unpaced ones left out. It sets PingRefused: from the farthest distance back, a
// responder whose echo requests lose more than the distances beyond it lose, with a one-sided
// Fisher's exact test below 2%, refuses them. The echo requests are preferred: no limit of
// Linux's holds them back, where a paced probe still meets a limit the pacer has not found.
func (p *Path) EstimateLoss() {
	s := make([]LossSample, len(p.Hops))
	var beyond LossSample
	for i := len(p.Hops) - 1; i >= 0; i-- {
		h := &p.Hops[i]
		s[i] = LossSample{Sent: h.Sent - h.Unpaced, Lost: h.FirstLost - h.RateLimited}
		ping := LossSample{Sent: h.Pinged, Lost: h.PingLost}
		h.PingRefused = ping.Sent > 0 && beyond.Sent > 0 && ping.Rate() > beyond.Rate() &&
			LossExcess(ping.Lost, ping.Sent, beyond.Lost, beyond.Sent) < refuseP
		if !h.PingRefused && ping.Sent > 0 {
			s[i] = ping
		}
		beyond.Sent += s[i].Sent
		beyond.Lost += s[i].Lost
	}
	loss, unc := PacedPathLoss(s)
	for i := range p.Hops {
		h := &p.Hops[i]
		h.Loss = loss[i]
		h.Uncertain = unc[i]
	}
}
