//go:build linux

package dgram

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"os"
	"runtime"
	"strconv"
	"strings"
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

func TestPingLoopback(t *testing.T) {
	c := newChain(t, lab.ChainConfig{})
	tr := openIn(t, c.Client.NS, Config{})
	v4, v6 := tr.Families()
	require.True(t, v4)
	require.True(t, v6)
	assert.Equal(t, "dgram", tr.Name())
	require.NoError(t, tr.sock4.fd.Control(func(fd uintptr) {
		n, err := unix.GetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_RCVBUF)
		assert.NoError(t, err)
		assert.GreaterOrEqual(t, n, DefaultReceiveBuffer, "the kernel reports twice the size asked for")
	}))

	for _, tc := range []struct {
		dst      netip.Addr
		wantType any
	}{
		{lo4, ipv4.ICMPTypeEchoReply},
		{lo6, ipv6.ICMPTypeEchoReply},
	} {
		t.Run(tc.dst.String(), func(t *testing.T) {
			id, fixed := tr.Identifier(tc.dst)
			require.True(t, fixed)
			require.NotZero(t, id)
			req := transport.Request{Destination: tc.dst, ID: id ^ 0x5555, Seq: 7, PayloadSize: 56, TTL: 64}
			require.NoError(t, tr.Send(context.Background(), &req))
			assert.Equal(t, id, req.ID, "Send overwrites the identifier with the socket's")
			assert.False(t, req.SentAt.IsZero())
			r := receiveMatching(t, tr, tc.dst, 7)
			assert.Equal(t, tc.dst, r.Source)
			assert.Equal(t, id, r.ID)
			assert.Equal(t, tc.wantType, r.Type)
			assert.Equal(t, 0, r.Code)
			assert.Equal(t, 64, r.Bytes)
			assert.Equal(t, 64, r.TTL)
			assert.Equal(t, transport.KindEchoReply, r.Kind())
			assert.False(t, r.ReceivedAt.Before(req.SentAt), "kernel receive time %v before send %v", r.ReceivedAt, req.SentAt)
			assert.Less(t, r.ReceivedAt.Sub(req.SentAt), 5*time.Second)
		})
	}
}

// TestIdentifierIsBoundPort checks the identifier against the kernel's table of ping sockets.
func TestIdentifierIsBoundPort(t *testing.T) {
	c := newChain(t, lab.ChainConfig{})
	tr := openIn(t, c.Client.NS, Config{})
	var tables [2]string
	require.NoError(t, lab.Do(c.Client.NS, func() error {
		for i, name := range []string{"icmp", "icmp6"} {
			b, err := os.ReadFile("/proc/thread-self/net/" + name)
			if err != nil {
				return err
			}
			tables[i] = string(b)
		}
		return nil
	}))
	for i, dst := range []netip.Addr{lo4, lo6} {
		id, _ := tr.Identifier(dst)
		port := fmt.Sprintf(":%04X ", id)
		assert.Contains(t, tables[i], port, "socket table of %s lists local port %d", dst, id)
	}
}

func TestPayloads(t *testing.T) {
	c := newChain(t, lab.ChainConfig{})
	tr := openIn(t, c.Client.NS, Config{})
	for i, tc := range []struct {
		name      string
		payload   []byte
		size      int
		wantBytes int
	}{
		{"empty", []byte{}, 0, 8},
		{"given", []byte("icmpkit"), 0, 15},
		{"generated 1000", nil, 1000, 1008},
		{"generated 9000", nil, 9000, 9008},
		{"largest v4", nil, transport.MaxPayloadV4, transport.MaxPayloadV4 + 8},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req := transport.Request{Destination: lo4, Seq: 100 + i, Payload: tc.payload, PayloadSize: tc.size}
			require.NoError(t, tr.Send(context.Background(), &req))
			r := receiveMatching(t, tr, lo4, 100+i)
			assert.Equal(t, tc.wantBytes, r.Bytes)
		})
	}
}

