package probe_test

import (
	"context"
	"os"
	"runtime"
	"strconv"
	"testing"
	"testing/synctest"
	"time"

	"github.com/icmpkit/icmpkit/internal/leakcheck"
	"github.com/icmpkit/icmpkit/probe"
	"github.com/icmpkit/icmpkit/transport/mock"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// A Prober's memory is bounded by what is in flight, not by what it has done: a million Ping
// calls back to back over one transport leave its heap where the first hundred thousand left
// it, and after Close its goroutines and descriptors are back to what they were before it.
func TestProberMillionPingsFlatHeap(t *testing.T) {
	calls := 1_000_000
	if s := os.Getenv("ICMPKIT_PING_CALLS"); s != "" {
		calls, _ = strconv.Atoi(s)
	}
	if testing.Short() {
		calls = 100_000
	}
	const (
		checkEvery = 100_000
		// The live heap may wander by this much between the first sample and any later one.
		// Measured: it grows by about 20 kB over a million calls in a bubble (the bubble's own
		// timer bookkeeping; the same calls in real time leave it flat to within 200 bytes).
		// Anything a call left behind, its Host (more than 150 bytes) or a table entry,
		// would cross it within the first few thousand calls.
		slack = 128 << 10
	)
	base := leakcheck.Take()
	synctest.Test(t, func(t *testing.T) {
		n := mock.NewNetwork(mock.Config{Seed: 7})
		require.NoError(t, n.AddHost(hostA, mock.Host{Latency: time.Millisecond}))
		require.NoError(t, n.AddHost(hostV6, mock.Host{Latency: time.Millisecond}))
		tr := n.Transport(mock.TransportConfig{NoRecord: true})
		defer tr.Close()
		inBubble := runtime.NumGoroutine()

		p := probe.New(tr, nil)
		opts := &probe.PingOptions{Count: 1}
		var first uint64
		var samples []uint64
		for i := range calls {
			dst := hostA
			if i%2 == 1 {
				dst = hostV6
			}
			h, err := p.Ping(context.Background(), dst, opts)
			if err != nil || h.PacketsReceived() != 1 {
				require.NoError(t, err, "call %d", i)
				require.Equal(t, 1, h.PacketsReceived(), "call %d", i)
			}
			if (i+1)%checkEvery == 0 {
				heap := liveHeap()
				if first == 0 {
					first = heap
				}
				samples = append(samples, heap)
				require.LessOrEqual(t, heap, first+slack, "live heap after %d calls, against %d after the first %d (samples %v)", i+1, first, checkEvery, samples)
			}
		}
		t.Logf("live heap every %d calls: %v", checkEvery, samples)
		require.NoError(t, p.Close())
		deadline := time.Now().Add(time.Second)
		for runtime.NumGoroutine() > inBubble && time.Now().Before(deadline) {
			time.Sleep(time.Millisecond)
		}
		assert.Equal(t, inBubble, runtime.NumGoroutine(), "the Prober's goroutines have ended after Close")
	})
	require.NoError(t, base.Check(leakcheck.DefaultGrace), "goroutines and descriptors back to the baseline")
}

// liveHeap gives the bytes of live heap objects, after a collection.
func liveHeap() uint64 {
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapAlloc
}
