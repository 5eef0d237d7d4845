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
// path's loss up to k. The estimate goes in two steps:
//
//   - From the farthest distance back, a distance that loses more probes than the distances
//     beyond it make likely (a chance of 2% or less) is refusing answers, and its probes are
//     set aside: it takes the estimate beyond it, or, when chance cannot explain its figure at
//     all (1 in 10,000), that of the nearest distance before it whose probes count (the loss
//     starts no sooner than the figures require).
//   - The distances whose probes count are cut into runs of equal loss where the loss steps
//     up, as long as a step explains the figures better than chance would (a likelihood ratio
//     test, by binary segmentation); each distance takes its run's pooled loss.
//
// The estimates never decrease with distance. Distances with nothing sent take the estimate
// beyond them (0 when there is none). Uncertain reports, per distance, that its estimate
// rests on fewer than MinLossSamples probes.
func PathLoss(s []LossSample) (loss []float64, uncertain []bool) {
	refusing, clearly := refusals(s)
	return pathLoss(s, refusing, clearly)
}

// PacedPathLoss is PathLoss for the samples of a monitor that probes each router only as
// often as it answers (probe.Monitor), which a rate limit leaves no refusals in: a distance is
// taken as refusing answers (a router that drops a share of what it should answer whatever the
// pace) only when it loses more than the distances beyond it by more than chance explains,
// both figures' chance counted (Fisher's exact test), and it then takes the estimate beyond it,
// the bound the loss beyond sets. Any smaller excess is pooled with the distances beyond.
func PacedPathLoss(s []LossSample) (loss []float64, uncertain []bool) {
	n := len(s)
	refusing := make([]bool, n)
	var beyond LossSample
	for k := n - 1; k >= 0; k-- {
		if s[k].Sent <= 0 {
			continue
		}
		if beyond.Sent > 0 && s[k].Rate() > beyond.Rate() &&
			LossExcess(s[k].Lost, s[k].Sent, beyond.Lost, beyond.Sent) < refuseP {
			refusing[k] = true
			continue
		}
		beyond.Sent += s[k].Sent
		beyond.Lost += s[k].Lost
	}
	return pathLoss(s, refusing, make([]bool, n))
}

// LossExcess gives the one-sided p-value of Fisher's exact test that lostA of sentA probes
// lose more often than lostB of sentB: the chance, the lostA+lostB losses falling at random
// among all the probes, that the first sentA get lostA or more of them.
func LossExcess(lostA, sentA, lostB, sentB int) float64 {
	k, total := lostA+lostB, sentA+sentB
	lc := func(x, y int) float64 { // log of x choose y
		v1, _ := math.Lgamma(float64(x) + 1)
		v2, _ := math.Lgamma(float64(y) + 1)
		v3, _ := math.Lgamma(float64(x-y) + 1)
		return v1 - v2 - v3
	}
	p := 0.0
	for i := lostA; i <= min(sentA, k); i++ {
		if k-i <= sentB {
			p += math.Exp(lc(sentA, i) + lc(sentB, k-i) - lc(total, k))
		}
	}
	return min(p, 1)
}

func pathLoss(s []LossSample, refusing, clearly []bool) (loss []float64, uncertain []bool) {
	n := len(s)
	loss = make([]float64, n)
	uncertain = make([]bool, n)
	if n == 0 {
		return loss, uncertain
	}
	var kept []int // the distances whose probes count, nearest first
	for k := range s {
		if s[k].Sent > 0 && !refusing[k] {
			kept = append(kept, k)
		}
	}
	if len(kept) == 0 {
		return loss, uncertain
	}
	// run[i] is the run of kept[i]; runs are pooled samples.
	run := make([]int, len(kept))
	var runs []LossSample
	var segment func(lo, hi int)
	segment = func(lo, hi int) {
		if j, ok := bestStep(s, kept[lo:hi+1]); ok {
			segment(lo, lo+j)
			segment(lo+j+1, hi)
			return
		}
		var p LossSample
		for i := lo; i <= hi; i++ {
			p.Sent += s[kept[i]].Sent
			p.Lost += s[kept[i]].Lost
			run[i] = len(runs)
		}
		runs = append(runs, p)
	}
	segment(0, len(kept)-1)
	at := make([]int, n) // the run each distance takes
	for k := range at {
		at[k] = -1
	}
	for i, k := range kept {
		at[k] = run[i]
	}
	// The others: a clearly refusing distance takes the run of the nearest kept distance
	// before it; any other, that of the nearest kept distance beyond it (or before, if none).
	for k := range at {
		if at[k] >= 0 {
			continue
		}
		before, beyond := -1, -1
		for j := k - 1; j >= 0; j-- {
			if s[j].Sent > 0 && !refusing[j] {
				before = at[j]
				break
			}
		}
		for j := k + 1; j < n; j++ {
			if s[j].Sent > 0 && !refusing[j] {
				beyond = at[j]
				break
			}
		}
		switch {
		case clearly[k] && before >= 0, beyond < 0:
			at[k] = before
		default:
			at[k] = beyond
		}
	}
	for k := range n {
		if at[k] < 0 {
			continue
		}
		loss[k] = runs[at[k]].Rate()
		uncertain[k] = runs[at[k]].Sent < MinLossSamples
	}
	for k := n - 2; k >= 0; k-- {
		loss[k] = min(loss[k], loss[k+1])
	}
	return loss, uncertain
}

