package main

import (
	"bytes"
	"context"
	"net/netip"
	"os"
	"testing"
	"testing/synctest"
	"time"

	"github.com/icmpkit/icmpkit/internal/lab"
	"github.com/icmpkit/icmpkit/transport/mock"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestRun(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n := mock.NewNetwork(mock.Config{Seed: 3})
		dst := netip.MustParseAddr("198.18.0.1")
		require.NoError(t, n.AddHost(dst, mock.Host{Latency: 2 * time.Millisecond, Duplicates: 1}))
		require.NoError(t, n.AddHost(netip.MustParseAddr("198.18.2.2"), mock.Host{}))
		require.NoError(t, n.AddPath(netip.MustParseAddr("198.18.2.2"), mock.Router{Addr: netip.MustParseAddr("198.18.1.1"), Unreachable: true, UnreachableCode: 1}))
		tr := n.Transport(mock.TransportConfig{})
		defer tr.Close()

		var out bytes.Buffer
		require.NoError(t, run(context.Background(), &out, tr, "198.18.0.1"))
		assert.Contains(t, out.String(), "64 bytes from 198.18.0.1: seq=1 ttl=64 time=2ms\n")
		assert.Contains(t, out.String(), "64 bytes from 198.18.0.1: seq=1 ttl=64 time=2ms (duplicate)\n")
		assert.Contains(t, out.String(), "5 sent, 5 received, 0 errors, 0% loss\n")

		out.Reset()
		require.NoError(t, run(context.Background(), &out, tr, "198.18.2.2"))
		assert.Contains(t, out.String(), "request 1: from 198.18.1.1: Destination host unreachable\n")
		assert.Contains(t, out.String(), "5 sent, 0 received, 5 errors, 100% loss\n")

		out.Reset()
		require.NoError(t, run(context.Background(), &out, tr, "198.18.0.99"))
		assert.Contains(t, out.String(), "request 1 to 198.18.0.99: timed out\n")
	})
}

func TestLoopback(t *testing.T) {
	if os.Geteuid() != 0 {
		lab.SkipOrFail(t, "needs root for raw ICMP sockets")
	}
	var out bytes.Buffer
	require.NoError(t, run(context.Background(), &out, nil, "::1"))
	assert.Regexp(t, `(?m)^64 bytes from ::1: seq=5 ttl=64 time=`, out.String())
	assert.Contains(t, out.String(), "5 sent, 5 received, 0 errors, 0% loss\n")
}
