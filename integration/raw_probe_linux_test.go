package integration

import (
	"context"
	"fmt"
	"maps"
	"math"
	"net/netip"
	"slices"
	"syscall"
	"testing"
	"time"

	icmperrors "github.com/icmpkit/icmpkit/errors"
	"github.com/icmpkit/icmpkit/internal/lab"
	"github.com/icmpkit/icmpkit/probe"
	"github.com/icmpkit/icmpkit/result"
	"github.com/icmpkit/icmpkit/transport"
	"github.com/icmpkit/icmpkit/transport/raw"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// rawCheckHost asserts what a Ping or Multiping host that answered every request looks like:
// count sent and received, no duplicates or errors, and positive RTT statistics in order.
func rawCheckHost(t *testing.T, h *result.Host, dst netip.Addr, count int) {
	t.Helper()
	assert.Equal(t, dst, h.Address, "address")
	assert.Equal(t, count, h.PacketsSent, "%s: sent", dst)
	assert.Equal(t, count, h.PacketsReceived(), "%s: received", dst)
	assert.Zero(t, h.Duplicates, "%s: duplicates", dst)
	assert.Zero(t, h.Errors, "%s: ICMP errors", dst)
	assert.Zero(t, h.PacketLoss(), "%s: loss", dst)
	assert.True(t, h.IsAlive(), "%s: alive", dst)
	require.Len(t, h.RTTs, count, "%s: one RTT per reply", dst)
	lo, avg, hi := h.MinRTT(), h.AvgRTT(), h.MaxRTT()
	assert.Positive(t, lo, "%s: min RTT", dst)
	assert.LessOrEqual(t, lo, avg, "%s: min <= avg", dst)
	assert.LessOrEqual(t, avg, hi, "%s: avg <= max", dst)
	assert.Less(t, hi, rawGuard, "%s: max RTT", dst)
	assert.LessOrEqual(t, h.StdDev(), hi-lo, "%s: standard deviation within the range", dst)
	for i, rtt := range h.RTTs {
		assert.True(t, rtt >= lo && rtt <= hi, "%s: RTT %d = %v outside [%v, %v]", dst, i, rtt, lo, hi)
	}
}

// rawCheckSeqs asserts that the outcomes cover sequences 0..count-1, each exactly once.
func rawCheckSeqs(t *testing.T, outcomes []probe.Outcome, count int) {
	t.Helper()
	seqs := map[int]int{}
	for _, o := range outcomes {
		seqs[o.Seq]++
	}
	want := map[int]int{}
	for i := range count {
		want[i] = 1
	}
	assert.Equal(t, want, seqs, "outcomes by sequence")
}

// Ping through three routers: every reply is counted, the RTT statistics are positive and
// ordered, and the received TTL tells how far each node is (64 less the routers crossed).
func TestRawPing(t *testing.T) {
	lab.Require(t)
	const routers, count = 3, 20
	c := lab.NewChain(t, lab.ChainConfig{Routers: routers})
	tr := rawOpen(t, c.Client.NS, raw.Config{})
	for _, f := range rawFamilies {
		t.Run(f.name, func(t *testing.T) {
			for i, n := range c.Hops() {
				t.Run(n.Name, func(t *testing.T) {
					dst := rawPick(n, f.v6)
					run := rawPing(t, tr, dst, probe.PingOptions{Count: count, Interval: 5 * time.Millisecond, Timeout: 2 * time.Second})
					h := run.host
					rawCheckHost(t, h, dst, count)
					rawCheckSeqs(t, run.outcomes, count)
					got := rawCount(run.outcomes)
					assert.Equal(t, count, got.replies, "replies seen by OnReply")
					assert.Zero(t, got.timeouts+got.errors+got.duplicates, "other outcomes")
					// A node i routers away answers with TTL 64 reduced by those routers.
					assert.Equal(t, map[int]int{64 - i: count}, got.ttls, "received TTL of %s, %d routers away", n.Name, i)
					assert.Equal(t, map[netip.Addr]int{dst: count}, got.sources, "reply sources")
					t.Logf("%s %s: %d/%d, rtt min/avg/max/mdev = %v/%v/%v/%v, ttl %v",
						n.Name, dst, h.PacketsReceived(), h.PacketsSent, h.MinRTT(), h.AvgRTT(), h.MaxRTT(), h.StdDev(), slices.Collect(maps.Keys(got.ttls)))
				})
			}
		})
	}
}

// Ping with TTL 2: every request dies at the second router, whose Time Exceeded comes back at
// once; Ping resolves each request as an error and returns long before its timeout.
func TestRawPingTTLExceeded(t *testing.T) {
	lab.Require(t)
	const count = 5
	const timeout = 10 * time.Second
	c := lab.NewChain(t, lab.ChainConfig{Routers: 3})
	tr := rawOpen(t, c.Client.NS, raw.Config{})
	for _, f := range rawFamilies {
		t.Run(f.name, func(t *testing.T) {
			dst := rawPick(c.Target, f.v6)
			r2 := rawPick(c.Router(2), f.v6)
			run := rawPing(t, tr, dst, probe.PingOptions{Count: count, TTL: 2, Interval: 20 * time.Millisecond, Timeout: timeout})
			h := run.host
			t.Logf("ttl 2 to %s: %d errors of %d sent in %v (timeout %v)", dst, h.Errors, h.PacketsSent, run.elapsed, timeout)
			assert.Equal(t, count, h.PacketsSent, "sent")
			assert.Zero(t, h.PacketsReceived(), "received")
			assert.Equal(t, count, h.Errors, "ICMP errors")
			assert.False(t, h.IsAlive(), "alive")
			assert.Less(t, run.elapsed, timeout/2, "errors resolve the requests: no waiting for the timeout")
			rawCheckSeqs(t, run.outcomes, count)
			exceeded := icmperrors.ErrTimeExceededV4
			if f.v6 {
				exceeded = icmperrors.ErrTimeExceededV6
			}
			for _, o := range run.outcomes {
				assert.False(t, o.TimedOut, "seq %d timed out", o.Seq)
				assert.Equal(t, transport.KindTimeExceeded, o.Reply.Kind(), "seq %d: kind", o.Seq)
				assert.Equal(t, r2, o.Reply.Source, "seq %d: the second router answers", o.Seq)
				assert.Equal(t, dst, o.Reply.Destination, "seq %d: the quoted destination", o.Seq)
				assert.ErrorIs(t, o.Reply.Err(), exceeded, "seq %d", o.Seq)
				assert.Less(t, o.RTT, timeout/2, "seq %d: RTT of the error", o.Seq)
			}
		})
	}
}

// Traceroute lists exactly the chain's routers at distances 1..N and the target at N+1; a
// silent router leaves its distance out and the distances around it in place.
func TestRawTraceroute(t *testing.T) {
	lab.Require(t)
	cases := []struct {
		name   string
		cfg    lab.ChainConfig
		routes []int // the distances that answer
	}{
		{"every router answers", lab.ChainConfig{Routers: 4}, []int{1, 2, 3, 4, 5}},
		{"routers 2 and 4 silent", lab.ChainConfig{Routers: 5, Silent: []int{2, 4}}, []int{1, 3, 5, 6}},
		{"first router silent", lab.ChainConfig{Routers: 3, Silent: []int{1}}, []int{2, 3, 4}},
		{"last router silent", lab.ChainConfig{Routers: 3, Silent: []int{3}}, []int{1, 2, 4}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := lab.NewChain(t, tc.cfg)
			tr := rawOpen(t, c.Client.NS, raw.Config{})
			for _, f := range rawFamilies {
				t.Run(f.name, func(t *testing.T) {
					dst := rawPick(c.Target, f.v6)
					var want []string
					for _, d := range tc.routes {
						want = append(want, fmt.Sprintf("%d %v 2/2", d, []netip.Addr{rawPick(c.Hops()[d-1], f.v6)}))
					}
					ctx, cancel := context.WithTimeout(context.Background(), rawGuard)
					defer cancel()
					start := time.Now()
					got, err := probe.Traceroute(ctx, tr, dst, &probe.TraceOptions{Count: 2, Timeout: time.Second, Interval: 5 * time.Millisecond})
					require.NoError(t, err)
					var lines []string
					for _, h := range got.Hops {
						lines = append(lines, fmt.Sprintf("%d %v %d/%d", h.Distance, h.Responders, h.PacketsReceived(), h.PacketsSent))
						assert.Equal(t, rawPick(c.Hops()[h.Distance-1], f.v6), h.Address, "distance %d", h.Distance)
					}
					t.Logf("trace to %s in %v:\n%v", dst, time.Since(start), lines)
					assert.True(t, got.Reached, "reached")
					assert.Equal(t, dst, got.Destination)
					assert.Equal(t, want, lines, "distance, responders, received/sent")
				})
			}
		})
	}
}

