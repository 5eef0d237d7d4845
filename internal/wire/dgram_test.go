package wire

import (
	"encoding/binary"
	"sync"
	"testing"

	"github.com/icmpkit/icmpkit/transport"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/net/icmp"
	"golang.org/x/net/ipv4"
	"golang.org/x/net/ipv6"
)

// extensionStructure gives the RFC 4884 extension structure of a Time Exceeded carrying
// mplsStack: what a Linux ping socket's error queue points at.
func extensionStructure(t testing.TB) []byte {
	full := marshal(t, ipv4.ICMPTypeTimeExceeded, 0, &icmp.TimeExceeded{
		Data: request4(t, 1, 1, 56), Extensions: []icmp.Extension{mplsStack}})
	return full[EchoHeaderLen+compatOrigLen:]
}

func TestParseExtensionStructure(t *testing.T) {
	ext := extensionStructure(t)
	require.Equal(t, mplsStack.Labels, ParseExtensionStructure(ext, nil))
	prior := []icmp.MPLSLabel{{Label: 7}}
	assert.Equal(t, append(prior, mplsStack.Labels...), ParseExtensionStructure(ext, prior[:1:1]), "appends")

	bad := append([]byte(nil), ext...)
	bad[len(bad)-1] ^= 0xff
	assert.Nil(t, ParseExtensionStructure(bad, nil), "a wrong checksum")
	noSum := append([]byte(nil), bad...)
	noSum[2], noSum[3] = 0, 0
	assert.Len(t, ParseExtensionStructure(noSum, nil), 2, "no checksum")
	v1 := append([]byte(nil), ext...)
	v1[0] = 0x10
	assert.Nil(t, ParseExtensionStructure(v1, nil), "version 1")
	assert.Nil(t, ParseExtensionStructure(ext[:3], nil))
	overlong := append([]byte(nil), noSum...)
	binary.BigEndian.PutUint16(overlong[4:], 200)
	assert.Nil(t, ParseExtensionStructure(overlong, nil), "object longer than the structure")
}

func TestStripIPv4Header(t *testing.T) {
	msg := echoMsg(t, ipv4.ICMPTypeEchoReply, 1, 2, make([]byte, 8))
	got, ttl := StripIPv4Header(ip4(target4, local4, 61, ProtocolICMP, nil, msg))
	assert.Equal(t, msg, got)
	assert.Equal(t, 61, ttl)
	got, ttl = StripIPv4Header(msg)
	assert.Equal(t, msg, got, "no header")
	assert.Zero(t, ttl)
	got, _ = StripIPv4Header(ip4(target4, local4, 61, ProtocolICMP, []byte{1, 1, 1, 1}, msg))
	assert.Equal(t, msg, got, "options")
	short := []byte{0x4f, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}
	got, _ = StripIPv4Header(short)
	assert.Equal(t, short, got, "a header longer than the packet")
}

func TestParseQuotedEcho(t *testing.T) {
	for _, v6 := range []bool{false, true} {
		b := make([]byte, 16)
		PutEchoHeaderNoSum(b, v6, 0x1234, 77)
		id, seq, err := ParseQuotedEcho(v6, b)
		require.NoError(t, err)
		assert.Equal(t, 0x1234, id)
		assert.Equal(t, 77, seq)
		assert.Zero(t, binary.BigEndian.Uint16(b[2:4]), "the system computes the checksum")

		_, _, err = ParseQuotedEcho(v6, b[:7])
		assert.ErrorIs(t, err, ErrTruncated)
		_, _, err = ParseQuotedEcho(!v6, b)
		assert.ErrorIs(t, err, ErrNotReply, "the other family's echo request")
		b[1] = 1
		_, _, err = ParseQuotedEcho(v6, b)
		assert.ErrorIs(t, err, ErrNotReply, "a code other than 0")
	}
}

func TestIsErrorType(t *testing.T) {
	for typ := range 256 {
		want4 := typ == 3 || typ == 11 || typ == 12
		want6 := typ >= 1 && typ <= 4
		assert.Equal(t, want4, IsErrorType(false, byte(typ)), "ICMPv4 type %d", typ)
		assert.Equal(t, want6, IsErrorType(true, byte(typ)), "ICMPv6 type %d", typ)
	}
	assert.Equal(t, ipv4.ICMPTypeTimeExceeded, ICMPType(false, 11))
	assert.Equal(t, ipv6.ICMPTypePacketTooBig, ICMPType(true, 2))
}

func TestPatternGrowsAndKeepsItsBytes(t *testing.T) {
	sizes := []int{0, 56, 1, 600, 513, transport.MaxPayloadV6, 56, transport.MaxPayloadV4}
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for _, n := range sizes {
				got := Pattern(n)
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

func TestPayloadPrefersTheRequestsBytes(t *testing.T) {
	own := []byte{1, 2, 3}
	assert.Equal(t, own, Payload(&transport.Request{Payload: own}))
	assert.Equal(t, Pattern(9), Payload(&transport.Request{PayloadSize: 9}))
	assert.Empty(t, Payload(&transport.Request{Payload: []byte{}, PayloadSize: 9}), "an empty payload is sent empty")
}

func FuzzParseExtensionStructure(f *testing.F) {
	f.Add(extensionStructure(f))
	f.Add([]byte{0x20, 0, 0, 0})
	f.Fuzz(func(t *testing.T, b []byte) {
		for _, l := range ParseExtensionStructure(b, nil) {
			require.GreaterOrEqual(t, l.Label, 0)
			require.Less(t, l.Label, 1<<20)
			require.Less(t, l.TC, 8)
			require.Less(t, l.TTL, 256)
		}
		StripIPv4Header(b)
		ParseQuotedEcho(len(b)%2 == 0, b)
	})
}
