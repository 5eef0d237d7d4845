package result_test

import (
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/icmpkit/icmpkit/result"
)

func TestLossExcess(t *testing.T) {
	// Every loss among the first three of 13 probes: one way in C(13,3) = 286.
	assert.InDelta(t, 1.0/286, result.LossExcess(3, 3, 0, 10), 1e-12)
	// Nothing lost, or no more than nothing: no evidence at all.
	assert.InDelta(t, 1.0, result.LossExcess(0, 10, 0, 10), 1e-12)
	assert.InDelta(t, 1.0, result.LossExcess(0, 10, 4, 10), 1e-12)
	// Half of each: P(X >= 5) for X hypergeometric (20, 10, 10), (1 + C(10,5)^2/C(20,10)) / 2.
	assert.InDelta(t, (1+63504.0/184756)/2, result.LossExcess(5, 10, 5, 10), 1e-9)
	// More lost in the first, with more probes, is less likely by chance.
	assert.Less(t, result.LossExcess(20, 100, 10, 100), result.LossExcess(4, 20, 2, 20))
}

func TestPacedPathLoss(t *testing.T) {
	for _, tc := range []struct {
		name string
		s    []result.LossSample
		want []float64
	}{
		{"a step", []result.LossSample{{100, 0}, {100, 1}, {100, 20}, {100, 21}}, []float64{0.005, 0.005, 0.205, 0.205}},
		// Router 2 loses half its answers where the path loses none: it refuses them, and
		// takes the estimate beyond it.
		{"refusing", []result.LossSample{{100, 0}, {20, 10}, {100, 0}}, []float64{0, 0, 0}},
		// A small excess, which chance explains, is pooled with the distances beyond.
		{"pooled", []result.LossSample{{50, 3}, {100, 2}}, []float64{5.0 / 150, 5.0 / 150}},
		// A distance with nothing sent takes the estimate beyond it.
		{"unsent", []result.LossSample{{0, 0}, {100, 10}}, []float64{0.1, 0.1}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			loss, _ := result.PacedPathLoss(tc.s)
			assert.InDeltaSlice(t, tc.want, loss, 1e-9)
		})
	}
}

// A hop's loss rests on its echo requests to its responder rather than on its paced probes,
// unless the responder loses more of them than the path beyond it loses: then they are
// refused, and the paced probes count.
func TestPathEstimateLossPings(t *testing.T) {
	p := &result.Path{Hops: []result.PathHop{
		// 20 paced probes, 3 lost to a limit not yet found; 100 echo requests, none lost.
		{Distance: 1, Sent: 40, Unpaced: 20, FirstLost: 15, RateLimited: 12, Pinged: 100},
		// 20 paced probes, 10 lost; 100 echo requests, 20 lost: the loss starts here.
		{Distance: 2, Sent: 20, FirstLost: 10, Pinged: 100, PingLost: 20},
		// A router that answers half its echo requests: refused, its paced probes alone.
		{Distance: 3, Sent: 20, FirstLost: 4, Pinged: 100, PingLost: 50},
		{Distance: 4, Sent: 100, FirstLost: 20, Target: true},
	}}
	p.EstimateLoss()
	assert.False(t, p.Hops[0].PingRefused)
	assert.False(t, p.Hops[1].PingRefused)
	assert.True(t, p.Hops[2].PingRefused)
	assert.False(t, p.Hops[3].PingRefused)
	assert.Equal(t, 0.0, p.Hops[0].Loss)
	for _, h := range p.Hops[1:] {
		assert.InDelta(t, 44.0/220, h.Loss, 1e-9, "hop %d", h.Distance)
	}
	assert.False(t, p.Hops[0].Uncertain)
}