func TestCloseUnblocksReceive(t *testing.T) {
	c := newChain(t, lab.ChainConfig{})
	tr := openIn(t, c.Client.NS, Config{})
	errs := make(chan error, 4)
	for range 4 {
		go func() {
			var r transport.Reply
			errs <- tr.Receive(context.Background(), &r)
		}()
	}
	var batch [8]transport.Reply
	go func() {
		_, err := tr.ReceiveBatch(context.Background(), batch[:])
		errs <- err
	}()
	time.Sleep(50 * time.Millisecond)
	require.NoError(t, tr.Close())
	for range 5 {
		select {
		case err := <-errs:
			require.ErrorIs(t, err, icmperrors.ErrUnavailable)
		case <-time.After(5 * time.Second):
			t.Fatal("Receive still blocked after Close")
		}
	}
	require.NoError(t, tr.Close(), "a second Close")

	req := transport.Request{Destination: lo4}
	err := tr.Send(context.Background(), &req)
	require.ErrorIs(t, err, icmperrors.ErrUnavailable)
	_, err = tr.SendBatch(context.Background(), []transport.Request{{Destination: lo4}})
	require.ErrorIs(t, err, icmperrors.ErrUnavailable)
	var r transport.Reply
	require.ErrorIs(t, tr.Receive(context.Background(), &r), icmperrors.ErrUnavailable)
}

func TestReceiveContext(t *testing.T) {
	c := newChain(t, lab.ChainConfig{})
	tr := openIn(t, c.Client.NS, Config{})
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(20*time.Millisecond, cancel)
	var r transport.Reply
	require.ErrorIs(t, tr.Receive(ctx, &r), context.Canceled)

	ctx, cancel = context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	_, err := tr.ReceiveBatch(ctx, make([]transport.Reply, 4))
	require.ErrorIs(t, err, context.DeadlineExceeded)

	req := transport.Request{Destination: lo4}
	require.ErrorIs(t, tr.Send(ctx, &req), context.DeadlineExceeded)
}

func TestBadRequests(t *testing.T) {
	c := newChain(t, lab.ChainConfig{})
	tr := openIn(t, c.Client.NS, Config{})
	for _, tc := range []struct {
		name string
		req  transport.Request
	}{
		{"no destination", transport.Request{}},
		{"mapped", transport.Request{Destination: netip.MustParseAddr("::ffff:127.0.0.1")}},
		{"identifier", transport.Request{Destination: lo4, ID: 70000}},
		{"sequence", transport.Request{Destination: lo4, Seq: -1}},
		{"payload size", transport.Request{Destination: lo4, PayloadSize: -1}},
		{"payload too large", transport.Request{Destination: lo4, PayloadSize: transport.MaxPayloadV4 + 1}},
		{"ttl", transport.Request{Destination: lo6, TTL: 256}},
		{"traffic class", transport.Request{Destination: lo4, TrafficClass: 256}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req := tc.req
			require.ErrorIs(t, tr.Send(context.Background(), &req), icmperrors.ErrInvalidArgument)
			n, err := tr.SendBatch(context.Background(), []transport.Request{{Destination: lo4}, tc.req})
			require.ErrorIs(t, err, icmperrors.ErrInvalidArgument)
			require.Equal(t, 1, n, "the valid request before the bad one went out")
		})
	}
	_, err := tr.ReceiveBatch(context.Background(), nil)
	require.ErrorIs(t, err, icmperrors.ErrInvalidArgument)
}

func TestConfig(t *testing.T) {
	for _, tc := range []struct {
		name string
		cfg  Config
	}{
		{"negative buffer", Config{ReceiveBuffer: -1}},
		{"family", Config{Family: 9}},
		{"long interface", Config{Interface: strings.Repeat("x", 16)}},
		{"mapped source of other family", Config{Source: netip.MustParseAddr("::ffff:127.0.0.1"), Family: transport.FamilyIPv6}},
		{"source of other family", Config{Source: lo4, Family: transport.FamilyIPv6}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := New(tc.cfg)
			require.ErrorIs(t, err, icmperrors.ErrInvalidArgument)
		})
	}
}

