package probe

import (
	"net/netip"

	"github.com/icmpkit/icmpkit/transport"
)

// Path MTU discovery, as tracepath does it: probes go with Don't Fragment set and shrink to
// the MTU that a Packet Too Big or Fragmentation Needed answer reports.
//
// The local link's MTU is found by bisection: a size it refuses fails at once, with no packet
// sent, so each refusal narrows the range between the largest size it took (localOK) and the
// smallest it refused (pmtu+1), until they meet.

// A pathMTU is a trace's search for the path MTU: the sizes tried and what the answers taught.
type pathMTU struct {
	dst     netip.Addr
	pmtu    int                // the largest size that may pass, IP header included
	localOK int                // after the local link refused a size: the largest it took
	passed  map[netip.Addr]int // the largest probe each too-big answerer got
}

// startMTU is the size of the first probes of a path MTU discovery: Ethernet's MTU.
const startMTU = 1500

func newPathMTU(dst netip.Addr) pathMTU { return pathMTU{dst: dst, pmtu: startMTU} }

// minMTU gives the smallest MTU of dst's family (RFC 791, RFC 8200).
func minMTU(dst netip.Addr) int {
	if dst.Is6() {
		return 1280
	}
	return 68
}

// headerLen gives the bytes of IP and ICMP header in an echo request to dst.
func headerLen(dst netip.Addr) int {
	if dst.Is6() {
		return 40 + 8
	}
	return 20 + 8
}

// tooBig reports a Packet Too Big, or a Fragmentation Needed, answer.
func tooBig(r *transport.Reply) bool {
	switch r.Kind() {
	case transport.KindPacketTooBig:
		return true
	case transport.KindDestinationUnreachable:
		return !r.IsV6() && r.Code == 4
	}
	return false
}

// plateaus are RFC 1191's MTU plateaus, for routers that do not report the next-hop MTU.
var plateaus = []int{65535, 32000, 17914, 8166, 4352, 2002, 1492, 1006, 508, 296, 68}

// tooBigAnswer learns from a too-big answer from, reporting mtu (0 when it did not say), to a
// probe of size bytes. It reports whether a smaller probe may still go.
func (m *pathMTU) tooBigAnswer(from netip.Addr, size, mtu int) bool {
	if mtu <= 0 || mtu >= size {
		// No usable MTU in the answer: step down to the next plateau.
		mtu = minMTU(m.dst)
		for _, v := range plateaus {
			if v < size {
				mtu = v
				break
			}
		}
	}
	mtu = max(mtu, minMTU(m.dst), headerLen(m.dst))
	if mtu < m.pmtu {
		m.pmtu = mtu
		m.localOK = min(m.localOK, mtu)
	}
	m.notePassed(from, size)
	return size > m.pmtu
}

// notePassed records that a probe of size bytes reached from, which answered it too big.
func (m *pathMTU) notePassed(from netip.Addr, size int) {
	if m.passed == nil {
		m.passed = map[netip.Addr]int{}
	}
	m.passed[from] = max(m.passed[from], size)
}

// probeSize gives the size of the next probe.
func (m *pathMTU) probeSize() int {
	if m.localOK > 0 && m.localOK < m.pmtu {
		return (m.localOK + m.pmtu + 1) / 2
	}
	return m.pmtu
}

// fits notes that the local link took a probe of this size.
func (m *pathMTU) fits(size int) {
	if m.localOK > 0 {
		m.localOK = max(m.localOK, size)
	}
}

// tooLong notes that the local link refused a probe of this size, and reports whether a
// smaller one may still go.
func (m *pathMTU) tooLong(size int) bool {
	floor := max(minMTU(m.dst), headerLen(m.dst))
	if size <= floor {
		return false
	}
	m.pmtu = min(m.pmtu, size-1)
	if m.localOK == 0 || m.localOK > m.pmtu {
		m.localOK = floor
	}
	return true
}

// reached gives the largest probe known to have reached a hop: its own answered probes
// (answered), and the probes that drew a Packet Too Big from one of its responders.
func (m *pathMTU) reached(answered int, responders []netip.Addr) int {
	size := answered
	for _, a := range responders {
		size = max(size, m.passed[a])
	}
	return size
}

// shrink lowers the probe size after a too-big answer to probe tag, and has the probe sent
// again; a probe already as small as it gets is resolved with that answer.
func (tr *tracer) shrink(tag int32, from netip.Addr, mtu int) {
	p := &tr.probes[tag]
	again := tr.mtu.tooBigAnswer(from, p.size, mtu)
	tr.retire(tag)
	if !again {
		// Already as small as it gets: the answer stands as the hop's.
		tr.resolve(p)
		return
	}
	p.sent = false
	tr.unsentFrom = min(tr.unsentFrom, int(tag))
	if p.inWindow {
		p.inWindow = false
		tr.inWindow--
	}
	tr.hop(p.ttl).hop.PacketsSent--
	p.waiting = false
}
