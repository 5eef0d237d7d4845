package main

import (
	"bytes"
	"context"
	"net/netip"
	"os"
	"testing"
	"testing/synctest"
	"time"

	"github.com/icmpkit/icmpkit"
	"github.com/icmpkit/icmpkit/internal/lab"
	"github.com/icmpkit/icmpkit/transport/mock"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestRun(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n := mock.NewNetwork(mock.Config{})
		dst := netip.MustParseAddr("198.18.0.1")
		require.NoError(t, n.AddHost(dst, mock.Host{Latency: time.Millisecond, Duplicates: 1}))
		inner := n.Transport(mock.TransportConfig{ID: 77})
		var out bytes.Buffer
		require.NoError(t, run(context.Background(), &out, inner, dst))
		assert.Contains(t, out.String(), "-> 198.18.0.1 id=77 seq=")
		assert.Contains(t, out.String(), "<- 198.18.0.1 echo reply id=77 seq=")
		// Each request drew a reply and a duplicate; Ping counts the replies once.
		assert.Contains(t, out.String(), "3 requests sent, 6 packets received, 3 echo replies\n")
		assert.Equal(t, 3, inner.Counts().Sent)
		assert.Error(t, inner.Send(context.Background(), nil), "run closed the inner transport")
	})
}

func TestLoopback(t *testing.T) {
	if os.Geteuid() != 0 {
		lab.SkipOrFail(t, "needs root for raw ICMP sockets")
	}
	inner, err := icmpkit.Open(icmpkit.ModePrivileged, icmpkit.Config{})
	require.NoError(t, err)
	var out bytes.Buffer
	require.NoError(t, run(context.Background(), &out, inner, netip.MustParseAddr("127.0.0.1")))
	assert.Contains(t, out.String(), "3 requests sent, 3 packets received, 3 echo replies\n")
}
