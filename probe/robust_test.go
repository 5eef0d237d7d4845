package probe_test

import (
	"context"
	"math"
	"net/netip"
	"sync"
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
	"golang.org/x/net/ipv4"
	"golang.org/x/net/ipv6"
)

func TestMultipingRateBeyondTheHostIsCapped(t *testing.T) {
	for _, rate := range []float64{1e30, 1e19, probe.MaxRate, math.Inf(1)} {
		bubble(t, mock.TransportConfig{}, func(t *testing.T, n *mock.Network, tr *mock.Transport) {
			require.NoError(t, n.AddHost(hostA, mock.Host{Latency: time.Millisecond}))
			require.NoError(t, n.AddHost(hostB, mock.Host{Latency: time.Millisecond}))
			// A run that never sends would wait out the context.
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			hosts, err := probe.Multiping(ctx, tr, []netip.Addr{hostA, hostB}, &probe.MultipingOptions{Rate: rate, Count: 3})
			require.NoError(t, err, "rate %g", rate)
			for _, h := range hosts {
				assert.Equal(t, 3, h.PacketsReceived(), "rate %g", rate)
			}
		})
	}
}

func TestMultipingRateBelowTheLeastIsRefused(t *testing.T) {
	for _, rate := range []float64{1e-300, probe.MinRate / 2, math.NaN(), -1, math.Inf(-1)} {
		bubble(t, mock.TransportConfig{}, func(t *testing.T, n *mock.Network, tr *mock.Transport) {
			require.NoError(t, n.AddHost(hostA, mock.Host{}))
			_, err := probe.Multiping(context.Background(), tr, []netip.Addr{hostA}, &probe.MultipingOptions{Rate: rate, Count: 1})
			require.ErrorIs(t, err, errors.ErrInvalidArgument, "rate %g", rate)
			for _, err = range probe.MultipingSeq(context.Background(), tr, func(func(netip.Addr) bool) {}, &probe.MultipingOptions{Rate: rate}) {
			}
			require.ErrorIs(t, err, errors.ErrInvalidArgument, "rate %g", rate)
		})
	}
	bubble(t, mock.TransportConfig{}, func(t *testing.T, n *mock.Network, tr *mock.Transport) {
		require.NoError(t, n.AddHost(hostA, mock.Host{}))
		require.NoError(t, n.AddHost(hostB, mock.Host{}))
		start := time.Now()
		_, err := probe.Multiping(context.Background(), tr, []netip.Addr{hostA, hostB}, &probe.MultipingOptions{Rate: probe.MinRate, Count: 1})
		require.NoError(t, err)
		assert.Equal(t, time.Hour, time.Since(start), "the least rate: one request an hour")
	})
}

// failing is a transport whose sends fail as send says; the rest is the mock's.
type failing struct {
	*mock.Transport
	mu    sync.Mutex
	calls int
	send  func(n int, req *transport.Request) error // nil: the mock sends
}

func (f *failing) Send(ctx context.Context, req *transport.Request) error {
	f.mu.Lock()
	f.calls++
	n := f.calls
	f.mu.Unlock()
	if err := f.send(n, req); err != nil {
		return err
	}
	return f.Transport.Send(ctx, req)
}

func (f *failing) SendBatch(ctx context.Context, reqs []transport.Request) (int, error) {
	for i := range reqs {
		if err := f.Send(ctx, &reqs[i]); err != nil {
			return i, err
		}
	}
	return len(reqs), nil
}

func addressError(dst netip.Addr) error {
	return errors.Wrap(errors.ErrAddress, "send echo request to "+dst.String(), nil)
}

func TestMultipingSendFailingAsCtxEndsEndsWithCtx(t *testing.T) {
	bubble(t, mock.TransportConfig{}, func(t *testing.T, n *mock.Network, tr *mock.Transport) {
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		// Every send fails for its destination (no route); the ninth finds ctx cancelled (Ctrl-C
		// during the send).
		f := &failing{Transport: tr, send: func(n int, req *transport.Request) error {
			if n == 9 {
				cancel()
			}
			return addressError(req.Destination)
		}}
		var got []*result.Host
		var err error
		for h, e := range probe.MultipingSeq(ctx, f, func(yield func(netip.Addr) bool) {
			_ = yield(hostA) && yield(hostB)
		}, &probe.MultipingOptions{Count: 100}) {
			if e != nil {
				err = e
				continue
			}
			got = append(got, h)
		}
		require.ErrorIs(t, err, context.Canceled, "the run ended because ctx did, not because of the send")
		require.Len(t, got, 2, "the summaries of the hosts in flight")
		for _, h := range got {
			assert.Equal(t, 4, h.PacketsSent)
			assert.Equal(t, 4, h.SendErrors)
		}
	})
}

func TestMultipingSeqBodyPanicReachesCaller(t *testing.T) {
	for _, unordered := range []bool{false, true} {
		bubble(t, mock.TransportConfig{}, func(t *testing.T, n *mock.Network, tr *mock.Transport) {
			targets := []netip.Addr{hostA, hostB, addrN(3)}
			for i, a := range targets {
				require.NoError(t, n.AddHost(a, mock.Host{Latency: time.Duration(i+1) * time.Millisecond}))
			}
			type mine struct{ s string }
			got := func() (v any) {
				defer func() { v = recover() }()
				for range probe.MultipingSeq(context.Background(), tr, func(yield func(netip.Addr) bool) {
					for _, a := range targets {
						if !yield(a) {
							return
						}
					}
				}, &probe.MultipingOptions{Count: 1, Unordered: unordered}) {
					panic(mine{"the body's own"})
				}
				return nil
			}()
			assert.Equal(t, mine{"the body's own"}, got)
		})
	}
}

