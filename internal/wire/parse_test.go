package wire

import (
	"encoding/binary"
	"net/netip"
	"testing"
	"time"

	icmperrors "github.com/icmpkit/icmpkit/errors"
	"github.com/icmpkit/icmpkit/transport"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/net/icmp"
	"golang.org/x/net/ipv4"
	"golang.org/x/net/ipv6"
)

// parse runs the parser that fits p, the way the raw transport does.
func parse(p packet, r *transport.Reply) error {
	if p.v6 {
		return ParseICMPv6(p.b, router6, r)
	}
	return ParseIPv4(p.b, r)
}

func TestParse(t *testing.T) {
	type want struct {
		err      error
		src, dst netip.Addr
		typ      icmp.Type
		code     int
		seq      int
		ttl      int
		bytes    int
		mtu      int
		mpls     []icmp.MPLSLabel
		kind     transport.Kind
	}
	v4 := func(src netip.Addr, typ ipv4.ICMPType, code, seq, bytes, ttl int, kind transport.Kind) want {
		return want{src: src, dst: target4, typ: typ, code: code, seq: seq, ttl: ttl, bytes: bytes, kind: kind}
	}
	v6 := func(typ ipv6.ICMPType, code, seq, bytes int, kind transport.Kind) want {
		return want{src: router6, dst: target6, typ: typ, code: code, seq: seq, bytes: bytes, kind: kind}
	}
	echoQuote4 := 8 + 20 + 64 // error header, quoted IPv4 header, quoted request
	echoQuote6 := 8 + 40 + 64
	withMPLS := func(w want, b int) want {
		w.mpls = mplsStack.Labels
		w.bytes = b
		return w
	}
	mtu := func(w want, m int) want {
		w.mtu = m
		return w
	}
	wants := map[string]want{
		"echo reply v4":                      v4(target4, ipv4.ICMPTypeEchoReply, 0, 1, 64, 61, transport.KindEchoReply),
		"echo reply v4 options":              v4(target4, ipv4.ICMPTypeEchoReply, 0, 2, 64, 61, transport.KindEchoReply),
		"echo reply v4 empty":                v4(target4, ipv4.ICMPTypeEchoReply, 0, 3, 8, 61, transport.KindEchoReply),
		"echo request v4":                    {err: ErrNotReply},
		"time exceeded v4":                   v4(router4, ipv4.ICMPTypeTimeExceeded, 0, 7, echoQuote4, 254, transport.KindTimeExceeded),
		"time exceeded v4 short quote":       v4(router4, ipv4.ICMPTypeTimeExceeded, 0, 13, 8+28, 254, transport.KindTimeExceeded),
		"time exceeded v4 quoted options":    v4(router4, ipv4.ICMPTypeTimeExceeded, 0, 10, 8+28+64, 254, transport.KindTimeExceeded),
		"time exceeded v4 mpls":              withMPLS(v4(router4, ipv4.ICMPTypeTimeExceeded, 0, 9, 0, 254, transport.KindTimeExceeded), 8+128+4+12),
		"time exceeded v4 mpls compat":       withMPLS(v4(router4, ipv4.ICMPTypeTimeExceeded, 0, 9, 0, 254, transport.KindTimeExceeded), 8+128+4+12),
		"time exceeded v4 udp":               {err: ErrNotReply},
		"time exceeded v4 echo reply":        {err: ErrNotReply},
		"unreachable v4 net":                 v4(router4, ipv4.ICMPTypeDestinationUnreachable, 0, 14, echoQuote4, 254, transport.KindDestinationUnreachable),
		"unreachable v4 host":                v4(router4, ipv4.ICMPTypeDestinationUnreachable, 1, 15, echoQuote4, 254, transport.KindDestinationUnreachable),
		"unreachable v4 admin":               v4(router4, ipv4.ICMPTypeDestinationUnreachable, 13, 16, echoQuote4, 254, transport.KindDestinationUnreachable),
		"fragmentation needed v4":            mtu(v4(router4, ipv4.ICMPTypeDestinationUnreachable, 4, 8, echoQuote4, 254, transport.KindDestinationUnreachable), 1400),
		"parameter problem v4":               v4(router4, ipv4.ICMPTypeParameterProblem, 0, 12, echoQuote4, 254, transport.KindParameterProblem),
		"redirect v4":                        {err: ErrNotReply},
		"echo reply v6":                      {src: router6, dst: router6, typ: ipv6.ICMPTypeEchoReply, seq: 20, bytes: 64, kind: transport.KindEchoReply},
		"echo request v6":                    {err: ErrNotReply},
		"time exceeded v6":                   v6(ipv6.ICMPTypeTimeExceeded, 0, 23, echoQuote6, transport.KindTimeExceeded),
		"time exceeded v6 mpls":              withMPLS(v6(ipv6.ICMPTypeTimeExceeded, 0, 24, 0, transport.KindTimeExceeded), 8+128+4+12),
		"time exceeded v6 extension headers": v6(ipv6.ICMPTypeTimeExceeded, 0, 21, 8+40+16+64, transport.KindTimeExceeded),
		"time exceeded v6 later fragment":    {err: ErrNotReply},
		"time exceeded v6 udp":               {err: ErrNotReply},
		"unreachable v6 no route":            v6(ipv6.ICMPTypeDestinationUnreachable, 0, 25, echoQuote6, transport.KindDestinationUnreachable),
		"unreachable v6 address":             v6(ipv6.ICMPTypeDestinationUnreachable, 3, 26, echoQuote6, transport.KindDestinationUnreachable),
		"unreachable v6 port":                v6(ipv6.ICMPTypeDestinationUnreachable, 4, 27, echoQuote6, transport.KindDestinationUnreachable),
		"packet too big v6":                  mtu(v6(ipv6.ICMPTypePacketTooBig, 0, 22, echoQuote6, transport.KindPacketTooBig), 1280),
		"parameter problem v6":               v6(ipv6.ICMPTypeParameterProblem, 1, 28, echoQuote6, transport.KindParameterProblem),
		"neighbor solicitation v6":           {err: ErrNotReply},
	}
	for _, p := range packets(t) {
		t.Run(p.name, func(t *testing.T) {
			w, ok := wants[p.name]
			require.True(t, ok, "no expectation for %q", p.name)
			at := time.Unix(1700000000, 5)
			r := transport.Reply{ReceivedAt: at, TTL: 99, MTU: 99, Seq: 99}
			err := parse(p, &r)
			if w.err != nil {
				require.ErrorIs(t, err, w.err)
				require.ErrorIs(t, err, icmperrors.ErrInvalidArgument)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, w.src, r.Source, "source")
			assert.Equal(t, w.dst, r.Destination, "destination")
			assert.Equal(t, w.typ, r.Type, "type")
			assert.Equal(t, w.code, r.Code, "code")
			assert.Equal(t, 0x4242, r.ID, "identifier")
			assert.Equal(t, w.seq, r.Seq, "sequence")
			assert.Equal(t, w.ttl, r.TTL, "ttl")
			assert.Equal(t, w.bytes, r.Bytes, "bytes")
			assert.Equal(t, w.mtu, r.MTU, "mtu")
			assert.Equal(t, w.mpls, r.MPLS, "mpls")
			assert.Equal(t, w.kind, r.Kind(), "kind")
			assert.Equal(t, at, r.ReceivedAt, "receive time is the caller's")
		})
	}
}

