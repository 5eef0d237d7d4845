package main

import (
	"bytes"
	"context"
	"os"
	"testing"
	"testing/synctest"
	"time"

	"github.com/icmpkit/icmpkit/internal/lab"
	"github.com/icmpkit/icmpkit/transport/mock"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"net/netip"
)

func TestRun(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n := mock.NewNetwork(mock.Config{})
		require.NoError(t, n.AddHost(netip.MustParseAddr("198.18.0.1"), mock.Host{Latency: 3 * time.Millisecond}))
		tr := n.Transport(mock.TransportConfig{})
		defer tr.Close()
		var out bytes.Buffer
		require.NoError(t, run(context.Background(), &out, tr, "198.18.0.1"))
		assert.Equal(t, "198.18.0.1: alive=true sent=4 received=4 loss=0% min/avg/max=3ms/3ms/3ms jitter=0s\n", out.String())
	})
}

// TestLoopback pings loopback through the transport icmpkit opens (raw as root).
func TestLoopback(t *testing.T) {
	if os.Geteuid() != 0 {
		lab.SkipOrFail(t, "needs root for raw ICMP sockets")
	}
	var out bytes.Buffer
	require.NoError(t, run(context.Background(), &out, nil, "127.0.0.1"))
	assert.Regexp(t, `^127\.0\.0\.1: alive=true sent=4 received=4 loss=0% `, out.String())
}
