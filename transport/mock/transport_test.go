package mock_test

import (
	"context"
	"net/netip"
	"runtime"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/icmpkit/icmpkit/errors"
	"github.com/icmpkit/icmpkit/transport"
	"github.com/icmpkit/icmpkit/transport/mock"
)

func TestName(t *testing.T) {
	var tr transport.Transport = mock.NewNetwork(mock.Config{}).Transport(mock.TransportConfig{})
	defer tr.Close()
	namer, ok := tr.(transport.Namer)
	require.True(t, ok)
	assert.Equal(t, "mock", namer.Name())
}

func TestIdentifier(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n := mock.NewNetwork(mock.Config{})
		require.NoError(t, n.AddHost(host4, mock.Host{}))
		require.NoError(t, n.AddHost(host6, mock.Host{}))
		a := n.Transport(mock.TransportConfig{})
		b := n.Transport(mock.TransportConfig{})
		c := n.Transport(mock.TransportConfig{ID: 4242})
		p := n.Transport(mock.TransportConfig{ID: 777, FixedID: true})
		q := n.Transport(mock.TransportConfig{FixedID: true})
		for _, tr := range []*mock.Transport{a, b, c, p, q} {
			defer tr.Close()
		}

		ida, fixed := a.Identifier(host4)
		assert.False(t, fixed)
		assert.NotZero(t, ida)
		idb, _ := b.Identifier(host6)
		assert.NotZero(t, idb)
		assert.NotEqual(t, ida, idb, "each transport its own identifier")
		id, fixed := c.Identifier(host6)
		assert.Equal(t, 4242, id)
		assert.False(t, fixed)
		id, fixed = p.Identifier(host4)
		assert.Equal(t, 777, id)
		assert.True(t, fixed)
		idq, fixed := q.Identifier(host4)
		assert.True(t, fixed)
		assert.NotZero(t, idq)
		assert.NotContains(t, []int{ida, idb}, idq)

		// Requests keep their identifier on a transport that does not fix it.
		req := send(t, c, transport.Request{Destination: host4, ID: 5, Seq: 1})
		assert.Equal(t, 5, req.ID)
		got := collect(t, c, time.Second)
		require.Len(t, got, 1)
		assert.Equal(t, 5, got[0].ID)

		// A ping socket imposes its own.
		for _, dst := range []netip.Addr{host4, host6} {
			req = send(t, p, transport.Request{Destination: dst, ID: 5, Seq: 2})
			assert.Equal(t, 777, req.ID)
			got = collect(t, p, time.Second)
			require.Len(t, got, 1)
			assert.Equal(t, 777, got[0].ID)
		}
		assert.Equal(t, 777, p.Sent()[0].ID, "recorded as it went out")
	})
}

func TestTransportsAreSeparate(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n := mock.NewNetwork(mock.Config{})
		require.NoError(t, n.AddHost(host4, mock.Host{Latency: time.Millisecond}))
		require.NoError(t, n.AddPath(host4, mock.Router{Addr: netip.MustParseAddr("198.18.1.1")}))
		a := n.Transport(mock.TransportConfig{ID: 1})
		b := n.Transport(mock.TransportConfig{ID: 1})
		defer a.Close()
		defer b.Close()
		// Same identifier, same sequences: only who sent tells the replies apart.
		for seq := range 3 {
			send(t, a, transport.Request{Destination: host4, ID: 1, Seq: seq})
		}
		send(t, b, transport.Request{Destination: host4, ID: 1, Seq: 0})
		send(t, b, transport.Request{Destination: host4, ID: 1, Seq: 0, TTL: 1})
		ga := collect(t, a, time.Second)
		gb := collect(t, b, time.Second)
		assert.Equal(t, []int{0, 1, 2}, seqs(ga))
		require.Len(t, gb, 2)
		assert.Equal(t, transport.KindTimeExceeded, gb[0].Kind())
		assert.Equal(t, transport.KindEchoReply, gb[1].Kind())
		assert.Equal(t, 3, a.Counts().Delivered)
		assert.Equal(t, 2, b.Counts().Delivered)

		// Closing one leaves the other working.
		require.NoError(t, a.Close())
		send(t, b, transport.Request{Destination: host4, Seq: 9})
		assert.Equal(t, []int{9}, seqs(collect(t, b, time.Second)))
	})
}

