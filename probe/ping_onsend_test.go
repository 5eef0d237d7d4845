package probe_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/icmpkit/icmpkit/probe"
	"github.com/icmpkit/icmpkit/transport/mock"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// OnSend and OnReply together tell the run in order: each request is announced as it goes
// out, with the time it went, before anything that answers it.
func TestPingOnSend(t *testing.T) {
	bubble(t, mock.TransportConfig{}, func(t *testing.T, n *mock.Network, tr *mock.Transport) {
		require.NoError(t, n.AddHost(hostA, mock.Host{Latency: 300 * time.Millisecond, Duplicates: 1}))
		start := time.Now()
		var events []string
		h, err := probe.Ping(context.Background(), tr, hostA, &probe.PingOptions{
			Count: 3, Interval: 200 * time.Millisecond, Timeout: time.Second,
			OnSend: func(seq int, at time.Time) {
				events = append(events, fmt.Sprintf("send %d at %v", seq, at.Sub(start)))
			},
			OnReply: func(o probe.Outcome) {
				events = append(events, fmt.Sprintf("reply %d dup=%v at %v", o.Seq, o.Duplicate, time.Since(start)))
			},
		})
		require.NoError(t, err)
		assert.Equal(t, 3, h.PacketsSent)
		assert.Equal(t, []string{
			"send 0 at 0s",
			"send 1 at 200ms",
			"reply 0 dup=false at 300ms",
			"reply 0 dup=true at 300ms",
			"send 2 at 400ms",
			"reply 1 dup=false at 500ms",
			"reply 1 dup=true at 500ms",
			"reply 2 dup=false at 700ms",
		}, events)
		sent := tr.Sent()
		require.Len(t, sent, 3)
		for i, req := range sent {
			assert.Equal(t, start.Add(time.Duration(i)*200*time.Millisecond), req.SentAt)
		}
	})
}

// A request that could not be sent is not announced.
func TestPingOnSendNotForFailedSends(t *testing.T) {
	bubble(t, mock.TransportConfig{}, func(t *testing.T, n *mock.Network, tr *mock.Transport) {
		require.NoError(t, n.AddHost(hostA, mock.Host{}))
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		sends := 0
		h, err := probe.Ping(ctx, tr, hostA, &probe.PingOptions{
			Count: 5, Interval: 100 * time.Millisecond,
			OnSend: func(int, time.Time) { sends++ },
			OnReply: func(o probe.Outcome) {
				if o.Seq == 1 {
					cancel() // as a program stopping after two replies does
				}
			},
		})
		require.ErrorIs(t, err, context.Canceled)
		assert.Equal(t, 2, sends)
		assert.Equal(t, 2, h.PacketsSent)
		assert.Len(t, tr.Sent(), 2, "nothing goes out once the context is cancelled")
	})
}
