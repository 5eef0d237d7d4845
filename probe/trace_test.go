package probe_test

import (
	"context"
	"net/netip"
	"testing"
	"testing/synctest"
	"time"

	"github.com/icmpkit/icmpkit/errors"
	"github.com/icmpkit/icmpkit/probe"
	"github.com/icmpkit/icmpkit/result"
	"github.com/icmpkit/icmpkit/transport"
	"github.com/icmpkit/icmpkit/transport/mock"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/net/icmp"
	"golang.org/x/net/ipv4"
	"golang.org/x/net/ipv6"
)

// chain builds a path of n routers to dst (router k answers from 198.18.k.1, or 2001:db8:k::1),
// each 1 ms farther, and returns the routers' addresses.
func chain(t *testing.T, n *mock.Network, dst netip.Addr, routers int, tweak func(k int, r *mock.Router)) []netip.Addr {
	t.Helper()
	var hops []mock.Hop
	var addrs []netip.Addr
	for k := 1; k <= routers; k++ {
		a := netip.AddrFrom4([4]byte{198, 18, byte(k), 1})
		if dst.Is6() {
			a = netip.MustParseAddr("2001:db8::").Next()
			b := a.As16()
			b[5] = byte(k)
			a = netip.AddrFrom16(b)
		}
		r := mock.Router{Addr: a, Latency: time.Duration(k) * time.Millisecond}
		if tweak != nil {
			tweak(k, &r)
		}
		hops = append(hops, r)
		addrs = append(addrs, a)
	}
	require.NoError(t, n.AddPath(dst, hops...))
	return addrs
}

func distances(hops []result.Hop) []int {
	var d []int
	for _, h := range hops {
		d = append(d, h.Distance)
	}
	return d
}

func TestTracerouteChain(t *testing.T) {
	for _, dst := range []netip.Addr{netip.MustParseAddr("198.18.200.1"), netip.MustParseAddr("2001:db8:ff::1")} {
		t.Run(dst.String(), func(t *testing.T) {
			bubble(t, mock.TransportConfig{}, func(t *testing.T, n *mock.Network, tr *mock.Transport) {
				require.NoError(t, n.AddHost(dst, mock.Host{Latency: 20 * time.Millisecond}))
				routers := chain(t, n, dst, 7, nil)
				start := time.Now()
				var streamed []int
				trace, err := probe.Traceroute(context.Background(), tr, dst, &probe.TraceOptions{OnHop: func(h result.Hop) { streamed = append(streamed, h.Distance) }})
				require.NoError(t, err)
				assert.True(t, trace.Reached)
				assert.Equal(t, dst, trace.Destination)
				require.Len(t, trace.Hops, 8)
				for i, h := range trace.Hops {
					assert.Equal(t, i+1, h.Distance)
					assert.Equal(t, 3, h.PacketsSent)
					assert.Equal(t, 3, h.PacketsReceived())
					if i < 7 {
						assert.Equal(t, routers[i], h.Address)
						assert.Equal(t, time.Duration(i+1)*time.Millisecond, h.AvgRTT())
					} else {
						assert.Equal(t, dst, h.Address)
						assert.Equal(t, 20*time.Millisecond, h.AvgRTT())
					}
					assert.Len(t, h.Responders, 1)
				}
				assert.Equal(t, distances(trace.Hops), streamed, "hops stream in ascending order")
				// The first window goes out at once, distances 1..16; after the destination
				// answered (20 ms later) nothing farther is sent.
				for _, req := range tr.Sent() {
					if req.TTL > 8 {
						assert.Less(t, req.SentAt.Sub(start), 20*time.Millisecond, "ttl %d sent after the destination was found", req.TTL)
					}
				}
			})
		})
	}
}

func TestTracerouteSilentRoutersCostOneTimeout(t *testing.T) {
	bubble(t, mock.TransportConfig{}, func(t *testing.T, n *mock.Network, tr *mock.Transport) {
		dst := netip.MustParseAddr("198.18.200.1")
		require.NoError(t, n.AddHost(dst, mock.Host{Latency: 31 * time.Millisecond}))
		silent := func(k int) bool { return k%3 != 0 && k < 30 } // 20 of 29 routers are silent
		routers := chain(t, n, dst, 29, func(k int, r *mock.Router) { r.Silent = silent(k) })
		start := time.Now()
		trace, err := probe.Traceroute(context.Background(), tr, dst, &probe.TraceOptions{Timeout: 2 * time.Second})
		require.NoError(t, err)
		elapsed := time.Since(start)
		var want []int
		for k := 1; k <= 29; k++ {
			if !silent(k) {
				want = append(want, k)
			}
		}
		want = append(want, 30)
		assert.Equal(t, want, distances(trace.Hops))
		for _, h := range trace.Hops[:len(trace.Hops)-1] {
			assert.Equal(t, routers[h.Distance-1], h.Address)
		}
		assert.Less(t, elapsed, 3*time.Second, "silent hops are waited out together, not one by one (took %v)", elapsed)
	})
}

