package mock_test

import (
	"context"
	"net/netip"
	"slices"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/net/icmp"
	"golang.org/x/net/ipv4"
	"golang.org/x/net/ipv6"

	"github.com/icmpkit/icmpkit/errors"
	"github.com/icmpkit/icmpkit/transport"
	"github.com/icmpkit/icmpkit/transport/mock"
)

var (
	host4 = netip.MustParseAddr("198.18.0.1")
	host6 = netip.MustParseAddr("2001:db8::1")
)

// send sends one request and fails the test on error.
func send(t *testing.T, tr *mock.Transport, req transport.Request) transport.Request {
	t.Helper()
	require.NoError(t, tr.Send(context.Background(), &req))
	return req
}

// collect receives replies until nothing more arrives within wait.
func collect(t *testing.T, tr *mock.Transport, wait time.Duration) []transport.Reply {
	t.Helper()
	var out []transport.Reply
	for {
		ctx, cancel := context.WithTimeout(context.Background(), wait)
		var r transport.Reply
		err := tr.Receive(ctx, &r)
		cancel()
		if err != nil {
			require.ErrorIs(t, err, context.DeadlineExceeded)
			return out
		}
		out = append(out, r)
	}
}

func seqs(rs []transport.Reply) []int {
	out := make([]int, len(rs))
	for i, r := range rs {
		out[i] = r.Seq
	}
	return out
}

func TestEchoReply(t *testing.T) {
	r1 := netip.MustParseAddr("198.18.1.1")
	r2 := netip.MustParseAddr("198.18.1.2")
	r61 := netip.MustParseAddr("2001:db8:1::1")
	cases := []struct {
		name    string
		dst     netip.Addr
		host    mock.Host
		path    []mock.Hop
		req     transport.Request
		typ     icmp.Type
		ttl     int
		bytes   int
		latency time.Duration
	}{
		{"ipv4", host4, mock.Host{Latency: 10 * time.Millisecond}, nil,
			transport.Request{ID: 7, Seq: 3, PayloadSize: 56}, ipv4.ICMPTypeEchoReply, 64, 64, 10 * time.Millisecond},
		{"ipv6", host6, mock.Host{Latency: 25 * time.Millisecond}, nil,
			transport.Request{ID: 0xffff, Seq: 0, PayloadSize: 0}, ipv6.ICMPTypeEchoReply, 64, 8, 25 * time.Millisecond},
		{"ipv4 over two routers", host4, mock.Host{Latency: time.Second, TTL: 255},
			[]mock.Hop{mock.Router{Addr: r1}, mock.Router{Addr: r2}},
			transport.Request{ID: 1, Seq: 65535, Payload: []byte("hello")}, ipv4.ICMPTypeEchoReply, 253, 13, time.Second},
		{"ipv6 over one router, no latency", host6, mock.Host{TTL: 128},
			[]mock.Hop{mock.Router{Addr: r61}},
			transport.Request{ID: 2, Seq: 9, PayloadSize: 1000, TTL: 2}, ipv6.ICMPTypeEchoReply, 127, 1008, 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				n := mock.NewNetwork(mock.Config{Seed: 1})
				require.NoError(t, n.AddHost(tc.dst, tc.host))
				require.NoError(t, n.AddPath(tc.dst, tc.path...))
				tr := n.Transport(mock.TransportConfig{})
				defer tr.Close()

				start := time.Now()
				tc.req.Destination = tc.dst
				req := send(t, tr, tc.req)
				assert.Equal(t, start, req.SentAt)

				var r transport.Reply
				require.NoError(t, tr.Receive(context.Background(), &r))
				assert.Equal(t, tc.latency, time.Since(start), "delivered after the latency")
				assert.Equal(t, tc.dst, r.Source)
				assert.Equal(t, tc.dst, r.Destination)
				assert.Equal(t, tc.req.ID, r.ID)
				assert.Equal(t, tc.req.Seq, r.Seq)
				assert.Equal(t, tc.typ, r.Type)
				assert.Equal(t, 0, r.Code)
				assert.Equal(t, tc.ttl, r.TTL)
				assert.Equal(t, tc.bytes, r.Bytes)
				assert.Equal(t, time.Now(), r.ReceivedAt)
				assert.Equal(t, tc.latency, r.ReceivedAt.Sub(req.SentAt))
				assert.Equal(t, transport.KindEchoReply, r.Kind())
				assert.NoError(t, r.Err())
				assert.Zero(t, r.MTU)
				assert.Empty(t, r.MPLS)

				assert.Empty(t, collect(t, tr, time.Minute), "one request, one reply")
				assert.Equal(t, mock.Counts{Sent: 1, Delivered: 1, Received: 1}, tr.Counts())
			})
		})
	}
}

