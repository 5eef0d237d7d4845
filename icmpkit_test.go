package icmpkit

import (
	"context"
	"net/netip"
	"slices"
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
)

func TestPingOverMock(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n := mock.NewNetwork(mock.Config{})
		dst := mustAddr("198.18.0.1")
		require.NoError(t, n.AddHost(dst, mock.Host{Latency: 5 * time.Millisecond, TTL: 60}))
		tr := n.Transport(mock.TransportConfig{})
		defer tr.Close()

		var outcomes []probe.Outcome
		start := time.Now()
		h, err := Ping(context.Background(), "198.18.0.1", &PingOptions{
			Count: 3, Interval: 100 * time.Millisecond, TTL: 9, TrafficClass: 0x20, PayloadSize: 100,
			Transport: tr, OnReply: func(o probe.Outcome) { outcomes = append(outcomes, o) },
		})
		require.NoError(t, err)
		assert.Equal(t, dst, h.Address)
		assert.Equal(t, 3, h.PacketsSent)
		assert.Equal(t, 3, h.PacketsReceived())
		assert.Equal(t, []time.Duration{5 * time.Millisecond, 5 * time.Millisecond, 5 * time.Millisecond}, h.RTTs)
		assert.Equal(t, 205*time.Millisecond, time.Since(start), "returns when the last reply is in")
		require.Len(t, outcomes, 3)
		assert.Equal(t, 60, outcomes[0].Reply.TTL)

		sent := tr.Sent()
		require.Len(t, sent, 3)
		for _, r := range sent {
			assert.Equal(t, 9, r.TTL)
			assert.Equal(t, 0x20, r.TrafficClass)
			assert.Equal(t, 100, r.PayloadLen())
		}

		// Back to back: each request as soon as the previous is answered.
		start = time.Now()
		h, err = Ping(context.Background(), "198.18.0.1", &PingOptions{Count: 4, Interval: BackToBack, Transport: tr, DropRTTs: true})
		require.NoError(t, err)
		assert.Equal(t, 4, h.PacketsReceived())
		assert.Nil(t, h.RTTs)
		assert.Equal(t, 20*time.Millisecond, time.Since(start))
	})
}

func TestPingCancelled(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n := mock.NewNetwork(mock.Config{})
		require.NoError(t, n.AddHost(mustAddr("198.18.0.1"), mock.Host{Latency: time.Millisecond}))
		tr := n.Transport(mock.TransportConfig{})
		defer tr.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 2500*time.Millisecond)
		defer cancel()
		h, err := Ping(ctx, "198.18.0.1", &PingOptions{Count: 100, Transport: tr})
		require.ErrorIs(t, err, context.DeadlineExceeded)
		require.NotNil(t, h)
		assert.Equal(t, 3, h.PacketsReceived(), "the replies so far")
	})
}

func TestMultipingOverMock(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n := mock.NewNetwork(mock.Config{})
		var targets []string
		for i := range 20 {
			a := netip.AddrFrom4([4]byte{198, 18, 0, byte(i + 1)})
			require.NoError(t, n.AddHost(a, mock.Host{Latency: time.Duration(20-i) * time.Millisecond, Dead: i%5 == 4}))
			targets = append(targets, a.String())
		}
		require.NoError(t, n.AddHost(mustAddr("2001:db8::1"), mock.Host{Latency: time.Millisecond}))
		targets = append(targets, "2001:db8::1", "localhost")
		tr := n.Transport(mock.TransportConfig{})
		defer tr.Close()

		hosts, err := Multiping(context.Background(), targets, &MultipingOptions{Count: 2, Interval: 10 * time.Millisecond, Timeout: time.Second, Transport: tr})
		require.NoError(t, err)
		require.Len(t, hosts, len(targets))
		for i, h := range hosts {
			want := targets[i]
			if want == "localhost" {
				want = "127.0.0.1"
			}
			assert.Equal(t, want, h.Address.String(), "input order")
			assert.Equal(t, 2, h.PacketsSent)
			assert.Equal(t, i < 20 && i%5 != 4 || i == 20, h.IsAlive(), h.Address)
		}

		// The streaming form gives the same, in the same order.
		var streamed []string
		for h, err := range MultipingSeq(context.Background(), slices.Values(targets), &MultipingOptions{Count: 1, Transport: tr}) {
			require.NoError(t, err)
			streamed = append(streamed, h.Address.String())
		}
		assert.Len(t, streamed, len(targets))
		assert.Equal(t, "198.18.0.1", streamed[0])
		assert.Equal(t, "127.0.0.1", streamed[len(streamed)-1])
	})
}