// Multiping of the living target and routers together with dead addresses, IPv4 and IPv6
// apart and mixed in one call: every living host answers every request and every dead one
// none, with no ICMP error to tell them apart but silence.
func TestRawMultiping(t *testing.T) {
	lab.Require(t)
	const count, dead = 3, 3
	c := lab.NewChain(t, lab.ChainConfig{Routers: 2, DeadHosts: dead})
	require.Len(t, c.DeadV4, dead)
	require.Len(t, c.DeadV6, dead)
	tr := rawOpen(t, c.Client.NS, raw.Config{})
	family := func(v6 bool) (targets []netip.Addr, alive map[netip.Addr]bool) {
		alive = map[netip.Addr]bool{rawPick(c.Target, v6): true, rawPick(c.Router(1), v6): true, rawPick(c.Router(2), v6): true}
		deadAddrs := c.DeadV4
		if v6 {
			deadAddrs = c.DeadV6
		}
		// Dead and living interleaved, so that neither group runs as a block.
		targets = []netip.Addr{deadAddrs[0], rawPick(c.Target, v6), deadAddrs[1], rawPick(c.Router(1), v6), deadAddrs[2], rawPick(c.Router(2), v6)}
		return targets, alive
	}
	v4, alive4 := family(false)
	v6, alive6 := family(true)
	mixed := []netip.Addr{}
	for i := range v4 {
		mixed = append(mixed, v4[i], v6[i])
	}
	aliveAll := maps.Clone(alive4)
	maps.Copy(aliveAll, alive6)
	cases := []struct {
		name    string
		targets []netip.Addr
		alive   map[netip.Addr]bool
	}{{"v4", v4, alive4}, {"v6", v6, alive6}, {"mixed", mixed, aliveAll}}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), rawGuard)
			defer cancel()
			start := time.Now()
			hosts, err := probe.Multiping(ctx, tr, tc.targets, &probe.MultipingOptions{Count: count, Interval: 20 * time.Millisecond, Timeout: time.Second})
			require.NoError(t, err)
			require.Len(t, hosts, len(tc.targets))
			var summary []string
			for i, h := range hosts {
				dst := tc.targets[i]
				summary = append(summary, fmt.Sprintf("%s %d/%d", dst, h.PacketsReceived(), h.PacketsSent))
				if tc.alive[dst] {
					rawCheckHost(t, h, dst, count)
					continue
				}
				assert.Equal(t, dst, h.Address, "address of host %d", i)
				assert.Equal(t, count, h.PacketsSent, "%s: sent", dst)
				assert.Zero(t, h.PacketsReceived(), "%s: received", dst)
				assert.Zero(t, h.Errors, "%s: ICMP errors", dst)
				assert.False(t, h.IsAlive(), "%s: alive", dst)
				assert.Equal(t, 1.0, h.PacketLoss(), "%s: loss", dst)
				assert.Empty(t, h.RTTs, "%s: RTTs", dst)
			}
			t.Logf("multiping in %v: %v", time.Since(start), summary)
		})
	}
}

