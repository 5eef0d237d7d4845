package icmpkit

import (
	"context"
	"net/netip"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/icmpkit/icmpkit/errors"
	"github.com/icmpkit/icmpkit/transport"
	"github.com/icmpkit/icmpkit/transport/mock"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/net/ipv4"
)

// mockSocket opens a socket of the family over a fresh transport of n.
func mockSocket(t *testing.T, n *mock.Network, v6 bool, cfg mock.TransportConfig) *Socket {
	t.Helper()
	open := NewICMPv4Socket
	if v6 {
		open = NewICMPv6Socket
	}
	s, err := open(SocketConfig{Transport: n.Transport(cfg)})
	require.NoError(t, err)
	t.Cleanup(func() { s.Close() })
	return s
}

func TestSocketEcho(t *testing.T) {
	for _, v6 := range []bool{false, true} {
		t.Run(familyOf(v6).String(), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				n := mock.NewNetwork(mock.Config{Seed: 1})
				dst := mustAddr("198.18.0.1")
				if v6 {
					dst = mustAddr("2001:db8::1")
				}
				require.NoError(t, n.AddHost(dst, mock.Host{Latency: 10 * time.Millisecond}))
				s := mockSocket(t, n, v6, mock.TransportConfig{})
				assert.Equal(t, familyOf(v6), s.Family())
				assert.False(t, s.IsPrivileged())

				req := &transport.Request{Destination: dst, ID: 7, Seq: 3, PayloadSize: 56, Timeout: time.Second}
				require.NoError(t, s.Send(req))
				require.False(t, req.SentAt.IsZero())
				r, err := s.Receive(context.Background(), req)
				require.NoError(t, err)
				assert.Equal(t, dst, r.Source)
				assert.Equal(t, 7, r.ID)
				assert.Equal(t, 3, r.Seq)
				assert.Equal(t, v6, r.IsV6())
				assert.Equal(t, transport.KindEchoReply, r.Kind())
				assert.Equal(t, 10*time.Millisecond, r.ReceivedAt.Sub(req.SentAt))
				assert.NoError(t, r.Err())

				// Nothing more comes for this request: the wait ends at SentAt + Timeout.
				_, err = s.Receive(context.Background(), req)
				assert.ErrorIs(t, err, errors.ErrTimeout)
				assert.Equal(t, req.SentAt.Add(time.Second), time.Now())
			})
		})
	}
}

func TestSocketTimeout(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n := mock.NewNetwork(mock.Config{})
		s := mockSocket(t, n, false, mock.TransportConfig{})
		// 198.18.0.9 is not on the network: nothing answers.
		req := &transport.Request{Destination: mustAddr("198.18.0.9"), ID: 1, Seq: 1}
		require.NoError(t, s.Send(req))
		_, err := s.Receive(context.Background(), req)
		require.ErrorIs(t, err, errors.ErrTimeout)
		assert.ErrorIs(t, err, errors.ErrSocket)
		assert.Equal(t, req.SentAt.Add(2*time.Second), time.Now(), "a zero Timeout waits 2 s")

		// The caller's context ends the wait sooner, with its own error.
		req2 := &transport.Request{Destination: mustAddr("198.18.0.9"), ID: 1, Seq: 2, Timeout: time.Hour}
		require.NoError(t, s.Send(req2))
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		_, err = s.Receive(ctx, req2)
		assert.ErrorIs(t, err, context.DeadlineExceeded)
		assert.NotErrorIs(t, err, errors.ErrTimeout)

		// A request that was never sent has nothing to wait for.
		_, err = s.Receive(context.Background(), &transport.Request{Destination: mustAddr("198.18.0.9")})
		assert.ErrorIs(t, err, errors.ErrInvalidArgument)
	})
}

func TestSocketBroadcast(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n := mock.NewNetwork(mock.Config{Seed: 2})
		bcast := mustAddr("198.18.0.255")
		members := []netip.Addr{mustAddr("198.18.0.1"), mustAddr("198.18.0.2"), mustAddr("198.18.0.3"), mustAddr("198.18.0.4")}
		for i, m := range members {
			require.NoError(t, n.AddHost(m, mock.Host{Latency: time.Duration(i+1) * 5 * time.Millisecond, Dead: i == 3}))
		}
		require.NoError(t, n.AddBroadcast(bcast, members...))
		s := mockSocket(t, n, false, mock.TransportConfig{})

		req := &transport.Request{Destination: bcast, ID: 9, Seq: 1, Timeout: 500 * time.Millisecond}
		err := s.Send(req)
		require.ErrorIs(t, err, errors.ErrBroadcast, "broadcast is off by default")
		assert.False(t, s.Broadcast())

		require.NoError(t, s.SetBroadcast(true))
		assert.True(t, s.Broadcast())
		require.NoError(t, s.Send(req))
		var got []netip.Addr
		for {
			r, err := s.Receive(context.Background(), req)
			if err != nil {
				require.ErrorIs(t, err, errors.ErrTimeout)
				break
			}
			require.NoError(t, r.Err())
			got = append(got, r.Source)
		}
		assert.Equal(t, members[:3], got, "one reply per live member, in order of arrival")
		assert.Equal(t, req.SentAt.Add(500*time.Millisecond), time.Now())
	})
}

