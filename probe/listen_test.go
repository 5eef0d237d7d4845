package probe

import (
	"context"
	"net/netip"
	"sync"
	"testing"
	"time"

	"github.com/icmpkit/icmpkit/transport"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/net/ipv4"
)

// echoAll answers every request through Receive, at once, and can be polled too; it notes
// whether the engine listened by the time of the last send.
type echoAll struct {
	mu       sync.Mutex
	ready    []transport.Reply
	wake     chan struct{}
	sends    int
	total    int
	listened bool
	closed   chan struct{}
	prober   *Prober // the Prober reading it
}

func (t *echoAll) Send(ctx context.Context, req *transport.Request) error {
	req.SentAt = time.Now()
	t.mu.Lock()
	t.sends++
	if t.sends == t.total {
		t.listened = t.prober.e.listening.Load()
	}
	t.ready = append(t.ready, transport.Reply{Source: req.Destination, Destination: req.Destination,
		ID: req.ID, Seq: req.Seq, Type: ipv4.ICMPTypeEchoReply, ReceivedAt: req.SentAt})
	t.mu.Unlock()
	select {
	case t.wake <- struct{}{}:
	default:
	}
	return nil
}

func (t *echoAll) take(replies []transport.Reply) int {
	t.mu.Lock()
	defer t.mu.Unlock()
	n := copy(replies, t.ready)
	t.ready = t.ready[n:]
	return n
}

func (t *echoAll) Receive(ctx context.Context, reply *transport.Reply) error {
	for {
		var one [1]transport.Reply
		if t.take(one[:]) == 1 {
			*reply = one[0]
			return nil
		}
		select {
		case <-t.wake:
		case <-ctx.Done():
			return ctx.Err()
		case <-t.closed:
			return context.Canceled
		}
	}
}

func (t *echoAll) Poll(replies []transport.Reply) (int, error) { return t.take(replies), nil }

func (t *echoAll) Close() error { close(t.closed); return nil }

// A run with many requests to send starts the engine's reader once its first requests are
// out, not when it first waits: replies are taken while it goes on sending, and hosts
// complete (and free their state) as they answer.
func TestRunListensWhileSending(t *testing.T) {
	const n = 3 * admitChunk
	tr := &echoAll{wake: make(chan struct{}, 1), total: n, closed: make(chan struct{})}
	defer tr.Close()
	targets := make([]netip.Addr, n)
	for i := range targets {
		targets[i] = netip.AddrFrom4([4]byte{198, 18, byte(i >> 8), byte(i)})
	}
	p := New(tr, nil)
	defer p.Close()
	tr.prober = p
	hosts, err := p.Multiping(context.Background(), targets, &MultipingOptions{Count: 1, Interval: -1, Timeout: time.Second})
	require.NoError(t, err)
	for _, h := range hosts {
		require.True(t, h.IsAlive(), "%s", h.Address)
	}
	tr.mu.Lock()
	defer tr.mu.Unlock()
	assert.True(t, tr.listened, "the engine's reader ran before the last send")
}
