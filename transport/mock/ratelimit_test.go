package mock_test

import (
	"fmt"
	"net/netip"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/icmpkit/icmpkit/errors"
	"github.com/icmpkit/icmpkit/transport"
	"github.com/icmpkit/icmpkit/transport/mock"
)

// answeredAt sends a request with the given TTL at each of the given offsets from now (in
// order) and reports which of them were answered.
func answeredAt(t *testing.T, tr *mock.Transport, dst netip.Addr, ttl int, offsets ...time.Duration) []bool {
	t.Helper()
	start := time.Now()
	got := make([]bool, len(offsets))
	for i, off := range offsets {
		time.Sleep(time.Until(start.Add(off)))
		send(t, tr, transport.Request{Destination: dst, ID: 5, Seq: i, TTL: ttl, DontFragment: true, PayloadSize: 100})
		for _, r := range collect(t, tr, 10*time.Millisecond) {
			got[r.Seq] = true
		}
	}
	return got
}

func TestRouterRateLimit(t *testing.T) {
	ms := time.Millisecond
	burst := func(n int, at time.Duration) []time.Duration {
		out := make([]time.Duration, n)
		for i := range out {
			out[i] = at + time.Duration(i)*20*ms
		}
		return out
	}
	cases := []struct {
		name    string
		limit   mock.RateLimit
		mtu     int
		offsets []time.Duration
		want    string
	}{
		{"linux defaults: a burst of 6, then one a second", mock.LinuxRateLimit, 0,
			append(burst(9, 0), 1100*ms, 1200*ms, 2200*ms, 3300*ms, 3400*ms),
			"111111000" + "10" + "1" + "10"},
		{"the bucket refills while idle, up to the burst", mock.RateLimit{Interval: 100 * ms, Burst: 3}, 0,
			append(burst(4, 0), burst(5, 10*time.Second)...),
			"1110" + "11100"},
		{"partial refills add up", mock.RateLimit{Interval: time.Second, Burst: 1}, 0,
			[]time.Duration{0, 400 * ms, 800 * ms, 1000 * ms, 1500 * ms, 2000 * ms},
			"100101"},
		{"the global bucket", mock.RateLimit{PerSecond: 10, GlobalBurst: 2}, 0,
			append(burst(3, 0), 200*ms, 210*ms, 220*ms),
			"110" + "110"},
		{"the stricter bucket wins", mock.RateLimit{Interval: 10 * ms, Burst: 100, PerSecond: 1, GlobalBurst: 1}, 0,
			burst(3, 0), "100"},
		{"packet too big is not limited", mock.RateLimit{Interval: time.Hour, Burst: 1}, 100,
			burst(5, 0), "11111"},
		{"zero limits nothing", mock.RateLimit{}, 0, burst(20, 0), "11111111111111111111"},
	}
	for _, c := range cases {
		for _, v6 := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s/v6=%v", c.name, v6), func(t *testing.T) {
				synctest.Test(t, func(t *testing.T) {
					dst, r := netip.MustParseAddr("198.18.9.9"), netip.MustParseAddr("198.18.1.1")
					if v6 {
						dst, r = netip.MustParseAddr("2001:db8::9:9"), netip.MustParseAddr("2001:db8::1:1")
					}
					n := mock.NewNetwork(mock.Config{})
					require.NoError(t, n.AddHost(dst, mock.Host{}))
					require.NoError(t, n.AddPath(dst, mock.Router{Addr: r, Latency: ms, RateLimit: c.limit, MTU: c.mtu},
						mock.Router{Addr: netip.MustParseAddr(map[bool]string{false: "198.18.2.1", true: "2001:db8::2:1"}[v6])}))
					// Two transports share the prober's bucket, as two processes of one host do.
					tr1, tr2 := n.Transport(mock.TransportConfig{}), n.Transport(mock.TransportConfig{})
					defer tr1.Close()
					defer tr2.Close()
					ttl := 1 // Time Exceeded from the first router
					if c.mtu > 0 {
						ttl = 2 // Packet Too Big from the first router
					}
					var got []bool
					start := time.Now()
					for i, off := range c.offsets {
						tr := tr1
						if i%2 == 1 {
							tr = tr2
						}
						got = append(got, answeredAt(t, tr, dst, ttl, off-time.Since(start))...)
					}
					s := ""
					for _, ok := range got {
						s += map[bool]string{false: "0", true: "1"}[ok]
					}
					assert.Equal(t, c.want, s, "answers at %v", c.offsets)
				})
			})
		}
	}
}

func TestRouterRateLimitInvalid(t *testing.T) {
	n := mock.NewNetwork(mock.Config{})
	dst := netip.MustParseAddr("198.18.9.9")
	for _, l := range []mock.RateLimit{{Interval: -1}, {Burst: -1}, {PerSecond: -1}, {GlobalBurst: -1}} {
		err := n.AddPath(dst, mock.Router{Addr: netip.MustParseAddr("198.18.1.1"), RateLimit: l})
		assert.True(t, errors.Is(err, errors.ErrInvalidArgument), "%+v: got %v", l, err)
	}
}