func TestFamiliesAndBinding(t *testing.T) {
	c := newChain(t, lab.ChainConfig{})
	tr := openIn(t, c.Client.NS, Config{Family: transport.FamilyIPv4, Source: lo4, Interface: "lo", ReceiveBuffer: 1 << 20})
	v4, v6 := tr.Families()
	require.True(t, v4)
	require.False(t, v6)
	id, fixed := tr.Identifier(lo6)
	assert.Equal(t, 0, id)
	assert.False(t, fixed)
	req := transport.Request{Destination: lo6}
	require.ErrorIs(t, tr.Send(context.Background(), &req), icmperrors.ErrNotSupported)
	req = transport.Request{Destination: lo4, Seq: 3}
	require.NoError(t, tr.Send(context.Background(), &req))
	r := receiveMatching(t, tr, lo4, 3)
	assert.Equal(t, lo4, r.Source)

	tr6 := openIn(t, c.Client.NS, Config{Family: transport.FamilyIPv6})
	v4, v6 = tr6.Families()
	require.False(t, v4)
	require.True(t, v6)

	var err error
	require.NoError(t, lab.Do(c.Client.NS, func() error {
		_, err = New(Config{Family: transport.FamilyIPv4, Source: c.Target.V4})
		return nil
	}))
	require.ErrorIs(t, err, icmperrors.ErrAddress, "a source address the host does not have")
	require.NoError(t, lab.Do(c.Client.NS, func() error {
		_, err = New(Config{Interface: "nosuch0"})
		return nil
	}))
	require.ErrorIs(t, err, icmperrors.ErrAddress, "an interface that does not exist")
}

func TestPermissionDenied(t *testing.T) {
	c := lab.NewChain(t, lab.ChainConfig{})
	require.NoError(t, c.SetPingGroupRange(c.Client.NS, 1, 0))
	var err error
	require.NoError(t, lab.Do(c.Client.NS, func() error {
		_, err = New(Config{})
		return nil
	}))
	require.Error(t, err)
	require.ErrorIs(t, err, icmperrors.ErrPermission)
	require.ErrorIs(t, err, os.ErrPermission)
	var e *icmperrors.Error
	require.ErrorAs(t, err, &e)
	assert.ErrorIs(t, e.Err, unix.EACCES)
	assert.Contains(t, err.Error(), "net.ipv4.ping_group_range")
	assert.Contains(t, err.Error(), `"1 0"`)
	assert.Contains(t, err.Error(), "CAP_NET_RAW")
}

// TestUnprivileged runs as uid 65534 in a namespace that admits it to ping sockets: echo
// replies from loopback and the target, and a Time Exceeded from the router through the error
// queue, all without privileges.
func TestUnprivileged(t *testing.T) {
	if lab.IsChild() {
		require.NotZero(t, os.Getuid())
		info := lab.ChildChain(t)
		tr, err := New(Config{})
		require.NoError(t, err)
		defer tr.Close()
		for i, dst := range []netip.Addr{lo4, lo6, info.Target.V4, info.Target.V6} {
			req := transport.Request{Destination: dst, Seq: i}
			require.NoError(t, tr.Send(context.Background(), &req))
			r := receiveMatching(t, tr, dst, i)
			require.Equal(t, req.ID, r.ID)
			require.Equal(t, transport.KindEchoReply, r.Kind())
		}
		for i, dst := range []netip.Addr{info.Target.V4, info.Target.V6} {
			req := transport.Request{Destination: dst, Seq: 10 + i, TTL: 1}
			require.NoError(t, tr.Send(context.Background(), &req))
			r := receiveMatching(t, tr, dst, 10+i)
			require.Equal(t, transport.KindTimeExceeded, r.Kind())
			router := info.Router(1).V4
			if dst.Is6() {
				router = info.Router(1).V6
			}
			require.Equal(t, router, r.Source)
		}
		return
	}
	c := lab.NewChain(t, lab.ChainConfig{Routers: 1})
	res := c.RunChild(c.Client.NS, lab.Child{Test: t.Name(), Env: c.Env()})
	require.True(t, res.Passed, res.Output)
}

func TestTwoTransportsOwnReplies(t *testing.T) {
	c := newChain(t, lab.ChainConfig{})
	a := openIn(t, c.Client.NS, Config{})
	b := openIn(t, c.Client.NS, Config{})
	const n = 200
	for _, dst := range []netip.Addr{lo4, lo6} {
		ida, _ := a.Identifier(dst)
		idb, _ := b.Identifier(dst)
		require.NotEqual(t, ida, idb)
		done := make(chan error, 2)
		for _, tr := range []*Transport{a, b} {
			go func() {
				reqs := make([]transport.Request, n)
				for i := range reqs {
					reqs[i] = transport.Request{Destination: dst, Seq: i}
				}
				if _, err := tr.SendBatch(context.Background(), reqs); err != nil {
					done <- err
					return
				}
				id, _ := tr.Identifier(dst)
				seen := make(map[int]bool)
				ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
				defer cancel()
				for len(seen) < n {
					var r transport.Reply
					if err := tr.Receive(ctx, &r); err != nil {
						done <- fmt.Errorf("%d of %d replies: %w", len(seen), n, err)
						return
					}
					if r.ID != id {
						done <- fmt.Errorf("reply with identifier %d reached the transport of %d", r.ID, id)
						return
					}
					seen[r.Seq] = true
				}
				// Nothing else may come: the other transport's replies are not ours.
				ctx2, cancel2 := context.WithTimeout(context.Background(), 50*time.Millisecond)
				defer cancel2()
				var r transport.Reply
				if err := tr.Receive(ctx2, &r); err == nil {
					done <- fmt.Errorf("an extra reply: %+v", r)
					return
				}
				done <- nil
			}()
		}
		require.NoError(t, <-done)
		require.NoError(t, <-done)
	}
}

