package result

import (
	"net/netip"
	"time"
)

// Host is what probing one address gave: icmplib's Host.
type Host struct {
	// Address is the address probed (a name is resolved before probing).
	Address netip.Addr
	// PacketsSent counts the echo requests sent.
	PacketsSent int
	// RTTs lists the round-trip time of each reply received, in the order the requests were
	// sent. It is nil when the caller asked for statistics only.
	RTTs []time.Duration
	// Stats summarizes every RTT, also those not kept in RTTs.
	Stats Stats
	// Duplicates counts further echo replies to a request that was already answered. They
	// are not in PacketsReceived.
	Duplicates int
	// Errors counts the ICMP error messages (unreachable, time exceeded ...) received for
	// this host's requests.
	Errors int
	// SendErrors counts the requests that could not be sent: the system refused them (a
	// broadcast address without broadcast on, no route to the host). They count in
	// PacketsSent, as fping's xmt counts them, and so in the loss; SendErrors tells them
	// from requests lost on the way.
	SendErrors int
}

// Add records one reply's RTT in both RTTs and Stats.
func (h *Host) Add(rtt time.Duration) {
	h.RTTs = append(h.RTTs, rtt)
	h.Stats.Add(rtt)
}

// PacketsReceived counts the requests that got an echo reply in time.
func (h *Host) PacketsReceived() int { return h.Stats.Count() }

// PacketLoss is the fraction of requests without a reply, 0..1: lost/sent, so that 1 lost
// of 10 is 0.1 exactly. 0 when nothing was sent.
func (h *Host) PacketLoss() float64 {
	if h.PacketsSent == 0 {
		return 0
	}
	return float64(h.PacketsSent-h.PacketsReceived()) / float64(h.PacketsSent)
}

// IsAlive reports whether at least one echo reply came back.
func (h *Host) IsAlive() bool { return h.PacketsReceived() > 0 }

// MinRTT is the smallest RTT, 0 with no reply.
func (h *Host) MinRTT() time.Duration { return h.Stats.Min() }

// AvgRTT is the mean RTT, 0 with no reply.
func (h *Host) AvgRTT() time.Duration { return h.Stats.Avg() }

// MaxRTT is the largest RTT, 0 with no reply.
func (h *Host) MaxRTT() time.Duration { return h.Stats.Max() }

// StdDev is the population standard deviation of the RTTs (iputils' mdev).
func (h *Host) StdDev() time.Duration { return h.Stats.StdDev() }

// Jitter is the mean absolute difference of consecutive RTTs (icmplib's jitter).
func (h *Host) Jitter() time.Duration { return h.Stats.Jitter() }