// The target drops 30% of echo requests at random: over 200 requests the loss lies inside the
// binomial 99.9% interval, and every request is either answered or timed out, once.
func TestRawLoss(t *testing.T) {
	lab.Require(t)
	const (
		count = 200
		p     = 0.30
		conf  = 0.999
	)
	lo, hi := rawBinomial(count, p, conf)
	// The normal approximation, as a check of the exact interval: mean np, z = 3.2905.
	sd := math.Sqrt(count * p * (1 - p))
	nlo, nhi := count*p-3.2905*sd, count*p+3.2905*sd
	t.Logf("binomial n=%d p=%.2f: exact %.1f%% interval of the number lost [%d, %d], normal approximation [%.1f, %.1f]",
		count, p, conf*100, lo, hi, nlo, nhi)
	require.InDelta(t, nlo, float64(lo), 2, "exact lower bound near the normal approximation")
	require.InDelta(t, nhi, float64(hi), 2, "exact upper bound near the normal approximation")

	c := lab.NewChain(t, lab.ChainConfig{Routers: 1, TargetLoss: int(p * 100)})
	tr := rawOpen(t, c.Client.NS, raw.Config{})
	for _, f := range rawFamilies {
		t.Run(f.name, func(t *testing.T) {
			dst := rawPick(c.Target, f.v6)
			run := rawPing(t, tr, dst, probe.PingOptions{Count: count, Interval: 2 * time.Millisecond, Timeout: time.Second})
			h := run.host
			got := rawCount(run.outcomes)
			lost := h.PacketsSent - h.PacketsReceived()
			t.Logf("%s: sent %d, received %d, lost %d (%.1f%%), timed out %d; accepted [%d, %d] in %v",
				dst, h.PacketsSent, h.PacketsReceived(), lost, 100*h.PacketLoss(), got.timeouts, lo, hi, run.elapsed)
			assert.Equal(t, count, h.PacketsSent, "sent")
			assert.Equal(t, h.PacketsReceived(), got.replies, "replies seen by OnReply")
			assert.Equal(t, count, got.replies+got.timeouts, "received + lost == sent")
			assert.Equal(t, lost, got.timeouts, "every lost request timed out")
			assert.Zero(t, h.Errors, "ICMP errors")
			assert.Zero(t, h.Duplicates, "duplicates")
			assert.Zero(t, got.duplicates+got.errors, "other outcomes")
			assert.Len(t, h.RTTs, h.PacketsReceived(), "one RTT per reply")
			rawCheckSeqs(t, run.outcomes, count)
			assert.GreaterOrEqual(t, lost, lo, "loss below the 99.9%% interval")
			assert.LessOrEqual(t, lost, hi, "loss above the 99.9%% interval")
			assert.InDelta(t, float64(lost)/count, h.PacketLoss(), 1e-12, "PacketLoss")
		})
	}
}

