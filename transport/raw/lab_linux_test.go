package raw

import (
	"context"
	"net/netip"
	"testing"
	"time"

	icmperrors "github.com/icmpkit/icmpkit/errors"
	"github.com/icmpkit/icmpkit/internal/lab"
	"github.com/icmpkit/icmpkit/transport"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/net/ipv4"
	"golang.org/x/net/ipv6"
	"golang.org/x/sys/unix"
)

// openIn makes a transport whose sockets live in namespace ns.
func openIn(t *testing.T, ns string, cfg Config) *Transport {
	t.Helper()
	var tr *Transport
	require.NoError(t, lab.Do(ns, func() error {
		var err error
		tr, err = New(cfg)
		return err
	}))
	t.Cleanup(func() { tr.Close() })
	return tr
}

// ICMP errors from real routers come back as replies naming the probe: time exceeded,
// unreachable, fragmentation needed and packet too big, through the kernel filters.
func TestRouterErrors(t *testing.T) {
	lab.Require(t)
	c := lab.NewChain(t, lab.ChainConfig{Routers: 2, Unreachable: 1, MTU: map[int]int{1: 1280}})
	tr := openIn(t, c.Client.NS, Config{})
	id := tr.id
	type probe struct {
		name string
		req  transport.Request
		from netip.Addr
		typ  any
		code int
		mtu  int
		ttl  int // the TTL the reply arrives with, 0 to skip
	}
	// Unreachable first: on a router, Time Exceeded drains the per-peer tokens that the
	// unreachable route's own limiter (net.ipv4.route.error_cost) draws from.
	probes := []probe{
		{"v4 unreachable", transport.Request{Destination: c.UnreachableV4[0]}, c.UnreachableFrom().V4, ipv4.ICMPTypeDestinationUnreachable, 1, 0, 0},
		{"v4 time exceeded r1", transport.Request{Destination: c.Target.V4, TTL: 1}, c.Router(1).V4, ipv4.ICMPTypeTimeExceeded, 0, 0, 64},
		{"v4 time exceeded r2", transport.Request{Destination: c.Target.V4, TTL: 2}, c.Router(2).V4, ipv4.ICMPTypeTimeExceeded, 0, 0, 63},
		{"v4 echo reply", transport.Request{Destination: c.Target.V4}, c.Target.V4, ipv4.ICMPTypeEchoReply, 0, 0, 62},
		{"v4 fragmentation needed", transport.Request{Destination: c.Target.V4, DontFragment: true, PayloadSize: 1400}, c.Router(1).V4, ipv4.ICMPTypeDestinationUnreachable, 4, 1280, 0},
		{"v4 fragmented", transport.Request{Destination: c.Target.V4, PayloadSize: 1400}, c.Target.V4, ipv4.ICMPTypeEchoReply, 0, 0, 0},
		{"v6 time exceeded r1", transport.Request{Destination: c.Target.V6, TTL: 1}, c.Router(1).V6, ipv6.ICMPTypeTimeExceeded, 0, 0, 64},
		{"v6 echo reply", transport.Request{Destination: c.Target.V6}, c.Target.V6, ipv6.ICMPTypeEchoReply, 0, 0, 62},
		{"v6 unreachable", transport.Request{Destination: c.UnreachableV6[0]}, c.UnreachableFrom().V6, ipv6.ICMPTypeDestinationUnreachable, 0, 0, 0},
		{"v6 packet too big", transport.Request{Destination: c.Target.V6, PayloadSize: 1400, DontFragment: true}, c.Router(1).V6, ipv6.ICMPTypePacketTooBig, 0, 1280, 0},
	}
	for i, p := range probes {
		t.Run(p.name, func(t *testing.T) {
			req := p.req
			req.ID, req.Seq = id, 700+i
			require.NoError(t, tr.Send(context.Background(), &req))
			r := receiveSeqs(t, tr, req.Destination, id, req.Seq)[req.Seq]
			assert.Equal(t, p.from, r.Source, "source")
			assert.Equal(t, p.typ, r.Type, "type")
			assert.Equal(t, p.code, r.Code, "code")
			assert.Equal(t, p.mtu, r.MTU, "mtu")
			if p.ttl != 0 {
				assert.Equal(t, p.ttl, r.TTL, "received ttl")
			}
			assert.True(t, r.ReceivedAt.After(req.SentAt), "receive time")
			if r.Kind() != transport.KindEchoReply {
				var ie *icmperrors.ICMPError
				require.ErrorAs(t, r.Err(), &ie)
				assert.Equal(t, req.Seq, ie.Seq)
			}
		})
	}

	// The path MTU is now known for both families. With DF, both ignore it and ask the router
	// again; IPv6 without DF fragments to it.
	t.Run("v4 DF again", func(t *testing.T) {
		req := transport.Request{Destination: c.Target.V4, ID: id, Seq: 800, DontFragment: true, PayloadSize: 1400}
		require.NoError(t, tr.Send(context.Background(), &req))
		r := receiveSeqs(t, tr, req.Destination, id, req.Seq)[req.Seq]
		assert.Equal(t, 1280, r.MTU)
	})
	t.Run("v6 fragmented to the path MTU", func(t *testing.T) {
		// The target's first reply is too big for link 1 on its way back, and routers do not
		// fragment IPv6: it is lost, and its Packet Too Big teaches the target the path MTU.
		first := transport.Request{Destination: c.Target.V6, ID: id, Seq: 801, PayloadSize: 1400}
		require.NoError(t, tr.Send(context.Background(), &first))
		time.Sleep(100 * time.Millisecond)
		req := transport.Request{Destination: c.Target.V6, ID: id, Seq: 803, PayloadSize: 1400}
		require.NoError(t, tr.Send(context.Background(), &req))
		r := receiveSeqs(t, tr, req.Destination, id, req.Seq)[req.Seq]
		assert.Equal(t, transport.KindEchoReply, r.Kind())
		assert.Equal(t, 1408, r.Bytes)
	})
	t.Run("v6 DF again", func(t *testing.T) {
		// As on IPv4, a request that may not be fragmented ignores the cached path MTU and asks
		// the router again, as path MTU discovery needs.
		req := transport.Request{Destination: c.Target.V6, ID: id, Seq: 802, PayloadSize: 1400, DontFragment: true}
		require.NoError(t, tr.Send(context.Background(), &req))
		r := receiveSeqs(t, tr, req.Destination, id, req.Seq)[req.Seq]
		assert.Equal(t, transport.KindPacketTooBig, r.Kind())
		assert.Equal(t, 1280, r.MTU)
	})
	t.Run("v6 DF beyond the local link", func(t *testing.T) {
		req := transport.Request{Destination: c.Target.V6, ID: id, Seq: 804, PayloadSize: 1500, DontFragment: true}
		err := tr.Send(context.Background(), &req)
		require.ErrorIs(t, err, icmperrors.ErrMessageSize)
		require.ErrorIs(t, err, icmperrors.ErrSocket)
		require.ErrorIs(t, err, unix.EMSGSIZE)
	})
	assert.Zero(t, tr.drops.Load(), "nothing foreign reached user space")
}

// With broadcast on, every host of the segment answers one request.
func TestBroadcastReplies(t *testing.T) {
	lab.Require(t)
	b := lab.NewBroadcast(t, lab.BroadcastConfig{Responders: 3})
	tr := openIn(t, b.Client.NS, Config{Family: transport.FamilyIPv4})
	req := transport.Request{Destination: b.Broadcast, ID: tr.id, Seq: 1}
	require.ErrorIs(t, tr.Send(context.Background(), &req), icmperrors.ErrBroadcast)
	require.NoError(t, tr.SetBroadcast(true))
	require.NoError(t, tr.Send(context.Background(), &req))
	want := map[netip.Addr]bool{}
	for _, n := range b.Responders {
		want[n.V4] = true
	}
	got := map[netip.Addr]bool{}
	deadline := time.Now().Add(5 * time.Second)
	for len(got) < len(want) {
		r, err := receive(tr, time.Until(deadline))
		require.NoError(t, err, "replies from %v", got)
		if r.ID == tr.id && r.Seq == 1 && r.Kind() == transport.KindEchoReply {
			assert.Equal(t, r.Source, r.Destination)
			got[r.Source] = true
		}
	}
	for a := range want {
		assert.True(t, got[a], "reply from %s", a)
	}
}
