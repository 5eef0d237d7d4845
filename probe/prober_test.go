package probe_test

import (
	"context"
	"net/netip"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/icmpkit/icmpkit/errors"
	"github.com/icmpkit/icmpkit/probe"
	"github.com/icmpkit/icmpkit/transport/mock"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Close ends every call in progress with an error matching ErrUnavailable, and every later
// call fails the same way, at once; the transport stays open for whoever owns it.
func TestProberCloseEndsCalls(t *testing.T) {
	bubble(t, mock.TransportConfig{}, func(t *testing.T, n *mock.Network, tr *mock.Transport) {
		require.NoError(t, n.AddHost(hostA, mock.Host{Latency: time.Millisecond}))
		p := probe.New(tr, nil)
		var wg sync.WaitGroup
		errs := make([]error, 4)
		wg.Go(func() {
			_, errs[0] = p.Ping(context.Background(), hostA, &probe.PingOptions{Count: 100})
		})
		wg.Go(func() {
			_, errs[1] = p.Multiping(context.Background(), []netip.Addr{hostA, nowhere}, &probe.MultipingOptions{Count: 100})
		})
		wg.Go(func() {
			_, errs[2] = p.Traceroute(context.Background(), nowhere, &probe.TraceOptions{Timeout: time.Hour, Interval: time.Minute})
		})
		wg.Go(func() {
			for _, err := range p.MultipingSeq(context.Background(), slices.Values([]netip.Addr{hostA, nowhere}), &probe.MultipingOptions{Count: 100}) {
				if err != nil {
					errs[3] = err
				}
			}
		})
		time.Sleep(5 * time.Second)
		start := time.Now()
		require.NoError(t, p.Close())
		wg.Wait()
		assert.Zero(t, time.Since(start), "Close ends the calls at once")
		for i, err := range errs {
			assert.ErrorIs(t, err, errors.ErrUnavailable, "call %d", i)
		}
		_, err := p.Ping(context.Background(), hostA, nil)
		assert.ErrorIs(t, err, errors.ErrUnavailable, "a call after Close")
		for _, err := range p.MultipingSeq(context.Background(), slices.Values([]netip.Addr{hostA}), nil) {
			assert.ErrorIs(t, err, errors.ErrUnavailable, "a sequence after Close")
		}
		require.NoError(t, p.Close(), "Close twice")

		// The transport is the caller's, and still works.
		h, err := probe.Ping(context.Background(), tr, hostA, &probe.PingOptions{Count: 1})
		require.NoError(t, err)
		assert.Equal(t, 1, h.PacketsReceived())
	})
}

// A Prober made with bad arguments fails every call with ErrInvalidArgument.
func TestProberInvalid(t *testing.T) {
	for name, p := range map[string]*probe.Prober{
		"nil transport":        probe.New(nil, nil),
		"negative pace memory": probe.New(mock.NewNetwork(mock.Config{}).Transport(mock.TransportConfig{}), &probe.Options{PaceMemory: -1}),
	} {
		_, err := p.Ping(context.Background(), hostA, nil)
		assert.ErrorIs(t, err, errors.ErrInvalidArgument, name)
		_, err = p.Traceroute(context.Background(), hostA, nil)
		assert.ErrorIs(t, err, errors.ErrInvalidArgument, name)
		assert.NoError(t, p.Close(), name)
	}
}

// A Prober serves calls one after another and side by side, for as long as it lives.
func TestProberManyCalls(t *testing.T) {
	bubble(t, mock.TransportConfig{}, func(t *testing.T, n *mock.Network, tr *mock.Transport) {
		require.NoError(t, n.AddHost(hostA, mock.Host{Latency: 2 * time.Millisecond}))
		require.NoError(t, n.AddHost(hostV6, mock.Host{Latency: 3 * time.Millisecond}))
		p := probe.New(tr, nil)
		defer p.Close()
		assert.Same(t, tr, p.Transport())
		for range 50 {
			var wg sync.WaitGroup
			for _, dst := range []netip.Addr{hostA, hostV6} {
				wg.Go(func() {
					h, err := p.Ping(context.Background(), dst, &probe.PingOptions{Count: 3, Interval: 10 * time.Millisecond})
					assert.NoError(t, err)
					assert.Equal(t, 3, h.PacketsReceived(), "%s", dst)
				})
			}
			wg.Wait()
		}
	})
}
