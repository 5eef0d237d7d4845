package result_test

import (
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/icmpkit/icmpkit/result"
)

func TestPathLossCases(t *testing.T) {
	s := func(v ...int) []result.LossSample {
		var out []result.LossSample
		for i := 0; i < len(v); i += 2 {
			out = append(out, result.LossSample{Sent: v[i], Lost: v[i+1]})
		}
		return out
	}
	for _, tc := range []struct {
		name string
		in   []result.LossSample
		want []float64
	}{
		{"empty", nil, []float64{}},
		{"nothing sent", s(0, 0, 0, 0), []float64{0, 0}},
		// Routers refusing most answers, the destination answering all: no loss anywhere.
		{"refusals", s(100, 63, 100, 63, 100, 70, 100, 0), []float64{0, 0, 0, 0}},
		// Loss from hop 3 on, hop 2 refusing: hops 3..5 pooled.
		{"loss from 3", s(100, 0, 100, 60, 100, 21, 100, 19, 100, 20), []float64{0, 0, 0.2, 0.2, 0.2}},
		// A silent router (everything unanswered) takes the figure of the hop before it.
		{"silent", s(100, 0, 100, 100, 100, 10), []float64{0, 0, 0.1}},
		// Routers asked only at the pace their limits allow: few probes, none lost, before a
		// step to 20% that the distances beyond show on many.
		{"few before a step", s(15, 0, 15, 0, 15, 0, 100, 20, 100, 21, 100, 19), []float64{0, 0, 0, 0.2, 0.2, 0.2}},
		// Nothing known beyond: a hop's own figure stands.
		{"last", s(100, 5), []float64{0.05}},
		// A hop with nothing sent takes the estimate beyond it.
		{"gap", s(100, 0, 0, 0, 100, 30), []float64{0, 0.3, 0.3}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, unc := result.PathLoss(tc.in)
			assert.InDeltaSlice(t, tc.want, got, 1e-9)
			assert.Len(t, unc, len(tc.in))
		})
	}
	_, unc := result.PathLoss(s(10, 0, 10, 1))
	assert.Equal(t, []bool{false, false}, unc, "pooled: 20 probes")
	_, unc = result.PathLoss(s(10, 0, 10, 9))
	assert.Equal(t, []bool{true, true}, unc, "10 probes each, not pooled")
}

// The situations over 100 probes per hop, drawn at random many times: how often does
// every hop land within the tolerances (3 points of 0 before the loss, 8 of p after)?
func TestPathLossTolerance(t *testing.T) {
	const runs, probes = 2000, 100
	rng := rand.New(rand.NewPCG(1, 2))
	draw := func(p float64) int {
		n := 0
		for range probes {
			if rng.Float64() < p {
				n++
			}
		}
		return n
	}
	for _, tc := range []struct {
		name    string
		loss    float64 // path loss from router 3's forwarding on (hops 4..6)
		refusal float64 // each router's refusals (hops 1..5)
	}{
		{"rate limits", 0, 0.6},
		{"rate limits, few refusals", 0, 0.03},
		{"loss", 0.2, 0},
		{"loss 10", 0.1, 0},
		{"loss 30", 0.3, 0},
		{"both, few refusals", 0.2, 0.01},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fail, alone := 0, 0
			for range runs {
				s := make([]result.LossSample, 6)
				for k := range s {
					p := 0.0
					if k >= 3 {
						p = tc.loss
					}
					r := tc.refusal
					if k == 5 {
						r = 0 // the destination's replies are never limited
					}
					s[k] = result.LossSample{Sent: probes, Lost: draw(1 - (1-p)*(1-r))}
				}
				if d := s[5].Rate() - tc.loss; d < -0.08 || d > 0.08 {
					alone++
				}
				got, _ := result.PathLoss(s)
				for k, v := range got {
					want, tol := 0.0, 0.03
					if k >= 3 {
						want, tol = tc.loss, 0.08
					}
					if v < want-tol || v > want+tol {
						fail++
						break
					}
				}
			}
			t.Logf("%s: %d of %d runs outside the tolerances; the destination's own figure %d", tc.name, fail, runs, alone)
			// The destination's own figure alone misses the tolerance in about 6% of runs at
			// p=0.2 (binomial, 100 probes); the estimate, which pools the hops beyond the loss,
			// may miss it in no more runs, or 5% of them at p=0.1 where the destination's figure
			// has more room.
			assert.LessOrEqual(t, fail, max(runs/20, alone))
		})
	}
}

// A traceroute through rate-limited routers and a path that loses 20% from hop 3 on: the
// losses the resends relabelled as rate limited count again at hops 3 to 5; hops 1 and 2,
// whose routers withheld most answers, say nothing of the path but that it loses no more
// than the hops beyond, whose figure they take. (A monitor, which asks such routers at their
// pace, learns more: see Monitor.)
func TestTraceLoss(t *testing.T) {
	hop := func(d, sent, received, limited int) result.Hop {
		h := result.Hop{Distance: d, RateLimited: limited}
		h.PacketsSent = sent
		for range received {
			h.Add(1)
		}
		return h
	}
	hops := []result.Hop{
		hop(1, 10, 10, 8), // answered, most only when sent again past the limit
		hop(2, 10, 10, 6),
		hop(3, 10, 10, 2), // the path loses 20% from here on, relabelled by the resends
		hop(4, 10, 9, 1),
		hop(5, 10, 8, 0), // the destination: never limited, never sent again
	}
	s := result.TraceLossSamples(hops)
	assert.Equal(t, []result.LossSample{{10, 8}, {10, 6}, {10, 2}, {10, 2}, {10, 2}}, s)
	loss := result.TraceLoss(hops)
	assert.InDeltaSlice(t, []float64{0.2, 0.2, 0.2, 0.2, 0.2}, loss, 1e-9)
}