func TestTracerouteHopByHop(t *testing.T) {
	bubble(t, mock.TransportConfig{}, func(t *testing.T, n *mock.Network, tr *mock.Transport) {
		dst := netip.MustParseAddr("198.18.200.1")
		require.NoError(t, n.AddHost(dst, mock.Host{}))
		chain(t, n, dst, 3, func(k int, r *mock.Router) { r.Silent = k == 2 })
		start := time.Now()
		trace, err := probe.Traceroute(context.Background(), tr, dst, &probe.TraceOptions{Window: 1, Count: 2, Timeout: time.Second, Interval: -1})
		require.NoError(t, err)
		assert.Equal(t, []int{1, 3, 4}, distances(trace.Hops))
		// With one probe in flight, the silent hop's two probes are waited out one after the
		// other, up to the point where each gives its place to the next probe.
		assert.Greater(t, time.Since(start), 2*20*time.Millisecond)
	})
}

func TestTracerouteUnreachableEndsTrace(t *testing.T) {
	bubble(t, mock.TransportConfig{}, func(t *testing.T, n *mock.Network, tr *mock.Transport) {
		dst := netip.MustParseAddr("198.18.200.1")
		require.NoError(t, n.AddHost(dst, mock.Host{}))
		chain(t, n, dst, 6, func(k int, r *mock.Router) {
			if k == 4 {
				r.Unreachable, r.UnreachableCode = true, 13
			}
		})
		start := time.Now()
		trace, err := probe.Traceroute(context.Background(), tr, dst, nil)
		require.NoError(t, err)
		assert.False(t, trace.Reached)
		assert.Equal(t, []int{1, 2, 3, 4}, distances(trace.Hops))
		assert.Equal(t, "!X", trace.Hops[3].Unreachable)
		assert.Equal(t, "", trace.Hops[2].Unreachable)
		for _, req := range tr.Sent() {
			if req.TTL > 4 {
				assert.Less(t, req.SentAt.Sub(start), 4*time.Millisecond, "ttl %d sent after the unreachable answer", req.TTL)
			}
		}
	})
}

func TestTracerouteOptions(t *testing.T) {
	bubble(t, mock.TransportConfig{}, func(t *testing.T, n *mock.Network, tr *mock.Transport) {
		dst := netip.MustParseAddr("198.18.200.1")
		require.NoError(t, n.AddHost(dst, mock.Host{}))
		chain(t, n, dst, 9, nil)

		trace, err := probe.Traceroute(context.Background(), tr, dst, &probe.TraceOptions{MinHops: 3, MaxHops: 6, Count: 2})
		require.NoError(t, err)
		assert.Equal(t, []int{3, 4, 5, 6}, distances(trace.Hops))
		assert.False(t, trace.Reached)
		for _, req := range tr.Sent() {
			assert.GreaterOrEqual(t, req.TTL, 3)
			assert.LessOrEqual(t, req.TTL, 6)
		}
		assert.Len(t, tr.Sent(), 8)

		before := len(tr.Sent())
		trace, err = probe.Traceroute(context.Background(), tr, dst, &probe.TraceOptions{FastMode: true, Window: 1})
		require.NoError(t, err)
		assert.Len(t, trace.Hops, 10)
		assert.Len(t, tr.Sent()[before:], 10, "fast mode: one probe per answering hop")
		for _, h := range trace.Hops {
			assert.Equal(t, 1, h.PacketsSent)
		}

		before = len(tr.Sent())
		_, err = probe.Traceroute(context.Background(), tr, dst, &probe.TraceOptions{MaxHops: 2, Count: 3, Interval: 100 * time.Millisecond, Window: 64, ID: 999, TrafficClass: 32})
		require.NoError(t, err)
		sent := tr.Sent()[before:]
		require.Len(t, sent, 6)
		last := map[int]time.Time{}
		for _, req := range sent {
			assert.Equal(t, 999, req.ID)
			assert.Equal(t, 32, req.TrafficClass)
			if at, ok := last[req.TTL]; ok {
				assert.Equal(t, 100*time.Millisecond, req.SentAt.Sub(at), "probes of one distance go an interval apart")
			}
			last[req.TTL] = req.SentAt
		}
	})
}

