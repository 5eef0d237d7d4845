package icmpkit

import (
	"context"
	"testing"
	"time"

	"github.com/icmpkit/icmpkit/errors"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// On Windows auto mode opens the ICMP API transport, which needs no privilege, and
// privileged mode says why it cannot open.
func TestWindowsModes(t *testing.T) {
	for _, mode := range []Mode{ModeAuto, ModeUnprivileged} {
		tr, err := Open(mode, Config{Family: IPv4})
		require.NoError(t, err, "%v", mode)
		assert.Equal(t, ModeUnprivileged, ModeOf(tr), "%v", mode)
		require.NoError(t, tr.Close())
	}
	_, err := Open(ModePrivileged, Config{})
	require.ErrorIs(t, err, errors.ErrNotSupported)
	assert.Contains(t, err.Error(), "dgram")
}

func TestWindowsConvenience(t *testing.T) {
	ctx := context.Background()
	host, err := Ping(ctx, "127.0.0.1", &PingOptions{Count: 3, Interval: 20 * time.Millisecond})
	require.NoError(t, err)
	assert.Equal(t, 3, host.PacketsReceived())

	hosts, err := Multiping(ctx, []string{"127.0.0.1", "127.0.0.2", "127.0.0.3"}, &MultipingOptions{Count: 2, Interval: 20 * time.Millisecond})
	require.NoError(t, err)
	for _, h := range hosts {
		assert.True(t, h.IsAlive(), "%s", h.Address)
	}

	trace, err := Traceroute(ctx, "127.0.0.1", &TraceOptions{Count: 1})
	require.NoError(t, err)
	require.True(t, trace.Reached)
	require.Len(t, trace.Hops, 1)
	assert.Equal(t, 1, trace.Hops[0].Distance)

	sock, err := NewICMPv4Socket(SocketConfig{})
	require.NoError(t, err)
	defer sock.Close()
	assert.False(t, sock.IsPrivileged())
}
