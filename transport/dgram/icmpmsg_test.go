package dgram

import (
	"encoding/binary"
	"net/netip"
	"sync"
	"testing"

	"github.com/icmpkit/icmpkit/internal/wire"
	"github.com/icmpkit/icmpkit/transport"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/net/icmp"
	"golang.org/x/net/ipv4"
	"golang.org/x/net/ipv6"
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
	putEchoHeader(b, v6, id, seq)
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

func TestParseMessage(t *testing.T) {
	req4 := echoRequest(false, 0x1234, 77, 56)
	req6 := echoRequest(true, 0x1234, 77, 56)
	quoted4 := ipv4Packet(client4, target4, 1, req4)
	quoted6 := ipv6Packet(client6, target6, 1, req6)

	reply4 := append([]byte(nil), req4...)
	reply4[0] = wire.TypeEchoReplyV4
	reply6 := append([]byte(nil), req6...)
	reply6[0] = wire.TypeEchoReplyV6

	fragNeeded := marshal(t, ipv4.ICMPTypeDestinationUnreachable, 4, &icmp.DstUnreach{Data: quoted4})
	binary.BigEndian.PutUint16(fragNeeded[6:], 1280)

	for _, tc := range []struct {
		name   string
		v6     bool
		msg    []byte
		src    netip.Addr
		ok     bool
		want   transport.Reply
		labels []icmp.MPLSLabel
	}{
		{name: "v4 echo reply", msg: reply4, src: target4, ok: true,
			want: transport.Reply{Source: target4, Destination: target4, ID: 0x1234, Seq: 77, Type: ipv4.ICMPTypeEchoReply, Bytes: 64}},
		{name: "v6 echo reply", v6: true, msg: reply6, src: target6, ok: true,
			want: transport.Reply{Source: target6, Destination: target6, ID: 0x1234, Seq: 77, Type: ipv6.ICMPTypeEchoReply, Bytes: 64}},
		{name: "v4 time exceeded", msg: marshal(t, ipv4.ICMPTypeTimeExceeded, 0, &icmp.TimeExceeded{Data: quoted4}), src: router4, ok: true,
			want: transport.Reply{Source: router4, Destination: target4, ID: 0x1234, Seq: 77, Type: ipv4.ICMPTypeTimeExceeded, Bytes: 8 + 84}},
		{name: "v4 time exceeded with MPLS", msg: marshal(t, ipv4.ICMPTypeTimeExceeded, 0, &icmp.TimeExceeded{Data: quoted4, Extensions: mplsExt()}), src: router4, ok: true,
			want:   transport.Reply{Source: router4, Destination: target4, ID: 0x1234, Seq: 77, Type: ipv4.ICMPTypeTimeExceeded, Bytes: 8 + 128 + 4 + 4 + 8},
			labels: testLabels},
		{name: "v4 fragmentation needed", msg: fragNeeded, src: router4, ok: true,
			want: transport.Reply{Source: router4, Destination: target4, ID: 0x1234, Seq: 77, Type: ipv4.ICMPTypeDestinationUnreachable, Code: 4, MTU: 1280, Bytes: 8 + 84}},
		{name: "v6 time exceeded with MPLS", v6: true, msg: marshal(t, ipv6.ICMPTypeTimeExceeded, 0, &icmp.TimeExceeded{Data: quoted6, Extensions: mplsExt()}), src: router6, ok: true,
			want:   transport.Reply{Source: router6, Destination: target6, ID: 0x1234, Seq: 77, Type: ipv6.ICMPTypeTimeExceeded, Bytes: 8 + 128 + 4 + 4 + 8},
			labels: testLabels},
		{name: "v6 packet too big", v6: true, msg: marshal(t, ipv6.ICMPTypePacketTooBig, 0, &icmp.PacketTooBig{MTU: 1280, Data: quoted6}), src: router6, ok: true,
			want: transport.Reply{Source: router6, Destination: target6, ID: 0x1234, Seq: 77, Type: ipv6.ICMPTypePacketTooBig, MTU: 1280, Bytes: 8 + 104}},
		{name: "v6 unreachable", v6: true, msg: marshal(t, ipv6.ICMPTypeDestinationUnreachable, 3, &icmp.DstUnreach{Data: quoted6}), src: router6, ok: true,
			want: transport.Reply{Source: router6, Destination: target6, ID: 0x1234, Seq: 77, Type: ipv6.ICMPTypeDestinationUnreachable, Code: 3, Bytes: 8 + 104}},
		{name: "v4 echo request", msg: req4, src: target4},
		{name: "short", msg: reply4[:7], src: target4},
		{name: "v4 error quoting a non-echo", msg: marshal(t, ipv4.ICMPTypeTimeExceeded, 0, &icmp.TimeExceeded{Data: ipv4Packet(client4, target4, 1, reply4)}), src: router4},
		{name: "v4 error quoting too little", msg: marshal(t, ipv4.ICMPTypeTimeExceeded, 0, &icmp.TimeExceeded{Data: quoted4[:24]}), src: router4},
		{name: "v6 error in a v4 parse", msg: marshal(t, ipv6.ICMPTypeTimeExceeded, 0, &icmp.TimeExceeded{Data: quoted6}), src: router4},
		{name: "v4 redirect", msg: marshal(t, ipv4.ICMPTypeRedirect, 0, &icmp.DstUnreach{Data: quoted4}), src: router4},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var r transport.Reply
			ok := parseMessage(tc.v6, tc.msg, tc.src, &r)
			require.Equal(t, tc.ok, ok)
			if !ok {
				return
			}
			assert.Equal(t, tc.labels, r.MPLS)
			r.MPLS = nil
			assert.Equal(t, tc.want, r)
		})
	}
}