func TestSentRecord(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n := mock.NewNetwork(mock.Config{})
		require.NoError(t, n.AddHost(host4, mock.Host{Latency: 5 * time.Millisecond}))
		tr := n.Transport(mock.TransportConfig{})
		defer tr.Close()
		start := time.Now()
		payload := []byte{1, 2, 3}
		for i := range 4 {
			req := transport.Request{Destination: host4, ID: 3, Seq: i, TTL: 10 + i}
			if i == 0 {
				req.Payload = payload
			}
			send(t, tr, req)
			time.Sleep(200 * time.Millisecond)
		}
		payload[0] = 9 // the record keeps what was sent
		sent := tr.Sent()
		require.Len(t, sent, 4)
		for i, r := range sent {
			assert.Equal(t, i, r.Seq)
			assert.Equal(t, 10+i, r.TTL)
			assert.Equal(t, host4, r.Destination)
			assert.Equal(t, start.Add(time.Duration(i)*200*time.Millisecond), r.SentAt)
		}
		assert.Equal(t, []byte{1, 2, 3}, sent[0].Payload)
		sent[1].Seq = 100 // a copy
		assert.Equal(t, 1, tr.Sent()[1].Seq)
		assert.Len(t, collect(t, tr, time.Second), 4)
		assert.Equal(t, mock.Counts{Sent: 4, Delivered: 4, Received: 4}, tr.Counts())

		quiet := n.Transport(mock.TransportConfig{NoRecord: true})
		defer quiet.Close()
		send(t, quiet, transport.Request{Destination: host4})
		send(t, quiet, transport.Request{Destination: host4, Seq: 1})
		assert.Nil(t, quiet.Sent())
		c := quiet.Counts()
		assert.Equal(t, mock.Counts{Sent: 2, Pending: 2}, c)
		time.Sleep(5 * time.Millisecond)
		synctest.Wait()
		assert.Equal(t, mock.Counts{Sent: 2, Delivered: 2}, quiet.Counts())
	})
}

func TestSendErrors(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n := mock.NewNetwork(mock.Config{})
		tr := n.Transport(mock.TransportConfig{})
		ctx := context.Background()
		bad := []transport.Request{
			{},
			{Destination: netip.MustParseAddr("::ffff:198.18.0.1")},
			{Destination: host4, ID: -1},
			{Destination: host4, ID: 65536},
			{Destination: host4, Seq: 70000},
			{Destination: host4, TTL: 256},
			{Destination: host4, PayloadSize: -1},
			{Destination: host4, PayloadSize: transport.MaxPayloadV4 + 1},
			{Destination: host4, TrafficClass: 300},
		}
		for _, req := range bad {
			err := tr.Send(ctx, &req)
			assert.ErrorIs(t, err, errors.ErrInvalidArgument, "%+v", req)
			assert.True(t, req.SentAt.IsZero())
		}
		assert.ErrorIs(t, tr.Send(ctx, nil), errors.ErrInvalidArgument)
		//lint:ignore SA1012 a nil context is bad input the transport must refuse
		assert.ErrorIs(t, tr.Send(nil, &transport.Request{Destination: host4}), errors.ErrInvalidArgument) //nolint:staticcheck
		n2, err := tr.SendBatch(ctx, []transport.Request{{Destination: host4}, {Destination: host4, ID: -1}, {Destination: host4}})
		assert.Equal(t, 1, n2)
		assert.ErrorIs(t, err, errors.ErrInvalidArgument)

		cctx, cancel := context.WithCancel(ctx)
		cancel()
		assert.ErrorIs(t, tr.Send(cctx, &transport.Request{Destination: host4}), context.Canceled)
		assert.Equal(t, 1, tr.Counts().Sent)

		require.NoError(t, tr.Close())
		err = tr.Send(ctx, &transport.Request{Destination: host4})
		assert.ErrorIs(t, err, errors.ErrUnavailable)
		_, err = tr.SendBatch(ctx, []transport.Request{{Destination: host4}})
		assert.ErrorIs(t, err, errors.ErrUnavailable)
		assert.ErrorIs(t, tr.SetBroadcast(true), errors.ErrUnavailable)
	})
}