func TestSendBatchMixed(t *testing.T) {
	c := newChain(t, lab.ChainConfig{})
	tr := openIn(t, c.Client.NS, Config{})
	const n = 300 // more than one sendmmsg batch
	reqs := make([]transport.Request, n)
	for i := range reqs {
		dst := lo4
		if i%3 == 0 {
			dst = lo6
		}
		reqs[i] = transport.Request{Destination: dst, Seq: i, PayloadSize: i % 100, TTL: 1 + i%255}
	}
	sent, err := tr.SendBatch(context.Background(), reqs)
	require.NoError(t, err)
	require.Equal(t, n, sent)
	for i := range reqs {
		id, _ := tr.Identifier(reqs[i].Destination)
		require.Equal(t, id, reqs[i].ID)
		require.False(t, reqs[i].SentAt.IsZero())
	}
	got := make(map[int]transport.Reply)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	buf := make([]transport.Reply, 64)
	for len(got) < n {
		k, err := tr.ReceiveBatch(ctx, buf)
		require.NoError(t, err, "%d of %d replies", len(got), n)
		require.Positive(t, k)
		for _, r := range buf[:k] {
			got[r.Seq] = r
		}
	}
	for i, req := range reqs {
		r := got[i]
		assert.Equal(t, req.Destination, r.Destination, "seq %d", i)
		assert.Equal(t, 8+req.PayloadSize, r.Bytes, "seq %d", i)
	}
}

// capture reads IP packets seen on lo inside the namespace it was opened in.
type capture struct{ fd int }

func openCapture(t *testing.T, ns string) *capture {
	t.Helper()
	var c capture
	require.NoError(t, lab.Do(ns, func() error {
		fd, err := unix.Socket(unix.AF_PACKET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, int(htons(unix.ETH_P_ALL)))
		if err != nil {
			return err
		}
		c.fd = fd
		return unix.SetsockoptTimeval(fd, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &unix.Timeval{Usec: 200000})
	}))
	t.Cleanup(func() { unix.Close(c.fd) })
	return &c
}

func htons(v uint16) uint16 { return v<<8 | v>>8 }

// echoRequest waits up to 5 s for an echo request with identifier id and sequence seq and
// gives its IP header fields: TTL or hop limit, TOS or traffic class, DF.
func (c *capture) echoRequest(t *testing.T, v6 bool, id, seq int) (ttl, tos int, df bool) {
	t.Helper()
	buf := make([]byte, 70000)
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		n, _, err := unix.Recvfrom(c.fd, buf, 0)
		if err != nil {
			continue
		}
		p := buf[:n]
		switch {
		case !v6 && n >= 28 && p[0]>>4 == 4 && p[9] == 1:
			ihl := int(p[0]&15) * 4
			q := p[ihl:]
			if len(q) >= 8 && q[0] == 8 && int(q[4])<<8|int(q[5]) == id && int(q[6])<<8|int(q[7]) == seq {
				return int(p[8]), int(p[1]), p[6]&0x40 != 0
			}
		case v6 && n >= 48 && p[0]>>4 == 6 && p[6] == 58:
			q := p[40:]
			if q[0] == 128 && int(q[4])<<8|int(q[5]) == id && int(q[6])<<8|int(q[7]) == seq {
				tc := int(p[0]&15)<<4 | int(p[1]>>4)
				return int(p[7]), tc, false
			}
		}
	}
	t.Fatalf("no echo request id %d seq %d seen", id, seq)
	return
}