func TestMultipingSeqBadTarget(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n := mock.NewNetwork(mock.Config{})
		require.NoError(t, n.AddHost(mustAddr("198.18.0.1"), mock.Host{}))
		tr := n.Transport(mock.TransportConfig{})
		defer tr.Close()
		targets := []string{"198.18.0.1", "198.18.0.2", "2001:db8::1", "198.18.0.3"}
		var got []string
		var errs []error
		for h, err := range MultipingSeq(context.Background(), slices.Values(targets), &MultipingOptions{Count: 1, Timeout: time.Second, Family: IPv4, Transport: tr}) {
			if err != nil {
				errs = append(errs, err)
				continue
			}
			got = append(got, h.Address.String())
		}
		assert.Equal(t, []string{"198.18.0.1", "198.18.0.2"}, got, "hosts before the bad target complete")
		require.Len(t, errs, 1)
		assert.ErrorIs(t, errs[0], errors.ErrInvalidArgument)

		// A payload too large for an IPv4 target stops the stream too.
		errs = nil
		for _, err := range MultipingSeq(context.Background(), slices.Values([]string{"2001:db8::1", "198.18.0.1"}), &MultipingOptions{PayloadSize: transport.MaxPayloadV4 + 1, Timeout: time.Second, Transport: tr}) {
			if err != nil {
				errs = append(errs, err)
			}
		}
		require.Len(t, errs, 1)
		assert.ErrorIs(t, errs[0], errors.ErrInvalidArgument)
	})
}

// Name lookups run outside a synctest bubble (the resolver's state is global), so this test
// runs on the real clock, with a host that answers at once.
func TestMultipingSeqNameLookup(t *testing.T) {
	n := mock.NewNetwork(mock.Config{})
	require.NoError(t, n.AddHost(mustAddr("198.18.0.1"), mock.Host{}))
	tr := n.Transport(mock.TransportConfig{})
	defer tr.Close()
	var got []string
	var errs []error
	targets := []string{"198.18.0.1", "no-such-host.invalid", "198.18.0.1"}
	for h, err := range MultipingSeq(context.Background(), slices.Values(targets), &MultipingOptions{Count: 1, Transport: tr}) {
		if err != nil {
			errs = append(errs, err)
			continue
		}
		got = append(got, h.Address.String())
	}
	assert.Equal(t, []string{"198.18.0.1"}, got)
	require.Len(t, errs, 1)
	assert.ErrorIs(t, errs[0], errors.ErrNameLookup)
}

func TestTracerouteOverMock(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n := mock.NewNetwork(mock.Config{})
		dst := mustAddr("198.18.4.2")
		require.NoError(t, n.AddHost(dst, mock.Host{Latency: 4 * time.Millisecond}))
		require.NoError(t, n.AddPath(dst,
			mock.Router{Addr: mustAddr("198.18.0.1"), Latency: time.Millisecond},
			mock.Router{Addr: mustAddr("198.18.1.1"), Silent: true},
			mock.Router{Addr: mustAddr("198.18.2.1"), Latency: 3 * time.Millisecond},
		))
		tr := n.Transport(mock.TransportConfig{})
		defer tr.Close()
		var streamed []int
		trace, err := Traceroute(context.Background(), "198.18.4.2", &TraceOptions{Transport: tr, Timeout: time.Second, OnHop: func(h result.Hop) { streamed = append(streamed, h.Distance) }})
		require.NoError(t, err)
		assert.True(t, trace.Reached)
		assert.Equal(t, dst, trace.Destination)
		var dists []int
		for _, h := range trace.Hops {
			dists = append(dists, h.Distance)
		}
		assert.Equal(t, []int{1, 3, 4}, dists)
		assert.Equal(t, dists, streamed)
		assert.Equal(t, dst, trace.Hops[2].Address)

		trace, err = Traceroute(context.Background(), "198.18.4.2", &TraceOptions{Transport: tr, FirstHop: 2, MaxHops: 3, Fast: true, Timeout: time.Second})
		require.NoError(t, err)
		assert.False(t, trace.Reached)
		require.Len(t, trace.Hops, 1)
		assert.Equal(t, 3, trace.Hops[0].Distance)
		assert.Equal(t, 1, trace.Hops[0].PacketsSent, "fast mode stops at the first answer")
	})
}
