package probe_test

import (
	"context"
	"fmt"
	"iter"
	"net/netip"
	"slices"
	"testing"
	"time"

	"github.com/icmpkit/icmpkit/errors"
	"github.com/icmpkit/icmpkit/probe"
	"github.com/icmpkit/icmpkit/result"
	"github.com/icmpkit/icmpkit/transport/mock"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// addrN gives the n-th address of 198.18.0.0/15 (n < 2^17).
func addrN(n int) netip.Addr {
	return netip.AddrFrom4([4]byte{198, 18 + byte(n>>16), byte(n >> 8), byte(n)})
}

func v6N(n int) netip.Addr {
	b := netip.MustParseAddr("2001:db8::").As16()
	b[13], b[14], b[15] = byte(n>>16), byte(n>>8), byte(n)
	return netip.AddrFrom16(b)
}

func TestMultipingInputOrderMixedFamilies(t *testing.T) {
	bubble(t, mock.TransportConfig{}, func(t *testing.T, n *mock.Network, tr *mock.Transport) {
		var targets []netip.Addr
		for i := range 40 {
			a := addrN(i + 1)
			if i%2 == 1 {
				a = v6N(i + 1)
			}
			targets = append(targets, a)
			// Later targets answer sooner, so completion order is the reverse of input order.
			require.NoError(t, n.AddHost(a, mock.Host{Latency: time.Duration(40-i) * time.Millisecond, Dead: i%5 == 4}))
		}
		start := time.Now()
		hosts, err := probe.Multiping(context.Background(), tr, targets, nil)
		require.NoError(t, err)
		require.Len(t, hosts, len(targets))
		for i, h := range hosts {
			assert.Equal(t, targets[i], h.Address)
			assert.Equal(t, 2, h.PacketsSent)
			if i%5 == 4 {
				assert.False(t, h.IsAlive(), "host %d is dead", i)
			} else {
				assert.Equal(t, 2, h.PacketsReceived(), "host %d", i)
				assert.Equal(t, time.Duration(40-i)*time.Millisecond, h.MinRTT())
			}
		}
		// Defaults: 2 requests, 1 s apart, 2 s timeout; dead hosts set the end.
		assert.Equal(t, 3*time.Second, time.Since(start))
	})
}

func TestMultipingReturnsWhenAllAnswered(t *testing.T) {
	bubble(t, mock.TransportConfig{}, func(t *testing.T, n *mock.Network, tr *mock.Transport) {
		targets := []netip.Addr{hostA, hostB}
		require.NoError(t, n.AddHost(hostA, mock.Host{Latency: 4 * time.Millisecond}))
		require.NoError(t, n.AddHost(hostB, mock.Host{Latency: 7 * time.Millisecond}))
		start := time.Now()
		_, err := probe.Multiping(context.Background(), tr, targets, &probe.MultipingOptions{Count: 1})
		require.NoError(t, err)
		assert.Equal(t, 7*time.Millisecond, time.Since(start), "no timeout is waited out when nothing waits on it")
	})
}

func TestMultipingHundredThousandHosts(t *testing.T) {
	if testing.Short() {
		t.Skip("large simulation")
	}
	bubble(t, mock.TransportConfig{NoRecord: true}, func(t *testing.T, n *mock.Network, tr *mock.Transport) {
		const total = 100_000
		targets := make([]netip.Addr, total)
		for i := range targets {
			targets[i] = addrN(i)
			h := mock.Host{Latency: time.Duration(1+i%50) * time.Millisecond}
			switch {
			case i%10 == 3:
				h.Dead = true
			case i%20 == 7:
				h.Loss = 0.5
			}
			require.NoError(t, n.AddHost(targets[i], h))
		}
		hosts, err := probe.Multiping(context.Background(), tr, targets, &probe.MultipingOptions{Count: 2, Interval: 100 * time.Millisecond, Timeout: time.Second, Window: 20_000})
		require.NoError(t, err)
		var alive, dead, partial, received int
		for i, h := range hosts {
			require.Equal(t, targets[i], h.Address)
			require.Equal(t, 2, h.PacketsSent)
			received += h.PacketsReceived()
			switch {
			case i%10 == 3:
				require.False(t, h.IsAlive())
				dead++
			case i%20 == 7:
				if h.PacketsReceived() < 2 {
					partial++
				}
			default:
				require.Equal(t, 2, h.PacketsReceived(), "host %d", i)
				alive++
			}
		}
		assert.Equal(t, total/10, dead)
		assert.InDelta(t, 0.75*total/20, partial, 0.1*total/20, "half-lossy hosts miss at least one of two three times in four")
		assert.Equal(t, tr.Counts().Delivered, received, "every delivered reply counted once")
		assert.Equal(t, 2*total, tr.Counts().Sent)
	})
}

func TestMultipingWindowAndRate(t *testing.T) {
	bubble(t, mock.TransportConfig{}, func(t *testing.T, n *mock.Network, tr *mock.Transport) {
		targets := make([]netip.Addr, 500)
		for i := range targets {
			targets[i] = addrN(i)
			require.NoError(t, n.AddHost(targets[i], mock.Host{Latency: 10 * time.Millisecond}))
		}
		start := time.Now()
		hosts, err := probe.Multiping(context.Background(), tr, targets, &probe.MultipingOptions{Count: 1, Rate: 1000})
		require.NoError(t, err)
		for _, h := range hosts {
			require.Equal(t, 1, h.PacketsReceived())
		}
		sent := tr.Sent()
		require.Len(t, sent, 500)
		// 1000 per second: request k goes out at k ms.
		for k, req := range sent {
			assert.Equal(t, time.Duration(k)*time.Millisecond, req.SentAt.Sub(start), "request %d", k)
		}

		// Window 10 with 10 ms RTTs: batches of 10 every 10 ms.
		before := len(tr.Sent())
		start = time.Now()
		_, err = probe.Multiping(context.Background(), tr, targets[:100], &probe.MultipingOptions{Count: 1, Window: 10})
		require.NoError(t, err)
		assert.Equal(t, 100*time.Millisecond, time.Since(start))
		for k, req := range tr.Sent()[before:] {
			assert.Equal(t, time.Duration(k/10)*10*time.Millisecond, req.SentAt.Sub(start))
		}
	})
}

func TestMultipingSeqStreamsInOrderWithBoundedWork(t *testing.T) {
	bubble(t, mock.TransportConfig{NoRecord: true}, func(t *testing.T, n *mock.Network, tr *mock.Transport) {
		const total = 5000
		for i := range total {
			require.NoError(t, n.AddHost(addrN(i), mock.Host{Latency: time.Duration(1+(i*7919)%97) * time.Millisecond, Dead: i%13 == 0}))
		}
		pulled := 0
		targets := func(yield func(netip.Addr) bool) {
			for i := range total {
				pulled++
				if !yield(addrN(i)) {
					return
				}
			}
		}
		var got int
		maxAhead := 0
		for h, err := range probe.MultipingSeq(context.Background(), tr, targets, &probe.MultipingOptions{Count: 1, Timeout: 200 * time.Millisecond, Window: 64, Reorder: 256}) {
			require.NoError(t, err)
			require.Equal(t, addrN(got), h.Address, "input order")
			require.Equal(t, got%13 != 0, h.IsAlive())
			maxAhead = max(maxAhead, pulled-got)
			got++
		}
		assert.Equal(t, total, got)
		assert.LessOrEqual(t, maxAhead, 257, "targets are pulled only as the reorder bound allows")

		// Unordered: hosts come as they complete, every one once.
		seen := map[netip.Addr]bool{}
		var order []netip.Addr
		for h, err := range probe.MultipingSeq(context.Background(), tr, targets, &probe.MultipingOptions{Count: 1, Timeout: 200 * time.Millisecond, Unordered: true}) {
			require.NoError(t, err)
			require.False(t, seen[h.Address])
			seen[h.Address] = true
			order = append(order, h.Address)
		}
		assert.Len(t, seen, total)
		assert.NotEqual(t, addrN(0), order[0], "completion order differs from input order")
	})
}

func TestMultipingSeqBreakAndErrors(t *testing.T) {
	bubble(t, mock.TransportConfig{}, func(t *testing.T, n *mock.Network, tr *mock.Transport) {
		for i := range 100 {
			require.NoError(t, n.AddHost(addrN(i), mock.Host{Latency: time.Millisecond}))
		}
		all := func(yield func(netip.Addr) bool) {
			for i := range 100 {
				if !yield(addrN(i)) {
					return
				}
			}
		}
		count := 0
		for range probe.MultipingSeq(context.Background(), tr, all, &probe.MultipingOptions{Count: 1, Window: 4}) {
			count++
			if count == 10 {
				break
			}
		}
		assert.Equal(t, 10, count)
		assert.LessOrEqual(t, len(tr.Sent()), 14, "probing stops when the consumer stops")

		// An invalid target mid-stream: the hosts before it, then a typed error.
		bad := func(yield func(netip.Addr) bool) {
			_ = yield(addrN(1)) && yield(addrN(2)) && yield(netip.Addr{}) && yield(addrN(3))
		}
		var hosts []*result.Host
		var last error
		for h, err := range probe.MultipingSeq(context.Background(), tr, bad, &probe.MultipingOptions{Count: 1}) {
			if err != nil {
				last = err
				continue
			}
			hosts = append(hosts, h)
		}
		assert.Len(t, hosts, 2)
		assert.True(t, errors.Is(last, errors.ErrInvalidArgument), "got %v", last)

		var nilSeq iter.Seq[netip.Addr]
		for _, err := range probe.MultipingSeq(context.Background(), tr, nilSeq, nil) {
			assert.True(t, errors.Is(err, errors.ErrInvalidArgument))
		}
	})
}

func TestMultipingCancelGivesPartialResults(t *testing.T) {
	bubble(t, mock.TransportConfig{}, func(t *testing.T, n *mock.Network, tr *mock.Transport) {
		targets := make([]netip.Addr, 50)
		for i := range targets {
			targets[i] = addrN(i)
			require.NoError(t, n.AddHost(targets[i], mock.Host{Latency: time.Millisecond}))
		}
		ctx, cancel := context.WithTimeout(context.Background(), 1500*time.Millisecond)
		defer cancel()
		hosts, err := probe.Multiping(ctx, tr, targets, &probe.MultipingOptions{Count: 5, Window: 10})
		require.ErrorIs(t, err, context.DeadlineExceeded)
		require.Len(t, hosts, 50)
		for i, h := range hosts {
			assert.Equal(t, targets[i], h.Address)
			if i < 10 {
				assert.Equal(t, 2, h.PacketsSent, "host %d: requests at 0 and 1 s", i)
				assert.Equal(t, 2, h.PacketsReceived())
			} else {
				assert.Zero(t, h.PacketsSent, "host %d never started", i)
			}
		}
	})
}

func TestMultipingInvalidInput(t *testing.T) {
	bubble(t, mock.TransportConfig{}, func(t *testing.T, n *mock.Network, tr *mock.Transport) {
		for name, call := range map[string]func() error{
			"nil list":   func() error { _, err := probe.Multiping(context.Background(), tr, nil, nil); return err },
			"empty list": func() error { _, err := probe.Multiping(context.Background(), tr, []netip.Addr{}, nil); return err },
			"invalid addr": func() error {
				_, err := probe.Multiping(context.Background(), tr, []netip.Addr{hostA, {}}, nil)
				return err
			},
			"negative count": func() error {
				_, err := probe.Multiping(context.Background(), tr, []netip.Addr{hostA}, &probe.MultipingOptions{Count: -2})
				return err
			},
			"negative rate": func() error {
				_, err := probe.Multiping(context.Background(), tr, []netip.Addr{hostA}, &probe.MultipingOptions{Rate: -1})
				return err
			},
			"ttl": func() error {
				_, err := probe.Multiping(context.Background(), tr, []netip.Addr{hostA}, &probe.MultipingOptions{TTL: 300})
				return err
			},
			"payload v4": func() error {
				_, err := probe.Multiping(context.Background(), tr, []netip.Addr{hostV6, hostA}, &probe.MultipingOptions{PayloadSize: 65508})
				return err
			},
		} {
			err := call()
			assert.True(t, errors.Is(err, errors.ErrInvalidArgument), "%s: got %v", name, err)
		}
		assert.Empty(t, tr.Sent())
	})
}

func TestMultipingDuplicateTargets(t *testing.T) {
	bubble(t, mock.TransportConfig{}, func(t *testing.T, n *mock.Network, tr *mock.Transport) {
		require.NoError(t, n.AddHost(hostA, mock.Host{Latency: time.Millisecond}))
		hosts, err := probe.Multiping(context.Background(), tr, []netip.Addr{hostA, hostA, hostA}, &probe.MultipingOptions{Count: 3, Interval: -1})
		require.NoError(t, err)
		for _, h := range hosts {
			assert.Equal(t, 3, h.PacketsSent)
			assert.Equal(t, 3, h.PacketsReceived(), "the same address listed thrice is probed thrice, apart")
		}
	})
}

// A window as large as the targets has every host in progress at once, in input order too:
// the first host, slow, holds back none of the others, however many they are.
func TestMultipingSeqWindowBeyondTheDefaultReorder(t *testing.T) {
	if testing.Short() {
		t.Skip("large simulation")
	}
	bubble(t, mock.TransportConfig{NoRecord: true}, func(t *testing.T, n *mock.Network, tr *mock.Transport) {
		const total = probe.DefaultMultipingReorder + 10_000
		targets := make([]netip.Addr, total)
		for i := range targets {
			targets[i] = v6N(i + 1)
			if i > 0 { // the first never answers
				require.NoError(t, n.AddHost(targets[i], mock.Host{Latency: time.Millisecond}))
			}
		}
		start := time.Now()
		got := 0
		for h, err := range probe.MultipingSeq(context.Background(), tr, slices.Values(targets),
			&probe.MultipingOptions{Count: 1, Window: total, DropRTTs: true}) {
			require.NoError(t, err)
			require.Equal(t, targets[got], h.Address)
			require.Equal(t, 1, h.PacketsSent)
			got++
		}
		assert.Equal(t, total, got)
		assert.Equal(t, probe.DefaultTimeout, time.Since(start), "every host started at once: the run ends with the first's timeout")
	})
}

// With AwaitDuplicates a host's requests stay open until their timeout, so that the copies of
// the answer to its last request are counted; without it the host completes at that answer.
func TestMultipingAwaitDuplicates(t *testing.T) {
	for _, await := range []bool{false, true} {
		t.Run(fmt.Sprint(await), func(t *testing.T) {
			bubble(t, mock.TransportConfig{}, func(t *testing.T, n *mock.Network, tr *mock.Transport) {
				require.NoError(t, n.AddHost(hostA, mock.Host{Latency: time.Millisecond, Duplicates: 2}))
				require.NoError(t, n.AddHost(hostB, mock.Host{Latency: 3 * time.Millisecond}))
				var dups int
				start := time.Now()
				hosts, err := probe.Multiping(context.Background(), tr, []netip.Addr{hostA, hostB}, &probe.MultipingOptions{
					Count: 2, Interval: 100 * time.Millisecond, Timeout: time.Second, AwaitDuplicates: await,
					OnReply: func(o probe.Outcome) {
						if o.Duplicate {
							dups++
						}
					},
				})
				require.NoError(t, err)
				elapsed := time.Since(start)
				for _, h := range hosts {
					assert.Equal(t, 2, h.PacketsReceived(), "%s", h.Address)
				}
				if await {
					assert.Equal(t, 4, hosts[0].Duplicates, "two copies of each of two answers")
					assert.Equal(t, 4, dups)
					assert.Zero(t, hosts[1].Duplicates)
					assert.Equal(t, 100*time.Millisecond+time.Second, elapsed, "done when the last request times out")
				} else {
					assert.Equal(t, 2, hosts[0].Duplicates, "the copies of the first answer only")
					assert.Equal(t, 100*time.Millisecond+3*time.Millisecond, elapsed, "done at the last answer")
				}
			})
		})
	}
}
