package dgram

import (
	"testing"

	"github.com/icmpkit/icmpkit/transport"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/net/icmp"
	"golang.org/x/net/ipv4"
	"golang.org/x/net/ipv6"
)

// A Parameter Problem read whole (macOS) gives the octet its pointer names.
func TestParseMessagePointer(t *testing.T) {
	quoted4 := ipv4Packet(client4, target4, 1, echoRequest(false, 0x1234, 77, 56))
	quoted6 := ipv6Packet(client6, target6, 1, echoRequest(true, 0x1234, 77, 56))
	for _, tc := range []struct {
		name string
		v6   bool
		msg  []byte
		want int
	}{
		{"v4", false, marshal(t, ipv4.ICMPTypeParameterProblem, 0, &icmp.ParamProb{Pointer: 9, Data: quoted4}), 9},
		{"v6", true, marshal(t, ipv6.ICMPTypeParameterProblem, 1, &icmp.ParamProb{Pointer: 40, Data: quoted6}), 40},
		{"v4 time exceeded", false, marshal(t, ipv4.ICMPTypeTimeExceeded, 0, &icmp.TimeExceeded{Data: quoted4}), 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := transport.Reply{Pointer: 99}
			require.True(t, parseMessage(tc.v6, tc.msg, router4, &r))
			assert.Equal(t, tc.want, r.Pointer)
		})
	}
}