func TestPerPacketTTLAndTrafficClass(t *testing.T) {
	c := newChain(t, lab.ChainConfig{})
	tr := openIn(t, c.Client.NS, Config{})
	capt := openCapture(t, c.Client.NS)
	for i, tc := range []struct {
		dst       netip.Addr
		ttl, tos  int
		df        bool
		wantTTL   int
		wantDFBit bool
	}{
		{lo4, 17, 0x28, false, 17, true}, // Linux sets DF on IPv4 by default (IP_PMTUDISC_WANT)
		{lo4, 0, 0, false, 64, true},
		{lo4, 200, 0xb8, true, 200, true},
		{lo4, 3, 0x04, false, 3, true}, // after a don't-fragment request, options are back
		{lo6, 9, 0x28, false, 9, false},
		{lo6, 0, 0xb8, true, 64, false},
	} {
		t.Run(fmt.Sprintf("%s ttl %d tos %#x", tc.dst, tc.ttl, tc.tos), func(t *testing.T) {
			req := transport.Request{Destination: tc.dst, Seq: 500 + i, TTL: tc.ttl, TrafficClass: tc.tos, DontFragment: tc.df}
			require.NoError(t, tr.Send(context.Background(), &req))
			ttl, tos, df := capt.echoRequest(t, tc.dst.Is6(), req.ID, req.Seq)
			assert.Equal(t, tc.wantTTL, ttl)
			assert.Equal(t, tc.tos, tos)
			assert.Equal(t, tc.wantDFBit, df)
			r := receiveMatching(t, tr, tc.dst, req.Seq)
			assert.Equal(t, 64, r.TTL, "the reply's own TTL")
		})
	}
}

// TestDontFragment sends requests larger than the link's MTU: with DontFragment they fail
// locally with EMSGSIZE, without it they are fragmented and answered.
func TestDontFragment(t *testing.T) {
	c := newChain(t, lab.ChainConfig{MTU: map[int]int{0: 1280}})
	tr := openIn(t, c.Client.NS, Config{})
	for i, dst := range []netip.Addr{c.Target.V4, c.Target.V6} {
		t.Run(dst.String(), func(t *testing.T) {
			req := transport.Request{Destination: dst, Seq: 10 + i, PayloadSize: 1400, DontFragment: true}
			err := tr.Send(context.Background(), &req)
			require.ErrorIs(t, err, unix.EMSGSIZE)
			require.ErrorIs(t, err, icmperrors.ErrSocket)
			req = transport.Request{Destination: dst, Seq: 20 + i, PayloadSize: 1400}
			require.NoError(t, tr.Send(context.Background(), &req))
			r := receiveMatching(t, tr, dst, 20+i)
			assert.Equal(t, 1408, r.Bytes)
			n, err := tr.SendBatch(context.Background(), []transport.Request{
				{Destination: dst, Seq: 30 + i, PayloadSize: 1400},
				{Destination: dst, Seq: 40 + i, PayloadSize: 1400, DontFragment: true},
			})
			require.Equal(t, 1, n)
			require.ErrorIs(t, err, unix.EMSGSIZE)
			receiveMatching(t, tr, dst, 30+i)
		})
	}
}

