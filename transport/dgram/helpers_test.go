package dgram

import (
	"net/netip"
	"testing"

	"github.com/icmpkit/icmpkit/internal/transporttest"
	"github.com/icmpkit/icmpkit/transport"
)

var lo4, lo6 = transporttest.Loopback4, transporttest.Loopback6

// receiveMatching receives until a reply for (dst, seq) comes, or fails the test.
func receiveMatching(t *testing.T, tr *Transport, dst netip.Addr, seq int) transport.Reply {
	t.Helper()
	return transporttest.ReceiveWhere(t, tr, func(r *transport.Reply) bool { return r.Destination == dst && r.Seq == seq })
}