// Other programs ping the same target from the same namespace through raw sockets of their
// own, as fast as they can, and with TTL 1 so that the first router quotes their requests
// back: our counts stay exact, as nothing of theirs is taken for ours.
func TestRawForeignTraffic(t *testing.T) {
	lab.Require(t)
	const count = 200
	const ourID = 0x6b69
	c := lab.NewChain(t, lab.ChainConfig{Routers: 2})
	// Identifiers of the floods, given with -e (which also makes iputils use a raw socket),
	// so none can equal ours.
	floods := []struct {
		name string
		args []string
	}{
		{"v4 flood", []string{"-4", "-f", "-q", "-e", "4242", c.Target.V4.String()}},
		{"v6 flood", []string{"-6", "-f", "-q", "-e", "4243", c.Target.V6.String()}},
		{"v4 ttl 1", []string{"-4", "-f", "-q", "-e", "4244", "-t", "1", c.Target.V4.String()}},
		{"v6 ttl 1", []string{"-6", "-f", "-q", "-e", "4245", "-t", "1", c.Target.V6.String()}},
	}
	procs := make([]*lab.Proc, len(floods))
	for i, fl := range floods {
		var err error
		procs[i], err = c.Start(c.Client.NS, "ping", fl.args...)
		require.NoError(t, err, fl.name)
	}
	tr := rawOpen(t, c.Client.NS, raw.Config{ID: ourID})
	time.Sleep(200 * time.Millisecond)
	for i, p := range procs {
		select {
		case <-p.Done():
			out, err := p.Stop()
			t.Fatalf("%s ended early (%v):\n%s", floods[i].name, err, out)
		default:
		}
	}

	for _, f := range rawFamilies {
		t.Run("ping "+f.name, func(t *testing.T) {
			dst := rawPick(c.Target, f.v6)
			run := rawPing(t, tr, dst, probe.PingOptions{Count: count, Interval: 2 * time.Millisecond, Timeout: 2 * time.Second})
			h := run.host
			t.Logf("%s under foreign floods: %d/%d, duplicates %d, errors %d, rtt min/avg/max %v/%v/%v",
				dst, h.PacketsReceived(), h.PacketsSent, h.Duplicates, h.Errors, h.MinRTT(), h.AvgRTT(), h.MaxRTT())
			rawCheckHost(t, h, dst, count)
			rawCheckSeqs(t, run.outcomes, count)
			got := rawCount(run.outcomes)
			assert.Equal(t, count, got.replies, "replies seen by OnReply")
			assert.Zero(t, got.timeouts+got.errors+got.duplicates, "other outcomes")
			for _, o := range run.outcomes {
				if !o.TimedOut {
					assert.Equal(t, ourID, o.Reply.ID, "seq %d: identifier", o.Seq)
				}
			}
		})
	}
	t.Run("multiping mixed", func(t *testing.T) {
		targets := []netip.Addr{c.Target.V4, c.Target.V6, c.Router(1).V4, c.Router(1).V6}
		ctx, cancel := context.WithTimeout(context.Background(), rawGuard)
		defer cancel()
		hosts, err := probe.Multiping(ctx, tr, targets, &probe.MultipingOptions{Count: count / 2, Interval: 2 * time.Millisecond, Timeout: 2 * time.Second})
		require.NoError(t, err)
		require.Len(t, hosts, len(targets))
		for i, h := range hosts {
			rawCheckHost(t, h, targets[i], count/2)
		}
	})

	// The foreign traffic never reached our sockets' receive queues in numbers: the kernel
	// filters kept it out, so none of ours overflowed (iputils' own sockets, which let every
	// ICMP error through, may).
	ours, others := rawSocketDrops(t, c.Lab, c.Client.NS)
	t.Logf("receive-buffer drops of raw sockets in the client namespace: icmpkit %v, iputils %v", ours, others)
	assert.GreaterOrEqual(t, len(ours), 2, "icmpkit's raw sockets found in /proc/net/raw{,6}")
	for inode, drops := range ours {
		assert.Zero(t, drops, "drops of icmpkit raw socket %s", inode)
	}

	// Each flood must have run all along; SIGINT makes iputils print its summary.
	for i, p := range procs {
		select {
		case <-p.Done():
			out, err := p.Stop()
			t.Errorf("%s ended before the test did (%v):\n%s", floods[i].name, err, out)
			continue
		default:
		}
		require.NoError(t, syscall.Kill(p.Pid(), syscall.SIGINT), floods[i].name)
		select {
		case <-p.Done():
		case <-time.After(10 * time.Second):
			t.Errorf("%s did not end on SIGINT", floods[i].name)
		}
		out, _ := p.Stop()
		sent, received, ok := rawIputilsCounts(out)
		if assert.True(t, ok, "%s: no summary:\n%s", floods[i].name, out) {
			t.Logf("%s (ping %v): %d sent, %d received", floods[i].name, floods[i].args, sent, received)
			// Sanity only: the flood did send.
			assert.GreaterOrEqual(t, sent, 10, "%s: foreign requests sent", floods[i].name)
		}
	}
}

