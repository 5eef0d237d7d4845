package probe

import (
	"net/netip"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/net/ipv4"

	"github.com/icmpkit/icmpkit/transport"
	"github.com/icmpkit/icmpkit/transport/mock"
)

// The reader hears the ICMP errors of every call (a Ping with a low TTL, a Multiping drawing
// unreachables) from the responders the pacer tracks, and nothing else: echo replies and
// untracked sources leave it as it was, without allocating.
func TestPacerHearsEveryCall(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n := mock.NewNetwork(mock.Config{})
		tr := n.Transport(mock.TransportConfig{})
		defer tr.Close()
		e := newEngine(tr, 0)
		defer e.close()
		router, other := netip.MustParseAddr("198.18.1.1"), netip.MustParseAddr("198.18.2.1")
		dst := netip.MustParseAddr("198.18.9.9")
		start := time.Now()
		e.paceAnswer(router, dst, 1, start)
		e.paceLost(router, start, false)

		slot := e.attach(discard{}, 4)
		defer e.detach(slot)
		regs := []registration{{dst: dst, id: 7}, {dst: dst, id: 7}, {dst: dst, id: 7}}
		_, err := e.registerBatch(slot, regs)
		require.NoError(t, err)
		at := start.Add(300 * time.Millisecond)
		replies := []transport.Reply{
			{Source: router, Destination: dst, ID: 7, Seq: int(regs[0].seq), Type: ipv4.ICMPTypeTimeExceeded, ReceivedAt: at},
			{Source: other, Destination: dst, ID: 7, Seq: int(regs[1].seq), Type: ipv4.ICMPTypeDestinationUnreachable, ReceivedAt: at},
			{Source: dst, Destination: dst, ID: 7, Seq: int(regs[2].seq), Type: ipv4.ICMPTypeEchoReply, ReceivedAt: at.Add(time.Second)},
		}
		routes := make([]route, len(replies))
		e.dispatch(replies, routes)
		assert.Equal(t, at, e.pace.resp[router].heard, "the router's error is heard")
		assert.NotContains(t, e.pace.resp, other, "an untracked responder is not tracked")
		assert.NotContains(t, e.pace.resp, dst, "echo replies are not rate limited")

		ok, _, next := e.paceTake(router, at)
		assert.False(t, ok, "the router's next turn is a second after what it answered")
		assert.Equal(t, at.Add(firstPaceInterval+paceMargin), next)

		allocs := testing.AllocsPerRun(100, func() { e.dispatch(replies[2:], routes[:1]) })
		assert.Zero(t, allocs, "an echo reply costs the pacer nothing")
	})
}

type discard struct{}

func (discard) deliver([]route, []transport.Reply) {}
