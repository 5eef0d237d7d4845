//go:build linux

package dgram

import (
	"testing"

	"github.com/icmpkit/icmpkit/internal/lab"
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
	t.Helper()
	var tr *Transport
	require.NoError(t, lab.Do(ns, func() error {
		var err error
		tr, err = New(cfg)
		return err
	}))
	t.Cleanup(func() { tr.Close() })
	return tr
}