func TestNoReply(t *testing.T) {
	cases := []struct {
		name  string
		setup func(*mock.Network) error
		dst   netip.Addr
	}{
		{"dead host", func(n *mock.Network) error { return n.AddHost(host4, mock.Host{Dead: true}) }, host4},
		{"dead ipv6 host", func(n *mock.Network) error { return n.AddHost(host6, mock.Host{Dead: true}) }, host6},
		{"unknown", func(*mock.Network) error { return nil }, host4},
		{"unknown ipv6", func(*mock.Network) error { return nil }, host6},
		{"lossy host losing all", func(n *mock.Network) error { return n.AddHost(host4, mock.Host{Loss: 1}) }, host4},
		{"gateway of the other family", func(n *mock.Network) error {
			return n.SetGateway(mock.Router{Addr: netip.MustParseAddr("2001:db8::fe"), Unreachable: true})
		}, host4},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				n := mock.NewNetwork(mock.Config{})
				require.NoError(t, tc.setup(n))
				tr := n.Transport(mock.TransportConfig{})
				defer tr.Close()
				for seq := range 5 {
					send(t, tr, transport.Request{Destination: tc.dst, Seq: seq})
				}
				assert.Empty(t, collect(t, tr, time.Hour))
				assert.Equal(t, mock.Counts{Sent: 5}, tr.Counts())
			})
		})
	}
}

func TestHostReplaced(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n := mock.NewNetwork(mock.Config{})
		require.NoError(t, n.AddHost(host4, mock.Host{Latency: time.Millisecond}))
		tr := n.Transport(mock.TransportConfig{})
		defer tr.Close()
		send(t, tr, transport.Request{Destination: host4, Seq: 1})
		require.NoError(t, n.AddHost(host4, mock.Host{Dead: true}))
		send(t, tr, transport.Request{Destination: host4, Seq: 2})
		require.NoError(t, n.AddHost(host4, mock.Host{}))
		send(t, tr, transport.Request{Destination: host4, Seq: 3})
		assert.Equal(t, []int{3, 1}, seqs(collect(t, tr, time.Second)))
	})
}

// lossPattern pings a lossy host 2,000 times and gives the sequences answered.
func lossPattern(t *testing.T, seed uint64, id int) []int {
	var got []int
	synctest.Test(t, func(t *testing.T) {
		n := mock.NewNetwork(mock.Config{Seed: seed})
		require.NoError(t, n.AddHost(host4, mock.Host{Latency: 5 * time.Millisecond, Loss: 0.3}))
		tr := n.Transport(mock.TransportConfig{})
		defer tr.Close()
		for seq := range 2000 {
			send(t, tr, transport.Request{Destination: host4, ID: id, Seq: seq})
			time.Sleep(time.Millisecond)
		}
		got = seqs(collect(t, tr, time.Second))
	})
	return got
}

func TestLossIsSeeded(t *testing.T) {
	a := lossPattern(t, 42, 1)
	b := lossPattern(t, 42, 2)
	c := lossPattern(t, 43, 1)
	assert.Equal(t, a, b, "same seed, same losses, whatever the identifier")
	assert.NotEqual(t, a, c, "another seed, other losses")
	for _, got := range [][]int{a, c} {
		assert.True(t, slices.IsSorted(got))
		assert.InDelta(t, 1400, len(got), 100, "30%% of 2000 lost")
	}
}

func TestJitterReorders(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n := mock.NewNetwork(mock.Config{Seed: 7})
		require.NoError(t, n.AddHost(host4, mock.Host{Latency: 10 * time.Millisecond, Jitter: 100 * time.Millisecond}))
		tr := n.Transport(mock.TransportConfig{})
		defer tr.Close()
		sent := map[int]time.Time{}
		for seq := range 50 {
			sent[seq] = send(t, tr, transport.Request{Destination: host4, Seq: seq}).SentAt
			time.Sleep(5 * time.Millisecond)
		}
		got := collect(t, tr, time.Second)
		require.Len(t, got, 50)
		s := seqs(got)
		assert.False(t, slices.IsSorted(s), "replies overtake each other: %v", s)
		slices.Sort(s)
		assert.Equal(t, 49, s[49])
		for _, r := range got {
			rtt := r.ReceivedAt.Sub(sent[r.Seq])
			assert.GreaterOrEqual(t, rtt, 10*time.Millisecond)
			assert.Less(t, rtt, 110*time.Millisecond)
		}
	})
}