// refusals finds, from the farthest distance back, those that lose more than the pooled
// distances beyond them make likely; clearly marks those that chance cannot explain at all.
func refusals(s []LossSample) (refusing, clearly []bool) {
	n := len(s)
	refusing, clearly = make([]bool, n), make([]bool, n)
	var beyond LossSample
	for k := n - 1; k >= 0; k-- {
		if s[k].Sent <= 0 {
			continue
		}
		if beyond.Sent > 0 {
			if up := binomTail(s[k].Lost, s[k].Sent, beyond.Rate(), true); up < refuseP {
				refusing[k], clearly[k] = true, up < clearlyRefusingP
				continue
			}
			if binomTail(s[k].Lost, s[k].Sent, beyond.Rate(), false) < startP {
				// Before a step of the loss: compare the nearer ones with this one.
				beyond = LossSample{}
			}
		}
		beyond.Sent += s[k].Sent
		beyond.Lost += s[k].Lost
	}
	return refusing, clearly
}

// bestStep finds where, among the distances ks (nearest first), the loss steps up the most
// plausibly: the split into ks[:j+1] and ks[j+1:] with a lower loss before than after whose
// likelihood ratio against no step is largest, if it passes stepLR.
func bestStep(s []LossSample, ks []int) (j int, ok bool) {
	var all LossSample
	for _, k := range ks {
		all.Sent += s[k].Sent
		all.Lost += s[k].Lost
	}
	whole := logLikelihood(all)
	best := stepLR
	var before LossSample
	for i := 0; i < len(ks)-1; i++ {
		before.Sent += s[ks[i]].Sent
		before.Lost += s[ks[i]].Lost
		after := LossSample{Sent: all.Sent - before.Sent, Lost: all.Lost - before.Lost}
		if before.Rate() >= after.Rate() {
			continue
		}
		if lr := 2 * (logLikelihood(before) + logLikelihood(after) - whole); lr > best {
			best, j, ok = lr, i, true
		}
	}
	return j, ok
}

// logLikelihood is the binomial log-likelihood of s at its own rate (without the constant).
func logLikelihood(s LossSample) float64 {
	p := s.Rate()
	ll := 0.0
	if s.Lost > 0 {
		ll += float64(s.Lost) * math.Log(p)
	}
	if s.Sent > s.Lost {
		ll += float64(s.Sent-s.Lost) * math.Log1p(-p)
	}
	return ll
}

// MinLossSamples is the number of probes below which PathLoss calls an estimate uncertain.
const MinLossSamples = 20

const (
	// refuseP: a distance that loses at least as many probes as it had this probability
	// (or less) to lose at the loss rate beyond it is taken as refusing answers ...
	refuseP = 0.02
	// startP: ... and one that loses at most as many as it had this probability (or less)
	// to lose is taken as before a step of the loss, when looking for refusals.
	startP = 0.01
	// stepLR is the likelihood ratio statistic a step of the loss must pass: about 1 in 300
	// by chance for one place (chi-squared, one degree of freedom).
	stepLR = 9.0
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

// TraceLoss gives the estimated loss of the path up to each hop of a traceroute (PathLoss
// over TraceLossSamples): what a hop's PacketLoss should report, its RateLimited kept apart.
func TraceLoss(hops []Hop) []float64 {
	loss, _ := PathLoss(TraceLossSamples(hops))
	return loss
}
