package mock_test

import (
	"context"
	"encoding/binary"
	"net/netip"
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

// probeTTL sends one request with the given TTL and returns what came back within a minute.
func probeTTL(t *testing.T, tr *mock.Transport, req transport.Request) []transport.Reply {
	t.Helper()
	send(t, tr, req)
	return collect(t, tr, time.Minute)
}

func TestTimeExceeded(t *testing.T) {
	for _, v6 := range []bool{false, true} {
		name := map[bool]string{false: "ipv4", true: "ipv6"}[v6]
		t.Run(name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				dst, r := host4, func(i byte) netip.Addr { return netip.AddrFrom4([4]byte{198, 18, 1, i}) }
				exceeded, echo := icmp.Type(ipv4.ICMPTypeTimeExceeded), icmp.Type(ipv4.ICMPTypeEchoReply)
				if v6 {
					dst, r = host6, func(i byte) netip.Addr { return netip.AddrFrom16([16]byte{0x20, 0x01, 0x0d, 0xb8, 1, 15: i}) }
					exceeded, echo = ipv6.ICMPTypeTimeExceeded, ipv6.ICMPTypeEchoReply
				}
				n := mock.NewNetwork(mock.Config{})
				require.NoError(t, n.AddHost(dst, mock.Host{Latency: 40 * time.Millisecond}))
				require.NoError(t, n.AddPath(dst,
					mock.Router{Addr: r(1), Latency: 10 * time.Millisecond},
					mock.Router{Addr: r(2), Latency: 20 * time.Millisecond, TTL: 255},
					mock.Router{Addr: r(3), Latency: 30 * time.Millisecond},
				))
				tr := n.Transport(mock.TransportConfig{})
				defer tr.Close()

				for ttl := 1; ttl <= 3; ttl++ {
					start := time.Now()
					got := probeTTL(t, tr, transport.Request{Destination: dst, ID: 9, Seq: ttl, TTL: ttl, PayloadSize: 32})
					require.Len(t, got, 1, "ttl %d", ttl)
					rep := got[0]
					assert.Equal(t, r(byte(ttl)), rep.Source)
					assert.Equal(t, dst, rep.Destination)
					assert.Equal(t, exceeded, rep.Type)
					assert.Equal(t, 0, rep.Code)
					assert.Equal(t, 9, rep.ID)
					assert.Equal(t, ttl, rep.Seq)
					assert.Equal(t, time.Duration(ttl)*10*time.Millisecond, rep.ReceivedAt.Sub(start))
					wantTTL := 64 - (ttl - 1)
					if ttl == 2 {
						wantTTL = 254
					}
					assert.Equal(t, wantTTL, rep.TTL)
					assert.Greater(t, rep.Bytes, 8+32, "the error quotes the request")
					assert.ErrorIs(t, rep.Err(), errors.ErrTimeExceeded)
				}
				for _, ttl := range []int{4, 5, 255, 0} {
					start := time.Now()
					got := probeTTL(t, tr, transport.Request{Destination: dst, ID: 9, Seq: 100 + ttl, TTL: ttl})
					require.Len(t, got, 1, "ttl %d", ttl)
					assert.Equal(t, echo, got[0].Type)
					assert.Equal(t, dst, got[0].Source)
					assert.Equal(t, 61, got[0].TTL, "64 less three routers")
					assert.Equal(t, 40*time.Millisecond, got[0].ReceivedAt.Sub(start))
				}
			})
		})
	}
}