// Every strict prefix of a packet is either rejected or, for an error message whose quote
// still holds the echo header, parsed with the same identity.
func TestParseTruncated(t *testing.T) {
	for _, p := range packets(t) {
		t.Run(p.name, func(t *testing.T) {
			var full transport.Reply
			fullErr := parse(p, &full)
			for n := range len(p.b) {
				q := packet{name: p.name, v6: p.v6, b: p.b[:n]}
				var r transport.Reply
				err := parse(q, &r)
				if err != nil {
					continue
				}
				// ICMPv6 carries no length of its own: a cut inside the quote still names the probe.
				require.True(t, p.v6, "IPv4 prefix of %d bytes accepted", n)
				require.NoError(t, fullErr)
				require.Equal(t, full.Seq, r.Seq)
				require.Equal(t, full.Destination, r.Destination)
			}
		})
	}
}

func TestParseIPv4Header(t *testing.T) {
	good := packetByName(t, "echo reply v4").b
	mutate := func(f func(b []byte) []byte) []byte {
		return f(append([]byte(nil), good...))
	}
	tests := []struct {
		name string
		b    []byte
		err  error
	}{
		{"empty", nil, ErrTruncated},
		{"version 6", mutate(func(b []byte) []byte { b[0] = 0x65; return b }), ErrMalformed},
		{"ihl 4", mutate(func(b []byte) []byte { b[0] = 0x44; return b }), ErrMalformed},
		{"ihl beyond packet", mutate(func(b []byte) []byte { b[0] = 0x4f; binary.BigEndian.PutUint16(b[2:4], 40); return b[:40] }), ErrMalformed},
		{"cut read", good[:40], ErrTruncated},
		{"total length short of header", mutate(func(b []byte) []byte { binary.BigEndian.PutUint16(b[2:4], 12); return b }), ErrMalformed},
		{"total length beyond read", mutate(func(b []byte) []byte { binary.BigEndian.PutUint16(b[2:4], 200); return b }), ErrTruncated},
		{"udp", mutate(func(b []byte) []byte { b[9] = 17; return b }), ErrMalformed},
		{"fragment", mutate(func(b []byte) []byte { b[6] = 0x20; return b }), ErrMalformed},
		{"bad checksum", mutate(func(b []byte) []byte { b[40] ^= 0x10; return b }), ErrChecksum},
		{"no icmp header", mutate(func(b []byte) []byte { binary.BigEndian.PutUint16(b[2:4], 24); return b }), ErrTruncated},
		{"trailing padding", mutate(func(b []byte) []byte { return append(b, 0, 0, 0, 0) }), nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var r transport.Reply
			err := ParseIPv4(tt.b, &r)
			if tt.err == nil {
				require.NoError(t, err)
				require.Equal(t, 64, r.Bytes)
				return
			}
			require.ErrorIs(t, err, tt.err)
		})
	}
}

