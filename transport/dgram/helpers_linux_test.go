//go:build linux

package dgram

import (
	"testing"

	"github.com/icmpkit/icmpkit/internal/lab"
	"github.com/icmpkit/icmpkit/internal/transporttest"
	"github.com/stretchr/testify/require"
)

// newChain builds a namespace lab whose client may open ping sockets.
func newChain(t *testing.T, cfg lab.ChainConfig) *lab.Chain {
	t.Helper()
	c := lab.NewChain(t, cfg)
	require.NoError(t, c.SetPingGroupRange(c.Client.NS, 0, 2147483647))
	return c
}

// openIn opens a transport inside namespace ns, closed at the end of the test.
func openIn(t *testing.T, ns string, cfg Config) *Transport {
	return transporttest.OpenIn(t, ns, func() (*Transport, error) { return New(cfg) })
}
