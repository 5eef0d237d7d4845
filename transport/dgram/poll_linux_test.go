//go:build linux

package dgram

import (
	"context"
	"net/netip"
	"testing"
	"time"

	icmperrors "github.com/icmpkit/icmpkit/errors"
	"github.com/icmpkit/icmpkit/internal/lab"
	"github.com/icmpkit/icmpkit/internal/transporttest"
	"github.com/icmpkit/icmpkit/transport"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Poll takes echo replies and the ICMP errors of the error queue without the readers, which
// start, with the sockets joining the poller, at the first Receive.
func TestPollWithoutReaders(t *testing.T) {
	c := newChain(t, lab.ChainConfig{Routers: 1})
	tr := openIn(t, c.Client.NS, Config{})
	buf := make([]transport.Reply, 1) // one at a time: what does not fit stays in the socket
	start := time.Now()
	n, err := tr.Poll(buf)
	require.NoError(t, err)
	assert.Zero(t, n, "nothing has arrived")
	assert.Less(t, time.Since(start), time.Second, "Poll does not wait")

	reqs := []transport.Request{
		{Destination: lo4, Seq: 1},
		{Destination: c.Target.V4, Seq: 2, TTL: 1},
		{Destination: lo6, Seq: 3},
		{Destination: c.Target.V6, Seq: 4, TTL: 1},
		{Destination: lo4, Seq: 11},
		{Destination: lo4, Seq: 12},
		{Destination: lo6, Seq: 13},
	}
	for i := range reqs {
		require.NoError(t, tr.Send(context.Background(), &reqs[i]))
	}
	got := map[int]*transport.Reply{}
	require.Eventually(t, func() bool {
		n, err := tr.Poll(buf)
		require.NoError(t, err)
		require.LessOrEqual(t, n, len(buf))
		for _, r := range buf[:n] {
			_, dup := got[r.Seq]
			require.False(t, dup, "seq %d polled twice", r.Seq)
			got[r.Seq] = &r
		}
		return len(got) == len(reqs)
	}, 5*time.Second, time.Millisecond)
	assert.Equal(t, transport.KindEchoReply, got[1].Kind())
	assert.Equal(t, transport.KindEchoReply, got[3].Kind())
	assert.Equal(t, transport.KindTimeExceeded, got[2].Kind(), "from the error queue")
	assert.Equal(t, c.Router(1).V4, got[2].Source)
	assert.Equal(t, transport.KindTimeExceeded, got[4].Kind())
	assert.Equal(t, c.Router(1).V6, got[4].Source)
	for _, r := range got {
		assert.False(t, r.ReceivedAt.IsZero())
	}

	assert.False(t, tr.ReadersStarted(), "Poll starts no reader, and makes no queue")
	assert.False(t, tr.sock4.fd.Registered(), "sends and polls leave the sockets out of the poller")
	assert.False(t, tr.sock6.fd.Registered())

	req := transport.Request{Destination: lo4, Seq: 20}
	require.NoError(t, tr.Send(context.Background(), &req))
	receiveMatching(t, tr, lo4, 20)
	assert.True(t, tr.ReadersStarted(), "Receive starts the readers")
	require.Eventually(t, func() bool { return tr.sock4.fd.Registered() && tr.sock6.fd.Registered() },
		5*time.Second, time.Millisecond, "the readers wait in the poller")

	idle := openIn(t, c.Client.NS, Config{})
	require.NoError(t, idle.Close())
	_, err = idle.Poll(buf)
	assert.ErrorIs(t, err, icmperrors.ErrUnavailable)
	var rep transport.Reply
	assert.ErrorIs(t, idle.Receive(context.Background(), &rep), icmperrors.ErrUnavailable)
	assert.False(t, idle.ReadersStarted(), "no reader starts once closed")
}

// Poll and Receive side by side hand over every reply once.
func TestPollBesideReceive(t *testing.T) {
	c := newChain(t, lab.ChainConfig{})
	tr := openIn(t, c.Client.NS, Config{})
	transporttest.PollBesideReceive(t, tr, []netip.Addr{lo4, lo6}, 200,
		func(dst netip.Addr, seq int) transport.Request { return transport.Request{Destination: dst, Seq: seq} },
		func(*transport.Reply) bool { return true }) // the kernel gives each ping socket its own replies
}
