package main

import (
	"bytes"
	"context"
	"net/netip"
	"os"
	"regexp"
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
		n := mock.NewNetwork(mock.Config{Seed: 5})
		require.NoError(t, n.AddHost(netip.MustParseAddr("198.18.0.1"), mock.Host{Latency: 4 * time.Millisecond}))
		require.NoError(t, n.AddHost(netip.MustParseAddr("198.18.3.3"), mock.Host{}))
		require.NoError(t, n.AddPath(netip.MustParseAddr("198.18.3.3"), mock.Router{Addr: netip.MustParseAddr("198.18.1.1"), Unreachable: true, UnreachableCode: 13}))
		require.NoError(t, n.AddHost(netip.MustParseAddr("2001:db8::7"), mock.Host{Latency: time.Millisecond}))

		var out bytes.Buffer
		require.NoError(t, run(context.Background(), &out, icmpkit.SocketConfig{Transport: n.Transport(mock.TransportConfig{})}, "198.18.0.1"))
		assert.Equal(t, "seq 0: 64 bytes from 198.18.0.1 in 4ms\nseq 1: 64 bytes from 198.18.0.1 in 4ms\nseq 2: 64 bytes from 198.18.0.1 in 4ms\n", out.String())

		out.Reset()
		require.NoError(t, run(context.Background(), &out, icmpkit.SocketConfig{Transport: n.Transport(mock.TransportConfig{})}, "198.18.3.3"))
		assert.Contains(t, out.String(), "seq 0: 198.18.1.1 says Communication administratively prohibited (type 3 code 13, unreachable: true)\n")

		out.Reset()
		require.NoError(t, run(context.Background(), &out, icmpkit.SocketConfig{Transport: n.Transport(mock.TransportConfig{})}, "2001:db8::7"))
		assert.Contains(t, out.String(), "seq 2: 64 bytes from 2001:db8::7 in 1ms\n")

		out.Reset()
		require.NoError(t, run(context.Background(), &out, icmpkit.SocketConfig{Transport: n.Transport(mock.TransportConfig{})}, "198.18.0.99"))
		assert.Equal(t, "seq 0: no reply within 1s\nseq 1: no reply within 1s\nseq 2: no reply within 1s\n", out.String())
	})
}

func TestLoopback(t *testing.T) {
	if os.Geteuid() != 0 {
		lab.SkipOrFail(t, "needs root for raw ICMP sockets")
	}
	for _, host := range []string{"127.0.0.1", "::1"} {
		var out bytes.Buffer
		require.NoError(t, run(context.Background(), &out, icmpkit.SocketConfig{Mode: icmpkit.ModePrivileged}, host))
		assert.Regexp(t, `^seq 0: 64 bytes from `+regexp.QuoteMeta(host)+` in .*\nseq 1: .*\nseq 2: 64 bytes`, out.String())
	}
}