func TestRouterFaults(t *testing.T) {
	r1, r2, r3 := netip.MustParseAddr("198.18.1.1"), netip.MustParseAddr("198.18.1.2"), netip.MustParseAddr("198.18.1.3")
	cases := []struct {
		name string
		mid  mock.Router
		// want maps a TTL to the source and type/code expected, or an invalid source for none.
		want map[int]netip.Addr
		code int
	}{
		{"silent", mock.Router{Addr: r2, Silent: true},
			map[int]netip.Addr{1: r1, 2: {}, 3: r3, 4: host4}, -1},
		{"unreachable", mock.Router{Addr: r2, Unreachable: true, UnreachableCode: 13},
			map[int]netip.Addr{1: r1, 2: r2, 3: r2, 64: r2}, 13},
		{"silent unreachable", mock.Router{Addr: r2, Silent: true, Unreachable: true, UnreachableCode: 1},
			map[int]netip.Addr{1: r1, 2: {}, 3: {}, 64: {}}, -1},
		{"rate limited", mock.Router{Addr: r2, Loss: 1},
			map[int]netip.Addr{1: r1, 2: {}, 3: r3, 4: host4}, -1},
		{"dropping", mock.Router{Addr: r2, Drop: 1},
			map[int]netip.Addr{1: r1, 2: r2, 3: {}, 4: {}, 64: {}}, -1},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				n := mock.NewNetwork(mock.Config{})
				require.NoError(t, n.AddHost(host4, mock.Host{}))
				require.NoError(t, n.AddPath(host4, mock.Router{Addr: r1}, tc.mid, mock.Router{Addr: r3}))
				tr := n.Transport(mock.TransportConfig{})
				defer tr.Close()
				for ttl, src := range tc.want {
					got := probeTTL(t, tr, transport.Request{Destination: host4, Seq: ttl, TTL: ttl})
					if !src.IsValid() {
						assert.Empty(t, got, "ttl %d", ttl)
						continue
					}
					require.Len(t, got, 1, "ttl %d", ttl)
					assert.Equal(t, src, got[0].Source, "ttl %d", ttl)
					assert.Equal(t, ttl, got[0].Seq)
					if src == r2 && tc.code >= 0 {
						assert.Equal(t, transport.KindDestinationUnreachable, got[0].Kind())
						assert.Equal(t, tc.code, got[0].Code)
						assert.Equal(t, host4, got[0].Destination)
						assert.Equal(t, "!X", got[0].Unreachable())
					}
				}
			})
		})
	}
}

func TestMPLS(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		labels := []icmp.MPLSLabel{{Label: 24001, TC: 0, S: false, TTL: 1}, {Label: 16, TC: 2, S: true, TTL: 1}}
		r1, r2 := netip.MustParseAddr("198.18.1.1"), netip.MustParseAddr("198.18.1.2")
		n := mock.NewNetwork(mock.Config{})
		require.NoError(t, n.AddPath(host4, mock.Router{Addr: r1, MPLS: labels}, mock.Router{Addr: r2}))
		labels[0].Label = 1 // the network kept its own copy
		tr := n.Transport(mock.TransportConfig{})
		defer tr.Close()

		var rep transport.Reply
		send(t, tr, transport.Request{Destination: host4, TTL: 1, PayloadSize: 56})
		require.NoError(t, tr.Receive(context.Background(), &rep))
		want := []icmp.MPLSLabel{{Label: 24001, S: false, TTL: 1}, {Label: 16, TC: 2, S: true, TTL: 1}}
		assert.Equal(t, want, rep.MPLS)
		assert.Equal(t, 8+128+8+4*2, rep.Bytes, "RFC 4884: quote padded to 128 bytes, then the extension")
		rep.MPLS[0].Label = 99 // the caller owns what Receive gave

		send(t, tr, transport.Request{Destination: host4, TTL: 1})
		require.NoError(t, tr.Receive(context.Background(), &rep))
		assert.Equal(t, want, rep.MPLS)

		send(t, tr, transport.Request{Destination: host4, TTL: 2, PayloadSize: 56})
		require.NoError(t, tr.Receive(context.Background(), &rep))
		assert.Equal(t, r2, rep.Source)
		assert.Empty(t, rep.MPLS, "no labels from a router without them")
		assert.Equal(t, 8+20+8+56, rep.Bytes)
	})
}

