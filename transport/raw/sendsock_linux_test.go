package raw

import (
	"context"
	"net/netip"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"

	"github.com/icmpkit/icmpkit/transport"
)

// Requests leave through the sending sockets, whose ICMP filter blocks every type: the
// replies, and every other ICMP packet, reach the receiving sockets alone.
func TestSendingSocketsQueueNothing(t *testing.T) {
	tr := open(t, Config{})
	for i, dst := range []netip.Addr{lo4, lo6} {
		seq := 40 + i
		require.NoError(t, tr.Send(context.Background(), &transport.Request{Destination: dst, ID: tr.id, Seq: seq}))
		r := receiveMatching(t, tr, bySeq(dst, tr.id, seq))
		assert.Equal(t, transport.KindEchoReply, r.Kind())
	}
	for _, s := range []*sock{tr.sys.out4, tr.sys.out6} {
		var errno error
		require.NoError(t, s.fd.Control(func(fd uintptr) {
			var buf [64]byte
			_, _, errno = unix.Recvfrom(int(fd), buf[:], unix.MSG_DONTWAIT)
		}))
		assert.ErrorIs(t, errno, unix.EAGAIN, "%s: nothing queued", familyName(s.v6))
		assert.False(t, s.fd.Registered(), "%s: out of the poller", familyName(s.v6))
	}
}