// The minimum RTT over 200 pings through the lab, by the raw transport's kernel receive
// timestamps and by iputils ping on the same path in the same run, printed side by side.
func TestRawTimestamps(t *testing.T) {
	lab.Require(t)
	const count = 200
	c := lab.NewChain(t, lab.ChainConfig{Routers: 2})
	tr := rawOpen(t, c.Client.NS, raw.Config{})
	for _, f := range rawFamilies {
		t.Run(f.name, func(t *testing.T) {
			dst := rawPick(c.Target, f.v6)
			out, err := c.Exec(c.Client.NS, "ping", "-c", fmt.Sprint(count), "-i", "0.002", "-q", dst.String())
			require.NoError(t, err, "iputils ping:\n%s", out)
			theirs, err := rawIputilsMin(out)
			require.NoError(t, err)
			_, received, ok := rawIputilsCounts(out)
			require.True(t, ok, "iputils summary:\n%s", out)
			assert.Equal(t, count, received, "iputils replies")

			run := rawPing(t, tr, dst, probe.PingOptions{Count: count, Interval: 2 * time.Millisecond, Timeout: 2 * time.Second})
			require.Equal(t, count, run.host.PacketsReceived(), "icmpkit replies")
			ours := run.host.MinRTT()
			t.Logf("%s min RTT over %d pings: icmpkit raw %v, iputils ping %v, difference %v (goal: within 5µs)",
				dst, count, ours, theirs, (ours - theirs).Abs())
			assert.Positive(t, ours, "icmpkit min RTT")
			assert.Positive(t, theirs, "iputils min RTT")
		})
	}
}
