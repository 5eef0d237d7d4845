package integration

import (
	"context"
	"fmt"
	"net/netip"
	"os/exec"
	"sync"
	"syscall"
	"testing"
	"time"

	icmperrors "github.com/icmpkit/icmpkit/errors"
	"github.com/icmpkit/icmpkit/internal/lab"
	"github.com/icmpkit/icmpkit/internal/leakcheck"
	"github.com/icmpkit/icmpkit/probe"
	"github.com/icmpkit/icmpkit/result"
	"github.com/icmpkit/icmpkit/transport"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// hardPrompt bounds how long a call may take to return once its context is cancelled or its
// transport closed. It only tells a hang from a return: calls take milliseconds.
const hardPrompt = 5 * time.Second

// hardGrace is how long goroutines and descriptors get to be released after a transport is
// closed.
const hardGrace = 5 * time.Second

// hardTally counts what OnReply saw.
type hardTally struct {
	mu                                   sync.Mutex
	replies, errors, timeouts, duplicate int
	errorsFrom                           map[netip.Addr]int
	kinds                                map[transport.Kind]int
	onReply                              func(n int) // called with the number of echo replies so far
}

func (c *hardTally) add(o probe.Outcome) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.errorsFrom == nil {
		c.errorsFrom, c.kinds = map[netip.Addr]int{}, map[transport.Kind]int{}
	}
	switch {
	case o.TimedOut:
		c.timeouts++
	case o.Duplicate:
		c.duplicate++
	case o.Reply.Kind() == transport.KindEchoReply:
		c.replies++
		if c.onReply != nil {
			c.onReply(c.replies)
		}
	default:
		c.errors++
		c.errorsFrom[o.Reply.Source]++
		c.kinds[o.Reply.Kind()]++
	}
}

func (c *hardTally) String() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return fmt.Sprintf("%d replies, %d errors %v from %v, %d timeouts, %d duplicates",
		c.replies, c.errors, c.kinds, c.errorsFrom, c.timeouts, c.duplicate)
}

// hardCheckHost checks a Host against what OnReply saw: every request sent ends as exactly
// one reply, error or timeout, and the Host counts agree.
func hardCheckHost(t *testing.T, h *result.Host, c *hardTally, count int) {
	t.Helper()
	require.NotNil(t, h)
	c.mu.Lock()
	defer c.mu.Unlock()
	assert.Equal(t, count, h.PacketsSent, "%s: sent", h.Address)
	assert.Equal(t, c.replies, h.PacketsReceived(), "%s: received", h.Address)
	assert.Equal(t, c.errors, h.Errors, "%s: ICMP errors", h.Address)
	assert.Equal(t, h.PacketsSent, c.replies+c.errors+c.timeouts, "%s: every request is a reply, an error or a timeout", h.Address)
	assert.Zero(t, c.duplicate, "%s: duplicates", h.Address)
}

