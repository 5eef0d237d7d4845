package wire

import (
	"testing"

	"github.com/icmpkit/icmpkit/transport"
	"github.com/stretchr/testify/require"
	"golang.org/x/net/ipv4"
	"golang.org/x/net/ipv6"
)

// seed adds the table's packets of one kind to a fuzz corpus.
func seed(f *testing.F, v6 bool, add func(b []byte)) {
	for _, p := range packets(f) {
		if p.v6 == v6 {
			add(p.b)
		}
	}
}

// checkReply holds what every accepted reply must satisfy.
func checkReply(t *testing.T, r *transport.Reply, v6 bool, msgLen int) {
	require.True(t, r.Source.IsValid())
	require.True(t, r.Destination.IsValid())
	require.Equal(t, v6, r.IsV6())
	require.Equal(t, v6, r.Destination.Is6())
	require.GreaterOrEqual(t, r.ID, 0)
	require.LessOrEqual(t, r.ID, 0xffff)
	require.GreaterOrEqual(t, r.Seq, 0)
	require.LessOrEqual(t, r.Seq, 0xffff)
	require.Equal(t, msgLen, r.Bytes)
	require.NotEqual(t, transport.KindOther, r.Kind())
	if r.Kind() == transport.KindEchoReply {
		require.Equal(t, r.Source, r.Destination)
		require.Empty(t, r.MPLS)
	}
}

func FuzzParseIPv4(f *testing.F) {
	seed(f, false, func(b []byte) { f.Add(b) })
	f.Fuzz(func(t *testing.T, b []byte) {
		var r transport.Reply
		if err := ParseIPv4(b, &r); err != nil {
			return
		}
		ihl := int(b[0]&0x0f) * 4
		tot := int(b[2])<<8 | int(b[3])
		checkReply(t, &r, false, tot-ihl)
		require.Equal(t, int(b[8]), r.TTL)
		_, isV4 := r.Type.(ipv4.ICMPType)
		require.True(t, isV4)
	})
}

func FuzzParseICMPv4(f *testing.F) {
	seed(f, false, func(b []byte) {
		if len(b) > 20 {
			f.Add(b[int(b[0]&0x0f)*4:])
		}
	})
	f.Fuzz(func(t *testing.T, b []byte) {
		var r transport.Reply
		if len(b) >= EchoHeaderLen {
			// Right the checksum, so that mutations reach past it.
			fixChecksum4(b)
		}
		if err := ParseICMPv4(b, router4, &r); err != nil {
			return
		}
		checkReply(t, &r, false, len(b))
		require.Zero(t, Checksum(b))
	})
}

func FuzzParseICMPv6(f *testing.F) {
	seed(f, true, func(b []byte) { f.Add(b) })
	f.Fuzz(func(t *testing.T, b []byte) {
		var r transport.Reply
		if err := ParseICMPv6(b, router6, &r); err != nil {
			return
		}
		checkReply(t, &r, true, len(b))
		_, isV6 := r.Type.(ipv6.ICMPType)
		require.True(t, isV6)
	})
}

func FuzzQuoted(f *testing.F) {
	for _, p := range packets(f) {
		b := p.b
		if !p.v6 && len(b) > 28 {
			b = b[int(b[0]&0x0f)*4:]
		}
		if len(b) > 8 {
			f.Add(p.v6, b[8:])
		}
	}
	f.Fuzz(func(t *testing.T, v6 bool, b []byte) {
		var q Quote
		var err error
		if v6 {
			q, err = ParseQuotedIPv6(b)
		} else {
			q, err = ParseQuotedIPv4(b)
		}
		if err != nil {
			return
		}
		require.Equal(t, v6, q.Destination.Is6())
		require.Equal(t, v6, q.Source.Is6())
		require.Equal(t, !v6, q.Destination.Is4())
	})
}

func FuzzExtensions(f *testing.F) {
	for _, p := range packets(f) {
		b := p.b
		if !p.v6 && len(b) > 20 {
			b = b[int(b[0]&0x0f)*4:]
		}
		f.Add(p.v6, b)
	}
	f.Fuzz(func(t *testing.T, v6 bool, b []byte) {
		labels, _ := ParseExtensions(v6, b, nil)
		for _, l := range labels {
			require.GreaterOrEqual(t, l.Label, 0)
			require.Less(t, l.Label, 1<<20)
			require.Less(t, l.TC, 8)
			require.Less(t, l.TTL, 256)
		}
		if len(b) >= EchoHeaderLen {
			orig, _ := splitMultipart(v6, b)
			require.LessOrEqual(t, len(orig), len(b)-EchoHeaderLen)
		}
	})
}

// FuzzEchoRequest checks the encoder against golang.org/x/net/icmp on any identifier,
// sequence and payload.
func FuzzEchoRequest(f *testing.F) {
	f.Add(false, uint16(0x4242), uint16(1), []byte("payload"))
	f.Add(true, uint16(0), uint16(0xffff), []byte{})
	f.Add(false, uint16(1), uint16(2), []byte{1, 2, 3})
	f.Fuzz(func(t *testing.T, v6 bool, id, seq uint16, payload []byte) {
		dst := target4
		if v6 {
			dst = target6
		}
		req := &transport.Request{Destination: dst, ID: int(id), Seq: int(seq), Payload: payload}
		require.Equal(t, xnetEcho(t, req), AppendEchoRequest(nil, req))
	})
}
