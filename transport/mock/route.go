package mock

import (
	"net/netip"
	"time"

	"github.com/icmpkit/icmpkit/transport"
	"golang.org/x/net/ipv4"
	"golang.org/x/net/ipv6"
)

// ICMP type numbers of what the network answers.
const (
	v4EchoReply    = uint8(ipv4.ICMPTypeEchoReply)
	v4Unreachable  = uint8(ipv4.ICMPTypeDestinationUnreachable)
	v4TimeExceeded = uint8(ipv4.ICMPTypeTimeExceeded)
	v6EchoReply    = uint8(ipv6.ICMPTypeEchoReply)
	v6Unreachable  = uint8(ipv6.ICMPTypeDestinationUnreachable)
	v6TimeExceeded = uint8(ipv6.ICMPTypeTimeExceeded)
	v6PacketTooBig = uint8(ipv6.ICMPTypePacketTooBig)

	codeFragNeeded = 4 // ICMPv4 Destination Unreachable: fragmentation needed and DF set
)

// route carries req, sent at sent (nanoseconds since t's epoch), through the network and
// schedules on t whatever comes back. Both t.mu and n.mu (read) are held.
func (t *Transport) route(n *Network, req *transport.Request, sent int64, members []netip.Addr, bcast bool) {
	dst := req.Destination
	v6 := dst.Is6()
	ttl := req.TTL
	if ttl == 0 {
		ttl = transport.DefaultTTL
	}
	h := n.hosts[dst]
	path, ok := n.paths[dst]
	if !ok && h == nil && !bcast {
		path = n.gateway[family(dst)]
	}
	ipSize := 20 + 8 + req.PayloadLen()
	if v6 {
		ipSize = 40 + 8 + req.PayloadLen()
	}
	var flow uint64
	for i, hp := range path {
		r := hp[0]
		if len(hp) > 1 {
			if flow == 0 {
				flow = flowKey(req) | 1
			}
			r = hp[mix(n.seed^flow^uint64(i+1)*0x9e3779b97f4a7c15^saltECMP)%uint64(len(hp))]
		}
		dist := i + 1
		switch {
		case r.Unreachable:
			typ := v4Unreachable
			if v6 {
				typ = v6Unreachable
			}
			t.routerAnswer(n, r, dist, req, sent, typ, uint8(r.UnreachableCode), 0)
			return
		case ttl == dist:
			typ := v4TimeExceeded
			if v6 {
				typ = v6TimeExceeded
			}
			t.routerAnswer(n, r, dist, req, sent, typ, 0, 0)
			return
		case r.MTU > 0 && req.DontFragment && ipSize > r.MTU:
			if v6 {
				t.routerAnswer(n, r, dist, req, sent, v6PacketTooBig, 0, r.MTU)
			} else {
				t.routerAnswer(n, r, dist, req, sent, v4Unreachable, codeFragNeeded, r.MTU)
			}
			return
		}
		if r.Drop > 0 && n.draw(r.key, r.fwd.Add(1)-1, saltDrop) < r.Drop {
			return // lost beyond this router
		}
	}
	if bcast {
		for _, m := range members {
			if mh := n.hosts[m]; mh != nil {
				t.hostAnswer(n, mh, req, sent, len(path))
			}
		}
		return
	}
	if h != nil {
		t.hostAnswer(n, h, req, sent, len(path))
	}
}

// routerAnswer schedules the ICMP error that router r, at distance dist, sends about req.
func (t *Transport) routerAnswer(n *Network, r *router, dist int, req *transport.Request, sent int64, typ, code uint8, mtu int) {
	if r.Silent {
		return
	}
	if r.limit != nil && mtu == 0 && !r.limit.allow(t.epoch.Add(time.Duration(sent))) {
		return // the router's ICMP rate limit holds this answer back
	}
	c := r.count.Add(1) - 1
	if r.Loss > 0 && n.draw(r.key, c, saltLoss) < r.Loss {
		return
	}
	lat := r.Latency
	if r.Jitter > 0 {
		lat += time.Duration(n.draw(r.key, c, saltJitter) * float64(r.Jitter))
	}
	v6 := req.Destination.Is6()
	t.schedule(event{
		at:    sent + int64(lat),
		src:   r.Addr,
		dst:   req.Destination,
		mpls:  r.MPLS,
		id:    uint16(req.ID),
		seq:   uint16(req.Seq),
		bytes: int32(errorBytes(v6, req.PayloadLen(), len(r.MPLS))),
		mtu:   int32(mtu),
		ttl:   arrivalTTL(r.ttl, dist-1),
		typ:   typ,
		code:  code,
		v6:    v6,
	})
}

// hostAnswer schedules host h's echo reply to req, which crossed hops routers.
func (t *Transport) hostAnswer(n *Network, h *host, req *transport.Request, sent int64, hops int) {
	if h.Dead {
		return
	}
	c := h.count.Add(1) - 1
	if h.Loss > 0 && n.draw(h.key, c, saltLoss) < h.Loss {
		return
	}
	lat := h.Latency
	if h.Jitter > 0 {
		lat += time.Duration(n.draw(h.key, c, saltJitter) * float64(h.Jitter))
	}
	if h.Late > 0 && n.draw(h.key, c, saltLate) < h.Late {
		lat += h.lateBy
	}
	v6 := req.Destination.Is6()
	ev := event{
		at:    sent + int64(lat),
		src:   h.addr,
		dst:   req.Destination,
		id:    uint16(req.ID),
		seq:   uint16(req.Seq),
		bytes: int32(8 + req.PayloadLen()),
		ttl:   arrivalTTL(h.ttl, hops),
		typ:   v4EchoReply,
		v6:    v6,
	}
	if v6 {
		ev.typ = v6EchoReply
	}
	if h.Corrupt > 0 && n.draw(h.key, c, saltCorrupt) < h.Corrupt {
		corrupt(&ev, n.bits(h.key, c, saltCorruptHow))
	}
	for range 1 + h.Duplicates {
		t.schedule(ev)
	}
}

// corrupt alters one bit of the reply's identifier, sequence or source address, as a
// damaged packet whose checksum happened to pass would show.
func corrupt(ev *event, b uint64) {
	bit := b >> 8
	switch b % 3 {
	case 0:
		ev.id ^= 1 << (bit % 16)
	case 1:
		ev.seq ^= 1 << (bit % 16)
	default:
		a := ev.src.As16()
		a[15] ^= 1 << (bit % 8)
		if ev.src.Is4() {
			ev.src = netip.AddrFrom16(a).Unmap()
		} else {
			ev.src = netip.AddrFrom16(a)
		}
	}
}

// arrivalTTL is the TTL a packet sent with ttl has after crossing hops routers.
func arrivalTTL(ttl, hops int) uint8 {
	return uint8(max(ttl-hops, 1))
}

// errorBytes gives the size of an ICMP error about an echo request with payload bytes of
// data: the 8-byte header and the quoted request, as much of it as fits in the minimum MTU
// (576 bytes for IPv4 as RFC 1812 has routers quote, 1280 for IPv6 per RFC 4443), plus the
// RFC 4884 extension with an RFC 4950 MPLS object when there are labels (the quote is then
// padded to 128 bytes).
func errorBytes(v6 bool, payload, labels int) int {
	quoted, limit := 20+8+payload, 576-20-8
	if v6 {
		quoted, limit = 40+8+payload, 1280-40-8
	}
	quoted = min(quoted, limit)
	if labels > 0 {
		quoted = max(quoted, 128)
		quoted = (quoted + 3) &^ 3
		quoted += 4 + 4 + 4*labels
	}
	return 8 + quoted
}