func TestParseICMPv4WithoutHeader(t *testing.T) {
	p := packetByName(t, "time exceeded v4")
	var r transport.Reply
	require.NoError(t, ParseICMPv4(p.b[20:], router4, &r))
	assert.Equal(t, router4, r.Source)
	assert.Equal(t, target4, r.Destination)
	assert.Equal(t, 7, r.Seq)
	assert.Equal(t, 0, r.TTL)
	assert.ErrorIs(t, r.Err(), icmperrors.ErrTimeExceededV4)
}

func TestParseReusesMPLS(t *testing.T) {
	p := packetByName(t, "time exceeded v4 mpls")
	r := transport.Reply{MPLS: make([]icmp.MPLSLabel, 1, 8)}
	backing := &r.MPLS[:1][0]
	require.NoError(t, parse(p, &r))
	require.Equal(t, mplsStack.Labels, r.MPLS)
	assert.Same(t, backing, &r.MPLS[0], "labels are appended to the caller's array")
	// The next message without extensions leaves no stale labels.
	require.NoError(t, parse(packetByName(t, "time exceeded v4"), &r))
	assert.Empty(t, r.MPLS)
}

func TestExtensionsCorrupted(t *testing.T) {
	p := packetByName(t, "time exceeded v4 mpls")
	b := append([]byte(nil), p.b...)
	// Break the extension checksum: the extension is ignored, the message still counts.
	b[len(b)-1] ^= 0xff
	fixChecksum4(b[20:])
	var r transport.Reply
	require.NoError(t, ParseIPv4(b, &r))
	assert.Equal(t, 9, r.Seq)
	assert.Empty(t, r.MPLS)
}

func TestQuotedIPv6Chain(t *testing.T) {
	echo := echoMsg(t, ipv6.ICMPTypeEchoRequest, 1, 2, nil)
	dst := []byte{ProtocolICMPv6, 0, 1, 4, 0, 0, 0, 0}
	ah := []byte{60, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0} // 12 bytes: (1+2)*4
	routing := []byte{51, 0, 0, 0, 0, 0, 0, 0}
	chain := append(append(append([]byte(nil), routing...), ah...), dst...)
	q, err := ParseQuotedIPv6(ip6(local6, target6, 1, 43, append(chain, echo...)))
	require.NoError(t, err)
	assert.Equal(t, Quote{Source: local6, Destination: target6, ID: 1, Seq: 2}, q)

	// A chain longer than any sender makes is refused.
	var long []byte
	for range maxExtensionHeaders + 1 {
		long = append(long, 60, 0, 1, 4, 0, 0, 0, 0)
	}
	long[len(long)-8] = ProtocolICMPv6
	_, err = ParseQuotedIPv6(ip6(local6, target6, 1, 60, append(long, echo...)))
	require.ErrorIs(t, err, ErrMalformed)

	_, err = ParseQuotedIPv6(ip6(local6, target6, 1, 60, dst[:4]))
	require.ErrorIs(t, err, ErrTruncated)
	_, err = ParseQuotedIPv4(request6(t, 1, 2, 0))
	require.ErrorIs(t, err, ErrMalformed)
	_, err = ParseQuotedIPv6(request4(t, 1, 2, 60))
	require.ErrorIs(t, err, ErrMalformed)
}

func TestParseAllocations(t *testing.T) {
	for _, name := range []string{"echo reply v4", "echo reply v4 options", "time exceeded v4", "fragmentation needed v4", "echo reply v6", "time exceeded v6", "packet too big v6"} {
		p := packetByName(t, name)
		var r transport.Reply
		allocs := testing.AllocsPerRun(100, func() {
			if err := parse(p, &r); err != nil {
				panic(err)
			}
		})
		assert.Zero(t, allocs, "%s: allocations per parse", name)
	}
	// Drops cost nothing either.
	for _, name := range []string{"echo request v4", "time exceeded v4 udp", "echo request v6", "neighbor solicitation v6"} {
		p := packetByName(t, name)
		var r transport.Reply
		allocs := testing.AllocsPerRun(100, func() { _ = parse(p, &r) })
		assert.Zero(t, allocs, "%s: allocations per drop", name)
	}
}

func BenchmarkParseIPv4EchoReply(b *testing.B) {
	p := packetByName(b, "echo reply v4")
	var r transport.Reply
	b.ReportAllocs()
	b.SetBytes(int64(len(p.b)))
	for b.Loop() {
		if err := ParseIPv4(p.b, &r); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkParseICMPv6TimeExceeded(b *testing.B) {
	p := packetByName(b, "time exceeded v6")
	var r transport.Reply
	b.ReportAllocs()
	for b.Loop() {
		if err := ParseICMPv6(p.b, router6, &r); err != nil {
			b.Fatal(err)
		}
	}
}