func TestTracerouteDestinationAnswersEarly(t *testing.T) {
	bubble(t, mock.TransportConfig{}, func(t *testing.T, n *mock.Network, tr *mock.Transport) {
		dst := netip.MustParseAddr("198.18.200.1")
		require.NoError(t, n.AddHost(dst, mock.Host{}))
		// The third router answers with the destination's address, as a destination reached
		// through a router that does not decrement the TTL would appear.
		chain(t, n, dst, 5, func(k int, r *mock.Router) {
			if k == 3 {
				r.Addr = dst
			}
		})
		trace, err := probe.Traceroute(context.Background(), tr, dst, nil)
		require.NoError(t, err)
		assert.True(t, trace.Reached)
		assert.Equal(t, []int{1, 2, 3}, distances(trace.Hops))
		assert.Equal(t, dst, trace.Hops[2].Address)
	})
}

func TestTracerouteECMPAndMPLS(t *testing.T) {
	bubble(t, mock.TransportConfig{}, func(t *testing.T, n *mock.Network, tr *mock.Transport) {
		dst := netip.MustParseAddr("198.18.200.1")
		require.NoError(t, n.AddHost(dst, mock.Host{}))
		a, b, c := netip.MustParseAddr("198.18.2.1"), netip.MustParseAddr("198.18.2.2"), netip.MustParseAddr("198.18.2.3")
		labels := []icmp.MPLSLabel{{Label: 24001, TC: 0, S: true, TTL: 1}}
		require.NoError(t, n.AddPath(dst,
			mock.Router{Addr: netip.MustParseAddr("198.18.1.1")},
			mock.ECMP{{Addr: a}, {Addr: b}, {Addr: c}},
			mock.Router{Addr: netip.MustParseAddr("198.18.3.1"), MPLS: labels},
		))
		trace, err := probe.Traceroute(context.Background(), tr, dst, &probe.TraceOptions{Count: 30, Interval: -1})
		require.NoError(t, err)
		require.Len(t, trace.Hops, 4)
		assert.ElementsMatch(t, []netip.Addr{a, b, c}, trace.Hops[1].Responders, "every responder at a distance is recorded")
		assert.Equal(t, trace.Hops[1].Responders[0], trace.Hops[1].Address)
		assert.Equal(t, labels, trace.Hops[2].MPLS)
		assert.Empty(t, trace.Hops[0].MPLS)

		// Paris mode keeps one flow: one responder, and one checksum on every probe.
		before := len(tr.Sent())
		trace, err = probe.Traceroute(context.Background(), tr, dst, &probe.TraceOptions{Count: 12, Paris: true})
		require.NoError(t, err)
		assert.Len(t, trace.Hops[1].Responders, 1)
		sums := map[uint16]bool{}
		ids := map[int]bool{}
		for _, req := range tr.Sent()[before:] {
			sums[checksum(t, req.Destination, req.ID, req.Seq, req.Payload)] = true
			ids[req.ID] = true
		}
		assert.Len(t, sums, 1, "checksum constant across TTLs and sequences")
		assert.Len(t, ids, 1)
	})
}

// checksum marshals an echo request as x/net does and returns its ICMP checksum.
func checksum(t *testing.T, dst netip.Addr, id, seq int, payload []byte) uint16 {
	var typ icmp.Type = ipv4.ICMPTypeEcho
	if dst.Is6() {
		typ = ipv6.ICMPTypeEchoRequest
	}
	b, err := (&icmp.Message{Type: typ, Body: &icmp.Echo{ID: id, Seq: seq, Data: payload}}).Marshal(nil)
	require.NoError(t, err)
	return uint16(b[2])<<8 | uint16(b[3])
}

