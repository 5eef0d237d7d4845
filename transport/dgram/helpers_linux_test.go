//go:build linux

package dgram

import (
	"context"
	"net/netip"
	"testing"
	"time"

	"github.com/icmpkit/icmpkit/internal/lab"
	"github.com/icmpkit/icmpkit/transport"
	"github.com/stretchr/testify/require"
)

var (
	lo4 = netip.MustParseAddr("127.0.0.1")
	lo6 = netip.MustParseAddr("::1")
)

// newChain builds a namespace lab whose client may open ping sockets.
func newChain(t *testing.T, cfg lab.ChainConfig) *lab.Chain {
	t.Helper()
	c := lab.NewChain(t, cfg)
	require.NoError(t, c.SetPingGroupRange(c.Client.NS, 0, 2147483647))
	return c
}

// openIn opens a transport inside namespace ns, closed at the end of the test.
func openIn(t *testing.T, ns string, cfg Config) *Transport {
	t.Helper()
	var tr *Transport
	require.NoError(t, lab.Do(ns, func() error {
		var err error
		tr, err = New(cfg)
		return err
	}))
	t.Cleanup(func() { tr.Close() })
	return tr
}

// receiveMatching receives until a reply for (dst, seq) comes, or fails after 5 s.
func receiveMatching(t *testing.T, tr *Transport, dst netip.Addr, seq int) transport.Reply {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	for {
		var r transport.Reply
		err := tr.Receive(ctx, &r)
		require.NoError(t, err, "no reply for %s seq %d", dst, seq)
		if r.Destination == dst && r.Seq == seq {
			return r
		}
	}
}