func TestParseExtensions(t *testing.T) {
	full := marshal(t, ipv4.ICMPTypeTimeExceeded, 0, &icmp.TimeExceeded{
		Data: ipv4Packet(client4, target4, 1, echoRequest(false, 1, 1, 56)), Extensions: mplsExt()})
	ext := full[8+128:]
	require.Equal(t, testLabels, parseExtensions(ext))

	bad := append([]byte(nil), ext...)
	bad[len(bad)-1] ^= 0xff
	assert.Nil(t, parseExtensions(bad), "a wrong checksum")
	noSum := append([]byte(nil), bad...)
	noSum[2], noSum[3] = 0, 0
	assert.Equal(t, 2, len(parseExtensions(noSum)), "no checksum")
	v1 := append([]byte(nil), ext...)
	v1[0] = 0x10
	assert.Nil(t, parseExtensions(v1), "version 1")
	assert.Nil(t, parseExtensions(ext[:3]))
	overlong := append([]byte(nil), noSum...)
	binary.BigEndian.PutUint16(overlong[4:], 200)
	assert.Nil(t, parseExtensions(overlong), "object longer than the structure")
}

func TestStripIPv4Header(t *testing.T) {
	msg := echoRequest(false, 1, 2, 8)
	assert.Equal(t, msg, stripIPv4Header(ipv4Packet(client4, target4, 64, msg)))
	assert.Equal(t, msg, stripIPv4Header(msg))
	withOpts := ipv4Packet(client4, target4, 64, msg)
	withOpts[0] = 0x46
	withOpts = append(withOpts[:20], append([]byte{1, 1, 1, 1}, withOpts[20:]...)...)
	assert.Equal(t, msg, stripIPv4Header(withOpts))
	short := []byte{0x4f, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}
	assert.Equal(t, short, stripIPv4Header(short), "a header longer than the packet")
}

func TestChecksum(t *testing.T) {
	b := echoRequest(false, 0x1234, 1, 56)
	binary.BigEndian.PutUint16(b[2:], wire.Checksum(b))
	m, err := icmp.ParseMessage(1, b)
	require.NoError(t, err)
	want, err := m.Marshal(nil) // x/net computes the checksum anew
	require.NoError(t, err)
	assert.Equal(t, want, b)
	assert.Zero(t, wire.Checksum(b))
	odd := echoRequest(false, 0x1234, 1, 7)
	binary.BigEndian.PutUint16(odd[2:], wire.Checksum(odd))
	assert.Zero(t, wire.Checksum(odd))
}

func FuzzParseMessage(f *testing.F) {
	req4 := echoRequest(false, 9, 9, 56)
	req6 := echoRequest(true, 9, 9, 56)
	f.Add(false, append([]byte{0, 0, 0, 0}, req4[4:]...))
	f.Add(false, marshal(f, ipv4.ICMPTypeTimeExceeded, 0, &icmp.TimeExceeded{Data: ipv4Packet(client4, target4, 1, req4), Extensions: mplsExt()}))
	f.Add(true, marshal(f, ipv6.ICMPTypeTimeExceeded, 0, &icmp.TimeExceeded{Data: ipv6Packet(client6, target6, 1, req6), Extensions: mplsExt()}))
	f.Add(true, marshal(f, ipv6.ICMPTypePacketTooBig, 0, &icmp.PacketTooBig{MTU: 1280, Data: ipv6Packet(client6, target6, 1, req6)}))
	f.Fuzz(func(t *testing.T, v6 bool, b []byte) {
		var r transport.Reply
		if !parseMessage(v6, b, router4, &r) {
			return
		}
		if r.ID < 0 || r.ID > 0xffff || r.Seq < 0 || r.Seq > 0xffff || r.Bytes != len(b) {
			t.Fatalf("bad reply %+v from %x", r, b)
		}
		if r.IsV6() != v6 {
			t.Fatalf("family mismatch: %+v", r)
		}
		_ = stripIPv4Header(b)
	})
}

func TestZones(t *testing.T) {
	idx, ok := zoneIndex("")
	assert.True(t, ok)
	assert.Zero(t, idx)
	idx, ok = zoneIndex("7")
	assert.True(t, ok)
	assert.Equal(t, uint32(7), idx)
	_, ok = zoneIndex("no-such-interface")
	assert.False(t, ok)

	a := netip.MustParseAddr("fe80::1")
	assert.Equal(t, a, withScope(a, 0))
	assert.Equal(t, client4, withScope(client4, 3))
	assert.NotEmpty(t, withScope(a, 4000000).Zone(), "an index without an interface still names a zone")
}

func TestPatternOfGrowsAndKeepsItsBytes(t *testing.T) {
	sizes := []int{0, 56, 1, 600, 513, transport.MaxPayloadV6, 56, transport.MaxPayloadV4}
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for _, n := range sizes {
				got := patternOf(n)
				want := make([]byte, n)
				transport.FillPayload(want)
				if !assert.Equal(t, want, got, "size %d", n) {
					return
				}
			}
		})
	}
	wg.Wait()
	assert.GreaterOrEqual(t, len(*pattern.Load()), transport.MaxPayloadV6, "the pattern keeps the longest size asked for")
}

func TestPayloadOfPrefersTheRequestsBytes(t *testing.T) {
	own := []byte{1, 2, 3}
	assert.Equal(t, own, payloadOf(&transport.Request{Payload: own}))
	assert.Equal(t, patternOf(9), payloadOf(&transport.Request{PayloadSize: 9}))
}