func TestMTU(t *testing.T) {
	r1, r2 := netip.MustParseAddr("198.18.1.1"), netip.MustParseAddr("198.18.1.2")
	r61, r62 := netip.MustParseAddr("2001:db8:1::1"), netip.MustParseAddr("2001:db8:1::2")
	cases := []struct {
		name    string
		dst     netip.Addr
		path    []mock.Hop
		payload int
		df      bool
		ttl     int
		src     netip.Addr // who answers
		kind    transport.Kind
		code    int
		mtu     int
	}{
		{"v4 fits exactly", host4, []mock.Hop{mock.Router{Addr: r1}, mock.Router{Addr: r2, MTU: 1400}}, 1400 - 28, true, 0, host4, transport.KindEchoReply, 0, 0},
		{"v4 one byte too big", host4, []mock.Hop{mock.Router{Addr: r1}, mock.Router{Addr: r2, MTU: 1400}}, 1400 - 27, true, 0, r2, transport.KindDestinationUnreachable, 4, 1400},
		{"v4 too big without DF is fragmented", host4, []mock.Hop{mock.Router{Addr: r1}, mock.Router{Addr: r2, MTU: 1400}}, 3000, false, 0, host4, transport.KindEchoReply, 0, 0},
		{"v4 expiring before the narrow link", host4, []mock.Hop{mock.Router{Addr: r1}, mock.Router{Addr: r2, MTU: 1400}}, 3000, true, 2, r2, transport.KindTimeExceeded, 0, 0},
		{"v4 first narrow link answers", host4, []mock.Hop{mock.Router{Addr: r1, MTU: 1000}, mock.Router{Addr: r2, MTU: 576}}, 2000, true, 0, r1, transport.KindDestinationUnreachable, 4, 1000},
		{"v6 fits", host6, []mock.Hop{mock.Router{Addr: r61, MTU: 1280}, mock.Router{Addr: r62}}, 1280 - 48, true, 0, host6, transport.KindEchoReply, 0, 0},
		{"v6 too big", host6, []mock.Hop{mock.Router{Addr: r61, MTU: 1280}, mock.Router{Addr: r62}}, 1280 - 47, true, 0, r61, transport.KindPacketTooBig, 0, 1280},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				n := mock.NewNetwork(mock.Config{})
				require.NoError(t, n.AddHost(tc.dst, mock.Host{}))
				require.NoError(t, n.AddPath(tc.dst, tc.path...))
				tr := n.Transport(mock.TransportConfig{})
				defer tr.Close()
				got := probeTTL(t, tr, transport.Request{Destination: tc.dst, Seq: 1, TTL: tc.ttl, PayloadSize: tc.payload, DontFragment: tc.df})
				require.Len(t, got, 1)
				assert.Equal(t, tc.src, got[0].Source)
				assert.Equal(t, tc.kind, got[0].Kind())
				assert.Equal(t, tc.code, got[0].Code)
				assert.Equal(t, tc.mtu, got[0].MTU)
				assert.Equal(t, tc.dst, got[0].Destination)
			})
		})
	}
}

// parisPayload gives a payload that makes an echo request's checksum the same whatever
// its sequence: its first two bytes cancel the sequence in the one's complement sum.
func parisPayload(seq int) []byte {
	p := make([]byte, 16)
	binary.BigEndian.PutUint16(p, ^uint16(seq))
	return p
}

func wireChecksum(t *testing.T, req transport.Request) uint16 {
	t.Helper()
	payload := req.Payload
	if payload == nil {
		payload = make([]byte, req.PayloadSize)
		transport.FillPayload(payload)
	}
	m := icmp.Message{Type: ipv4.ICMPTypeEcho, Body: &icmp.Echo{ID: req.ID, Seq: req.Seq, Data: payload}}
	b, err := m.Marshal(nil)
	require.NoError(t, err)
	return binary.BigEndian.Uint16(b[2:])
}