func TestTracerouteCancelAndInvalid(t *testing.T) {
	bubble(t, mock.TransportConfig{}, func(t *testing.T, n *mock.Network, tr *mock.Transport) {
		dst := netip.MustParseAddr("198.18.200.1")
		chain(t, n, dst, 3, nil) // the destination itself never answers
		ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
		defer cancel()
		trace, err := probe.Traceroute(ctx, tr, dst, nil)
		require.ErrorIs(t, err, context.DeadlineExceeded)
		assert.Equal(t, []int{1, 2, 3}, distances(trace.Hops), "what was final before the end")

		for name, o := range map[string]probe.TraceOptions{
			"count":     {Count: -1},
			"min > max": {MinHops: 10, MaxHops: 5},
			"max 256":   {MaxHops: 256},
			"timeout":   {Timeout: -1},
			"window":    {Window: -1},
			"id":        {ID: 70000},
			"tclass":    {TrafficClass: 999},
		} {
			_, err := probe.Traceroute(context.Background(), tr, dst, &o)
			assert.True(t, errors.Is(err, errors.ErrInvalidArgument), "%s: %v", name, err)
		}
		_, err = probe.Traceroute(context.Background(), tr, netip.Addr{}, nil)
		assert.True(t, errors.Is(err, errors.ErrInvalidArgument))
	})
}

func TestTraceroutePathMTU(t *testing.T) {
	for _, dst := range []netip.Addr{netip.MustParseAddr("198.18.200.1"), netip.MustParseAddr("2001:db8:ff::1")} {
		t.Run(dst.String(), func(t *testing.T) {
			bubble(t, mock.TransportConfig{}, func(t *testing.T, n *mock.Network, tr *mock.Transport) {
				require.NoError(t, n.AddHost(dst, mock.Host{}))
				chain(t, n, dst, 6, func(k int, r *mock.Router) {
					switch k {
					case 3:
						r.MTU = 1400 // router 3 forwards onto a 1400-byte link
					case 5:
						r.MTU = 1300
					}
				})
				trace, err := probe.Traceroute(context.Background(), tr, dst, &probe.TraceOptions{PathMTU: true})
				require.NoError(t, err)
				require.Equal(t, []int{1, 2, 3, 4, 5, 6, 7}, distances(trace.Hops))
				assert.True(t, trace.Reached)
				want := []int{1500, 1500, 1500, 1400, 1400, 1300, 1300}
				for i, h := range trace.Hops {
					assert.Equal(t, want[i], h.MTU, "hop %d", h.Distance)
					assert.Equal(t, 3, h.PacketsSent, "hop %d: a shrunk probe is the same probe", h.Distance)
					assert.Equal(t, 3, h.PacketsReceived(), "hop %d", h.Distance)
					assert.Empty(t, h.Unreachable, "a too-big answer is not an unreachable hop")
				}
				assert.Equal(t, 1300, trace.PathMTU)
				for _, req := range tr.Sent() {
					assert.True(t, req.DontFragment)
				}
			})
		})
	}
}

// The end's answer may come before the too-big answers that far probes drew from a router
// nearer than it: the trace ends there, and yet those answers count for the MTU of the hops
// up to that router. Router 2 forwards onto a 1350-byte link and answers with up to 30 ms of
// jitter, while the target answers at once.
func TestTraceroutePathMTULateTooBig(t *testing.T) {
	dst := netip.MustParseAddr("198.18.200.1")
	for seed := range uint64(20) {
		synctest.Test(t, func(t *testing.T) {
			n := mock.NewNetwork(mock.Config{Seed: seed})
			tr := n.Transport(mock.TransportConfig{})
			defer tr.Close()
			require.NoError(t, n.AddHost(dst, mock.Host{}))
			chain(t, n, dst, 4, func(k int, r *mock.Router) {
				if k == 2 {
					r.MTU, r.Jitter = 1350, 30*time.Millisecond
				}
			})
			link := &smallLink{Transport: tr, mtu: 1400}
			trace, err := probe.Traceroute(context.Background(), link, dst, &probe.TraceOptions{PathMTU: true})
			require.NoError(t, err)
			require.Equal(t, []int{1, 2, 3, 4, 5}, distances(trace.Hops), "seed %d", seed)
			want := []int{1400, 1400, 1350, 1350, 1350}
			for i, h := range trace.Hops {
				assert.Equal(t, want[i], h.MTU, "seed %d: hop %d", seed, h.Distance)
			}
			assert.Equal(t, 1350, trace.PathMTU, "seed %d", seed)
		})
	}
}

// smallLink refuses, as a local link with a small MTU does, requests that may not be fragmented
// and are larger than mtu.
type smallLink struct {
	*mock.Transport
	mtu     int
	refused int
}