func TestDuplicates(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n := mock.NewNetwork(mock.Config{})
		require.NoError(t, n.AddHost(host6, mock.Host{Latency: time.Millisecond, Duplicates: 2}))
		tr := n.Transport(mock.TransportConfig{})
		defer tr.Close()
		send(t, tr, transport.Request{Destination: host6, ID: 5, Seq: 1})
		send(t, tr, transport.Request{Destination: host6, ID: 5, Seq: 2})
		got := collect(t, tr, time.Second)
		assert.Equal(t, []int{1, 1, 1, 2, 2, 2}, seqs(got))
		assert.Equal(t, 6, tr.Counts().Delivered)
	})
}

func TestLateReplies(t *testing.T) {
	for _, tc := range []struct {
		name   string
		lateBy time.Duration
		want   time.Duration
	}{{"default", 0, time.Minute + time.Millisecond}, {"ten seconds", 10 * time.Second, 10*time.Second + time.Millisecond}} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				n := mock.NewNetwork(mock.Config{})
				require.NoError(t, n.AddHost(host4, mock.Host{Latency: time.Millisecond, Late: 1, LateBy: tc.lateBy}))
				tr := n.Transport(mock.TransportConfig{})
				defer tr.Close()
				start := time.Now()
				send(t, tr, transport.Request{Destination: host4, Seq: 1})
				assert.Empty(t, collect(t, tr, 5*time.Second), "nothing within a timeout")
				assert.Equal(t, 1, tr.Counts().Pending)
				var r transport.Reply
				require.NoError(t, tr.Receive(context.Background(), &r))
				assert.Equal(t, tc.want, r.ReceivedAt.Sub(start))
				assert.Equal(t, 1, r.Seq)
			})
		})
	}
}

func TestCorruptReplies(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n := mock.NewNetwork(mock.Config{Seed: 3})
		require.NoError(t, n.AddHost(host4, mock.Host{Latency: time.Millisecond, Corrupt: 0.5}))
		tr := n.Transport(mock.TransportConfig{})
		defer tr.Close()
		const total = 300
		for seq := range total {
			send(t, tr, transport.Request{Destination: host4, ID: 100, Seq: seq})
		}
		got := collect(t, tr, time.Second)
		require.Len(t, got, total, "corrupted replies still arrive")
		kinds := map[string]int{}
		for _, r := range got {
			switch {
			case r.ID != 100:
				kinds["id"]++
				assert.Equal(t, host4, r.Source)
			case r.Source != host4:
				kinds["source"]++
				assert.True(t, r.Source.Is4())
			case r.Seq >= total:
				kinds["seq"]++
			default:
				kinds["intact"]++
			}
		}
		assert.InDelta(t, total/2, kinds["intact"], 40)
		for _, k := range []string{"id", "source", "seq"} {
			assert.Positive(t, kinds[k], "%s corrupted in some replies: %v", k, kinds)
		}
	})
}

func TestInject(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n := mock.NewNetwork(mock.Config{})
		tr := n.Transport(mock.TransportConfig{})
		stranger := netip.MustParseAddr("198.18.9.9")
		labels := []icmp.MPLSLabel{{Label: 16, S: true, TTL: 1}}
		start := time.Now()
		require.NoError(t, tr.Inject(transport.Reply{Source: stranger, Destination: stranger, ID: 1, Seq: 4242,
			Type: ipv4.ICMPTypeEchoReply, Bytes: 64, TTL: 50}, 3*time.Second))
		at := start.Add(-time.Hour)
		require.NoError(t, tr.Inject(transport.Reply{Source: stranger, Destination: host4,
			Type: ipv4.ICMPTypeTimeExceeded, ReceivedAt: at, MPLS: labels}, time.Second))
		labels[0].Label = 17 // the transport kept its own copy

		var r transport.Reply
		require.NoError(t, tr.Receive(context.Background(), &r))
		assert.Equal(t, time.Second, time.Since(start))
		assert.Equal(t, at, r.ReceivedAt, "a set ReceivedAt is kept")
		assert.Equal(t, []icmp.MPLSLabel{{Label: 16, S: true, TTL: 1}}, r.MPLS)
		assert.Equal(t, transport.KindTimeExceeded, r.Kind())

		require.NoError(t, tr.Receive(context.Background(), &r))
		assert.Equal(t, transport.Reply{Source: stranger, Destination: stranger, ID: 1, Seq: 4242,
			Type: ipv4.ICMPTypeEchoReply, Bytes: 64, TTL: 50, ReceivedAt: start.Add(3 * time.Second), MPLS: r.MPLS[:0]}, r)

		require.ErrorIs(t, tr.Inject(transport.Reply{}, -1), errors.ErrInvalidArgument)
		require.NoError(t, tr.Close())
		require.ErrorIs(t, tr.Inject(transport.Reply{}, 0), errors.ErrUnavailable)
	})
}
