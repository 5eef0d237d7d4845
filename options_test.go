package icmpkit

import (
	"context"
	"math"
	"net/netip"
	"testing"
	"time"

	"github.com/icmpkit/icmpkit/errors"
	"github.com/icmpkit/icmpkit/transport"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestPingOptionsValidate(t *testing.T) {
	v4, v6 := mustAddr("127.0.0.1"), mustAddr("::1")
	tests := []struct {
		name string
		opts PingOptions
		dst  netip.Addr
		arg  string // the argument the error names; "" for valid options
	}{
		{"zero", PingOptions{}, v4, ""},
		{"icmplib defaults", PingOptions{Count: 4, Interval: time.Second, Timeout: 2 * time.Second, PayloadSize: 56, TTL: 64}, v4, ""},
		{"back to back", PingOptions{Interval: BackToBack}, v4, ""},
		{"negative count", PingOptions{Count: -1}, v4, "count"},
		{"negative interval", PingOptions{Interval: -time.Second}, v4, "interval"},
		{"negative timeout", PingOptions{Timeout: -time.Millisecond}, v4, "timeout"},
		{"negative payload", PingOptions{PayloadSize: -1}, v4, "payload size"},
		{"largest IPv4 payload", PingOptions{PayloadSize: transport.MaxPayloadV4}, v4, ""},
		{"IPv4 payload too large", PingOptions{PayloadSize: transport.MaxPayloadV4 + 1}, v4, "payload size"},
		{"IPv6 payload fits", PingOptions{PayloadSize: transport.MaxPayloadV4 + 1}, v6, ""},
		{"IPv6 payload too large", PingOptions{PayloadSize: transport.MaxPayloadV6 + 1}, v6, "payload size"},
		{"payload too large for any family", PingOptions{PayloadSize: transport.MaxPayloadV6 + 1}, netip.Addr{}, "payload size"},
		{"explicit payload too large", PingOptions{Payload: make([]byte, transport.MaxPayloadV4+1)}, v4, "payload size"},
		{"ttl 255", PingOptions{TTL: 255}, v4, ""},
		{"ttl 256", PingOptions{TTL: 256}, v4, "ttl"},
		{"ttl negative", PingOptions{TTL: -1}, v4, "ttl"},
		{"traffic class 256", PingOptions{TrafficClass: 256}, v4, "traffic class"},
		{"traffic class negative", PingOptions{TrafficClass: -1}, v4, "traffic class"},
		{"id 65535", PingOptions{ID: 65535}, v4, ""},
		{"id 65536", PingOptions{ID: 65536}, v4, "identifier"},
		{"id negative", PingOptions{ID: -1}, v4, "identifier"},
		{"family 5", PingOptions{Family: 5}, v4, "family"},
		{"mode 3", PingOptions{Mode: 3}, v4, "mode"},
		{"mapped source", PingOptions{Source: mustAddr("::ffff:127.0.0.1")}, v4, "source"},
		{"source of the other family", PingOptions{Source: v6}, v4, "source"},
		{"source against family", PingOptions{Source: v6, Family: IPv4}, netip.Addr{}, "source"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.opts.Validate(tt.dst)
			if tt.arg == "" {
				assert.NoError(t, err)
				return
			}
			require.Error(t, err)
			assert.ErrorIs(t, err, errors.ErrInvalidArgument)
			var e *errors.Error
			require.ErrorAs(t, err, &e)
			assert.Equal(t, tt.arg, e.Op)
		})
	}
}

func TestMultipingOptionsValidate(t *testing.T) {
	tests := []struct {
		opts MultipingOptions
		arg  string
	}{
		{MultipingOptions{}, ""},
		{MultipingOptions{Rate: 1000.5, Concurrency: 10, Interval: BackToBack}, ""},
		{MultipingOptions{Rate: -1}, "rate"},
		{MultipingOptions{Rate: math.NaN()}, "rate"},
		{MultipingOptions{Rate: math.Inf(1)}, ""}, // capped at probe.MaxRate
		{MultipingOptions{Concurrency: -1}, "concurrency"},
		{MultipingOptions{Count: -2}, "count"},
		{MultipingOptions{TTL: 300}, "ttl"},
		{MultipingOptions{Interval: -2}, "interval"},
	}
	for _, tt := range tests {
		err := tt.opts.Validate(netip.Addr{})
		if tt.arg == "" {
			assert.NoError(t, err, "%+v", tt.opts)
			continue
		}
		var e *errors.Error
		require.ErrorAs(t, err, &e, "%+v", tt.opts)
		assert.ErrorIs(t, err, errors.ErrInvalidArgument)
		assert.Equal(t, tt.arg, e.Op, "%+v", tt.opts)
	}
}

