package winicmp

import (
	"encoding/binary"
	"net/netip"
	"testing"

	"github.com/icmpkit/icmpkit/internal/wire"
	"github.com/icmpkit/icmpkit/transport"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/net/ipv4"
	"golang.org/x/net/ipv6"
)

func TestStatusMessage(t *testing.T) {
	for _, tc := range []struct {
		v6     bool
		status uint32
		kind   transport.Kind
		typ    int
		code   int
		ok     bool
	}{
		{false, ipSuccess, transport.KindEchoReply, 0, 0, true},
		{false, ipDestNetUnreachable, transport.KindDestinationUnreachable, 3, 0, true},
		{false, ipDestHostUnreachable, transport.KindDestinationUnreachable, 3, 1, true},
		{false, ipDestProtUnreachable, transport.KindDestinationUnreachable, 3, 2, true},
		{false, ipDestPortUnreachable, transport.KindDestinationUnreachable, 3, 3, true},
		{false, ipPacketTooBig, transport.KindDestinationUnreachable, 3, 4, true},
		{false, ipTTLExpiredTransit, transport.KindTimeExceeded, 11, 0, true},
		{false, ipTTLExpiredReassem, transport.KindTimeExceeded, 11, 1, true},
		{false, ipParamProblem, transport.KindParameterProblem, 12, 0, true},
		{false, ipSourceQuench, transport.KindOther, 4, 0, true},
		{true, ipSuccess, transport.KindEchoReply, 129, 0, true},
		{true, ipDestNetUnreachable, transport.KindDestinationUnreachable, 1, 0, true},
		{true, ipDestProtUnreachable, transport.KindDestinationUnreachable, 1, 1, true},
		{true, ipDestScopeMismatch, transport.KindDestinationUnreachable, 1, 2, true},
		{true, ipDestHostUnreachable, transport.KindDestinationUnreachable, 1, 3, true},
		{true, ipDestPortUnreachable, transport.KindDestinationUnreachable, 1, 4, true},
		{true, ipDestUnreachable, transport.KindDestinationUnreachable, 1, 0, true},
		{true, ipPacketTooBig, transport.KindPacketTooBig, 2, 0, true},
		{true, ipTTLExpiredTransit, transport.KindTimeExceeded, 3, 0, true},
		{true, ipTimeExceeded, transport.KindTimeExceeded, 3, 0, true},
		{true, ipTTLExpiredReassem, transport.KindTimeExceeded, 3, 1, true},
		{true, ipParamProblem, transport.KindParameterProblem, 4, 0, true},
		{true, ipBadHeader, transport.KindParameterProblem, 4, 0, true},
		{true, ipUnrecognizedNextHdr, transport.KindParameterProblem, 4, 1, true},
		// No answer from the network: a timeout, local failures.
		{false, ipReqTimedOut, 0, 0, 0, false},
		{true, ipReqTimedOut, 0, 0, 0, false},
		{false, ipNoResources, 0, 0, 0, false},
		{false, ipBadRoute, 0, 0, 0, false},
		{false, ipBufTooSmall, 0, 0, 0, false},
		{false, ipGeneralFailure, 0, 0, 0, false},
		{false, ipDestScopeMismatch, 0, 0, 0, false}, // IPv6 only
		{true, ipSourceQuench, 0, 0, 0, false},       // IPv4 only
	} {
		typ, code, ok := statusMessage(tc.v6, tc.status)
		require.Equal(t, tc.ok, ok, "v6=%v status %d", tc.v6, tc.status)
		if !ok {
			continue
		}
		r := transport.Reply{Type: wire.ICMPType(tc.v6, byte(typ)), Code: code}
		assert.Equal(t, tc.kind, r.Kind(), "v6=%v status %d", tc.v6, tc.status)
		gotTyp, gotCode := r.TypeCode()
		assert.Equal(t, [2]int{tc.typ, tc.code}, [2]int{gotTyp, gotCode}, "v6=%v status %d", tc.v6, tc.status)
	}
}

// replyV4 lays out an ICMP_ECHO_REPLY as 64-bit Windows writes it.
func replyV4(src netip.Addr, status uint32, dataSize int, ttl byte) []byte {
	b := make([]byte, echoReplyLenV4+dataSize)
	a := src.As4()
	copy(b, a[:])
	binary.LittleEndian.PutUint32(b[offStatusV4:], status)
	binary.LittleEndian.PutUint32(b[8:], 1) // RoundTripTime
	binary.LittleEndian.PutUint16(b[offDataSizeV4:], uint16(dataSize))
	b[offTTLV4] = ttl
	return b
}

// replyV6 lays out an ICMPV6_ECHO_REPLY.
func replyV6(src netip.Addr, scope, status uint32) []byte {
	b := make([]byte, echoReplyLenV6)
	a := src.As16()
	copy(b[offAddrV6:], a[:])
	binary.LittleEndian.PutUint32(b[offScopeV6:], scope)
	binary.LittleEndian.PutUint32(b[offStatusV6:], status)
	binary.LittleEndian.PutUint32(b[32:], 1)
	return b
}