func TestECMP(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r1 := netip.MustParseAddr("198.18.1.1")
		alt := []netip.Addr{netip.MustParseAddr("198.18.2.1"), netip.MustParseAddr("198.18.2.2"),
			netip.MustParseAddr("198.18.2.3"), netip.MustParseAddr("198.18.2.4")}
		alt3 := []netip.Addr{netip.MustParseAddr("198.18.3.1"), netip.MustParseAddr("198.18.3.2")}
		n := mock.NewNetwork(mock.Config{Seed: 5})
		require.NoError(t, n.AddHost(host4, mock.Host{}))
		require.NoError(t, n.AddPath(host4,
			mock.Router{Addr: r1},
			mock.ECMP{{Addr: alt[0]}, {Addr: alt[1]}, {Addr: alt[2]}, {Addr: alt[3]}},
			mock.ECMP{{Addr: alt3[0]}, {Addr: alt3[1]}},
		))
		tr := n.Transport(mock.TransportConfig{})
		defer tr.Close()

		responders := func(ttl int, paris bool, id int) map[netip.Addr]int {
			seen := map[netip.Addr]int{}
			sums := map[uint16]bool{}
			for seq := range 64 {
				req := transport.Request{Destination: host4, ID: id, Seq: seq, TTL: ttl, PayloadSize: 16}
				if paris {
					req.Payload = parisPayload(seq)
				}
				sums[wireChecksum(t, req)] = true
				for _, r := range probeTTL(t, tr, req) {
					seen[r.Source]++
				}
			}
			if paris {
				require.Len(t, sums, 1, "paris probes share one checksum")
			}
			return seen
		}

		for _, ttl := range []int{2, 3} {
			for _, id := range []int{1, 2, 3} {
				seen := responders(ttl, true, id)
				assert.Len(t, seen, 1, "a paris trace stays on one path: ttl %d id %d: %v", ttl, id, seen)
			}
		}
		seen := responders(2, false, 1)
		assert.Len(t, seen, 4, "varying checksums spread over every router: %v", seen)
		for _, a := range alt {
			assert.Positive(t, seen[a])
		}
		assert.Len(t, responders(3, false, 1), 2)
		assert.Equal(t, map[netip.Addr]int{r1: 64}, responders(1, false, 1), "a single router takes every flow")

		// Different identifiers are different flows: over many, a paris trace meets every router.
		all := map[netip.Addr]bool{}
		for id := range 32 {
			for a := range responders(2, true, id) {
				all[a] = true
			}
		}
		assert.Len(t, all, 4)
	})
}

func TestGateway(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		gw4, gw6 := netip.MustParseAddr("198.18.0.254"), netip.MustParseAddr("2001:db8::fe")
		n := mock.NewNetwork(mock.Config{})
		require.NoError(t, n.SetGateway(mock.Router{Addr: gw4, Latency: 3 * time.Millisecond, Unreachable: true, UnreachableCode: 1}))
		require.NoError(t, n.SetGateway(mock.Router{Addr: gw6}))
		require.NoError(t, n.AddHost(host4, mock.Host{}))
		tr := n.Transport(mock.TransportConfig{})
		defer tr.Close()

		unknown := netip.MustParseAddr("198.18.7.7")
		got := probeTTL(t, tr, transport.Request{Destination: unknown, ID: 3, Seq: 8})
		require.Len(t, got, 1)
		assert.Equal(t, gw4, got[0].Source)
		assert.Equal(t, unknown, got[0].Destination)
		assert.Equal(t, 3, got[0].ID)
		assert.Equal(t, 8, got[0].Seq)
		assert.Equal(t, "!H", got[0].Unreachable())
		assert.ErrorIs(t, got[0].Err(), errors.ErrDestinationUnreachableV4)

		got = probeTTL(t, tr, transport.Request{Destination: host4})
		require.Len(t, got, 1, "known hosts are not behind the gateway")
		assert.Equal(t, host4, got[0].Source)

		unknown6 := netip.MustParseAddr("2001:db8::77")
		got = probeTTL(t, tr, transport.Request{Destination: unknown6, TTL: 1})
		require.Len(t, got, 1)
		assert.Equal(t, gw6, got[0].Source)
		assert.Equal(t, transport.KindTimeExceeded, got[0].Kind())
		assert.Empty(t, probeTTL(t, tr, transport.Request{Destination: unknown6}), "passed the gateway, nobody answers")
	})
}

