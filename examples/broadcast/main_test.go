package main

import (
	"bytes"
	"context"
	"net/netip"
	"strings"
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
		var members []netip.Addr
		for i := 1; i <= 3; i++ {
			m := netip.AddrFrom4([4]byte{198, 18, 0, byte(i)})
			require.NoError(t, n.AddHost(m, mock.Host{Latency: time.Duration(i) * time.Millisecond}))
			members = append(members, m)
		}
		bcast := netip.MustParseAddr("198.18.0.255")
		require.NoError(t, n.AddBroadcast(bcast, members...))
		var out bytes.Buffer
		require.NoError(t, run(context.Background(), &out, icmpkit.SocketConfig{Transport: n.Transport(mock.TransportConfig{})}, bcast))
		assert.Equal(t, "198.18.0.1 answered in 1ms\n198.18.0.2 answered in 2ms\n198.18.0.3 answered in 3ms\n", out.String())
	})
}

// TestLab pings the broadcast address of a segment of network namespaces, through a real
// socket opened in the client's namespace.
func TestLab(t *testing.T) {
	b := lab.NewBroadcast(t, lab.BroadcastConfig{Responders: 3})
	var out bytes.Buffer
	require.NoError(t, b.Do(b.Client.NS, func() error {
		return run(context.Background(), &out, icmpkit.SocketConfig{}, b.Broadcast)
	}))
	for _, r := range b.Responders {
		assert.Contains(t, out.String(), r.V4.String()+" answered in ")
	}
	assert.Len(t, strings.Split(strings.TrimSpace(out.String()), "\n"), len(b.Responders))
}