// TestHardCancelMidRun cancels a Multiping and a Ping through a real transport while they run:
// they return promptly with ctx's error and the statistics of what was sent so far, and once
// the transport is closed the process is back to its goroutines and descriptors.
func TestHardCancelMidRun(t *testing.T) {
	for _, mode := range hardModes {
		t.Run(mode, func(t *testing.T) {
			c := lab.NewChain(t, lab.ChainConfig{Routers: 1, DeadHosts: 1})
			base := leakcheck.Take()
			tr := hardOpen(t, c, mode)

			// Multiping: cancelled by time, mid-way.
			targets := []netip.Addr{c.Target.V4, c.DeadV4[0], c.Target.V6, c.DeadV6[0]}
			const count = 50
			ctx, cancel := context.WithCancel(context.Background())
			timer := time.AfterFunc(400*time.Millisecond, cancel)
			hosts, err := probe.Multiping(ctx, tr, targets, &probe.MultipingOptions{Count: count, Interval: 20 * time.Millisecond, Timeout: 500 * time.Millisecond})
			timer.Stop()
			require.ErrorIs(t, err, context.Canceled, "multiping")
			require.Len(t, hosts, len(targets))
			for i, h := range hosts {
				assert.Equal(t, targets[i], h.Address)
				assert.True(t, h.PacketsSent > 0 && h.PacketsSent < count, "%s: %d of %d sent at the cancel", h.Address, h.PacketsSent, count)
				assert.LessOrEqual(t, h.PacketsReceived(), h.PacketsSent, "%s: received", h.Address)
				if i%2 == 0 {
					assert.Positive(t, h.PacketsReceived(), "%s: received before the cancel", h.Address)
				} else {
					assert.Zero(t, h.PacketsReceived(), "%s: received from a dead host", h.Address)
				}
				t.Logf("multiping %s: %d sent, %d received at the cancel", h.Address, h.PacketsSent, h.PacketsReceived())
			}

			// Ping: cancelled from OnReply after the fifth reply.
			for _, dst := range []netip.Addr{c.Target.V4, c.Target.V6} {
				ctx, cancel := context.WithCancel(context.Background())
				var cancelled time.Time
				tally := &hardTally{onReply: func(n int) {
					if n == 5 {
						cancelled = time.Now()
						cancel()
					}
				}}
				const count = 100
				h, err := probe.Ping(ctx, tr, dst, &probe.PingOptions{Count: count, Interval: 10 * time.Millisecond, Timeout: time.Second, OnReply: tally.add})
				back := time.Since(cancelled)
				cancel()
				require.ErrorIs(t, err, context.Canceled, "ping %s", dst)
				require.NotNil(t, h, "ping %s: partial statistics", dst)
				// The replies OnReply saw are the Host's, and the cancel stopped the call early.
				// (How many requests left in the meantime depends on the machine's load.)
				assert.GreaterOrEqual(t, h.PacketsReceived(), 5, "ping %s: received", dst)
				assert.Equal(t, tally.replies, h.PacketsReceived(), "ping %s: received against OnReply", dst)
				assert.LessOrEqual(t, h.PacketsReceived(), h.PacketsSent, "ping %s: received against sent", dst)
				assert.Less(t, h.PacketsSent, count, "ping %s: sent", dst)
				assert.Less(t, back, hardPrompt, "ping %s: return after the cancel", dst)
				t.Logf("ping %s: cancelled after %d replies of %d sent; returned %v after the cancel (%s)", dst, h.PacketsReceived(), h.PacketsSent, back, tally)
			}

			require.NoError(t, tr.Close())
			require.NoError(t, base.Check(hardGrace), "after closing the transport")
		})
	}
}

