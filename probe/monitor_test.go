package probe_test

import (
	"context"
	"net/netip"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	icmperrors "github.com/icmpkit/icmpkit/errors"
	"github.com/icmpkit/icmpkit/probe"
	"github.com/icmpkit/icmpkit/result"
	"github.com/icmpkit/icmpkit/transport/mock"
)

// monitorChain builds a path of n routers to dst, router k answering from 198.18.k.1 (or
// 2001:db8:k::1) k ms away, the destination 10 ms away.
func monitorChain(t *testing.T, n *mock.Network, dst netip.Addr, routers int, host mock.Host, tweak func(k int, r *mock.Router)) []netip.Addr {
	t.Helper()
	var hops []mock.Hop
	var addrs []netip.Addr
	for k := 1; k <= routers; k++ {
		r := mock.Router{Addr: routerAddr(dst, k, 1), Latency: time.Duration(k) * time.Millisecond}
		if tweak != nil {
			tweak(k, &r)
		}
		hops = append(hops, r)
		addrs = append(addrs, r.Addr)
	}
	require.NoError(t, n.AddPath(dst, hops...))
	if host.Latency == 0 {
		host.Latency = 10 * time.Millisecond
	}
	require.NoError(t, n.AddHost(dst, host))
	return addrs
}

func routerAddr(dst netip.Addr, k, host int) netip.Addr {
	if dst.Is6() {
		b := netip.MustParseAddr("2001:db8::").As16()
		b[5] = byte(k)
		b[15] = byte(host)
		return netip.AddrFrom16(b)
	}
	return netip.AddrFrom4([4]byte{198, 18, byte(k), byte(host)})
}

// monitorAll runs a monitor to its end and returns every path it yielded.
func monitorAll(t *testing.T, tr *mock.Transport, dst netip.Addr, o *probe.MonitorOptions) []*result.Path {
	t.Helper()
	var paths []*result.Path
	for p, err := range probe.Monitor(context.Background(), tr, dst, o) {
		require.NoError(t, err)
		paths = append(paths, p)
	}
	return paths
}

var monitorDsts = []netip.Addr{netip.MustParseAddr("198.18.200.1"), netip.MustParseAddr("2001:db8:ff::1")}

func TestMonitorChain(t *testing.T) {
	for _, dst := range monitorDsts {
		t.Run(dst.String(), func(t *testing.T) {
			bubble(t, mock.TransportConfig{}, func(t *testing.T, n *mock.Network, tr *mock.Transport) {
				routers := monitorChain(t, n, dst, 4, mock.Host{}, nil)
				start := time.Now()
				paths := monitorAll(t, tr, dst, &probe.MonitorOptions{Cycles: 10, Interval: 300 * time.Millisecond, Window: 4})
				// Ten cycles, 300 ms apart (slower than any router's pace), the last over once
				// its answers are in.
				assert.Equal(t, 9*300*time.Millisecond+10*time.Millisecond, time.Since(start))
				require.Len(t, paths, 10)
				for i, p := range paths {
					assert.Equal(t, i+1, p.Cycles)
					assert.True(t, p.Reached)
				}
				p := paths[9]
				require.Len(t, p.Hops, 5)
				for i, h := range p.Hops {
					assert.Equal(t, i+1, h.Distance)
					assert.Equal(t, 10, h.Sent)
					assert.Equal(t, 10, h.Received)
					assert.Zero(t, h.Loss)
					assert.False(t, h.Uncertain, "50 probes pooled, none lost")
					assert.True(t, paths[2].Hops[i].Uncertain, "15 probes are too few")
					assert.Len(t, h.Recent, 4)
					assert.Equal(t, 10, h.Stats.Count())
					assert.Len(t, h.Responders, 1)
					assert.Equal(t, 10, h.Responders[0].Count)
					assert.Equal(t, i == 4, h.Target)
					if i < 4 {
						assert.Equal(t, routers[i], h.Address)
						assert.Equal(t, time.Duration(i+1)*time.Millisecond, h.Last)
					} else {
						assert.Equal(t, dst, h.Address)
						assert.Equal(t, 10*time.Millisecond, h.Last)
					}
				}
				// Each path is the caller's: the first is as it was after one cycle.
				assert.Equal(t, 1, paths[0].Hops[0].Sent)
			})
		})
	}
}

