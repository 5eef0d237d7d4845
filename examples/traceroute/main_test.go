package main

import (
	"bytes"
	"context"
	"net/netip"
	"regexp"
	"testing"
	"testing/synctest"
	"time"

	"github.com/icmpkit/icmpkit"
	"github.com/icmpkit/icmpkit/internal/lab"
	"github.com/icmpkit/icmpkit/transport"
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

// TestLab traces through a chain of network namespaces, from a transport opened in the
// client's namespace.
func TestLab(t *testing.T) {
	c := lab.NewChain(t, lab.ChainConfig{Routers: 2})
	tr, err := openIn(c.Client.NS)
	require.NoError(t, err)
	defer tr.Close()
	var out bytes.Buffer
	require.NoError(t, run(context.Background(), &out, tr, c.Target.V4.String()))
	assert.Regexp(t, `^ 1  `+regexp.QuoteMeta(c.Router(1).V4.String())+` +avg .*\n 2  `+regexp.QuoteMeta(c.Router(2).V4.String())+` +avg .*\n 3  `+regexp.QuoteMeta(c.Target.V4.String())+` +avg .*\nreached .*: true\n$`, out.String())
}

func openIn(ns string) (transport.Transport, error) {
	var tr transport.Transport
	err := lab.Do(ns, func() error {
		var err error
		tr, err = icmpkit.Open(icmpkit.ModePrivileged, icmpkit.Config{})
		return err
	})
	return tr, err
}