func TestTraceOptionsValidate(t *testing.T) {
	tests := []struct {
		opts TraceOptions
		arg  string
	}{
		{TraceOptions{}, ""},
		{TraceOptions{FirstHop: 30}, ""},
		{TraceOptions{FirstHop: 31}, "first hop"},
		{TraceOptions{FirstHop: 5, MaxHops: 4}, "first hop"},
		{TraceOptions{FirstHop: 256, MaxHops: 255}, "first hop"},
		{TraceOptions{MaxHops: 256}, "max hops"},
		{TraceOptions{MaxHops: -1}, "max hops"},
		{TraceOptions{Window: -1}, "window"},
		{TraceOptions{Count: -1}, "count"},
		{TraceOptions{Timeout: -1}, "timeout"},
		{TraceOptions{TrafficClass: 999}, "traffic class"},
	}
	for _, tt := range tests {
		err := tt.opts.Validate(netip.Addr{})
		if tt.arg == "" {
			assert.NoError(t, err, "%+v", tt.opts)
			continue
		}
		var e *errors.Error
		require.ErrorAs(t, err, &e, "%+v", tt.opts)
		assert.Equal(t, tt.arg, e.Op, "%+v", tt.opts)
	}
}

// The convenience functions check their input before they resolve or open anything.
func TestConvenienceRejectsBadInput(t *testing.T) {
	ctx := context.Background()
	tr := &namedTransport{name: "fake"}
	_, err := Ping(ctx, "127.0.0.1", &PingOptions{Count: -1, Transport: tr})
	assert.ErrorIs(t, err, errors.ErrInvalidArgument)
	_, err = Ping(ctx, "no-such-host.invalid", &PingOptions{Transport: tr})
	assert.ErrorIs(t, err, errors.ErrNameLookup)
	_, err = Ping(ctx, "127.0.0.1", &PingOptions{PayloadSize: transport.MaxPayloadV4 + 1, Transport: tr})
	assert.ErrorIs(t, err, errors.ErrInvalidArgument)
	_, err = Ping(ctx, "::1", &PingOptions{Source: mustAddr("127.0.0.1"), Transport: tr})
	assert.ErrorIs(t, err, errors.ErrInvalidArgument)

	_, err = Multiping(ctx, nil, &MultipingOptions{Transport: tr})
	assert.ErrorIs(t, err, errors.ErrInvalidArgument)
	_, err = Multiping(ctx, []string{"127.0.0.1", "no-such-host.invalid"}, &MultipingOptions{Transport: tr})
	assert.ErrorIs(t, err, errors.ErrNameLookup)
	_, err = Multiping(ctx, []string{"127.0.0.1"}, &MultipingOptions{Rate: -5, Transport: tr})
	assert.ErrorIs(t, err, errors.ErrInvalidArgument)

	_, err = Traceroute(ctx, "127.0.0.1", &TraceOptions{MaxHops: 0, FirstHop: 40, Transport: tr})
	assert.ErrorIs(t, err, errors.ErrInvalidArgument)
	_, err = Traceroute(ctx, "", &TraceOptions{Transport: tr})
	assert.ErrorIs(t, err, errors.ErrInvalidArgument)

	for _, err := range MultipingSeq(ctx, func(yield func(string) bool) {}, &MultipingOptions{TTL: -3, Transport: tr}) {
		assert.ErrorIs(t, err, errors.ErrInvalidArgument)
	}
	assert.False(t, tr.closed, "a transport passed in stays open")
}

func TestResolveAll(t *testing.T) {
	hosts := []string{"127.0.0.3", "localhost", "::1", "127.0.0.2", "[::1]"}
	got, err := resolveAll(context.Background(), hosts, FamilyAny)
	require.NoError(t, err)
	want := []netip.Addr{mustAddr("127.0.0.3"), mustAddr("127.0.0.1"), mustAddr("::1"), mustAddr("127.0.0.2"), mustAddr("::1")}
	assert.Equal(t, want, got)
	_, err = resolveAll(context.Background(), []string{"127.0.0.1", "a.invalid", "b.invalid"}, FamilyAny)
	require.ErrorIs(t, err, errors.ErrNameLookup)
	assert.Contains(t, err.Error(), "a.invalid", "the first bad name in input order")
}