// Routers at Linux's rate limits, probed five times faster than they answer: their refusals
// are not loss. mtr shows them as most of the probes lost.
func TestMonitorRateLimitedIsNotLoss(t *testing.T) {
	for _, dst := range monitorDsts {
		t.Run(dst.String(), func(t *testing.T) {
			bubble(t, mock.TransportConfig{}, func(t *testing.T, n *mock.Network, tr *mock.Transport) {
				monitorChain(t, n, dst, 5, mock.Host{}, func(_ int, r *mock.Router) { r.RateLimit = mock.LinuxRateLimit })
				paths := monitorAll(t, tr, dst, &probe.MonitorOptions{Cycles: 100, Interval: 200 * time.Millisecond})
				p := paths[len(paths)-1]
				require.Len(t, p.Hops, 6)
				for _, h := range p.Hops[:5] {
					// Asked every cycle until the limit shows, once a second after.
					assert.InDelta(t, 35, h.Sent, 10, "hop %d", h.Distance)
					assert.Equal(t, time.Second+15*time.Millisecond, h.Pace, "hop %d", h.Distance)
					assert.Zero(t, h.Loss, "hop %d", h.Distance)
					assert.Positive(t, h.RateLimited, "hop %d", h.Distance)
					assert.LessOrEqual(t, h.FirstLost-h.RateLimited, 2, "hop %d: the losses are the limit's", h.Distance)
					assert.GreaterOrEqual(t, h.Unpaced, h.RateLimited, "hop %d", h.Distance)
					assert.Less(t, h.Unpaced, h.Sent, "hop %d: paced probes count", h.Distance)
				}
				assert.Equal(t, 100, p.Hops[5].Sent)
				assert.Equal(t, 100, p.Hops[5].Received, "the destination's replies are never limited")
				assert.Zero(t, p.Hops[5].Pace)
			})
		})
	}
}

// Loss at the destination with every router rate limited and router 2 refusing half of what
// it should answer: the routers show no loss, the destination its own.
func TestMonitorLossAndRefusals(t *testing.T) {
	for _, dst := range monitorDsts {
		t.Run(dst.String(), func(t *testing.T) {
			bubble(t, mock.TransportConfig{}, func(t *testing.T, n *mock.Network, tr *mock.Transport) {
				monitorChain(t, n, dst, 4, mock.Host{Loss: 0.2}, func(k int, r *mock.Router) {
					if k == 2 {
						r.Loss = 0.5
					}
				})
				paths := monitorAll(t, tr, dst, &probe.MonitorOptions{Cycles: 100, Interval: 100 * time.Millisecond})
				p := paths[len(paths)-1]
				require.Len(t, p.Hops, 5)
				for _, h := range p.Hops[:4] {
					assert.LessOrEqual(t, h.Loss, 0.03, "hop %d", h.Distance)
				}
				assert.Greater(t, p.Hops[1].AnswerLoss(), 0.3, "router 2 refused")
				target := p.Hops[4]
				assert.True(t, target.Target)
				assert.InDelta(t, 0.2, target.Loss, 0.08)
				assert.InDelta(t, target.AnswerLoss(), target.Loss, 0.03)
				assert.Zero(t, target.RateLimited)
			})
		})
	}
}

// A route change: router 3 is replaced halfway; both are listed, the change counted.
func TestMonitorRouteChange(t *testing.T) {
	dst := monitorDsts[0]
	bubble(t, mock.TransportConfig{}, func(t *testing.T, n *mock.Network, tr *mock.Transport) {
		routers := monitorChain(t, n, dst, 4, mock.Host{}, nil)
		other := routerAddr(dst, 3, 2)
		var last *result.Path
		for p, err := range probe.Monitor(context.Background(), tr, dst, &probe.MonitorOptions{Cycles: 10, Interval: 300 * time.Millisecond}) {
			require.NoError(t, err)
			if p.Cycles == 5 {
				hops := []mock.Hop{}
				for k := 1; k <= 4; k++ {
					r := mock.Router{Addr: routers[k-1]}
					if k == 3 {
						r.Addr = other
					}
					hops = append(hops, r)
				}
				require.NoError(t, n.AddPath(dst, hops...))
			}
			last = p
		}
		h := last.Hops[2]
		assert.Equal(t, other, h.Address)
		assert.Equal(t, 1, h.RouteChanges)
		require.Len(t, h.Responders, 2)
		assert.Equal(t, result.PathResponder{Address: routers[2], Count: 5, LastCycle: 5}, h.Responders[0])
		assert.Equal(t, result.PathResponder{Address: other, Count: 5, LastCycle: 10}, h.Responders[1])
		assert.Zero(t, last.Hops[1].RouteChanges)
	})
}