func TestSocketConcurrentReceivers(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n := mock.NewNetwork(mock.Config{})
		slow, fast := mustAddr("198.18.0.1"), mustAddr("198.18.0.2")
		require.NoError(t, n.AddHost(slow, mock.Host{Latency: 50 * time.Millisecond}))
		require.NoError(t, n.AddHost(fast, mock.Host{Latency: 10 * time.Millisecond}))
		s := mockSocket(t, n, false, mock.TransportConfig{})

		reqs := []*transport.Request{
			{Destination: slow, ID: 5, Seq: 1},
			{Destination: fast, ID: 5, Seq: 2},
			{Destination: slow, ID: 5, Seq: 3},
		}
		for _, r := range reqs {
			require.NoError(t, s.Send(r))
		}
		replies := make([]*transport.Reply, len(reqs))
		var wg sync.WaitGroup
		for i, req := range reqs {
			wg.Go(func() {
				r, err := s.Receive(context.Background(), req)
				assert.NoError(t, err)
				replies[i] = r
			})
		}
		wg.Wait()
		for i, r := range replies {
			require.NotNil(t, r)
			assert.Equal(t, reqs[i].Seq, r.Seq)
			assert.Equal(t, reqs[i].Destination, r.Source)
		}
		// A reply read while waiting for another is kept for a later call.
		late := &transport.Request{Destination: slow, ID: 5, Seq: 4}
		early := &transport.Request{Destination: fast, ID: 5, Seq: 5}
		require.NoError(t, s.Send(late))
		require.NoError(t, s.Send(early))
		time.Sleep(100 * time.Millisecond)
		r, err := s.Receive(context.Background(), late)
		require.NoError(t, err)
		assert.Equal(t, 4, r.Seq)
		r, err = s.Receive(context.Background(), early)
		require.NoError(t, err)
		assert.Equal(t, 5, r.Seq)
	})
}

func TestSocketICMPError(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n := mock.NewNetwork(mock.Config{})
		dst, router := mustAddr("198.18.1.1"), mustAddr("198.18.0.1")
		require.NoError(t, n.AddHost(dst, mock.Host{}))
		require.NoError(t, n.AddPath(dst, mock.Router{Addr: router, Latency: time.Millisecond}, mock.Router{Addr: mustAddr("198.18.0.2"), Unreachable: true, UnreachableCode: 1}))
		s := mockSocket(t, n, false, mock.TransportConfig{})

		req := &transport.Request{Destination: dst, ID: 3, Seq: 1, TTL: 1}
		require.NoError(t, s.Send(req))
		r, err := s.Receive(context.Background(), req)
		require.NoError(t, err)
		assert.Equal(t, router, r.Source)
		assert.Equal(t, dst, r.Destination)
		assert.Equal(t, ipv4.ICMPTypeTimeExceeded, r.Type)
		assert.ErrorIs(t, r.Err(), errors.ErrTimeExceededV4)

		req = &transport.Request{Destination: dst, ID: 3, Seq: 2}
		require.NoError(t, s.Send(req))
		r, err = s.Receive(context.Background(), req)
		require.NoError(t, err)
		rerr := r.Err()
		assert.ErrorIs(t, rerr, errors.ErrDestinationUnreachableV4)
		assert.ErrorIs(t, rerr, errors.ErrICMP)
		var ie *errors.ICMPError
		require.ErrorAs(t, rerr, &ie)
		assert.Equal(t, 1, ie.Code)
		assert.Equal(t, "Destination host unreachable", rerr.Error())
	})
}

func TestSocketFixedIdentifier(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n := mock.NewNetwork(mock.Config{})
		dst := mustAddr("198.18.0.1")
		require.NoError(t, n.AddHost(dst, mock.Host{Latency: time.Millisecond}))
		s := mockSocket(t, n, false, mock.TransportConfig{ID: 4242, FixedID: true})
		req := &transport.Request{Destination: dst, ID: 1, Seq: 8}
		require.NoError(t, s.Send(req))
		assert.Equal(t, 4242, req.ID, "the effective identifier after Send")
		r, err := s.Receive(context.Background(), req)
		require.NoError(t, err)
		assert.Equal(t, 4242, r.ID)
	})
}

