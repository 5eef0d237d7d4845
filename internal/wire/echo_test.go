package wire

import (
	"math/rand/v2"
	"net/netip"
	"testing"

	"github.com/icmpkit/icmpkit/transport"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/net/icmp"
	"golang.org/x/net/ipv4"
	"golang.org/x/net/ipv6"
)

// referenceChecksum is RFC 1071's algorithm, word by word.
func referenceChecksum(b []byte) uint16 {
	var s uint32
	for i := 0; i+1 < len(b); i += 2 {
		s += uint32(b[i])<<8 | uint32(b[i+1])
	}
	if len(b)%2 == 1 {
		s += uint32(b[len(b)-1]) << 8
	}
	for s>>16 != 0 {
		s = s&0xffff + s>>16
	}
	return ^uint16(s)
}

func TestChecksum(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for n := range 300 {
		b := make([]byte, n)
		for i := range b {
			b[i] = byte(rng.Uint32())
		}
		require.Equal(t, referenceChecksum(b), Checksum(b), "length %d", n)
	}
	all := make([]byte, 65535)
	for i := range all {
		all[i] = 0xff
	}
	require.Equal(t, referenceChecksum(all), Checksum(all))
}

// xnetEcho is the reference encoding of an echo request: golang.org/x/net/icmp's.
func xnetEcho(t testing.TB, req *transport.Request) []byte {
	data := req.Payload
	if data == nil {
		data = make([]byte, req.PayloadSize)
		transport.FillPayload(data)
	}
	var typ icmp.Type = ipv4.ICMPTypeEcho
	if req.Destination.Is6() {
		typ = ipv6.ICMPTypeEchoRequest
	}
	return echoMsg(t, typ, req.ID, req.Seq, data)
}

func TestAppendEchoRequestMatchesXNet(t *testing.T) {
	sizes := []int{0, 1, 2, 7, 8, 55, 56, 57, 1000, 1472, transport.MaxPayloadV4}
	ids := []struct{ id, seq int }{{0, 0}, {1, 1}, {0x4242, 7}, {0xffff, 0xffff}, {0x8000, 0x7fff}}
	for _, dst := range []netip.Addr{target4, target6} {
		for _, size := range sizes {
			for _, is := range ids {
				req := &transport.Request{Destination: dst, ID: is.id, Seq: is.seq, PayloadSize: size}
				require.Equal(t, xnetEcho(t, req), AppendEchoRequest(nil, req), "%s size %d id %d seq %d", dst, size, is.id, is.seq)
			}
		}
		explicit := &transport.Request{Destination: dst, ID: 9, Seq: 10, Payload: []byte("icmpkit!x"), PayloadSize: 999}
		require.Equal(t, xnetEcho(t, explicit), AppendEchoRequest(nil, explicit))
		empty := &transport.Request{Destination: dst, ID: 9, Seq: 10, Payload: []byte{}, PayloadSize: 999}
		require.Len(t, AppendEchoRequest(nil, empty), EchoHeaderLen)
	}
}

func TestAppendEchoRequestAppends(t *testing.T) {
	req := &transport.Request{Destination: target4, ID: 1, Seq: 2, PayloadSize: 4}
	b := AppendEchoRequest([]byte{0xaa, 0xbb}, req)
	require.Equal(t, []byte{0xaa, 0xbb}, b[:2])
	require.Equal(t, xnetEcho(t, req), b[2:])
	require.Zero(t, Checksum(b[2:]))
}

func TestAppendEchoRequestAllocations(t *testing.T) {
	buf := make([]byte, 0, 2048)
	req := &transport.Request{Destination: target4, ID: 1, Seq: 2, PayloadSize: 56}
	allocs := testing.AllocsPerRun(100, func() {
		req.Seq++
		buf = AppendEchoRequest(buf[:0], req)
	})
	assert.Zero(t, allocs)
}

// An echo request turned into the echo reply a host sends parses back to the same request.
func TestEchoRoundTrip(t *testing.T) {
	for _, dst := range []netip.Addr{target4, target6} {
		req := &transport.Request{Destination: dst, ID: 0xbeef, Seq: 513, PayloadSize: 56}
		m := AppendEchoRequest(nil, req)
		var r transport.Reply
		if dst.Is6() {
			m[0] = byte(ipv6.ICMPTypeEchoReply)
			require.NoError(t, ParseICMPv6(m, dst, &r))
		} else {
			m[0] = byte(ipv4.ICMPTypeEchoReply)
			fixChecksum4(m)
			require.NoError(t, ParseIPv4(ip4(dst, local4, 64, ProtocolICMP, nil, m), &r))
		}
		assert.Equal(t, dst, r.Destination)
		assert.Equal(t, 0xbeef, r.ID)
		assert.Equal(t, 513, r.Seq)
		assert.Equal(t, 64, r.Bytes)
	}
}

func BenchmarkAppendEchoRequest(b *testing.B) {
	buf := make([]byte, 0, 2048)
	req := &transport.Request{Destination: target4, ID: 1, PayloadSize: 56}
	b.ReportAllocs()
	for b.Loop() {
		req.Seq++
		buf = AppendEchoRequest(buf[:0], req)
	}
}