// Memory stays bounded: many responders at one distance (ECMP without Paris) keep at most
// MaxPathResponders, and the RTT window its size.
func TestMonitorBounded(t *testing.T) {
	dst := monitorDsts[0]
	bubble(t, mock.TransportConfig{}, func(t *testing.T, n *mock.Network, tr *mock.Transport) {
		var ecmp mock.ECMP
		for i := range 40 {
			ecmp = append(ecmp, mock.Router{Addr: routerAddr(dst, 2, 10+i)})
		}
		require.NoError(t, n.AddPath(dst, mock.Router{Addr: routerAddr(dst, 1, 1)}, ecmp))
		require.NoError(t, n.AddHost(dst, mock.Host{Latency: time.Millisecond}))
		paths := monitorAll(t, tr, dst, &probe.MonitorOptions{Cycles: 300, Interval: 300 * time.Millisecond, Window: 8})
		h := paths[len(paths)-1].Hops[1]
		assert.Len(t, h.Responders, result.MaxPathResponders)
		assert.Len(t, h.Recent, 8)
		assert.Equal(t, 300, h.Sent)
		assert.Positive(t, h.RouteChanges)
		for _, r := range h.Responders {
			assert.Greater(t, r.LastCycle, 200, "the most recent are kept")
		}
	})
}

func TestMonitorBadOptions(t *testing.T) {
	bubble(t, mock.TransportConfig{}, func(t *testing.T, n *mock.Network, tr *mock.Transport) {
		for _, o := range []*probe.MonitorOptions{
			{Cycles: -1}, {Interval: -time.Second}, {MinHops: 5, MaxHops: 4}, {MaxHops: 300}, {Timeout: -1}, {PayloadSize: -1},
		} {
			n := 0
			for p, err := range probe.Monitor(context.Background(), tr, monitorDsts[0], o) {
				n++
				assert.Nil(t, p)
				assert.True(t, icmperrors.Is(err, icmperrors.ErrInvalidArgument), "%+v: %v", o, err)
			}
			assert.Equal(t, 1, n)
		}
		for _, err := range probe.Monitor(context.Background(), nil, monitorDsts[0], nil) {
			assert.True(t, icmperrors.Is(err, icmperrors.ErrInvalidArgument))
		}
	})
}

// Cancelling ends the sequence quietly, within the cycle in progress.
func TestMonitorCancel(t *testing.T) {
	bubble(t, mock.TransportConfig{}, func(t *testing.T, n *mock.Network, tr *mock.Transport) {
		monitorChain(t, n, monitorDsts[0], 2, mock.Host{}, nil)
		ctx, cancel := context.WithTimeout(context.Background(), 2500*time.Millisecond)
		defer cancel()
		cycles := 0
		for p, err := range probe.Monitor(ctx, tr, monitorDsts[0], nil) {
			require.NoError(t, err)
			cycles = p.Cycles
		}
		assert.Equal(t, 3, cycles)
	})
}

// Two monitors on one Prober, to two destinations at once, as the command runs its targets.
func TestMonitorsShareProber(t *testing.T) {
	bubble(t, mock.TransportConfig{}, func(t *testing.T, n *mock.Network, tr *mock.Transport) {
		monitorChain(t, n, monitorDsts[0], 3, mock.Host{}, nil)
		monitorChain(t, n, monitorDsts[1], 2, mock.Host{}, nil)
		pr := probe.New(tr, nil)
		defer pr.Close()
		got := make([]*result.Path, 2)
		done := make(chan int)
		for i, dst := range monitorDsts {
			go func() {
				for p, err := range pr.Monitor(context.Background(), dst, &probe.MonitorOptions{Cycles: 20, Interval: 300 * time.Millisecond}) {
					assert.NoError(t, err)
					got[i] = p
				}
				done <- i
			}()
		}
		<-done
		<-done
		for i, want := range []int{4, 3} {
			require.NotNil(t, got[i])
			require.Len(t, got[i].Hops, want)
			for _, h := range got[i].Hops {
				assert.Equal(t, 20, h.Received, "%s hop %d", monitorDsts[i], h.Distance)
			}
		}
		// A closed Prober fails at once.
		pr.Close()
		for p, err := range pr.Monitor(context.Background(), monitorDsts[0], nil) {
			assert.Nil(t, p)
			assert.True(t, icmperrors.Is(err, icmperrors.ErrUnavailable), "%v", err)
		}
	})
}

