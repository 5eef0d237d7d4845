package wire

import (
	"encoding/binary"
	"net/netip"
	"testing"

	"github.com/stretchr/testify/require"
	"golang.org/x/net/icmp"
	"golang.org/x/net/ipv4"
	"golang.org/x/net/ipv6"
)

// Addresses used in the test packets (documentation and benchmarking ranges).
var (
	local4  = netip.MustParseAddr("198.18.0.1")
	target4 = netip.MustParseAddr("198.18.4.2")
	router4 = netip.MustParseAddr("198.18.1.1")
	local6  = netip.MustParseAddr("2001:db8::1")
	target6 = netip.MustParseAddr("2001:db8:4::2")
	router6 = netip.MustParseAddr("2001:db8:1::1")
)

// marshal encodes an ICMP message with golang.org/x/net/icmp.
func marshal(t testing.TB, typ icmp.Type, code int, body icmp.MessageBody) []byte {
	t.Helper()
	b, err := (&icmp.Message{Type: typ, Code: code, Body: body}).Marshal(nil)
	require.NoError(t, err)
	return b
}

// echoMsg encodes an echo request or reply.
func echoMsg(t testing.TB, typ icmp.Type, id, seq int, data []byte) []byte {
	return marshal(t, typ, 0, &icmp.Echo{ID: id, Seq: seq, Data: data})
}

// ip4 prepends an IPv4 header (with options, protocol proto) to payload.
func ip4(src, dst netip.Addr, ttl int, proto byte, opts []byte, payload []byte) []byte {
	hl := 20 + len(opts)
	b := make([]byte, hl, hl+len(payload))
	b[0] = 4<<4 | byte(hl/4)
	binary.BigEndian.PutUint16(b[2:4], uint16(hl+len(payload)))
	binary.BigEndian.PutUint16(b[4:6], 0x1234)
	b[8] = byte(ttl)
	b[9] = proto
	s, d := src.As4(), dst.As4()
	copy(b[12:16], s[:])
	copy(b[16:20], d[:])
	copy(b[20:], opts)
	binary.BigEndian.PutUint16(b[10:12], Checksum(b[:hl]))
	return append(b, payload...)
}

// ip6 prepends an IPv6 header (next header nh) to payload.
func ip6(src, dst netip.Addr, hops int, nh byte, payload []byte) []byte {
	b := make([]byte, 40, 40+len(payload))
	b[0] = 6 << 4
	binary.BigEndian.PutUint16(b[4:6], uint16(len(payload)))
	b[6] = nh
	b[7] = byte(hops)
	s, d := src.As16(), dst.As16()
	copy(b[8:24], s[:])
	copy(b[24:40], d[:])
	return append(b, payload...)
}

// request4 is our echo request as an ICMPv4 error quotes it: IPv4 header and the whole
// request (Linux quotes up to 576 bytes of message in all).
func request4(t testing.TB, id, seq, size int) []byte {
	data := make([]byte, size)
	fill(data)
	return ip4(local4, target4, 1, ProtocolICMP, nil, echoMsg(t, ipv4.ICMPTypeEcho, id, seq, data))
}

// request6 is our echo request as an ICMPv6 error quotes it.
func request6(t testing.TB, id, seq, size int) []byte {
	data := make([]byte, size)
	fill(data)
	return ip6(local6, target6, 1, ProtocolICMPv6, echoMsg(t, ipv6.ICMPTypeEchoRequest, id, seq, data))
}

func fill(b []byte) {
	for i := range b {
		b[i] = byte(i + 8)
	}
}

// fixChecksum4 recomputes the checksum of an ICMPv4 message after a test changed it.
func fixChecksum4(m []byte) []byte {
	m[2], m[3] = 0, 0
	binary.BigEndian.PutUint16(m[2:4], Checksum(m))
	return m
}

var mplsStack = &icmp.MPLSLabelStack{
	Class: 1, Type: 1,
	Labels: []icmp.MPLSLabel{
		{Label: 16014, TC: 0x4, S: false, TTL: 255},
		{Label: 1048575, TC: 0x7, S: true, TTL: 1},
	},
}

// The packets of the table tests and the fuzz seeds, by name.
type packet struct {
	name string
	v6   bool   // ICMPv6 message (raw ICMPv6 sockets read no IP header)
	b    []byte // IPv4 datagram, or ICMPv6 message
}

