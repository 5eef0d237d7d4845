package probe_test

import (
	"context"
	"fmt"
	"net/netip"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/icmpkit/icmpkit/probe"
	"github.com/icmpkit/icmpkit/result"
	"github.com/icmpkit/icmpkit/transport"
	"github.com/icmpkit/icmpkit/transport/mock"
)

var paceDsts = []netip.Addr{netip.MustParseAddr("198.18.200.1"), netip.MustParseAddr("2001:db8:ff::1")}

// limitedChain gives a network with a chain of routers toward dst, each limited as a Linux
// router at its defaults (a burst of 6, then one answer a second).
func limitedChain(t *testing.T, dst netip.Addr, routers int) (*mock.Network, []netip.Addr) {
	t.Helper()
	n := mock.NewNetwork(mock.Config{Seed: 3})
	require.NoError(t, n.AddHost(dst, mock.Host{Latency: 10 * time.Millisecond}))
	addrs := chain(t, n, dst, routers, func(k int, r *mock.Router) { r.RateLimit = mock.LinuxRateLimit })
	return n, addrs
}

// exact checks that trace has every router and the destination, each with count answers of
// count probes.
func exact(t *testing.T, what string, trace *result.Trace, routers []netip.Addr, dst netip.Addr, count int) {
	t.Helper()
	want := append(append([]netip.Addr(nil), routers...), dst)
	require.True(t, trace.Reached, "%s: reached", what)
	require.Len(t, trace.Hops, len(want), "%s: hops", what)
	for i, h := range trace.Hops {
		assert.Equal(t, i+1, h.Distance, what)
		assert.Equal(t, want[i], h.Address, "%s: distance %d", what, h.Distance)
		assert.Equal(t, count, h.PacketsSent, "%s: distance %d sent", what, h.Distance)
		assert.Equal(t, count, h.PacketsReceived(), "%s: distance %d answered (%d lost to the limit)", what, h.Distance, h.RateLimited)
	}
}

// Ten traces back to back, each on a transport of its own as ten runs of the command are,
// through routers that answer a burst of 6 and then one a second: every hop of every trace
// has its three answers, the first two from the routers' bursts, the later ones paced, each in
// at most (count) seconds plus one timeout.
func TestTracePacedBackToBack(t *testing.T) {
	for _, dst := range paceDsts {
		t.Run(dst.String(), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				n, routers := limitedChain(t, dst, 8)
				for run := range 10 {
					tr := n.Transport(mock.TransportConfig{})
					start := time.Now()
					trace, err := probe.Traceroute(context.Background(), tr, dst, &probe.TraceOptions{Interval: -1})
					elapsed := time.Since(start)
					require.NoError(t, err)
					require.NoError(t, tr.Close())
					what := fmt.Sprintf("run %d", run+1)
					exact(t, what, trace, routers, dst, 3)
					limited := 0
					for _, h := range trace.Hops {
						limited += h.RateLimited
					}
					if run < 2 {
						assert.Zero(t, limited, "%s: the routers' bursts answer the first two runs", what)
						assert.Less(t, elapsed, time.Second, what)
					} else {
						assert.Positive(t, limited, "%s: the routers' buckets are spent", what)
					}
					assert.LessOrEqual(t, elapsed, 3*time.Second+probe.DefaultTimeout, what)
					t.Logf("%s: %v, %d sends lost to the limit", what, elapsed, limited)
				}
			})
		})
	}
}

// Ten traces at once over one Prober share the routers' budgets: every hop exact in each.
func TestTracePacedConcurrent(t *testing.T) {
	for _, dst := range paceDsts {
		t.Run(dst.String(), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				n, routers := limitedChain(t, dst, 8)
				tr := n.Transport(mock.TransportConfig{})
				defer tr.Close()
				p := probe.New(tr, nil)
				defer p.Close()
				const traces = 10
				out := make([]*result.Trace, traces)
				errs := make([]error, traces)
				var wg sync.WaitGroup
				for i := range traces {
					wg.Go(func() {
						out[i], errs[i] = p.Traceroute(context.Background(), dst, nil)
					})
				}
				wg.Wait()
				for i := range traces {
					require.NoError(t, errs[i])
					exact(t, fmt.Sprintf("trace %d", i+1), out[i], routers, dst, 3)
				}
				// 30 answers a router at one a second after a burst of 6: the sends beyond
				// are few, as most waited for their turn rather than going to be lost.
				sent := 0
				for _, req := range tr.Sent() {
					if req.TTL == 1 {
						sent++
					}
				}
				t.Logf("%d probes sent to the first router for %d answers", sent, 3*traces)
				assert.LessOrEqual(t, sent, 2*3*traces)
			})
		})
	}
}

// A 30-hop trace through routers whose buckets are all spent takes about (count-1) seconds
// plus one timeout: the routers are paced in parallel.
func TestTracePacedBound(t *testing.T) {
	for _, dst := range paceDsts {
		t.Run(dst.String(), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				n, routers := limitedChain(t, dst, 29)
				for range 2 { // spend the bursts
					tr := n.Transport(mock.TransportConfig{})
					_, err := probe.Traceroute(context.Background(), tr, dst, &probe.TraceOptions{Interval: -1})
					require.NoError(t, err)
					require.NoError(t, tr.Close())
				}
				tr := n.Transport(mock.TransportConfig{})
				defer tr.Close()
				start := time.Now()
				trace, err := probe.Traceroute(context.Background(), tr, dst, &probe.TraceOptions{Interval: -1})
				elapsed := time.Since(start)
				require.NoError(t, err)
				exact(t, "spent buckets", trace, routers, dst, 3)
				t.Logf("30 hops, every router limited and spent: %v", elapsed)
				assert.LessOrEqual(t, elapsed, 2*time.Second+probe.DefaultTimeout)
			})
		})
	}
}

