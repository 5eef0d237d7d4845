package result

import "math"

// LossSample is what the probes of one distance showed: Sent probes, of which Lost went
// unanswered at their first send (a probe answered only when sent again counts as lost here:
// a lost packet and a router's refusal to answer look the same to one probe).
type LossSample struct {
	Sent, Lost int
}

// Rate is Lost/Sent, 0 when nothing was sent.
func (s LossSample) Rate() float64 {
	if s.Sent == 0 {
		return 0
	}
	return float64(s.Lost) / float64(s.Sent)
}

// PathLoss estimates, for each distance of a path listed nearest first, the fraction (0..1)
// of packets the path loses up to that distance, telling it apart from a router's refusal to
// answer (an ICMP rate limit, a router that never answers).
//
// A probe to distance k goes unanswered when the path up to k loses it or when router k does
// not answer; only the first continues to every farther distance, and the destination's own
// echo replies are never rate limited. So the loss seen at any farther distance bounds the
// path's loss up to k, and the estimate is built from the farthest distance back:
//
//   - a distance that loses more probes than the estimate beyond it makes likely (a chance of
//     2% or less) is refusing answers: its probes are not pooled, and it gets the estimate
//     beyond it; when chance cannot explain its figure at all (1 in 10,000), it gets the
//     estimate of the nearest distance before it that is not refusing (the loss starts no
//     sooner than the figures require), or with none, the estimate beyond it;
//   - a distance that loses fewer than the estimate beyond it makes likely (1% or less) is
//     before the point where the loss starts: it starts an estimate of its own;
//   - otherwise it measures the same loss, and its probes are pooled with those beyond it,
//     which all get the pooled rate.
//
// The estimates never decrease with distance. Distances with nothing sent take the estimate
// beyond them (0 when there is none). Uncertain reports, per distance, that its estimate
// rests on fewer than MinLossSamples probes.
func PathLoss(s []LossSample) (loss []float64, uncertain []bool) {
	n := len(s)
	loss = make([]float64, n)
	uncertain = make([]bool, n)
	if n == 0 {
		return loss, uncertain
	}
	// Blocks of pooled distances, farthest first; block[k] is the block whose rate distance
	// k takes.
	type pool struct{ sent, lost int }
	var blocks []pool
	block := make([]int, n)
	refusing := make([]bool, n)
	for k := n - 1; k >= 0; k-- {
		cur := len(blocks) - 1
		switch {
		case s[k].Sent <= 0:
			if cur < 0 {
				blocks = append(blocks, pool{})
				cur = 0
			}
		case cur < 0:
			blocks = append(blocks, pool{s[k].Sent, s[k].Lost})
			cur = 0
		default:
			b := &blocks[cur]
			if b.sent == 0 {
				b.sent, b.lost = s[k].Sent, s[k].Lost
				break
			}
			e := float64(b.lost) / float64(b.sent)
			switch up := binomTail(s[k].Lost, s[k].Sent, e, true); {
			case up < refuseP:
				// Refusing answers: its own figure says only that the loss up to it is no
				// more than the loss beyond; it takes the figure of the nearest distance before
				// it that answers honestly (resolved below), as the loss starts no sooner
				// than the figures require.
				refusing[k] = up < clearlyRefusingP
			case binomTail(s[k].Lost, s[k].Sent, e, false) < startP:
				blocks = append(blocks, pool{s[k].Sent, s[k].Lost})
				cur++
			default:
				b.sent += s[k].Sent
				b.lost += s[k].Lost
			}
		}
		block[k] = cur
	}
	for k := n - 1; k >= 0; k-- {
		if !refusing[k] {
			continue
		}
		for j := k - 1; j >= 0; j-- {
			if !refusing[j] {
				block[k] = block[j]
				break
			}
		}
	}
	for k := range n {
		b := blocks[block[k]]
		if b.sent > 0 {
			loss[k] = float64(b.lost) / float64(b.sent)
		}
		uncertain[k] = b.sent < MinLossSamples
	}
	for k := n - 2; k >= 0; k-- {
		loss[k] = min(loss[k], loss[k+1])
	}
	return loss, uncertain
}

// MinLossSamples is the number of probes below which PathLoss calls an estimate uncertain.
const MinLossSamples = 20

const (
	// refuseP: a distance that loses at least as many probes as it had this probability
	// (or less) to lose at the loss rate beyond it is taken as refusing answers ...
	refuseP = 0.02
	// startP: ... and one that loses at most as many as it had this probability (or less)
	// to lose is taken as before the loss.
	startP = 0.01
	// clearlyRefusingP: a refusing distance whose loss had this probability or less at the
	// rate beyond it takes the estimate of the distances before it.
	clearlyRefusingP = 1e-4
)

// binomTail gives P(X >= x) when upper, else P(X <= x), for X binomial with n trials of
// probability p; above exactTrials trials by the normal approximation.
func binomTail(x, n int, p float64, upper bool) float64 {
	switch {
	case p <= 0:
		if upper && x > 0 {
			return 0
		}
		return 1
	case p >= 1:
		if !upper && x < n {
			return 0
		}
		return 1
	}
	if n > exactTrials {
		mu, sd := float64(n)*p, math.Sqrt(float64(n)*p*(1-p))
		if upper {
			return 0.5 * math.Erfc((float64(x)-0.5-mu)/sd/math.Sqrt2)
		}
		return 0.5 * math.Erfc((mu-float64(x)-0.5)/sd/math.Sqrt2)
	}
	lo, hi := 0, x
	if upper {
		lo, hi = x, n
	}
	// The terms from i = lo, in logs to start, then by the ratio of consecutive terms.
	lg := func(k int) float64 { v, _ := math.Lgamma(float64(k) + 1); return v }
	term := math.Exp(lg(n) - lg(lo) - lg(n-lo) + float64(lo)*math.Log(p) + float64(n-lo)*math.Log1p(-p))
	sum := 0.0
	for i := lo; i <= hi; i++ {
		sum += term
		term *= float64(n-i) / float64(i+1) * p / (1 - p)
	}
	return min(sum, 1)
}

// LossTail gives the probability that sent probes, each lost with probability rate, lose lost
// or more of them.
func LossTail(lost, sent int, rate float64) float64 { return binomTail(lost, sent, rate, true) }

// exactTrials bounds the trials binomTail sums exactly.
const exactTrials = 2000

// TraceLossSamples gives the LossSample of each hop of a traceroute, for PathLoss: a hop's
// probes unanswered in the end, and those answered only when sent again past a rate limit
// (counted from RateLimited, which counts the sends: a probe sent more than twice counts more
// than once, which only raises the hop's figure, and PathLoss bounds it by the hops beyond).
// Distances that never answered are not in a Trace; they would only be bounded by the hops
// beyond them.
func TraceLossSamples(hops []Hop) []LossSample {
	s := make([]LossSample, len(hops))
	for i := range hops {
		h := &hops[i]
		recv := h.PacketsReceived()
		s[i] = LossSample{Sent: h.PacketsSent, Lost: h.PacketsSent - recv + min(h.RateLimited, recv)}
	}
	return s
}