func TestParseAPIReply(t *testing.T) {
	dst4 := netip.MustParseAddr("198.18.3.2")
	router4 := netip.MustParseAddr("198.18.0.2")
	dst6 := netip.MustParseAddr("2001:db8:0:3::2")
	router6 := netip.MustParseAddr("2001:db8::2")
	for _, tc := range []struct {
		name string
		v6   bool
		b    []byte
		dst  netip.Addr
		ok   bool
		want transport.Reply
	}{
		{"echo reply", false, replyV4(dst4, ipSuccess, 56, 61), dst4, true, transport.Reply{
			Source: dst4, Destination: dst4, ID: 7, Seq: 9, Type: ipv4.ICMPTypeEchoReply, Bytes: 64, TTL: 61}},
		{"TTL expired in transit", false, replyV4(router4, ipTTLExpiredTransit, 0, 64), dst4, true, transport.Reply{
			Source: router4, Destination: dst4, ID: 7, Seq: 9, Type: ipv4.ICMPTypeTimeExceeded, Bytes: 8 + 20 + 8, TTL: 64}},
		{"host unreachable", false, replyV4(router4, ipDestHostUnreachable, 0, 63), dst4, true, transport.Reply{
			Source: router4, Destination: dst4, ID: 7, Seq: 9, Type: ipv4.ICMPTypeDestinationUnreachable, Code: 1, Bytes: 36, TTL: 63}},
		{"timed out", false, replyV4(netip.IPv4Unspecified(), ipReqTimedOut, 0, 0), dst4, false, transport.Reply{}},
		{"short", false, replyV4(dst4, ipSuccess, 0, 64)[:echoReplyLenV4-1], dst4, false, transport.Reply{}},
		{"v6 echo reply", true, replyV6(dst6, 0, ipSuccess), dst6, true, transport.Reply{
			Source: dst6, Destination: dst6, ID: 7, Seq: 9, Type: ipv6.ICMPTypeEchoReply, Bytes: 64}},
		{"v6 hop limit exceeded", true, replyV6(router6, 0, ipTTLExpiredTransit), dst6, true, transport.Reply{
			Source: router6, Destination: dst6, ID: 7, Seq: 9, Type: ipv6.ICMPTypeTimeExceeded, Bytes: 8 + 40 + 8}},
		{"v6 packet too big", true, replyV6(router6, 0, ipPacketTooBig), dst6, true, transport.Reply{
			Source: router6, Destination: dst6, ID: 7, Seq: 9, Type: ipv6.ICMPTypePacketTooBig, Bytes: 56}},
		{"v6 timed out", true, replyV6(netip.IPv6Unspecified(), 0, ipReqTimedOut), dst6, false, transport.Reply{}},
		{"v6 short", true, replyV6(dst6, 0, ipSuccess)[:echoReplyLenV6-1], dst6, false, transport.Reply{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := transport.Reply{MTU: 1280, TTL: 99}
			ok := parseAPIReply(tc.v6, tc.b, tc.dst, 7, 9, 56, &r)
			require.Equal(t, tc.ok, ok)
			if ok {
				assert.Equal(t, tc.want, r)
			}
		})
	}
}

func TestParseAPIReplyZone(t *testing.T) {
	ll := netip.MustParseAddr("fe80::1")
	var r transport.Reply
	require.True(t, parseAPIReply(true, replyV6(ll, 4242, ipSuccess), ll.WithZone("4242"), 1, 1, 0, &r))
	assert.Equal(t, "4242", r.Source.Zone(), "a scope without a known interface is its number")
	assert.Equal(t, ll, r.Source.WithZone(""))
}

func TestPutOptions(t *testing.T) {
	b := make([]byte, ipOptionsLen)
	for i := range b {
		b[i] = 0xff
	}
	putOptions(b, 7, 0xb8, true)
	assert.Equal(t, []byte{7, 0xb8, ipFlagDF, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}, b)
	putOptions(b, 64, 0, false)
	assert.Equal(t, []byte{64, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}, b)
}

func TestReplyBufferLen(t *testing.T) {
	// The reply structure, the data, an ICMP error's 8 bytes, IP options and the
	// IO_STATUS_BLOCK that asynchronous calls keep in the buffer.
	assert.Equal(t, 40+56+8+40+16, replyBufferLen(false, 56))
	assert.Equal(t, 36+0+8+40+16, replyBufferLen(true, 0))
}

// FuzzParseAPIReply: whatever the buffer holds, parsing never panics, and an answer names
// the request and has a type of the family asked for.
func FuzzParseAPIReply(f *testing.F) {
	f.Add(false, replyV4(netip.MustParseAddr("127.0.0.1"), ipSuccess, 56, 64))
	f.Add(false, replyV4(netip.MustParseAddr("198.18.0.2"), ipTTLExpiredTransit, 0, 64))
	f.Add(true, replyV6(netip.MustParseAddr("::1"), 0, ipSuccess))
	f.Add(true, replyV6(netip.MustParseAddr("fe80::1"), 3, ipDestHostUnreachable))
	f.Add(false, []byte{})
	dst4, dst6 := netip.MustParseAddr("198.18.3.2"), netip.MustParseAddr("2001:db8::3")
	f.Fuzz(func(t *testing.T, v6 bool, b []byte) {
		dst := dst4
		if v6 {
			dst = dst6
		}
		var r transport.Reply
		if !parseAPIReply(v6, b, dst, 1, 2, 3, &r) {
			return
		}
		if r.Destination != dst || r.ID != 1 || r.Seq != 2 || r.IsV6() != v6 || !r.Source.IsValid() {
			t.Fatalf("reply %+v for v6=%v", r, v6)
		}
	})
}
