package dgram

import (
	"encoding/binary"
	"net/netip"
	"testing"

	"github.com/icmpkit/icmpkit/internal/wire"
	"github.com/icmpkit/icmpkit/transport"
	"github.com/stretchr/testify/require"
	"golang.org/x/net/icmp"
)

var (
	router4 = netip.MustParseAddr("198.18.0.2")
	target4 = netip.MustParseAddr("198.18.2.2")
	client4 = netip.MustParseAddr("198.18.0.1")
	router6 = netip.MustParseAddr("2001:db8::2")
	target6 = netip.MustParseAddr("2001:db8:0:2::2")
	client6 = netip.MustParseAddr("2001:db8::1")
)

// echoRequest gives the bytes of an echo request with the FillPayload pattern.
func echoRequest(v6 bool, id, seq, size int) []byte {
	b := make([]byte, 8+size)
	wire.PutEchoHeaderNoSum(b, v6, id, seq)
	transport.FillPayload(b[8:])
	return b
}

// ipv4Packet wraps an ICMP message in an IPv4 header.
func ipv4Packet(src, dst netip.Addr, ttl int, icmpMsg []byte) []byte {
	h := make([]byte, 20, 20+len(icmpMsg))
	h[0] = 0x45
	binary.BigEndian.PutUint16(h[2:], uint16(20+len(icmpMsg)))
	h[8] = byte(ttl)
	h[9] = wire.ProtocolICMP
	s, d := src.As4(), dst.As4()
	copy(h[12:], s[:])
	copy(h[16:], d[:])
	return append(h, icmpMsg...)
}

// ipv6Packet wraps an ICMPv6 message in an IPv6 header.
func ipv6Packet(src, dst netip.Addr, hops int, icmpMsg []byte) []byte {
	h := make([]byte, 40, 40+len(icmpMsg))
	h[0] = 0x60
	binary.BigEndian.PutUint16(h[4:], uint16(len(icmpMsg)))
	h[6] = wire.ProtocolICMPv6
	h[7] = byte(hops)
	s, d := src.As16(), dst.As16()
	copy(h[8:], s[:])
	copy(h[24:], d[:])
	return append(h, icmpMsg...)
}

var testLabels = []icmp.MPLSLabel{{Label: 16001, TC: 5, S: false, TTL: 1}, {Label: 24, TC: 0, S: true, TTL: 255}}

func marshal(t testing.TB, typ icmp.Type, code int, body icmp.MessageBody) []byte {
	t.Helper()
	b, err := (&icmp.Message{Type: typ, Code: code, Body: body}).Marshal(nil)
	require.NoError(t, err)
	return b
}

func mplsExt() []icmp.Extension {
	return []icmp.Extension{&icmp.MPLSLabelStack{Class: 1, Type: 1, Labels: testLabels}}
}