func TestSocketIgnoresOthers(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n := mock.NewNetwork(mock.Config{})
		dst := mustAddr("198.18.0.1")
		require.NoError(t, n.AddHost(dst, mock.Host{Latency: 20 * time.Millisecond}))
		tr := n.Transport(mock.TransportConfig{})
		s, err := NewICMPv4Socket(SocketConfig{Transport: tr})
		require.NoError(t, err)
		defer s.Close()
		// Unsolicited replies: another sequence, another identifier, the other family.
		require.NoError(t, tr.Inject(transport.Reply{Source: dst, Destination: dst, ID: 2, Seq: 99, Type: ipv4.ICMPTypeEchoReply}, time.Millisecond))
		require.NoError(t, tr.Inject(transport.Reply{Source: dst, Destination: dst, ID: 3, Seq: 1, Type: ipv4.ICMPTypeEchoReply}, 2*time.Millisecond))
		req := &transport.Request{Destination: dst, ID: 2, Seq: 1}
		require.NoError(t, s.Send(req))
		r, err := s.Receive(context.Background(), req)
		require.NoError(t, err)
		assert.Equal(t, 2, r.ID)
		assert.Equal(t, 1, r.Seq)
		assert.Equal(t, 20*time.Millisecond, r.ReceivedAt.Sub(req.SentAt))

		// A nil request takes any reply: the unsolicited one kept aside.
		r, err = s.Receive(context.Background(), nil)
		require.NoError(t, err)
		assert.Equal(t, 99, r.Seq)
	})
}

func TestSocketClosed(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n := mock.NewNetwork(mock.Config{})
		dst := mustAddr("198.18.0.1")
		s := mockSocket(t, n, false, mock.TransportConfig{})
		assert.False(t, s.IsClosed())

		req := &transport.Request{Destination: dst, ID: 1, Seq: 1, Timeout: time.Hour}
		require.NoError(t, s.Send(req))
		errc := make(chan error, 2)
		for range 2 { // one reads the transport, one waits for its turn
			go func() {
				_, err := s.Receive(context.Background(), req)
				errc <- err
			}()
		}
		synctest.Wait()
		start := time.Now()
		require.NoError(t, s.Close())
		for range 2 {
			assert.ErrorIs(t, <-errc, errors.ErrUnavailable)
		}
		assert.Equal(t, start, time.Now(), "Close unblocks at once")
		assert.True(t, s.IsClosed())
		assert.NoError(t, s.Close(), "a second Close is harmless")

		assert.ErrorIs(t, s.Send(&transport.Request{Destination: dst}), errors.ErrUnavailable)
		_, err := s.Receive(context.Background(), req)
		assert.ErrorIs(t, err, errors.ErrUnavailable)
		assert.ErrorIs(t, s.SetBroadcast(true), errors.ErrUnavailable)
	})
}

func TestSocketBadInput(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n := mock.NewNetwork(mock.Config{})
		s4 := mockSocket(t, n, false, mock.TransportConfig{})
		s6 := mockSocket(t, n, true, mock.TransportConfig{})
		assert.ErrorIs(t, s4.Send(nil), errors.ErrInvalidArgument)
		assert.ErrorIs(t, s4.Send(&transport.Request{Destination: mustAddr("2001:db8::1")}), errors.ErrInvalidArgument)
		assert.ErrorIs(t, s6.Send(&transport.Request{Destination: mustAddr("198.18.0.1")}), errors.ErrInvalidArgument)
		assert.ErrorIs(t, s4.Send(&transport.Request{Destination: mustAddr("198.18.0.1"), TTL: 300}), errors.ErrInvalidArgument)
		assert.ErrorIs(t, s4.Send(&transport.Request{}), errors.ErrInvalidArgument)

		_, err := NewICMPv6Socket(SocketConfig{Source: mustAddr("127.0.0.1")})
		assert.ErrorIs(t, err, errors.ErrInvalidArgument)
		_, err = NewICMPv4Socket(SocketConfig{Source: mustAddr("::1")})
		assert.ErrorIs(t, err, errors.ErrInvalidArgument)
	})
}

// failingTransport is a transport whose receive side has broken down.
type failingTransport struct{ namedTransport }

var errBroken = &errors.Error{Op: "receive", Class: errors.ErrUnavailable, Err: errors.New("network went away")}

func (f *failingTransport) Send(_ context.Context, req *transport.Request) error {
	req.SentAt = time.Now()
	return nil
}

func (f *failingTransport) Receive(context.Context, *transport.Reply) error { return errBroken }

func TestSocketTransportFailure(t *testing.T) {
	s, err := NewICMPv4Socket(SocketConfig{Transport: &failingTransport{}})
	require.NoError(t, err)
	defer s.Close()
	req := &transport.Request{Destination: mustAddr("198.18.0.1"), ID: 1, Seq: 1}
	require.NoError(t, s.Send(req))
	_, err = s.Receive(context.Background(), req)
	assert.ErrorIs(t, err, errBroken, "the transport's own error, not a timeout")
	assert.NotErrorIs(t, err, errors.ErrTimeout)
	assert.False(t, s.IsClosed())
}
