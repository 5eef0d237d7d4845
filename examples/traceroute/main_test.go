package main

import (
	"bytes"
	"context"
	"net/netip"
	"testing"
	"testing/synctest"
	"time"

	"github.com/icmpkit/icmpkit/transport/mock"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestRun(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n := mock.NewNetwork(mock.Config{})
		dst := netip.MustParseAddr("198.18.4.2")
		require.NoError(t, n.AddHost(dst, mock.Host{Latency: 6 * time.Millisecond}))
		require.NoError(t, n.AddPath(dst,
			mock.Router{Addr: netip.MustParseAddr("198.18.0.1"), Latency: time.Millisecond},
			mock.Router{Addr: netip.MustParseAddr("198.18.1.1"), Silent: true},
			mock.Router{Addr: netip.MustParseAddr("198.18.2.1"), Latency: 3 * time.Millisecond},
		))
		tr := n.Transport(mock.TransportConfig{})
		defer tr.Close()
		var out bytes.Buffer
		require.NoError(t, run(context.Background(), &out, tr, "198.18.4.2"))
		assert.Equal(t, " 1  198.18.0.1      avg 1ms  loss 0%\n"+
			" 3  198.18.2.1      avg 3ms  loss 0%\n"+
			" 4  198.18.4.2      avg 6ms  loss 0%\n"+
			"reached 198.18.4.2: true\n", out.String())
	})
}
