package result_test

import (
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/icmpkit/icmpkit/result"
	"github.com/stretchr/testify/assert"
)

// hopOf gives a hop at distance d that answered recv of sent probes.
func hopOf(d, sent, recv int) result.Hop {
	h := result.Hop{Distance: d}
	h.Address = netip.AddrFrom4([4]byte{198, 18, byte(d), 2})
	h.PacketsSent = sent
	for range recv {
		h.Add(time.Millisecond)
	}
	return h
}

// A router that answers half its probes while every farther hop answers all of them refuses
// to answer; it loses nothing of the path. Loss that starts at a hop shows at every farther
// hop. EstimateLoss puts the estimate in PacketLoss and in JSON; a hop outside an estimated
// trace keeps its own figure.
func TestTraceEstimateLoss(t *testing.T) {
	tr := &result.Trace{Hops: []result.Hop{
		hopOf(1, 100, 100), hopOf(2, 100, 50), hopOf(3, 100, 100),
		hopOf(4, 100, 80), hopOf(5, 100, 79), hopOf(6, 100, 81),
	}}
	raw := tr.Hops[1]
	assert.InDelta(t, 0.5, raw.PacketLoss(), 1e-9, "not estimated: the hop's own figure")
	tr.EstimateLoss()
	want := []float64{0, 0, 0, 0.2, 0.2, 0.2}
	for i := range tr.Hops {
		assert.InDelta(t, want[i], tr.Hops[i].PacketLoss(), 0.03, "hop %d", i+1)
	}
	assert.Equal(t, 50, tr.Hops[1].PacketsReceived(), "the counts stay as measured")
	j := string(tr.Hops[1].AppendJSON(nil))
	assert.Contains(t, j, `"packet_loss":0,`, j)
	assert.True(t, strings.Contains(j, `"packets_received":50`), j)
}