// TestHardCloseUnderLoad closes a transport while Ping and Multiping calls run on it: each
// returns promptly with an error matching errors.ErrUnavailable and what it had measured.
func TestHardCloseUnderLoad(t *testing.T) {
	for _, mode := range hardModes {
		t.Run(mode, func(t *testing.T) {
			c := lab.NewChain(t, lab.ChainConfig{Routers: 1, DeadHosts: 2})
			base := leakcheck.Take()
			tr := hardOpen(t, c, mode)

			type outcome struct {
				what  string
				hosts []*result.Host
				err   error
				at    time.Time
			}
			var wg sync.WaitGroup
			results := make(chan outcome, 16)
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			pr := probe.New(tr, nil)
			defer pr.Close()
			for _, dst := range []netip.Addr{c.Target.V4, c.Target.V6, c.DeadV4[0], c.DeadV6[0]} {
				wg.Go(func() {
					h, err := pr.Ping(ctx, dst, &probe.PingOptions{Count: 1000, Interval: 5 * time.Millisecond, Timeout: 500 * time.Millisecond})
					results <- outcome{"ping " + dst.String(), []*result.Host{h}, err, time.Now()}
				})
			}
			for i := range 2 {
				wg.Go(func() {
					targets := []netip.Addr{c.Target.V4, c.DeadV4[i], c.Target.V6, c.DeadV6[i]}
					hosts, err := pr.Multiping(ctx, targets, &probe.MultipingOptions{Count: 500, Interval: 5 * time.Millisecond, Timeout: 500 * time.Millisecond})
					results <- outcome{fmt.Sprintf("multiping %d", i), hosts, err, time.Now()}
				})
			}
			wg.Go(func() {
				// Ping-pong as fast as replies come back.
				h, err := pr.Ping(ctx, c.Target.V4, &probe.PingOptions{Count: 1 << 20, Interval: -1, Timeout: 500 * time.Millisecond, DropRTTs: true})
				results <- outcome{"flood ping", []*result.Host{h}, err, time.Now()}
			})
			time.Sleep(500 * time.Millisecond)
			closed := time.Now()
			require.NoError(t, tr.Close())
			done := make(chan struct{})
			go func() { wg.Wait(); close(results); close(done) }()
			select {
			case <-done:
			case <-time.After(hardPrompt):
				t.Fatalf("calls still running %v after Close", hardPrompt)
			}
			n := 0
			for o := range results {
				n++
				assert.ErrorIs(t, o.err, icmperrors.ErrUnavailable, "%s", o.what)
				var sent, received int
				for _, h := range o.hosts {
					if !assert.NotNil(t, h, "%s: partial statistics", o.what) {
						continue
					}
					sent += h.PacketsSent
					received += h.PacketsReceived()
					assert.Positive(t, h.PacketsSent, "%s %s: sent before the close", o.what, h.Address)
					assert.LessOrEqual(t, h.PacketsReceived(), h.PacketsSent, "%s %s", o.what, h.Address)
					if h.Address == c.Target.V4 || h.Address == c.Target.V6 {
						assert.Positive(t, h.PacketsReceived(), "%s %s: replies before the close", o.what, h.Address)
					} else {
						assert.Zero(t, h.PacketsReceived(), "%s %s: replies from a dead host", o.what, h.Address)
					}
				}
				t.Logf("%s: returned %v after Close, %d sent, %d received: %v", o.what, o.at.Sub(closed).Round(time.Microsecond), sent, received, o.err)
			}
			assert.Equal(t, 7, n, "calls")
			require.NoError(t, base.Check(hardGrace), "after closing the transport")
		})
	}
}

// TestHardTargetGone deletes the target's namespace while pings run: the requests after it
// end as ICMP errors from the router (net unreachable: its link toward the target went with
// the namespace) or as timeouts once the kernel's routing-error rate limit is spent (IPv4:
// net.ipv4.route.error_burst, five at once then one a second, host-wide and not lifted in
// namespaces); the calls do not hang, the counts add up, and the lab still cleans up.
func TestHardTargetGone(t *testing.T) {
	hardDisruption(t, lab.ChainConfig{Routers: 1}, false, func(t *testing.T, c *lab.Chain) {
		out, err := exec.Command("ip", "netns", "del", c.Target.NS).CombinedOutput()
		require.NoError(t, err, "ip netns del %s: %s", c.Target.NS, out)
	})
}

// TestHardLinkDown takes the link toward the target down in the last router while pings run:
// the router answers with destination unreachable, or the requests time out.
func TestHardLinkDown(t *testing.T) {
	hardDisruption(t, lab.ChainConfig{Routers: 2}, false, func(t *testing.T, c *lab.Chain) {
		out, err := c.Exec(c.Router(2).NS, "ip", "link", "set", "dev", "eth1", "down")
		require.NoError(t, err, "link down: %s", out)
	})
}

// TestHardClientLinkDown takes the client's own interface down while pings run: sending fails
// at once (no route). Ping stops with that error and the statistics so far; Multiping counts
// each request that could not go out as lost and carries on to the end.
func TestHardClientLinkDown(t *testing.T) {
	hardDisruption(t, lab.ChainConfig{Routers: 1}, true, func(t *testing.T, c *lab.Chain) {
		out, err := c.Exec(c.Client.NS, "ip", "link", "set", "dev", "eth0", "down")
		require.NoError(t, err, "link down: %s", out)
	})
}

