package mock

import (
	"encoding/binary"
	"net/netip"

	"github.com/icmpkit/icmpkit/transport"
)

// mix is the SplitMix64 finalizer: a cheap bijection that spreads every input bit over
// the whole output.
func mix(x uint64) uint64 {
	x ^= x >> 30
	x *= 0xbf58476d1ce4e5b9
	x ^= x >> 27
	x *= 0x94d049bb133111eb
	x ^= x >> 31
	return x
}

func addrKey(a netip.Addr) uint64 {
	b := a.As16()
	hi := binary.BigEndian.Uint64(b[:8])
	lo := binary.BigEndian.Uint64(b[8:])
	return mix(hi ^ mix(lo))
}

// What a random draw is for, so that draws for different purposes are independent.
const (
	saltLoss uint64 = iota + 1
	saltJitter
	saltLate
	saltCorrupt
	saltCorruptHow
	saltECMP
	saltDrop
)

// draw gives a number in [0, 1) that depends only on the network's seed, a node (host or
// router), the node's request counter and the purpose. Random choices so come out the same
// whatever the goroutine interleaving, as long as each node sees its requests in the same
// order.
func (n *Network) draw(key, count, salt uint64) float64 {
	return float64(n.bits(key, count, salt)>>11) / (1 << 53)
}

func (n *Network) bits(key, count, salt uint64) uint64 {
	return mix(n.seed ^ mix(key^mix(count*0x9e3779b97f4a7c15+salt)))
}

// echoChecksum gives the ICMP checksum of req as golang.org/x/net/icmp marshals it, as it
// appears on the wire read big-endian. For IPv6 the sum covers the pseudo-header too, with
// the unspecified address as source: a transport's requests all have the same source, so
// requests of equal checksums here have equal checksums on the wire, and the other way round.
func echoChecksum(req *transport.Request) uint16 {
	typ := uint32(8) // ICMPv4 echo request
	s := uint32(0)
	if req.Destination.Is6() {
		typ = 128
		a := req.Destination.As16()
		for i := 0; i < 16; i += 2 {
			s += uint32(a[i])<<8 | uint32(a[i+1])
		}
		l := uint32(8 + req.PayloadLen())
		s += l>>16 + l&0xffff + 58 // upper-layer length, next header
	}
	s += typ<<8 + uint32(req.ID) + uint32(req.Seq)
	if req.Payload != nil {
		p := req.Payload
		for len(p) >= 2 {
			s += uint32(p[0])<<8 | uint32(p[1])
			p = p[2:]
		}
		if len(p) == 1 {
			s += uint32(p[0]) << 8
		}
	} else {
		// transport.FillPayload's pattern: byte i is i+8.
		for i := 0; i+1 < req.PayloadSize; i += 2 {
			s += uint32(byte(i+8))<<8 | uint32(byte(i+9))
		}
		if req.PayloadSize%2 == 1 {
			s += uint32(byte(req.PayloadSize-1+8)) << 8
		}
	}
	for s>>16 != 0 {
		s = s>>16 + s&0xffff
	}
	return ^uint16(s)
}

// flowKey is what per-flow load balancing hashes: destination, identifier and checksum.
func flowKey(req *transport.Request) uint64 {
	return mix(addrKey(req.Destination) ^ uint64(req.ID)<<16 ^ uint64(echoChecksum(req)))
}