// A destination that answers every probe twice: the copies count in Duplicates, not in
// Received, and the last cycle does not wait for them.
func TestMonitorDuplicates(t *testing.T) {
	for _, dst := range monitorDsts {
		t.Run(dst.String(), func(t *testing.T) {
			bubble(t, mock.TransportConfig{}, func(t *testing.T, n *mock.Network, tr *mock.Transport) {
				monitorChain(t, n, dst, 2, mock.Host{Duplicates: 1}, nil)
				start := time.Now()
				paths := monitorAll(t, tr, dst, &probe.MonitorOptions{Cycles: 5, Interval: 300 * time.Millisecond})
				assert.Equal(t, 4*300*time.Millisecond+10*time.Millisecond, time.Since(start))
				require.Len(t, paths, 5)
				p := paths[4]
				require.Len(t, p.Hops, 3)
				for _, h := range p.Hops[:2] {
					assert.Zero(t, h.Duplicates, "hop %d", h.Distance)
				}
				h := p.Hops[2]
				assert.True(t, h.Target)
				assert.Equal(t, 5, h.Sent)
				assert.Equal(t, 5, h.Received)
				assert.Equal(t, 4, h.Duplicates)
				assert.Zero(t, h.Loss)
				assert.Equal(t, 1, paths[0].Hops[2].Duplicates)
			})
		})
	}
}

// Each cycle pings every router's own address: the answers count in Pinged. A router that
// answers no echo request is found refusing them within a few, and no longer pinged; with
// NoHopPings none is.
func TestMonitorHopPings(t *testing.T) {
	for _, dst := range monitorDsts {
		t.Run(dst.String(), func(t *testing.T) {
			bubble(t, mock.TransportConfig{}, func(t *testing.T, n *mock.Network, tr *mock.Transport) {
				routers := monitorChain(t, n, dst, 3, mock.Host{}, nil)
				// Routers 1 and 2 answer echo requests to their addresses; router 3 does not.
				require.NoError(t, n.AddHost(routers[0], mock.Host{Latency: time.Millisecond}))
				require.NoError(t, n.AddPath(routers[1], mock.Router{Addr: routers[0], Latency: time.Millisecond}))
				require.NoError(t, n.AddHost(routers[1], mock.Host{Latency: 2 * time.Millisecond}))
				paths := monitorAll(t, tr, dst, &probe.MonitorOptions{Cycles: 20, Interval: 300 * time.Millisecond})
				require.Len(t, paths, 20)
				p := paths[19]
				require.Len(t, p.Hops, 4)
				for _, h := range p.Hops[:2] {
					// Pinged from the second cycle on; an answer counts once the timeout
					// (2 s) has passed, as a silence would: those of cycles 2 to 13.
					assert.Equal(t, 12, h.Pinged, "hop %d", h.Distance)
					assert.Zero(t, h.PingLost, "hop %d", h.Distance)
					assert.False(t, h.PingRefused, "hop %d", h.Distance)
				}
				h := p.Hops[2]
				assert.True(t, h.PingRefused)
				assert.Equal(t, h.Pinged, h.PingLost)
				// Those sent before the first timeouts time out too, then no more are sent.
				assert.LessOrEqual(t, h.Pinged, 12)
				assert.Equal(t, paths[16].Hops[2].Pinged, h.Pinged, "no longer pinged once refusing")
				for _, h := range p.Hops {
					assert.Zero(t, h.Loss, "hop %d", h.Distance)
				}
				assert.Zero(t, p.Hops[3].Pinged, "the destination is probed, not pinged")

				paths = monitorAll(t, tr, dst, &probe.MonitorOptions{Cycles: 5, Interval: 300 * time.Millisecond, NoHopPings: true})
				for _, h := range paths[4].Hops {
					assert.Zero(t, h.Pinged, "hop %d", h.Distance)
				}
			})
		})
	}
}

// An echo request that cannot be sent to a router's address (here a broadcast address, with
// broadcast off) counts as lost: the router is soon refusing and no longer pinged, and the
// monitor goes on.
func TestMonitorHopPingSendError(t *testing.T) {
	dst := monitorDsts[0]
	bubble(t, mock.TransportConfig{}, func(t *testing.T, n *mock.Network, tr *mock.Transport) {
		routers := monitorChain(t, n, dst, 2, mock.Host{}, nil)
		require.NoError(t, n.AddBroadcast(routers[1]))
		paths := monitorAll(t, tr, dst, &probe.MonitorOptions{Cycles: 20, Interval: 300 * time.Millisecond})
		require.Len(t, paths, 20)
		h := paths[19].Hops[1]
		assert.True(t, h.PingRefused)
		assert.Equal(t, h.Pinged, h.PingLost)
		assert.Positive(t, h.Pinged)
		assert.LessOrEqual(t, h.Pinged, 12)
		assert.Equal(t, paths[16].Hops[1].Pinged, h.Pinged, "no longer pinged once refusing")
		assert.Zero(t, h.Loss)
		assert.Equal(t, 20, h.Received)
	})
}