func packets(t testing.TB) []packet {
	payload := make([]byte, 56)
	fill(payload)
	opts := []byte{7, 7, 4, 0, 0, 0, 0, 1} // record route, one slot, then end of options
	te4 := marshal(t, ipv4.ICMPTypeTimeExceeded, 0, &icmp.TimeExceeded{Data: request4(t, 0x4242, 7, 56)})
	frag4 := marshal(t, ipv4.ICMPTypeDestinationUnreachable, 4, &icmp.DstUnreach{Data: request4(t, 0x4242, 8, 56)})
	binary.BigEndian.PutUint16(frag4[6:8], 1400)
	fixChecksum4(frag4)
	ext4 := marshal(t, ipv4.ICMPTypeTimeExceeded, 0, &icmp.TimeExceeded{Data: request4(t, 0x4242, 9, 56), Extensions: []icmp.Extension{mplsStack}})
	// A sender predating RFC 4884: extensions at offset 128, no length attribute.
	compat4 := append([]byte(nil), ext4...)
	compat4[5] = 0
	fixChecksum4(compat4)
	quotedOpts := ip4(local4, target4, 1, ProtocolICMP, opts, echoMsg(t, ipv4.ICMPTypeEcho, 0x4242, 10, payload))
	teOpts := marshal(t, ipv4.ICMPTypeTimeExceeded, 0, &icmp.TimeExceeded{Data: quotedOpts})
	udp := ip4(local4, target4, 1, 17, nil, []byte{0x82, 0x9a, 0x82, 0x9b, 0, 8, 0, 0})
	teUDP := marshal(t, ipv4.ICMPTypeTimeExceeded, 0, &icmp.TimeExceeded{Data: udp})
	teReply := marshal(t, ipv4.ICMPTypeTimeExceeded, 0, &icmp.TimeExceeded{Data: ip4(local4, target4, 1, ProtocolICMP, nil, echoMsg(t, ipv4.ICMPTypeEchoReply, 0x4242, 11, payload))})
	param4 := marshal(t, ipv4.ICMPTypeParameterProblem, 0, &icmp.ParamProb{Pointer: 1, Data: request4(t, 0x4242, 12, 56)})
	te4short := marshal(t, ipv4.ICMPTypeTimeExceeded, 0, &icmp.TimeExceeded{Data: request4(t, 0x4242, 13, 56)[:28]})

	hopByHop := []byte{ProtocolICMPv6 /* next */, 0, 1, 4, 0, 0, 0, 0} // PadN
	fragFirst := []byte{0 /* next: hop-by-hop */, 0, 0, 1 /* M */, 0, 0, 0, 9}
	fragLater := []byte{ProtocolICMPv6, 0, 0x05, 0x00 /* offset 160 */, 0, 0, 0, 9}
	echo6 := echoMsg(t, ipv6.ICMPTypeEchoRequest, 0x4242, 21, payload)
	withExt := ip6(local6, target6, 1, 44, append(append(append([]byte(nil), fragFirst...), hopByHop...), echo6...))
	later := ip6(local6, target6, 1, 44, append(append([]byte(nil), fragLater...), echo6...))
	ptb := marshal(t, ipv6.ICMPTypePacketTooBig, 0, &icmp.PacketTooBig{MTU: 1280, Data: request6(t, 0x4242, 22, 56)})
	udp6 := ip6(local6, target6, 1, 17, []byte{0x82, 0x9a, 0x82, 0x9b, 0, 8, 0, 0})

	return []packet{
		{"echo reply v4", false, ip4(target4, local4, 61, ProtocolICMP, nil, echoMsg(t, ipv4.ICMPTypeEchoReply, 0x4242, 1, payload))},
		{"echo reply v4 options", false, ip4(target4, local4, 61, ProtocolICMP, opts, echoMsg(t, ipv4.ICMPTypeEchoReply, 0x4242, 2, payload))},
		{"echo reply v4 empty", false, ip4(target4, local4, 61, ProtocolICMP, nil, echoMsg(t, ipv4.ICMPTypeEchoReply, 0x4242, 3, nil))},
		{"echo request v4", false, ip4(local4, target4, 64, ProtocolICMP, nil, echoMsg(t, ipv4.ICMPTypeEcho, 0x4242, 4, payload))},
		{"time exceeded v4", false, ip4(router4, local4, 254, ProtocolICMP, nil, te4)},
		{"time exceeded v4 short quote", false, ip4(router4, local4, 254, ProtocolICMP, nil, te4short)},
		{"time exceeded v4 quoted options", false, ip4(router4, local4, 254, ProtocolICMP, nil, teOpts)},
		{"time exceeded v4 mpls", false, ip4(router4, local4, 254, ProtocolICMP, nil, ext4)},
		{"time exceeded v4 mpls compat", false, ip4(router4, local4, 254, ProtocolICMP, nil, compat4)},
		{"time exceeded v4 udp", false, ip4(router4, local4, 254, ProtocolICMP, nil, teUDP)},
		{"time exceeded v4 echo reply", false, ip4(router4, local4, 254, ProtocolICMP, nil, teReply)},
		{"unreachable v4 net", false, ip4(router4, local4, 254, ProtocolICMP, nil, marshal(t, ipv4.ICMPTypeDestinationUnreachable, 0, &icmp.DstUnreach{Data: request4(t, 0x4242, 14, 56)}))},
		{"unreachable v4 host", false, ip4(router4, local4, 254, ProtocolICMP, nil, marshal(t, ipv4.ICMPTypeDestinationUnreachable, 1, &icmp.DstUnreach{Data: request4(t, 0x4242, 15, 56)}))},
		{"unreachable v4 admin", false, ip4(router4, local4, 254, ProtocolICMP, nil, marshal(t, ipv4.ICMPTypeDestinationUnreachable, 13, &icmp.DstUnreach{Data: request4(t, 0x4242, 16, 56)}))},
		{"fragmentation needed v4", false, ip4(router4, local4, 254, ProtocolICMP, nil, frag4)},
		{"parameter problem v4", false, ip4(router4, local4, 254, ProtocolICMP, nil, param4)},
		{"redirect v4", false, ip4(router4, local4, 254, ProtocolICMP, nil, marshal(t, ipv4.ICMPTypeRedirect, 1, &icmp.RawBody{Data: append([]byte{198, 18, 1, 2}, request4(t, 0x4242, 17, 8)...)}))},

		{"echo reply v6", true, echoMsg(t, ipv6.ICMPTypeEchoReply, 0x4242, 20, payload)},
		{"echo request v6", true, echo6},
		{"time exceeded v6", true, marshal(t, ipv6.ICMPTypeTimeExceeded, 0, &icmp.TimeExceeded{Data: request6(t, 0x4242, 23, 56)})},
		{"time exceeded v6 mpls", true, marshal(t, ipv6.ICMPTypeTimeExceeded, 0, &icmp.TimeExceeded{Data: request6(t, 0x4242, 24, 56), Extensions: []icmp.Extension{mplsStack}})},
		{"time exceeded v6 extension headers", true, marshal(t, ipv6.ICMPTypeTimeExceeded, 0, &icmp.TimeExceeded{Data: withExt})},
		{"time exceeded v6 later fragment", true, marshal(t, ipv6.ICMPTypeTimeExceeded, 0, &icmp.TimeExceeded{Data: later})},
		{"time exceeded v6 udp", true, marshal(t, ipv6.ICMPTypeTimeExceeded, 0, &icmp.TimeExceeded{Data: udp6})},
		{"unreachable v6 no route", true, marshal(t, ipv6.ICMPTypeDestinationUnreachable, 0, &icmp.DstUnreach{Data: request6(t, 0x4242, 25, 56)})},
		{"unreachable v6 address", true, marshal(t, ipv6.ICMPTypeDestinationUnreachable, 3, &icmp.DstUnreach{Data: request6(t, 0x4242, 26, 56)})},
		{"unreachable v6 port", true, marshal(t, ipv6.ICMPTypeDestinationUnreachable, 4, &icmp.DstUnreach{Data: request6(t, 0x4242, 27, 56)})},
		{"packet too big v6", true, ptb},
		{"parameter problem v6", true, marshal(t, ipv6.ICMPTypeParameterProblem, 1, &icmp.ParamProb{Pointer: 40, Data: request6(t, 0x4242, 28, 56)})},
		{"neighbor solicitation v6", true, marshal(t, ipv6.ICMPTypeNeighborSolicitation, 0, &icmp.RawBody{Data: make([]byte, 20)})},
	}
}

// packetByName finds a packet of the table.
func packetByName(t testing.TB, name string) packet {
	for _, p := range packets(t) {
		if p.name == name {
			return p
		}
	}
	t.Fatalf("no packet %q", name)
	return packet{}
}