func TestBroadcast(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		bcast := netip.MustParseAddr("198.18.0.255")
		m1, m2, m3, m4 := netip.MustParseAddr("198.18.0.1"), netip.MustParseAddr("198.18.0.2"),
			netip.MustParseAddr("198.18.0.3"), netip.MustParseAddr("198.18.0.4")
		n := mock.NewNetwork(mock.Config{})
		require.NoError(t, n.AddHost(m1, mock.Host{Latency: time.Millisecond}))
		require.NoError(t, n.AddHost(m2, mock.Host{Latency: 2 * time.Millisecond}))
		require.NoError(t, n.AddHost(m3, mock.Host{Dead: true}))
		require.NoError(t, n.AddBroadcast(bcast, m1, m2, m3, m4)) // m4 never added: dead
		tr := n.Transport(mock.TransportConfig{})
		defer tr.Close()

		assert.False(t, tr.Broadcast())
		for _, dst := range []netip.Addr{bcast, netip.MustParseAddr("255.255.255.255")} {
			req := transport.Request{Destination: dst, Seq: 1}
			err := tr.Send(context.Background(), &req)
			require.ErrorIs(t, err, errors.ErrBroadcast, "%s", dst)
			assert.ErrorIs(t, err, errors.ErrSocket)
			assert.True(t, req.SentAt.IsZero(), "not sent")
		}
		assert.Equal(t, 0, tr.Counts().Sent)
		assert.Empty(t, tr.Sent())

		require.NoError(t, tr.SetBroadcast(true))
		assert.True(t, tr.Broadcast())
		got := probeTTL(t, tr, transport.Request{Destination: bcast, ID: 4, Seq: 2})
		require.Len(t, got, 2)
		for i, m := range []netip.Addr{m1, m2} {
			assert.Equal(t, m, got[i].Source)
			assert.Equal(t, bcast, got[i].Destination)
			assert.Equal(t, 4, got[i].ID)
			assert.Equal(t, 2, got[i].Seq)
			assert.Equal(t, transport.KindEchoReply, got[i].Kind())
		}
		assert.Empty(t, probeTTL(t, tr, transport.Request{Destination: netip.MustParseAddr("255.255.255.255")}))

		other := n.Transport(mock.TransportConfig{})
		defer other.Close()
		assert.False(t, other.Broadcast(), "broadcast is per transport")
		require.NoError(t, tr.SetBroadcast(false))
		req := transport.Request{Destination: bcast}
		require.ErrorIs(t, tr.Send(context.Background(), &req), errors.ErrBroadcast)
	})
}