// hardDisruption pings the target over IPv4 and IPv6 at once through each transport, with a
// Multiping of both alongside, runs disrupt once both pings have had ten replies, and checks
// that every call ends on its own with consistent counts. sendFails tells that the disruption
// makes sending fail (Ping then returns the send error).
func hardDisruption(t *testing.T, cfg lab.ChainConfig, sendFails bool, disrupt func(t *testing.T, c *lab.Chain)) {
	for _, mode := range hardModes {
		t.Run(mode, func(t *testing.T) {
			c := lab.NewChain(t, cfg)
			tr := hardOpen(t, c, mode)
			const count = 50
			const interval = 20 * time.Millisecond
			dsts := []netip.Addr{c.Target.V4, c.Target.V6}
			tallies := make([]*hardTally, len(dsts))
			var ready sync.WaitGroup
			ready.Add(len(dsts))
			type outcome struct {
				h    *result.Host
				err  error
				took time.Duration
			}
			outcomes := make([]outcome, len(dsts))
			var multi []*result.Host
			var multiErr error
			var wg sync.WaitGroup
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			pr := probe.New(tr, nil)
			defer pr.Close()
			opts := probe.PingOptions{Count: count, Interval: interval, Timeout: 300 * time.Millisecond}
			for i, dst := range dsts {
				tallies[i] = &hardTally{onReply: func(n int) {
					if n == 10 {
						ready.Done()
					}
				}}
				wg.Go(func() {
					start := time.Now()
					o := opts
					o.OnReply = tallies[i].add
					h, err := pr.Ping(ctx, dst, &o)
					outcomes[i] = outcome{h, err, time.Since(start)}
				})
			}
			wg.Go(func() {
				multi, multiErr = pr.Multiping(ctx, dsts, &probe.MultipingOptions{Count: count, Interval: interval, Timeout: opts.Timeout})
			})
			readyCh := make(chan struct{})
			go func() { ready.Wait(); close(readyCh) }()
			select {
			case <-readyCh:
			case <-time.After(count*interval + hardPrompt):
				t.Fatalf("the pings did not get ten replies each: %s; %s", tallies[0], tallies[1])
			}
			disrupt(t, c)
			disrupted := time.Now()
			done := make(chan struct{})
			go func() { wg.Wait(); close(done) }()
			select {
			case <-done:
			case <-time.After(count*interval + hardPrompt):
				t.Fatalf("calls still running %v after the disruption", time.Since(disrupted))
			}
			for i, o := range outcomes {
				if sendFails {
					require.ErrorIs(t, o.err, icmperrors.ErrSocket, "ping %s", dsts[i])
					require.ErrorIs(t, o.err, syscall.ENETUNREACH, "ping %s", dsts[i])
					require.NotNil(t, o.h, "ping %s: statistics so far", dsts[i])
					hardCheckHost(t, o.h, tallies[i], o.h.PacketsSent)
					assert.Less(t, o.h.PacketsSent, count, "ping %s: sent", dsts[i])
				} else {
					require.NoError(t, o.err, "ping %s", dsts[i])
					hardCheckHost(t, o.h, tallies[i], count)
				}
				assert.GreaterOrEqual(t, o.h.PacketsReceived(), 10, "ping %s: replies before", dsts[i])
				assert.Less(t, o.h.PacketsReceived(), count, "ping %s: replies after the disruption", dsts[i])
				t.Logf("ping %s: %v, %d sent: %s; err %v", dsts[i], o.took.Round(time.Millisecond), o.h.PacketsSent, tallies[i], o.err)
			}
			require.NoError(t, multiErr, "multiping")
			require.Len(t, multi, len(dsts))
			for i, h := range multi {
				assert.Equal(t, dsts[i], h.Address)
				assert.Equal(t, count, h.PacketsSent, "multiping %s: sent", h.Address)
				assert.Positive(t, h.PacketsReceived(), "multiping %s: replies before", h.Address)
				assert.Less(t, h.PacketsReceived(), count, "multiping %s: replies after the disruption", h.Address)
				assert.LessOrEqual(t, h.PacketsReceived()+h.Errors, count, "multiping %s: replies and errors", h.Address)
				assert.Zero(t, h.Duplicates, "multiping %s: duplicates", h.Address)
				t.Logf("multiping %s: %d sent, %d received, %d errors", h.Address, h.PacketsSent, h.PacketsReceived(), h.Errors)
			}
		})
	}
}
