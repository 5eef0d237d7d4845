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
		n := mock.NewNetwork(mock.Config{})
		require.NoError(t, n.AddHost(netip.MustParseAddr("198.18.0.1"), mock.Host{Latency: 5 * time.Millisecond}))
		require.NoError(t, n.AddHost(netip.MustParseAddr("2001:db8::1"), mock.Host{Latency: time.Millisecond}))
		tr := n.Transport(mock.TransportConfig{})
		defer tr.Close()
		var out bytes.Buffer
		require.NoError(t, run(context.Background(), &out, tr, []string{"198.18.0.1", "198.18.0.2", "2001:db8::1"}))
		assert.Equal(t, "198.18.0.1   alive, avg 5ms over 3 replies\n"+
			"198.18.0.2   not alive\n"+
			"2001:db8::1  alive, avg 1ms over 3 replies\n", out.String())
	})
}

func TestLoopback(t *testing.T) {
	if os.Geteuid() != 0 {
		lab.SkipOrFail(t, "needs root for raw ICMP sockets")
	}
	var out bytes.Buffer
	require.NoError(t, run(context.Background(), &out, nil, []string{"127.0.0.1", "127.0.0.2", "::1"}))
	assert.Regexp(t, `^127\.0\.0\.1 +alive, avg .* over 3 replies\n127\.0\.0\.2 +alive.*\n::1 +alive`, out.String())
}
