package probe_test

import (
	"context"
	"fmt"
	"net/netip"
	"slices"
	"testing"
	"time"

	"github.com/icmpkit/icmpkit/probe"
	"github.com/icmpkit/icmpkit/result"
	"github.com/icmpkit/icmpkit/transport"
	"github.com/icmpkit/icmpkit/transport/mock"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestTraceOnProbe checks that OnProbe reports every probe sent to a distance of the result,
// once, in the order of its rounds, before the distance's OnHop, and agrees with the hops.
func TestTraceOnProbe(t *testing.T) {
	bubble(t, mock.TransportConfig{}, func(t *testing.T, n *mock.Network, tr *mock.Transport) {
		dst := netip.MustParseAddr("198.18.200.1")
		require.NoError(t, n.AddHost(dst, mock.Host{Latency: 9 * time.Millisecond, Loss: 0.5}))
		routers := chain(t, n, dst, 4, func(k int, r *mock.Router) { r.Silent = k == 2 })
		var events []string
		byDist := map[int][]probe.TraceOutcome{}
		opts := &probe.TraceOptions{
			Count: 5, Timeout: 500 * time.Millisecond,
			OnProbe: func(o probe.TraceOutcome) {
				events = append(events, fmt.Sprintf("probe %d/%d", o.Distance, o.Round))
				byDist[o.Distance] = append(byDist[o.Distance], o)
			},
			OnHop: func(h result.Hop) { events = append(events, fmt.Sprintf("hop %d", h.Distance)) },
		}
		trace, err := probe.Traceroute(context.Background(), tr, dst, opts)
		require.NoError(t, err)
		require.True(t, trace.Reached)
		require.Equal(t, []int{1, 3, 4, 5}, distances(trace.Hops))

		for d := 1; d <= 5; d++ {
			outs := byDist[d]
			rounds := make([]int, len(outs))
			for i, o := range outs {
				rounds[i] = o.Round
				assert.Equal(t, d, o.Distance)
			}
			slices.Sort(rounds)
			assert.Equal(t, []int{0, 1, 2, 3, 4}, rounds, "distance %d: each round once", d)
			hopAt := slices.Index(events, fmt.Sprintf("hop %d", d))
			for _, o := range outs {
				if hopAt >= 0 {
					assert.Less(t, slices.Index(events, fmt.Sprintf("probe %d/%d", d, o.Round)), hopAt, "distance %d: probes before the hop", d)
				}
			}
		}
		for _, o := range byDist[2] {
			assert.True(t, o.TimedOut, "the silent router answers nothing")
			assert.Zero(t, o.Reply)
		}
		lost := 0
		for _, h := range trace.Hops {
			var rtts []time.Duration
			for _, o := range byDist[h.Distance] {
				if o.TimedOut {
					lost++
					continue
				}
				rtts = append(rtts, o.RTT)
				assert.Contains(t, h.Responders, o.Reply.Source)
				want := dst
				if h.Distance <= len(routers) {
					want = routers[h.Distance-1]
					assert.Equal(t, transport.KindTimeExceeded, o.Reply.Kind())
				} else {
					assert.Equal(t, transport.KindEchoReply, o.Reply.Kind())
				}
				assert.Equal(t, want, o.Reply.Source)
			}
			assert.ElementsMatch(t, h.RTTs, rtts, "distance %d", h.Distance)
			assert.Equal(t, h.PacketsSent, len(byDist[h.Distance]))
		}
		assert.Positive(t, lost, "the lossy destination lost some")
	})
}

// TestTraceOnProbeSilent checks that a silent distance, asked again when a farther one
// answered, still reports each of its probes once, as timed out.
func TestTraceOnProbeSilent(t *testing.T) {
	bubble(t, mock.TransportConfig{}, func(t *testing.T, n *mock.Network, tr *mock.Transport) {
		dst := netip.MustParseAddr("198.18.200.1")
		require.NoError(t, n.AddHost(dst, mock.Host{Latency: 3 * time.Millisecond}))
		chain(t, n, dst, 2, func(k int, r *mock.Router) { r.Silent = k == 1 })
		var first []int
		_, err := probe.Traceroute(context.Background(), tr, dst, &probe.TraceOptions{
			Count: 2, Timeout: 2 * time.Second,
			OnProbe: func(o probe.TraceOutcome) {
				if o.Distance == 1 {
					assert.True(t, o.TimedOut)
					assert.Zero(t, o.RateLimited)
					first = append(first, o.Round)
				}
			},
		})
		require.NoError(t, err)
		assert.ElementsMatch(t, []int{0, 1}, first, "each round once")
		toFirst := 0
		for _, req := range tr.Sent() {
			if req.TTL == 1 {
				toFirst++
			}
		}
		assert.Equal(t, 3, toFirst, "two rounds and one scout")
	})
}

// TestTracePayload checks a caller's payload, an empty one included, and its padding in Paris
// mode.
func TestTracePayload(t *testing.T) {
	for _, c := range []struct {
		payload []byte
		paris   bool
		want    int
	}{{[]byte{}, false, 0}, {[]byte{}, true, 2}, {[]byte{7}, true, 2}, {make([]byte, 32), false, 32}, {make([]byte, 32), true, 32}} {
		t.Run(fmt.Sprint(len(c.payload), c.paris), func(t *testing.T) {
			bubble(t, mock.TransportConfig{}, func(t *testing.T, n *mock.Network, tr *mock.Transport) {
				dst := netip.MustParseAddr("2001:db8::9")
				require.NoError(t, n.AddHost(dst, mock.Host{Latency: time.Millisecond}))
				var bytes []int
				trace, err := probe.Traceroute(context.Background(), tr, dst, &probe.TraceOptions{
					Payload: c.payload, Paris: c.paris, Window: 1,
					OnProbe: func(o probe.TraceOutcome) { bytes = append(bytes, o.Reply.Bytes) },
				})
				require.NoError(t, err)
				require.True(t, trace.Reached)
				sent := tr.Sent()
				require.Len(t, sent, 3)
				for _, req := range sent {
					assert.Equal(t, c.want, req.PayloadLen())
				}
				assert.Equal(t, []int{8 + c.want, 8 + c.want, 8 + c.want}, bytes, "the echo replies carry the payload back")
				if c.paris {
					assert.Equal(t, sent[0].Payload[2:], sent[1].Payload[2:], "only the checksum bytes vary")
				}
			})
		})
	}
}