func TestConfigErrors(t *testing.T) {
	n := mock.NewNetwork(mock.Config{})
	v4 := netip.MustParseAddr("198.18.0.1")
	cases := []struct {
		name string
		err  error
	}{
		{"host zero addr", n.AddHost(netip.Addr{}, mock.Host{})},
		{"host mapped addr", n.AddHost(netip.MustParseAddr("::ffff:198.18.0.1"), mock.Host{})},
		{"host zone", n.AddHost(netip.MustParseAddr("fe80::1%eth0"), mock.Host{})},
		{"host negative latency", n.AddHost(v4, mock.Host{Latency: -1})},
		{"host negative jitter", n.AddHost(v4, mock.Host{Jitter: -1})},
		{"host loss above 1", n.AddHost(v4, mock.Host{Loss: 1.5})},
		{"host loss negative", n.AddHost(v4, mock.Host{Loss: -0.1})},
		{"host late", n.AddHost(v4, mock.Host{Late: 2})},
		{"host corrupt", n.AddHost(v4, mock.Host{Corrupt: -1})},
		{"host ttl", n.AddHost(v4, mock.Host{TTL: 256})},
		{"host duplicates", n.AddHost(v4, mock.Host{Duplicates: -1})},
		{"host late by", n.AddHost(v4, mock.Host{LateBy: -1})},
		{"path family", n.AddPath(v4, mock.Router{Addr: host6})},
		{"path nil hop", n.AddPath(v4, nil)},
		{"path empty ecmp", n.AddPath(v4, mock.ECMP{})},
		{"path router zero addr", n.AddPath(v4, mock.Router{})},
		{"path router code", n.AddPath(v4, mock.Router{Addr: v4, Unreachable: true, UnreachableCode: 256})},
		{"path router mtu", n.AddPath(v4, mock.Router{Addr: v4, MTU: -1})},
		{"path router loss", n.AddPath(v4, mock.ECMP{{Addr: v4}, {Addr: v4, Loss: 2}})},
		{"path router drop", n.AddPath(v4, mock.Router{Addr: v4, Drop: -0.5})},
		{"path router ttl", n.AddPath(v4, mock.Router{Addr: v4, TTL: -1})},
		{"path router latency", n.AddPath(v4, mock.Router{Addr: v4, Latency: -time.Second})},
		{"path zero destination", n.AddPath(netip.Addr{}, mock.Router{Addr: v4})},
		{"gateway zero addr", n.SetGateway(mock.Router{})},
		{"gateway bad jitter", n.SetGateway(mock.Router{Addr: v4, Jitter: -1})},
		{"broadcast ipv6", n.AddBroadcast(host6)},
		{"broadcast ipv6 member", n.AddBroadcast(netip.MustParseAddr("198.18.0.255"), host6)},
		{"broadcast zero", n.AddBroadcast(netip.Addr{})},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			require.Error(t, tc.err)
			assert.ErrorIs(t, tc.err, errors.ErrInvalidArgument)
		})
	}

	require.NoError(t, n.AddHost(v4, mock.Host{}))
	assert.ErrorIs(t, n.AddBroadcast(v4), errors.ErrInvalidArgument, "a host is not a broadcast address")
	b := netip.MustParseAddr("198.18.0.255")
	require.NoError(t, n.AddBroadcast(b, v4))
	assert.ErrorIs(t, n.AddHost(b, mock.Host{}), errors.ErrInvalidArgument, "a broadcast address is not a host")
}

// A router's Drop loses the requests it forwards, at its rate, and none of those it answers.
func TestRouterDrop(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r1, r2 := netip.MustParseAddr("198.18.1.1"), netip.MustParseAddr("198.18.1.2")
		n := mock.NewNetwork(mock.Config{Seed: 3})
		require.NoError(t, n.AddHost(host4, mock.Host{}))
		require.NoError(t, n.AddPath(host4, mock.Router{Addr: r1, Drop: 0.25}, mock.Router{Addr: r2}))
		tr := n.Transport(mock.TransportConfig{})
		defer tr.Close()
		answered := map[int]int{}
		const each = 1000
		for ttl := 1; ttl <= 3; ttl++ {
			for i := range each {
				answered[ttl] += len(probeTTL(t, tr, transport.Request{Destination: host4, Seq: ttl*each + i, TTL: ttl}))
			}
		}
		assert.Equal(t, each, answered[1], "router 1 answers what ends on it")
		assert.InDelta(t, 0.75*each, answered[2], 0.05*each)
		assert.InDelta(t, 0.75*each, answered[3], 0.05*each)
	})
}
