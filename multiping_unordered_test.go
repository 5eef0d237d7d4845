package icmpkit

import (
	"context"
	"net/netip"
	"slices"
	"testing"
	"testing/synctest"
	"time"

	"github.com/icmpkit/icmpkit/transport/mock"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Unordered: MultipingSeq yields each host as it completes, the fastest first; in order, as
// given.
func TestMultipingSeqUnordered(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n := mock.NewNetwork(mock.Config{})
		targets := []string{"198.18.0.1", "198.18.0.2", "198.18.0.3"}
		for i, a := range targets {
			require.NoError(t, n.AddHost(netip.MustParseAddr(a), mock.Host{Latency: time.Duration(30-10*i) * time.Millisecond}))
		}
		tr := n.Transport(mock.TransportConfig{})
		defer tr.Close()
		run := func(unordered bool) []string {
			var got []string
			for h, err := range MultipingSeq(context.Background(), slices.Values(targets), &MultipingOptions{Count: 1, Transport: tr, Unordered: unordered}) {
				require.NoError(t, err)
				got = append(got, h.Address.String())
			}
			return got
		}
		assert.Equal(t, []string{"198.18.0.3", "198.18.0.2", "198.18.0.1"}, run(true))
		assert.Equal(t, targets, run(false))
	})
}