func TestSendBatch(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n := mock.NewNetwork(mock.Config{})
		require.NoError(t, n.AddHost(host4, mock.Host{Latency: time.Millisecond}))
		require.NoError(t, n.AddHost(host6, mock.Host{Latency: 2 * time.Millisecond}))
		tr := n.Transport(mock.TransportConfig{})
		defer tr.Close()
		reqs := []transport.Request{{Destination: host4, Seq: 1}, {Destination: host6, Seq: 2}, {Destination: host4, Seq: 3}}
		k, err := tr.SendBatch(context.Background(), reqs)
		require.NoError(t, err)
		assert.Equal(t, 3, k)
		for _, r := range reqs {
			assert.Equal(t, time.Now(), r.SentAt, "stamped in place")
		}
		time.Sleep(time.Second)
		replies := make([]transport.Reply, 2)
		k, err = tr.ReceiveBatch(context.Background(), replies)
		require.NoError(t, err)
		require.Equal(t, 2, k)
		assert.Equal(t, []int{1, 3}, []int{replies[0].Seq, replies[1].Seq})
		k, err = tr.ReceiveBatch(context.Background(), replies)
		require.NoError(t, err)
		require.Equal(t, 1, k)
		assert.Equal(t, host6, replies[0].Source)
		_, err = tr.ReceiveBatch(context.Background(), nil)
		assert.ErrorIs(t, err, errors.ErrInvalidArgument)
	})
}

func TestReceiveUnblocks(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n := mock.NewNetwork(mock.Config{})
		require.NoError(t, n.AddHost(host4, mock.Host{Latency: time.Second}))
		tr := n.Transport(mock.TransportConfig{})

		// ctx ends first.
		ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
		start := time.Now()
		var r transport.Reply
		assert.ErrorIs(t, tr.Receive(ctx, &r), context.DeadlineExceeded)
		assert.Equal(t, 300*time.Millisecond, time.Since(start))
		cancel()
		ctx, cancel = context.WithCancel(context.Background())
		cancel()
		assert.ErrorIs(t, tr.Receive(ctx, &r), context.Canceled, "a done context fails at once")
		assert.ErrorIs(t, tr.Receive(context.Background(), nil), errors.ErrInvalidArgument)

		// Close unblocks every waiting Receive at once, and drops the reply on its way.
		send(t, tr, transport.Request{Destination: host4})
		errs := make(chan error, 3)
		for range 2 {
			go func() {
				var r transport.Reply
				errs <- tr.Receive(context.Background(), &r)
			}()
		}
		go func() {
			_, err := tr.ReceiveBatch(context.Background(), make([]transport.Reply, 4))
			errs <- err
		}()
		synctest.Wait()
		closedAt := time.Now()
		require.NoError(t, tr.Close())
		for range 3 {
			assert.ErrorIs(t, <-errs, errors.ErrUnavailable)
		}
		assert.Equal(t, closedAt, time.Now(), "without waiting")
		require.NoError(t, tr.Close(), "closing twice is fine")
		assert.ErrorIs(t, tr.Receive(context.Background(), &r), errors.ErrUnavailable)

		time.Sleep(2 * time.Second)
		synctest.Wait()
		assert.Equal(t, mock.Counts{Sent: 1}, tr.Counts(), "nothing delivered after Close")
	})
}

