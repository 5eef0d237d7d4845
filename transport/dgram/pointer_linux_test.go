package dgram

import (
	"testing"
	"time"

	"github.com/icmpkit/icmpkit/transport"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The kernel reports a Parameter Problem's pointer in ee_info, as it does a Packet Too Big's MTU.
func TestParseErrQueuePointer(t *testing.T) {
	at := time.Unix(1767323045, 0)
	for _, tc := range []struct {
		name string
		v6   bool
		msg  errqueueMsg
		want int
	}{
		{"v4 parameter problem", false, errMsg4(12, 0, 20, echoRequest(false, 4242, 9, 56), 0, 0, at), 20},
		{"v6 parameter problem", true, errMsg6(4, 1, 40, echoRequest(true, 4242, 9, 56), 0, at), 40},
		{"v6 packet too big", true, errMsg6(2, 0, 1280, echoRequest(true, 4242, 9, 56), 0, at), 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var r transport.Reply
			require.True(t, parseErrQueue(tc.v6, tc.msg.data, tc.msg.oob, tc.msg.name, 4242, &r))
			assert.Equal(t, tc.want, r.Pointer)
		})
	}
}