func TestICMPErrorsFromRouter(t *testing.T) {
	// Link 1 joins r1 and r2: r1 cannot forward more than 1280 bytes.
	c := newChain(t, lab.ChainConfig{Routers: 2, Unreachable: 2, MTU: map[int]int{1: 1280}})
	tr := openIn(t, c.Client.NS, Config{})
	r1, r2 := c.Router(1), c.Router(2)
	// Unreachable answers come first: Linux routers share one token bucket per peer between
	// "unreachable" routes (net.ipv4.route.error_cost, 1 s) and other ICMP errors, and a
	// lifted icmp_ratelimit empties it at every error sent.
	for i, tc := range []struct {
		name     string
		req      transport.Request
		from     netip.Addr
		kind     transport.Kind
		wantType any
		code     int
		mtu      int
		class    error
	}{
		{"v4 unreachable", transport.Request{Destination: c.UnreachableV4[0]}, c.UnreachableFrom().V4, transport.KindDestinationUnreachable, ipv4.ICMPTypeDestinationUnreachable, 1, 0, icmperrors.ErrDestinationUnreachableV4},
		{"v6 unreachable", transport.Request{Destination: c.UnreachableV6[1]}, c.UnreachableFrom().V6, transport.KindDestinationUnreachable, ipv6.ICMPTypeDestinationUnreachable, 0, 0, icmperrors.ErrDestinationUnreachableV6},
		{"v4 ttl 1", transport.Request{Destination: c.Target.V4, TTL: 1}, r1.V4, transport.KindTimeExceeded, ipv4.ICMPTypeTimeExceeded, 0, 0, icmperrors.ErrTimeExceededV4},
		{"v4 ttl 2", transport.Request{Destination: c.Target.V4, TTL: 2}, r2.V4, transport.KindTimeExceeded, ipv4.ICMPTypeTimeExceeded, 0, 0, icmperrors.ErrTimeExceededV4},
		{"v6 ttl 1", transport.Request{Destination: c.Target.V6, TTL: 1}, r1.V6, transport.KindTimeExceeded, ipv6.ICMPTypeTimeExceeded, 0, 0, icmperrors.ErrTimeExceededV6},
		{"v4 fragmentation needed", transport.Request{Destination: c.Target.V4, PayloadSize: 1400, DontFragment: true}, r1.V4, transport.KindDestinationUnreachable, ipv4.ICMPTypeDestinationUnreachable, 4, 1280, icmperrors.ErrDestinationUnreachableV4},
		{"v6 packet too big", transport.Request{Destination: c.Target.V6, PayloadSize: 1400}, r1.V6, transport.KindPacketTooBig, ipv6.ICMPTypePacketTooBig, 0, 1280, icmperrors.ErrPacketTooBig},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req := tc.req
			req.Seq = 1000 + i
			require.NoError(t, tr.Send(context.Background(), &req))
			r := receiveMatching(t, tr, req.Destination, req.Seq)
			assert.Equal(t, tc.from, r.Source)
			assert.Equal(t, req.ID, r.ID)
			assert.Equal(t, tc.wantType, r.Type)
			assert.Equal(t, tc.code, r.Code)
			assert.Equal(t, tc.kind, r.Kind())
			assert.Equal(t, tc.mtu, r.MTU)
			assert.Positive(t, r.TTL)
			assert.Greater(t, r.Bytes, 8)
			assert.False(t, r.ReceivedAt.Before(req.SentAt))
			assert.ErrorIs(t, r.Err(), tc.class)
		})
	}
	// The transport still delivers echo replies after the errors.
	req := transport.Request{Destination: c.Target.V4, Seq: 2000}
	require.NoError(t, tr.Send(context.Background(), &req))
	receiveMatching(t, tr, c.Target.V4, 2000)
}

