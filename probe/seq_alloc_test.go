package probe_test

import (
	"context"
	"net/netip"
	"runtime"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/icmpkit/icmpkit/probe"
	"github.com/icmpkit/icmpkit/result"
	"github.com/icmpkit/icmpkit/transport/mock"
)

// MultipingSeq allocates its Hosts a block at a time: what a run allocates grows by far less
// than an allocation a host, and every Host handed on keeps its own figures however long the
// caller holds it.
func TestMultipingSeqAllocatesPerBlock(t *testing.T) {
	const small, large = 2048, 6144
	n := mock.NewNetwork(mock.Config{})
	targets := make([]netip.Addr, large)
	for i := range targets {
		targets[i] = addrN(i)
		require.NoError(t, n.AddHost(targets[i], mock.Host{}))
	}
	tr := n.Transport(mock.TransportConfig{NoRecord: true})
	defer tr.Close()
	run := func(count int, keep bool, dropRTTs bool) ([]*result.Host, uint64) {
		var kept []*result.Host
		if keep {
			kept = make([]*result.Host, 0, count)
		}
		seq := func(yield func(netip.Addr) bool) {
			for _, a := range targets[:count] {
				if !yield(a) {
					return
				}
			}
		}
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		for h, err := range probe.MultipingSeq(context.Background(), tr, seq, &probe.MultipingOptions{Count: 1, DropRTTs: dropRTTs}) {
			require.NoError(t, err)
			if keep {
				kept = append(kept, h)
			}
		}
		runtime.ReadMemStats(&after)
		return kept, after.Mallocs - before.Mallocs
	}
	for _, dropRTTs := range []bool{true, false} {
		run(small, false, dropRTTs) // warm up
		_, a := run(small, false, dropRTTs)
		_, b := run(large, false, dropRTTs)
		extra := int64(b) - int64(a)
		assert.Less(t, extra, int64((large-small)/8), "DropRTTs %v: %d more allocations for %d more hosts", dropRTTs, extra, large-small)
	}
	hosts, _ := run(large, true, false)
	require.Len(t, hosts, large)
	for i, h := range hosts {
		require.Equal(t, targets[i], h.Address, "host %d", i)
		require.Equal(t, 1, h.PacketsSent, "host %d", i)
		require.Len(t, h.RTTs, 1, "host %d", i)
		require.Equal(t, h.MinRTT(), h.RTTs[0], "host %d", i)
	}
}
