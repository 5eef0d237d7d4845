package main

import (
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

// TestCheckHosts drives the application's logic over an in-memory network. Inside the
// synctest bubble the clock is fake: five pings 200 ms apart to four hosts take no real time.
func TestCheckHosts(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n := mock.NewNetwork(mock.Config{Seed: 42})
		fast := netip.MustParseAddr("198.18.0.1")
		slow := netip.MustParseAddr("198.18.0.2")
		lossy := netip.MustParseAddr("2001:db8::3")
		dead := netip.MustParseAddr("198.18.0.4")
		require.NoError(t, n.AddHost(fast, mock.Host{Latency: 2 * time.Millisecond}))
		require.NoError(t, n.AddHost(slow, mock.Host{Latency: 300 * time.Millisecond}))
		require.NoError(t, n.AddHost(lossy, mock.Host{Latency: 2 * time.Millisecond, Loss: 0.5}))
		require.NoError(t, n.AddHost(dead, mock.Host{Dead: true}))

		tr := n.Transport(mock.TransportConfig{})
		defer tr.Close()
		start := time.Now()
		got, err := checkHosts(context.Background(), tr, []netip.Addr{fast, slow, lossy, dead})
		require.NoError(t, err)
		assert.Equal(t, map[netip.Addr]Status{fast: Up, slow: Degraded, lossy: Degraded, dead: Down}, got)
		assert.Equal(t, 20, tr.Counts().Sent, "five requests to each host")
		// The last requests went out at 800 ms; the dead host's last one timed out 1 s later.
		assert.Equal(t, 1800*time.Millisecond, time.Since(start))
	})
}

// TestLoopback runs the same logic over a real transport.
func TestLoopback(t *testing.T) {
	if os.Geteuid() != 0 {
		lab.SkipOrFail(t, "needs root for raw ICMP sockets")
	}
	tr, err := icmpkit.Open(icmpkit.ModePrivileged, icmpkit.Config{})
	require.NoError(t, err)
	defer tr.Close()
	one, six := netip.MustParseAddr("127.0.0.1"), netip.MustParseAddr("::1")
	got, err := checkHosts(context.Background(), tr, []netip.Addr{one, six})
	require.NoError(t, err)
	assert.Equal(t, map[netip.Addr]Status{one: Up, six: Up}, got)
}