func TestBroadcast(t *testing.T) {
	b := lab.NewBroadcast(t, lab.BroadcastConfig{Responders: 2})
	require.NoError(t, b.SetPingGroupRange(b.Client.NS, 0, 2147483647))
	tr := openIn(t, b.Client.NS, Config{})
	require.False(t, tr.Broadcast())
	for _, dst := range []netip.Addr{b.Broadcast, netip.MustParseAddr("255.255.255.255")} {
		req := transport.Request{Destination: dst, Seq: 1}
		require.ErrorIs(t, tr.Send(context.Background(), &req), icmperrors.ErrBroadcast, dst.String())
	}
	require.NoError(t, tr.SetBroadcast(true))
	require.True(t, tr.Broadcast())
	req := transport.Request{Destination: b.Broadcast, Seq: 2}
	require.NoError(t, tr.Send(context.Background(), &req))
	want := map[netip.Addr]bool{}
	for _, r := range b.Responders {
		want[r.V4] = true
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	for len(want) > 0 {
		var r transport.Reply
		require.NoError(t, tr.Receive(ctx, &r), "replies still missing from %v", want)
		if r.Seq == 2 && r.Kind() == transport.KindEchoReply {
			delete(want, r.Source)
		}
	}
	require.NoError(t, tr.SetBroadcast(false))
	req = transport.Request{Destination: b.Broadcast, Seq: 3}
	require.ErrorIs(t, tr.Send(context.Background(), &req), icmperrors.ErrBroadcast)
}

func TestNoGoroutineLeak(t *testing.T) {
	c := newChain(t, lab.ChainConfig{})
	before := countGoroutines()
	fds := countFDs(t)
	for range 5 {
		var tr *Transport
		require.NoError(t, lab.Do(c.Client.NS, func() error {
			var err error
			tr, err = New(Config{})
			return err
		}))
		req := transport.Request{Destination: lo4, Seq: 1}
		require.NoError(t, tr.Send(context.Background(), &req))
		receiveMatching(t, tr, lo4, 1)
		require.NoError(t, tr.Close())
	}
	// A plain loop: testify's Eventually counts its own goroutine.
	deadline := time.Now().Add(2 * time.Second)
	for countGoroutines() > before && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if n := countGoroutines(); n > before {
		buf := make([]byte, 1<<20)
		t.Fatalf("%d goroutines before, %d after:\n%s", before, n, buf[:runtime.Stack(buf, true)])
	}
	require.Equal(t, fds, countFDs(t))
}

func countGoroutines() int { return runtime.NumGoroutine() }

func countFDs(t *testing.T) int {
	ents, err := os.ReadDir("/proc/self/fd")
	require.NoError(t, err)
	return len(ents)
}

func TestAllocations(t *testing.T) {
	if testing.Short() {
		t.Skip("allocation counts need a quiet runtime")
	}
	c := newChain(t, lab.ChainConfig{})
	tr := openIn(t, c.Client.NS, Config{})
	ctx := context.Background()
	for _, dst := range []netip.Addr{lo4, lo6} {
		req := transport.Request{Destination: dst, PayloadSize: 56}
		var r transport.Reply
		seq := 0
		roundTrip := func() {
			seq = (seq + 1) & 0xffff
			req.Seq = seq
			if err := tr.Send(ctx, &req); err != nil {
				t.Fatal(err)
			}
			if err := tr.Receive(ctx, &r); err != nil {
				t.Fatal(err)
			}
		}
		roundTrip()
		allocs := testing.AllocsPerRun(200, roundTrip)
		assert.LessOrEqual(t, allocs, 0.1, "allocations per round trip to %s", dst)

		reqs := make([]transport.Request, 32)
		for i := range reqs {
			reqs[i] = transport.Request{Destination: dst, PayloadSize: 56, Seq: i}
		}
		replies := make([]transport.Reply, 32)
		batch := func() {
			if _, err := tr.SendBatch(ctx, reqs); err != nil {
				t.Fatal(err)
			}
			for got := 0; got < len(reqs); {
				n, err := tr.ReceiveBatch(ctx, replies)
				if err != nil {
					t.Fatal(err)
				}
				got += n
			}
		}
		batch()
		allocs = testing.AllocsPerRun(50, batch)
		assert.LessOrEqual(t, allocs, 0.1, "allocations per batch of 32 to %s", dst)
	}
}

// TestLinkLocal pings the target's IPv6 link-local address with a zone. The zone is the
// interface index: names resolve in the namespace of the calling thread, not the sockets'.
func TestLinkLocal(t *testing.T) {
	c := newChain(t, lab.ChainConfig{})
	var ll netip.Addr
	require.NoError(t, lab.Do(c.Target.NS, func() error {
		ifi, err := net.InterfaceByName("eth0")
		if err != nil {
			return err
		}
		addrs, err := ifi.Addrs()
		if err != nil {
			return err
		}
		for _, a := range addrs {
			if p, err := netip.ParsePrefix(a.String()); err == nil && p.Addr().IsLinkLocalUnicast() {
				ll = p.Addr()
			}
		}
		return nil
	}))
	if !ll.IsValid() {
		t.Skip("the target has no IPv6 link-local address")
	}
	var idx int
	require.NoError(t, lab.Do(c.Client.NS, func() error {
		ifi, err := net.InterfaceByName("eth0")
		if err == nil {
			idx = ifi.Index
		}
		return err
	}))
	dst := ll.WithZone(strconv.Itoa(idx))
	tr := openIn(t, c.Client.NS, Config{})
	deadline := time.Now().Add(5 * time.Second)
	for {
		req := transport.Request{Destination: dst, Seq: 1}
		err := tr.Send(context.Background(), &req)
		if err == nil {
			break
		}
		// The link-local address may still be tentative for a moment.
		require.True(t, time.Now().Before(deadline), "send to %s: %v", dst, err)
		time.Sleep(20 * time.Millisecond)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	var r transport.Reply
	require.NoError(t, tr.Receive(ctx, &r))
	assert.Equal(t, ll, r.Source.WithZone(""))
	assert.NotEmpty(t, r.Source.Zone())
	assert.Equal(t, 1, r.Seq)
}