// Routers without limits are never asked twice, and a router that loses at random has its
// losses reported as loss when the same distance answered just after.
func TestTracePaceUnlimited(t *testing.T) {
	bubble(t, mock.TransportConfig{}, func(t *testing.T, n *mock.Network, tr *mock.Transport) {
		dst := paceDsts[0]
		require.NoError(t, n.AddHost(dst, mock.Host{Latency: 10 * time.Millisecond}))
		chain(t, n, dst, 29, nil)
		for range 3 {
			start := time.Now()
			trace, err := probe.Traceroute(context.Background(), tr, dst, &probe.TraceOptions{Interval: -1})
			require.NoError(t, err)
			assert.Less(t, time.Since(start), 100*time.Millisecond)
			for _, h := range trace.Hops {
				assert.Zero(t, h.RateLimited)
			}
		}
		assert.Len(t, tr.Sent(), 3*3*30, "no probe sent twice")

		// The first of three probes sent at once is lost: the two after it were answered, so
		// the router had answers to give.
		lossy := &dropFirst{Transport: tr, ttl: 5}
		trace, err := probe.Traceroute(context.Background(), lossy, dst, &probe.TraceOptions{Interval: -1})
		require.NoError(t, err)
		h := trace.Hops[4]
		assert.Equal(t, 3, h.PacketsSent)
		assert.Equal(t, 2, h.PacketsReceived(), "real loss stays loss")
		assert.Zero(t, h.RateLimited)
	})
}

// dropFirst drops the first request with a given TTL.
type dropFirst struct {
	*mock.Transport
	ttl     int
	dropped bool
}

func (d *dropFirst) Send(ctx context.Context, req *transport.Request) error {
	if req.TTL == d.ttl && !d.dropped {
		d.dropped = true
		req.SentAt = time.Now()
		return nil
	}
	return d.Transport.Send(ctx, req)
}

// Outcomes of probes answered when sent again say how many sends the limit took, and every
// probe of a distance is reported once, before its hop.
func TestTracePacedOutcomes(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		dst := paceDsts[1]
		n, _ := limitedChain(t, dst, 4)
		for range 2 {
			tr := n.Transport(mock.TransportConfig{})
			_, err := probe.Traceroute(context.Background(), tr, dst, nil)
			require.NoError(t, err)
			require.NoError(t, tr.Close())
		}
		tr := n.Transport(mock.TransportConfig{})
		defer tr.Close()
		seen := map[[2]int]int{}
		limited := map[int]int{}
		hopped := map[int]bool{}
		trace, err := probe.Traceroute(context.Background(), tr, dst, &probe.TraceOptions{
			OnProbe: func(o probe.TraceOutcome) {
				assert.False(t, hopped[o.Distance], "distance %d: probe after its hop", o.Distance)
				assert.False(t, o.TimedOut, "distance %d round %d", o.Distance, o.Round)
				seen[[2]int{o.Distance, o.Round}]++
				limited[o.Distance] += o.RateLimited
			},
			OnHop: func(h result.Hop) { hopped[h.Distance] = true },
		})
		require.NoError(t, err)
		require.Len(t, trace.Hops, 5)
		for _, h := range trace.Hops {
			for r := range 3 {
				assert.Equal(t, 1, seen[[2]int{h.Distance, r}], "distance %d round %d", h.Distance, r)
			}
			assert.Equal(t, limited[h.Distance], h.RateLimited, "distance %d", h.Distance)
		}
		assert.Positive(t, trace.Hops[0].RateLimited)
		assert.Zero(t, trace.Hops[4].RateLimited, "the destination's echo replies are not limited")
	})
}

// Traces one after another over one Prober keep what the first learnt of the routers'
// limits: once found, a router's probes are paced from the start, and none is lost.
func TestTracePacedOneTransport(t *testing.T) {
	for _, dst := range paceDsts {
		t.Run(dst.String(), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				n, routers := limitedChain(t, dst, 8)
				tr := n.Transport(mock.TransportConfig{})
				defer tr.Close()
				p := probe.New(tr, nil)
				defer p.Close()
				for run := range 10 {
					start := time.Now()
					trace, err := p.Traceroute(context.Background(), dst, nil)
					elapsed := time.Since(start)
					require.NoError(t, err)
					what := fmt.Sprintf("run %d", run+1)
					exact(t, what, trace, routers, dst, 3)
					limited := 0
					for _, h := range trace.Hops {
						limited += h.RateLimited
					}
					t.Logf("%s: %v, %d sends lost to the limit", what, elapsed, limited)
					if run >= 3 {
						assert.Zero(t, limited, "%s: paced from the start", what)
					}
					assert.LessOrEqual(t, elapsed, 3*time.Second+probe.DefaultTimeout, what)
				}
			})
		})
	}
}