func TestClosedWithQueuedReplies(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n := mock.NewNetwork(mock.Config{})
		require.NoError(t, n.AddHost(host4, mock.Host{}))
		tr := n.Transport(mock.TransportConfig{})
		send(t, tr, transport.Request{Destination: host4})
		synctest.Wait()
		assert.Equal(t, 1, tr.Counts().Delivered)
		require.NoError(t, tr.Close())
		var r transport.Reply
		assert.ErrorIs(t, tr.Receive(context.Background(), &r), errors.ErrUnavailable)
	})
}

// TestNoGoroutineLeft runs outside a bubble with real time: a transport with replies
// pending leaves no goroutine behind once closed.
func TestNoGoroutineLeft(t *testing.T) {
	before := runtime.NumGoroutine()
	n := mock.NewNetwork(mock.Config{})
	require.NoError(t, n.AddHost(host4, mock.Host{Latency: time.Millisecond}))
	require.NoError(t, n.AddHost(host6, mock.Host{Latency: time.Hour}))
	tr := n.Transport(mock.TransportConfig{})
	for seq := range 100 {
		send(t, tr, transport.Request{Destination: host4, Seq: seq})
		send(t, tr, transport.Request{Destination: host6, Seq: seq})
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var r transport.Reply
	for range 100 {
		require.NoError(t, tr.Receive(ctx, &r))
		assert.Equal(t, host4, r.Source)
		assert.GreaterOrEqual(t, r.ReceivedAt.Sub(tr.Sent()[0].SentAt), time.Millisecond)
	}
	require.NoError(t, tr.Close())
	deadline := time.Now().Add(5 * time.Second)
	for runtime.NumGoroutine() > before && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if now := runtime.NumGoroutine(); now > before {
		buf := make([]byte, 1<<20)
		t.Fatalf("%d goroutines, %d before:\n%s", now, before, buf[:runtime.Stack(buf, true)])
	}
}

func TestConcurrentUse(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n := mock.NewNetwork(mock.Config{Seed: 11})
		hosts := make([]netip.Addr, 50)
		for i := range hosts {
			hosts[i] = netip.AddrFrom4([4]byte{198, 18, 0, byte(i + 1)})
			require.NoError(t, n.AddHost(hosts[i], mock.Host{Latency: time.Duration(i) * time.Millisecond,
				Jitter: 10 * time.Millisecond, Duplicates: i % 2}))
		}
		tr := n.Transport(mock.TransportConfig{})
		const senders, each = 8, 200
		want := 0
		for i := range senders * each {
			want += 1 + (i%len(hosts))%2
		}
		var wg sync.WaitGroup
		got := make(chan int, 4)
		for range 4 {
			wg.Go(func() {
				k := 0
				batch := make([]transport.Reply, 7)
				for {
					var err error
					var m int
					if k%2 == 0 {
						m, err = tr.ReceiveBatch(context.Background(), batch)
					} else {
						err = tr.Receive(context.Background(), &batch[0])
						m = 1
					}
					if err != nil {
						got <- k
						return
					}
					k += m
				}
			})
		}
		var sw sync.WaitGroup
		for s := range senders {
			sw.Go(func() {
				for j := range each {
					i := s*each + j
					req := transport.Request{Destination: hosts[i%len(hosts)], Seq: i}
					if err := tr.Send(context.Background(), &req); err != nil {
						t.Error(err)
					}
					_ = tr.Counts()
					if j%50 == 0 {
						time.Sleep(time.Millisecond)
					}
				}
			})
		}
		sw.Wait()
		time.Sleep(time.Second)
		synctest.Wait()
		c := tr.Counts()
		assert.Equal(t, mock.Counts{Sent: senders * each, Delivered: want, Received: want}, c)
		require.NoError(t, tr.Close())
		wg.Wait()
		total := 0
		for range 4 {
			total += <-got
		}
		assert.Equal(t, want, total)
		assert.Len(t, tr.Sent(), senders*each)
	})
}
