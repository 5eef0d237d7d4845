package probe_test

import (
	"context"
	"net/netip"
	"sync"
	"testing"
	"time"

	"github.com/icmpkit/icmpkit/errors"
	"github.com/icmpkit/icmpkit/probe"
	"github.com/icmpkit/icmpkit/transport"
	"github.com/icmpkit/icmpkit/transport/mock"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/net/ipv4"
)

// pollOnly answers every request during its Send, as loopback does, and hands the replies
// over through Poll alone: its Receive only waits for Close.
type pollOnly struct {
	mu     sync.Mutex
	ready  []transport.Reply
	polled int
	closed chan struct{}
	once   sync.Once
}

func newPollOnly() *pollOnly { return &pollOnly{closed: make(chan struct{})} }

func (p *pollOnly) Send(ctx context.Context, req *transport.Request) error {
	select {
	case <-p.closed:
		return errors.New("closed")
	default:
	}
	req.SentAt = time.Now()
	p.mu.Lock()
	defer p.mu.Unlock()
	p.ready = append(p.ready, transport.Reply{Source: req.Destination, Destination: req.Destination,
		ID: req.ID, Seq: req.Seq, Type: ipv4.ICMPTypeEchoReply, Bytes: 64, TTL: 64,
		ReceivedAt: req.SentAt.Add(30 * time.Microsecond)})
	return nil
}

func (p *pollOnly) Receive(ctx context.Context, reply *transport.Reply) error {
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-p.closed:
		return errors.ErrUnavailable
	}
}

func (p *pollOnly) Poll(replies []transport.Reply) (int, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	n := copy(replies, p.ready)
	p.ready = p.ready[n:]
	p.polled += n
	return n, nil
}

func (p *pollOnly) Close() error {
	p.once.Do(func() { close(p.closed) })
	return nil
}

// A call takes the replies that came during its sends by polling before it waits: with a
// transport whose reader never delivers, every reply still arrives, with its RTT.
func TestRunsTakeRepliesByPolling(t *testing.T) {
	tr := newPollOnly()
	defer tr.Close()
	var outcomes []probe.Outcome
	h, err := probe.Ping(context.Background(), tr, hostA, &probe.PingOptions{Count: 5, Interval: time.Millisecond,
		Timeout: time.Second, OnReply: func(o probe.Outcome) { outcomes = append(outcomes, o) }})
	require.NoError(t, err)
	assert.Equal(t, 5, h.PacketsSent)
	assert.Equal(t, 5, h.PacketsReceived())
	require.Len(t, outcomes, 5)
	for i, o := range outcomes {
		assert.Equal(t, i, o.Seq)
		assert.Equal(t, 30*time.Microsecond, o.RTT)
	}

	var targets []netip.Addr
	for i := range 300 {
		targets = append(targets, netip.AddrFrom4([4]byte{198, 18, byte(i >> 8), byte(i)}))
	}
	hosts, err := probe.Multiping(context.Background(), tr, targets, &probe.MultipingOptions{Count: 2, Interval: -1, Timeout: time.Second})
	require.NoError(t, err)
	for i, h := range hosts {
		require.Equal(t, targets[i], h.Address)
		require.Equal(t, 2, h.PacketsReceived(), "host %s", h.Address)
	}
	trace, err := probe.Traceroute(context.Background(), tr, hostB, &probe.TraceOptions{Count: 2, Interval: -1,
		Timeout: time.Second, MaxHops: 4})
	require.NoError(t, err)
	require.True(t, trace.Reached)
	require.NotEmpty(t, trace.Hops)
	assert.Equal(t, hostB, trace.Hops[0].Address)
	assert.Len(t, trace.Hops[0].RTTs, 2)

	tr.mu.Lock()
	assert.GreaterOrEqual(t, tr.polled, 5+600+2)
	tr.mu.Unlock()
}

// OnWait comes once, when Ping first has to wait, and never for a Ping whose replies are in
// when its requests are out.
func TestPingOnWait(t *testing.T) {
	tr := newPollOnly()
	defer tr.Close()
	waits := 0
	h, err := probe.Ping(context.Background(), tr, hostA, &probe.PingOptions{Count: 1, OnWait: func() { waits++ }})
	require.NoError(t, err)
	assert.Equal(t, 1, h.PacketsReceived())
	assert.Zero(t, waits, "the reply was polled: nothing to wait for")

	h, err = probe.Ping(context.Background(), tr, hostA, &probe.PingOptions{Count: 3, Interval: time.Millisecond,
		OnWait: func() { waits++ }})
	require.NoError(t, err)
	assert.Equal(t, 3, h.PacketsReceived())
	assert.Equal(t, 1, waits, "waiting for the next request's time, once")
}

// OnWait comes before the reply that Ping waits for, once.
func TestPingOnWaitBeforeReply(t *testing.T) {
	bubble(t, mock.TransportConfig{}, func(t *testing.T, n *mock.Network, tr *mock.Transport) {
		require.NoError(t, n.AddHost(hostA, mock.Host{Latency: 20 * time.Millisecond}))
		var events []string
		h, err := probe.Ping(context.Background(), tr, hostA, &probe.PingOptions{Count: 2, Interval: -1,
			OnWait:  func() { events = append(events, "wait") },
			OnReply: func(o probe.Outcome) { events = append(events, "reply") }})
		require.NoError(t, err)
		assert.Equal(t, 2, h.PacketsReceived())
		assert.Equal(t, []string{"wait", "reply", "reply"}, events)
	})
}
