package winicmp

import (
	"context"
	"net/netip"
	"testing"
	"time"

	"github.com/icmpkit/icmpkit/transport"
	"github.com/stretchr/testify/require"
)

var (
	lo4     = netip.MustParseAddr("127.0.0.1")
	lo6     = netip.MustParseAddr("::1")
	router4 = netip.MustParseAddr("198.18.0.2")
	router6 = netip.MustParseAddr("2001:db8::2")
)

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