// loopbackAnswers is a transport on which a request to the unspecified address is answered
// by the loopback address of its family, as the system does.
type loopbackAnswers struct {
	replies chan transport.Reply
	done    chan struct{}
	once    sync.Once
}

func newLoopbackAnswers() *loopbackAnswers {
	return &loopbackAnswers{replies: make(chan transport.Reply, 64), done: make(chan struct{})}
}

func (l *loopbackAnswers) Send(ctx context.Context, req *transport.Request) error {
	req.SentAt = time.Now()
	rep := transport.Reply{Source: netip.MustParseAddr("127.0.0.1"), ID: req.ID, Seq: req.Seq, Type: ipv4.ICMPTypeEchoReply,
		Bytes: 8 + len(req.Payload), ReceivedAt: req.SentAt.Add(time.Millisecond)}
	if req.Destination.Is6() {
		rep.Source, rep.Type = netip.IPv6Loopback(), ipv6.ICMPTypeEchoReply
	}
	rep.Destination = rep.Source
	l.replies <- rep
	return nil
}

func (l *loopbackAnswers) Receive(ctx context.Context, reply *transport.Reply) error {
	select {
	case *reply = <-l.replies:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	case <-l.done:
		return errors.Wrap(errors.ErrUnavailable, "receive", nil)
	}
}

func (l *loopbackAnswers) Close() error {
	l.once.Do(func() { close(l.done) })
	return nil
}

func TestPingUnspecifiedTakesTheLocalAnswer(t *testing.T) {
	for _, dst := range []netip.Addr{netip.IPv4Unspecified(), netip.IPv6Unspecified()} {
		synctest.Test(t, func(t *testing.T) {
			tr := newLoopbackAnswers()
			defer tr.Close()
			h, err := probe.Ping(context.Background(), tr, dst, &probe.PingOptions{Count: 2, Interval: 10 * time.Millisecond})
			require.NoError(t, err)
			assert.Equal(t, dst, h.Address)
			assert.Equal(t, 2, h.PacketsReceived(), "%s: the answers from loopback", dst)
			hosts, err := probe.Multiping(context.Background(), tr, []netip.Addr{dst}, &probe.MultipingOptions{Count: 2, Interval: 10 * time.Millisecond})
			require.NoError(t, err)
			assert.Equal(t, 2, hosts[0].PacketsReceived(), "%s: the answers from loopback", dst)
		})
	}
}

func TestMultipingCountsFailedSendsApart(t *testing.T) {
	bcast := netip.MustParseAddr("198.18.255.255")
	bubble(t, mock.TransportConfig{}, func(t *testing.T, n *mock.Network, tr *mock.Transport) {
		require.NoError(t, n.AddHost(hostA, mock.Host{Latency: time.Millisecond}))
		require.NoError(t, n.AddBroadcast(bcast, hostA))
		var failed []probe.Outcome
		hosts, err := probe.Multiping(context.Background(), tr, []netip.Addr{bcast, hostA}, &probe.MultipingOptions{Count: 3,
			OnReply: func(o probe.Outcome) {
				if o.SendError != nil {
					failed = append(failed, o)
				}
			}})
		require.NoError(t, err, "one destination's trouble is not the run's")
		b, a := hosts[0], hosts[1]
		assert.Equal(t, 3, b.PacketsSent)
		assert.Equal(t, 3, b.SendErrors)
		assert.Zero(t, b.PacketsReceived())
		assert.Equal(t, 3, a.PacketsReceived())
		assert.Zero(t, a.SendErrors)
		require.Len(t, failed, 3, "each failed send is reported")
		for i, o := range failed {
			assert.Equal(t, i, o.Seq)
			assert.Equal(t, bcast, o.Destination)
			assert.Equal(t, int64(0), o.Index)
			assert.ErrorIs(t, o.SendError, errors.ErrBroadcast)
			assert.False(t, o.TimedOut)
		}
		assert.Contains(t, string(b.AppendJSON(nil)), `"send_errors":3`)

		// Nothing could be sent at all: the run fails, with the hosts as they stand.
		hosts, err = probe.Multiping(context.Background(), tr, []netip.Addr{bcast}, &probe.MultipingOptions{Count: 2})
		require.ErrorIs(t, err, errors.ErrBroadcast)
		require.Len(t, hosts, 1)
		assert.Equal(t, 2, hosts[0].SendErrors)
	})
}

func TestMultipingTransportThatSendsNothingFails(t *testing.T) {
	bubble(t, mock.TransportConfig{}, func(t *testing.T, n *mock.Network, tr *mock.Transport) {
		f := &failing{Transport: tr, send: func(_ int, req *transport.Request) error { return addressError(req.Destination) }}
		_, err := probe.Multiping(context.Background(), f, []netip.Addr{hostA, hostB}, &probe.MultipingOptions{Count: 2})
		require.ErrorIs(t, err, errors.ErrAddress)
		var last error
		for _, err := range probe.MultipingSeq(context.Background(), f, func(yield func(netip.Addr) bool) { yield(hostA) }, nil) {
			if err != nil {
				last = err
			}
		}
		require.ErrorIs(t, last, errors.ErrAddress)
	})
}
