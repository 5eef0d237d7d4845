package mock

import (
	"encoding/binary"
	"math/rand/v2"
	"net"
	"net/netip"
	"testing"
	"unsafe"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/net/icmp"
	"golang.org/x/net/ipv4"
	"golang.org/x/net/ipv6"

	"github.com/icmpkit/icmpkit/transport"
)

// marshalled gives the checksum golang.org/x/net/icmp writes for req; for IPv6 with the
// pseudo-header of the given source.
func marshalled(t *testing.T, req *transport.Request, src netip.Addr) uint16 {
	t.Helper()
	payload := req.Payload
	if payload == nil {
		payload = make([]byte, req.PayloadSize)
		transport.FillPayload(payload)
	}
	m := icmp.Message{Type: ipv4.ICMPTypeEcho, Body: &icmp.Echo{ID: req.ID, Seq: req.Seq, Data: payload}}
	var psh []byte
	if req.Destination.Is6() {
		m.Type = ipv6.ICMPTypeEchoRequest
		psh = icmp.IPv6PseudoHeader(net.IP(src.AsSlice()), net.IP(req.Destination.AsSlice()))
	}
	b, err := m.Marshal(psh)
	require.NoError(t, err)
	return binary.BigEndian.Uint16(b[2:])
}

func TestEchoChecksumMatchesMarshal(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	dst := netip.MustParseAddr("198.18.0.1")
	for i := range 2000 {
		req := transport.Request{Destination: dst, ID: rng.IntN(65536), Seq: rng.IntN(65536)}
		if i%2 == 0 {
			req.PayloadSize = rng.IntN(300)
		} else {
			req.Payload = make([]byte, rng.IntN(300))
			for j := range req.Payload {
				req.Payload[j] = byte(rng.Uint32())
			}
		}
		require.Equal(t, marshalled(t, &req, netip.Addr{}), echoChecksum(&req), "%+v", req)
	}
	for _, size := range []int{0, 1, 2, 3, 56, 1472, transport.MaxPayloadV4} {
		req := transport.Request{Destination: dst, ID: 0xffff, Seq: 0xffff, PayloadSize: size}
		assert.Equal(t, marshalled(t, &req, netip.Addr{}), echoChecksum(&req), "size %d", size)
	}
}

func TestEchoChecksumV6MatchesMarshal(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	for range 2000 {
		dst := netip.AddrFrom16([16]byte{0x20, 0x01, 0x0d, 0xb8, 14: byte(rng.Uint32()), 15: byte(rng.Uint32())})
		req := transport.Request{Destination: dst, ID: rng.IntN(65536), Seq: rng.IntN(65536), PayloadSize: rng.IntN(2000)}
		require.Equal(t, marshalled(t, &req, netip.IPv6Unspecified()), echoChecksum(&req), "%+v", req)
	}
	big := transport.Request{Destination: netip.MustParseAddr("2001:db8::1"), PayloadSize: transport.MaxPayloadV6}
	assert.Equal(t, marshalled(t, &big, netip.IPv6Unspecified()), echoChecksum(&big))
}

func TestEventIsSmall(t *testing.T) {
	assert.LessOrEqual(t, unsafe.Sizeof(event{}), uintptr(128))
}

func TestHeapOrder(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	var h eventHeap
	for i := range 5000 {
		h.push(event{at: rng.Int64N(100), order: uint64(i)})
	}
	prev := event{at: -1}
	for len(h) > 0 {
		ev := h.pop()
		require.True(t, prev.before(&ev), "%v after %v", ev, prev)
		prev = ev
	}
}

func TestQueueFIFO(t *testing.T) {
	var q eventQueue
	next, want, most := 0, 0, 0
	rng := rand.New(rand.NewPCG(7, 8))
	for range 100_000 {
		if rng.IntN(3) > 0 {
			q.push(event{order: uint64(next)})
			next++
			most = max(most, q.len())
		} else if q.len() > 0 {
			require.Equal(t, uint64(want), q.pop().order)
			want++
		}
	}
	for q.len() > 0 {
		require.Equal(t, uint64(want), q.pop().order)
		want++
	}
	assert.Equal(t, next, want)
	assert.LessOrEqual(t, cap(q.buf), 4*max(most, 1024), "the queue does not grow without bound")
}