func (l *smallLink) Send(ctx context.Context, req *transport.Request) error {
	hdr := 28
	if req.Destination.Is6() {
		hdr = 48
	}
	if req.DontFragment && hdr+len(req.Payload) > l.mtu {
		l.refused++
		return &errors.Error{Op: "send", Class: errors.ErrMessageSize}
	}
	return l.Transport.Send(ctx, req)
}

func TestTraceroutePathMTUOfTheLocalLink(t *testing.T) {
	for _, dst := range []netip.Addr{netip.MustParseAddr("198.18.200.1"), netip.MustParseAddr("2001:db8:ff::1")} {
		t.Run(dst.String(), func(t *testing.T) {
			bubble(t, mock.TransportConfig{}, func(t *testing.T, n *mock.Network, tr *mock.Transport) {
				require.NoError(t, n.AddHost(dst, mock.Host{}))
				chain(t, n, dst, 4, func(k int, r *mock.Router) {
					if k == 2 {
						r.MTU = 1350
					}
				})
				link := &smallLink{Transport: tr, mtu: 1400}
				trace, err := probe.Traceroute(context.Background(), link, dst, &probe.TraceOptions{PathMTU: true})
				require.NoError(t, err)
				require.Equal(t, []int{1, 2, 3, 4, 5}, distances(trace.Hops))
				want := []int{1400, 1400, 1350, 1350, 1350}
				for i, h := range trace.Hops {
					assert.Equal(t, want[i], h.MTU, "hop %d", h.Distance)
					assert.Equal(t, 3, h.PacketsReceived(), "hop %d", h.Distance)
				}
				assert.Equal(t, 1350, trace.PathMTU)
				assert.LessOrEqual(t, link.refused, 12, "the local MTU is found by bisection")
				for _, req := range tr.Sent() {
					hdr := 28
					if dst.Is6() {
						hdr = 48
					}
					assert.LessOrEqual(t, hdr+len(req.Payload), 1400, "nothing larger than the local link went out")
				}

				// A link smaller than the family's minimum MTU is an error, not a hang.
				link = &smallLink{Transport: tr, mtu: 60}
				_, err = probe.Traceroute(context.Background(), link, dst, &probe.TraceOptions{PathMTU: true})
				assert.True(t, errors.Is(err, errors.ErrMessageSize), "got %v", err)
			})
		})
	}
}

// exhausted drops the answers of one router until a given time, as a router whose ICMP rate
// limit is spent does until its bucket refills.
type exhausted struct {
	t      *mock.Transport
	router netip.Addr
	until  time.Time
}

func (x *exhausted) Send(ctx context.Context, req *transport.Request) error {
	return x.t.Send(ctx, req)
}

func (x *exhausted) Receive(ctx context.Context, r *transport.Reply) error {
	for {
		if err := x.t.Receive(ctx, r); err != nil {
			return err
		}
		if r.Source != x.router || !r.ReceivedAt.Before(x.until) {
			return nil
		}
	}
}

func (x *exhausted) Close() error { return x.t.Close() }

func TestTracerouteRetriesARateLimitedHop(t *testing.T) {
	bubble(t, mock.TransportConfig{}, func(t *testing.T, n *mock.Network, tr *mock.Transport) {
		dst := netip.MustParseAddr("198.18.200.1")
		require.NoError(t, n.AddHost(dst, mock.Host{Latency: 5 * time.Millisecond}))
		routers := chain(t, n, dst, 4, func(k int, r *mock.Router) { r.Silent = k == 4 })
		start := time.Now()
		x := &exhausted{t: tr, router: routers[1], until: start.Add(900 * time.Millisecond)}
		trace, err := probe.Traceroute(context.Background(), x, dst, &probe.TraceOptions{Interval: -1})
		require.NoError(t, err)
		elapsed := time.Since(start)
		assert.Equal(t, []int{1, 2, 3, 5}, distances(trace.Hops), "the limited hop answers when asked again; the silent one stays silent")
		hop2 := trace.Hops[1]
		assert.Equal(t, routers[1], hop2.Address)
		assert.Equal(t, 3, hop2.PacketsSent, "three probes")
		assert.Equal(t, 3, hop2.PacketsReceived(), "each answered when sent again")
		assert.Equal(t, 3, hop2.RateLimited, "each lost its first send to the limit")
		assert.Equal(t, 3, trace.Hops[0].PacketsSent)
		assert.Zero(t, trace.Hops[0].RateLimited, "answered hops are not asked again")
		assert.LessOrEqual(t, elapsed, 3*time.Second+probe.DefaultTimeout, "one answer a second, after a scout at 1 s")
	})
}
