package result_test

import (
	"encoding/json"
	"math"
	"math/big"
	"net/netip"
	"testing"
	"time"

	"github.com/icmpkit/icmpkit/result"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/net/icmp"
)

func ms(f float64) time.Duration { return time.Duration(f * float64(time.Millisecond)) }

func TestStatsExact(t *testing.T) {
	rtts := []time.Duration{ms(10), ms(12), ms(11), ms(20), ms(7)}
	var h result.Host
	h.PacketsSent = 6
	for _, r := range rtts {
		h.Add(r)
	}
	// Reference values computed the plain way.
	var sum float64
	for _, r := range rtts {
		sum += float64(r)
	}
	mean := sum / float64(len(rtts))
	var sq float64
	for _, r := range rtts {
		sq += (float64(r) - mean) * (float64(r) - mean)
	}
	jit := (2.0 + 1 + 9 + 13) / 4
	assert.Equal(t, 5, h.PacketsReceived())
	assert.Equal(t, ms(7), h.MinRTT())
	assert.Equal(t, ms(20), h.MaxRTT())
	assert.Equal(t, time.Duration(math.Round(mean)), h.AvgRTT())
	assert.Equal(t, time.Duration(math.Round(math.Sqrt(sq/5))), h.StdDev())
	assert.Equal(t, ms(jit), h.Jitter())
	assert.InDelta(t, 1.0/6, h.PacketLoss(), 1e-12)
	assert.True(t, h.IsAlive())
	assert.Equal(t, rtts, h.RTTs)
}

func TestStatsEmptyAndSingle(t *testing.T) {
	var h result.Host
	assert.Zero(t, h.PacketLoss(), "nothing sent is no loss")
	h.PacketsSent = 3
	assert.Equal(t, 1.0, h.PacketLoss())
	assert.False(t, h.IsAlive())
	for _, d := range []time.Duration{h.MinRTT(), h.AvgRTT(), h.MaxRTT(), h.StdDev(), h.Jitter()} {
		assert.Zero(t, d)
	}
	h.Add(ms(5))
	assert.Equal(t, ms(5), h.MinRTT())
	assert.Equal(t, ms(5), h.AvgRTT())
	assert.Zero(t, h.StdDev())
	assert.Zero(t, h.Jitter())
}

func TestStatsWithoutList(t *testing.T) {
	var h result.Host
	for i := range 1000 {
		h.Stats.Add(time.Duration(i+1) * time.Microsecond)
	}
	assert.Nil(t, h.RTTs)
	assert.Equal(t, 1000, h.PacketsReceived())
	assert.Equal(t, 500500*time.Nanosecond, h.AvgRTT())
	assert.Equal(t, time.Microsecond, h.Jitter())
}

func TestHostJSON(t *testing.T) {
	h := result.Host{Address: netip.MustParseAddr("127.0.0.1"), PacketsSent: 4}
	h.Add(ms(0.012))
	h.Add(ms(0.018))
	b, err := json.Marshal(h)
	require.NoError(t, err)
	var m map[string]any
	require.NoError(t, json.Unmarshal(b, &m))
	assert.Equal(t, "127.0.0.1", m["address"])
	assert.Equal(t, true, m["is_alive"])
	assert.Equal(t, 4.0, m["packets_sent"])
	assert.Equal(t, 2.0, m["packets_received"])
	assert.Equal(t, 0.5, m["packet_loss"])
	assert.Equal(t, 0.012, m["min_rtt"])
	assert.Equal(t, 0.015, m["avg_rtt"])
	assert.Equal(t, 0.018, m["max_rtt"])
	assert.Equal(t, 0.003, m["stddev"])
	assert.Equal(t, 0.006, m["jitter"])
	assert.Equal(t, []any{0.012, 0.018}, m["rtts"])

	dead := result.Host{Address: netip.MustParseAddr("2001:db8::1"), PacketsSent: 2}
	b, err = json.Marshal(&dead)
	require.NoError(t, err)
	require.NoError(t, json.Unmarshal(b, &m))
	assert.Equal(t, "2001:db8::1", m["address"])
	assert.Equal(t, []any{}, m["rtts"], "no reply gives an empty list, not null")
	assert.Equal(t, 0.0, m["min_rtt"])
	assert.Equal(t, 1.0, m["packet_loss"])
}

func TestTraceJSON(t *testing.T) {
	hop := result.Hop{Distance: 3, Responders: []netip.Addr{netip.MustParseAddr("198.18.2.2"), netip.MustParseAddr("198.18.3.2")}}
	hop.Address = hop.Responders[0]
	hop.PacketsSent = 3
	hop.Add(ms(1))
	hop.MPLS = []icmp.MPLSLabel{{Label: 16001, TC: 0, S: true, TTL: 1}}
	tr := result.Trace{Destination: netip.MustParseAddr("198.18.4.2"), Reached: false, Hops: []result.Hop{hop}}
	b, err := json.Marshal(tr)
	require.NoError(t, err)
	var m struct {
		Destination string           `json:"destination"`
		Reached     bool             `json:"reached"`
		Hops        []map[string]any `json:"hops"`
	}
	require.NoError(t, json.Unmarshal(b, &m))
	assert.Equal(t, "198.18.4.2", m.Destination)
	require.Len(t, m.Hops, 1)
	assert.Equal(t, 3.0, m.Hops[0]["distance"])
	assert.Equal(t, "198.18.2.2", m.Hops[0]["address"])
	assert.Equal(t, []any{"198.18.2.2", "198.18.3.2"}, m.Hops[0]["responders"])
	assert.InDelta(t, 2.0/3, m.Hops[0]["packet_loss"], 1e-12)
	assert.NotNil(t, m.Hops[0]["mpls"])

	b, err = json.Marshal(result.Trace{Destination: netip.MustParseAddr("198.18.4.2")})
	require.NoError(t, err)
	assert.Contains(t, string(b), `"hops":[]`)
}

func TestPacketLossIsLostOverSent(t *testing.T) {
	// 1 lost of 10 is 0.1, not 1 - 9/10 (0.09999999999999998); likewise for every count.
	for sent := 1; sent <= 100; sent++ {
		for received := 0; received <= sent; received++ {
			h := result.Host{PacketsSent: sent}
			for range received {
				h.Add(ms(1))
			}
			want, _ := new(big.Rat).SetFrac64(int64(sent-received), int64(sent)).Float64()
			require.Equal(t, want, h.PacketLoss(), "%d received of %d", received, sent)
		}
	}
	h := result.Host{PacketsSent: 10}
	for range 9 {
		h.Add(ms(1))
	}
	assert.Contains(t, string(h.AppendJSON(nil)), `"packet_loss":0.1,`)
}

func TestSendErrorsInJSONOnlyWhenThere(t *testing.T) {
	h := result.Host{PacketsSent: 3}
	assert.NotContains(t, string(h.AppendJSON(nil)), "send_errors", "JSON without send errors is unchanged")
	h.SendErrors = 2
	assert.Contains(t, string(h.AppendJSON(nil)), `"errors":0,"send_errors":2}`)
}
