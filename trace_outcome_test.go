package icmpkit

import (
	"cmp"
	"context"
	"slices"
	"testing"
	"testing/synctest"
	"time"

	"github.com/icmpkit/icmpkit/errors"
	"github.com/icmpkit/icmpkit/probe"
	"github.com/icmpkit/icmpkit/transport/mock"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestTraceroutePayloadAndOnProbe checks that Traceroute hands Payload and OnProbe to the
// probe package, and that Validate checks the payload against the destination's family.
func TestTraceroutePayloadAndOnProbe(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n := mock.NewNetwork(mock.Config{})
		dst := mustAddr("198.18.4.2")
		require.NoError(t, n.AddHost(dst, mock.Host{Latency: 4 * time.Millisecond}))
		require.NoError(t, n.AddPath(dst, mock.Router{Addr: mustAddr("198.18.0.1"), Latency: time.Millisecond}))
		tr := n.Transport(mock.TransportConfig{})
		defer tr.Close()
		var outs []probe.TraceOutcome
		trace, err := Traceroute(context.Background(), "198.18.4.2", &TraceOptions{
			Transport: tr, Count: 2, Window: 1, Payload: []byte{},
			OnProbe: func(o probe.TraceOutcome) { outs = append(outs, o) },
		})
		require.NoError(t, err)
		require.True(t, trace.Reached)
		require.Len(t, outs, 4)
		slices.SortFunc(outs, func(a, b probe.TraceOutcome) int { return cmp.Or(a.Distance-b.Distance, a.Round-b.Round) })
		for i, o := range outs {
			assert.Equal(t, i/2+1, o.Distance)
			assert.Equal(t, i%2, o.Round)
			assert.Equal(t, time.Duration(i/2*3+1)*time.Millisecond, o.RTT)
		}
		for _, req := range tr.Sent() {
			assert.Zero(t, req.PayloadLen(), "the empty payload")
		}
	})
	opts := TraceOptions{Payload: make([]byte, 65510)}
	assert.NoError(t, opts.Validate(mustAddr("2001:db8::1")))
	assert.ErrorIs(t, opts.Validate(mustAddr("198.18.0.1")), errors.ErrInvalidArgument, "too large for IPv4")
}
