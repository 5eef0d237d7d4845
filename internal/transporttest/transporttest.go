// Package transporttest holds checks that icmpkit's transports share in their tests.
package transporttest

import (
	"context"
	"net/netip"
	"sync"
	"testing"
	"time"

	icmperrors "github.com/icmpkit/icmpkit/errors"
	"github.com/icmpkit/icmpkit/transport"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Polled is a transport that can hand over replies without waiting.
type Polled interface {
	transport.Transport
	transport.Poller
}

// PollBesideReceive checks Poll against a transport whose Receive runs at the same time:
// Poll does not wait when nothing has arrived; then perDst requests go to each of dsts, each
// followed by a Poll, while another goroutine receives, and every echo reply that ours accepts
// must come out exactly once, through one or the other. On loopback, Poll must take some
// itself. Last, tr is closed and Poll fails with errors.ErrUnavailable. request makes the
// request of one sequence number to dst.
func PollBesideReceive(t *testing.T, tr Polled, dsts []netip.Addr, perDst int,
	request func(dst netip.Addr, seq int) transport.Request, ours func(*transport.Reply) bool) {
	t.Helper()
	buf := make([]transport.Reply, 3)
	start := time.Now()
	n, err := tr.Poll(buf)
	require.NoError(t, err)
	assert.Zero(t, n, "nothing has arrived")
	assert.Less(t, time.Since(start), time.Second, "Poll does not wait")

	type seen struct {
		dst netip.Addr
		seq int
	}
	var (
		mu      sync.Mutex
		got     = map[seen]int{}
		viaPoll int
	)
	record := func(rs []transport.Reply, poll bool) {
		mu.Lock()
		defer mu.Unlock()
		for i := range rs {
			if rs[i].Kind() == transport.KindEchoReply && ours(&rs[i]) {
				got[seen{rs[i].Destination, rs[i].Seq}]++
				if poll {
					viaPoll++
				}
			}
		}
	}
	count := func() int {
		mu.Lock()
		defer mu.Unlock()
		return len(got)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan struct{})
	go func() { // Receive, beside the Polls
		defer close(done)
		var r transport.Reply
		for tr.Receive(ctx, &r) == nil {
			record([]transport.Reply{r}, false)
		}
	}()
	for seq := range perDst {
		for _, dst := range dsts {
			req := request(dst, seq)
			require.NoError(t, tr.Send(context.Background(), &req))
			n, err := tr.Poll(buf)
			require.NoError(t, err)
			record(buf[:n], true)
		}
	}
	want := perDst * len(dsts)
	require.Eventually(t, func() bool {
		n, err := tr.Poll(buf)
		require.NoError(t, err)
		record(buf[:n], true)
		return count() == want
	}, 5*time.Second, time.Millisecond, "every reply, through Poll or Receive")
	cancel()
	<-done
	time.Sleep(20 * time.Millisecond)
	n, err = tr.Poll(buf)
	require.NoError(t, err)
	record(buf[:n], true)
	mu.Lock()
	for k, c := range got {
		assert.Equal(t, 1, c, "reply %v delivered %d times", k, c)
	}
	t.Logf("%d of %d replies through Poll", viaPoll, want)
	assert.Positive(t, viaPoll, "on loopback, Poll finds replies queued during the send")
	mu.Unlock()

	require.NoError(t, tr.Close())
	_, err = tr.Poll(buf)
	assert.ErrorIs(t, err, icmperrors.ErrUnavailable)
}

// Addresses of icmpkit's tests: the loopback addresses, and addresses of the documentation
// ranges that tests write into the packets they build and parse (never sent anywhere): a
// client, the first router of its path and a target beyond.
var (
	Loopback4 = netip.AddrFrom4([4]byte{127, 0, 0, 1})
	Loopback6 = netip.IPv6Loopback()

	Client4 = netip.MustParseAddr("198.18.0.1")
	Router4 = netip.MustParseAddr("198.18.0.2")
	Target4 = netip.MustParseAddr("198.18.2.2")
	Client6 = netip.MustParseAddr("2001:db8::1")
	Router6 = netip.MustParseAddr("2001:db8::2")
	Target6 = netip.MustParseAddr("2001:db8:0:2::2")
)
