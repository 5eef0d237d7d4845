package probe_test

import (
	"context"
	"net/netip"
	"testing"
	"time"

	"github.com/icmpkit/icmpkit/probe"
	"github.com/icmpkit/icmpkit/transport/mock"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// outcomeSeen is what a test keeps of an Outcome: its Host is valid only during the call.
type outcomeSeen struct {
	index              int64
	seq                int
	dst                netip.Addr
	timedOut, dup      bool
	sent, received     int
	errors, duplicates int
	at                 time.Duration
}

func TestMultipingOnReply(t *testing.T) {
	bubble(t, mock.TransportConfig{}, func(t *testing.T, n *mock.Network, tr *mock.Transport) {
		alive, dead, twice := addrN(1), addrN(2), addrN(3)
		require.NoError(t, n.AddHost(alive, mock.Host{Latency: 4 * time.Millisecond}))
		require.NoError(t, n.AddHost(dead, mock.Host{Dead: true}))
		require.NoError(t, n.AddHost(twice, mock.Host{Latency: 6 * time.Millisecond, Duplicates: 1}))
		start := time.Now()
		var seen []outcomeSeen
		opts := &probe.MultipingOptions{
			Count: 2, Interval: 100 * time.Millisecond, Timeout: 300 * time.Millisecond,
			OnReply: func(o probe.Outcome) {
				seen = append(seen, outcomeSeen{
					index: o.Index, seq: o.Seq, dst: o.Destination, timedOut: o.TimedOut, dup: o.Duplicate,
					sent: o.Host.PacketsSent, received: o.Host.PacketsReceived(),
					errors: o.Host.Errors, duplicates: o.Host.Duplicates, at: time.Since(start),
				})
			},
		}
		hosts, err := probe.Multiping(context.Background(), tr, []netip.Addr{alive, dead, twice}, opts)
		require.NoError(t, err)
		require.Len(t, hosts, 3)
		ms := time.Millisecond
		// In the order they happen, with each host's figures as they stand once the outcome
		// is counted: requests sent so far, replies, duplicates. The copy of twice's last
		// reply comes after that host is complete (its last request answered), and is not
		// seen: a host is done with its last answer.
		assert.Equal(t, []outcomeSeen{
			{index: 0, seq: 0, dst: alive, sent: 1, received: 1, at: 4 * ms},
			{index: 2, seq: 0, dst: twice, sent: 1, received: 1, at: 6 * ms},
			{index: 2, seq: 0, dst: twice, dup: true, sent: 1, received: 1, duplicates: 1, at: 6 * ms},
			{index: 0, seq: 1, dst: alive, sent: 2, received: 2, at: 104 * ms},
			{index: 2, seq: 1, dst: twice, sent: 2, received: 2, duplicates: 1, at: 106 * ms},
			{index: 1, seq: 0, dst: dead, timedOut: true, sent: 2, at: 300 * ms},
			{index: 1, seq: 1, dst: dead, timedOut: true, sent: 2, at: 400 * ms},
		}, seen)
	})
}

func TestMultipingSeqOnIdle(t *testing.T) {
	bubble(t, mock.TransportConfig{}, func(t *testing.T, n *mock.Network, tr *mock.Transport) {
		var targets []netip.Addr
		for i := range 5 {
			a := addrN(10 + i)
			targets = append(targets, a)
			require.NoError(t, n.AddHost(a, mock.Host{Latency: time.Duration(i+1) * 10 * time.Millisecond}))
		}
		// Every host yielded is followed by a wait, each reply arriving 10 ms after the one
		// before: the consumer sees an idle call between any two hosts, and none before the
		// first wait of the run.
		var events []string
		opts := &probe.MultipingOptions{Count: 1, OnIdle: func() { events = append(events, "idle") }}
		for h, err := range probe.MultipingSeq(context.Background(), tr, func(yield func(netip.Addr) bool) {
			for _, a := range targets {
				if !yield(a) {
					return
				}
			}
		}, opts) {
			require.NoError(t, err)
			events = append(events, h.Address.String())
		}
		require.NotEmpty(t, events)
		assert.Equal(t, "idle", events[0], "the run waits for the first reply")
		var hosts []string
		for i, e := range events {
			if e == "idle" {
				continue
			}
			hosts = append(hosts, e)
			if i+1 < len(events) {
				assert.Equal(t, "idle", events[i+1], "a wait follows %s", e)
			}
		}
		assert.Equal(t, []string{"198.18.0.10", "198.18.0.11", "198.18.0.12", "198.18.0.13", "198.18.0.14"}, hosts)
	})
}
