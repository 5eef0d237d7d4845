package probe_test

import (
	"cmp"
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/icmpkit/icmpkit/probe"
	"github.com/icmpkit/icmpkit/transport/mock"
)

// lossCase is one path the monitor's loss figures are held to: five routers and the
// destination (six hops), every router at a Linux rate limit or none, and router DropAt
// dropping Drop of the requests it forwards.
type lossCase struct {
	v6       bool
	limited  bool
	drop     float64
	dropAt   int
	interval time.Duration
	cycles   int  // 0: 100
	noPings  bool // the routers do not answer echo requests
}

func (c lossCase) String() string {
	f := "v4"
	if c.v6 {
		f = "v6"
	}
	ping := ""
	if c.noPings {
		ping = "/nopings"
	}
	return fmt.Sprintf("%s/limited=%t/drop=%g@%d/i=%v%s", f, c.limited, c.drop, c.dropAt, c.interval, ping)
}

// lossTolerance: every hop up to dropAt within 3 points of 0, beyond it within 8 points of
// the drop rate.
func (c lossCase) check(loss []float64) string {
	if len(loss) != 6 {
		return fmt.Sprintf("%d hops", len(loss))
	}
	var bad []string
	for i, l := range loss {
		want, tol := 0.0, 0.03
		if i+1 > c.dropAt {
			want, tol = c.drop, 0.08
		}
		if l < want-tol-1e-9 || l > want+tol+1e-9 {
			bad = append(bad, fmt.Sprintf("hop %d %.1f%%", i+1, 100*l))
		}
	}
	return strings.Join(bad, ", ")
}

// run monitors the case's path for 100 cycles with the network's seed and gives each hop's
// Loss.
func (c lossCase) run(t *testing.T, seed uint64) []float64 {
	var loss []float64
	synctest.Test(t, func(t *testing.T) {
		n := mock.NewNetwork(mock.Config{Seed: seed})
		tr := n.Transport(mock.TransportConfig{})
		defer tr.Close()
		dst := monitorDsts[0]
		limit := mock.LinuxRateLimit
		if c.v6 {
			// Linux's IPv6 limit over a /64 route back to the prober: a quarter of
			// net.ipv6.icmp.ratelimit=1000.
			dst, limit.Interval = monitorDsts[1], 250*time.Millisecond
		}
		tweak := func(k int, r *mock.Router) {
			if c.limited {
				r.RateLimit = limit
			}
			if k == c.dropAt {
				r.Drop = c.drop
			}
		}
		routers := monitorChain(t, n, dst, 5, mock.Host{}, tweak)
		if !c.noPings {
			// Each router answers echo requests to its own address, which cross the
			// routers before it as the probes do.
			for k, a := range routers {
				var hops []mock.Hop
				for j := 1; j <= k; j++ {
					r := mock.Router{Addr: routerAddr(dst, j, 1), Latency: time.Duration(j) * time.Millisecond}
					tweak(j, &r)
					hops = append(hops, r)
				}
				require.NoError(t, n.AddPath(a, hops...))
				require.NoError(t, n.AddHost(a, mock.Host{Latency: time.Duration(k+1) * time.Millisecond}))
			}
		}
		paths := monitorAll(t, tr, dst, &probe.MonitorOptions{Cycles: cmp.Or(c.cycles, 100), Interval: c.interval})
		require.NotEmpty(t, paths)
		for _, h := range paths[len(paths)-1].Hops {
			loss = append(loss, h.Loss)
		}
	})
	return loss
}

// answers is the number of answers a router's limit allows in 100 cycles.
func (c lossCase) answers() float64 {
	span := float64(cmp.Or(c.cycles, 100)) * c.interval.Seconds()
	switch {
	case !c.limited:
		return float64(cmp.Or(c.cycles, 100))
	case c.v6:
		return span * 4
	default:
		return span
	}
}

// The loss figures of 100 cycles on a rate-limited, lossy chain, twenty networks of each case.
// With routers that answer echo requests to their own addresses, as Linux's do without limit,
// every run at every pace holds to the tolerances but for a chance miss (a step of 10 to 30%
// placed from about 100 echo requests a hop, beside the paced probes), and the figures are
// right on average. With routers that do not (nopings), the paced probes alone: at mtr's
// default pace the same; at faster paces, where a router's limit allows fewer answers than
// cycles, the figures are right on average as long as the routers can give 40 answers (or 20,
// for a loss of 20% or more, more loosely); below that a step is too often lost among a
// router's few answers (the distances before it then show the loss beyond, the bound it
// sets), and the figures are held to their bounds alone.
// ICMPKIT_MONITOR_TRIALS=N runs N networks of each case and reports how many missed.
func TestMonitorLossTolerances(t *testing.T) {
	if raceDetector {
		// 1,200 simulated runs of 100 cycles, a goroutine a probe: a statistical check, not
		// a concurrency one (the other monitor tests run under the race detector), and
		// more goroutines than the race detector's runtime copes with inside synctest.
		t.Skip("statistical simulation: run without -race")
	}
	trials, survey := 20, false
	if s := os.Getenv("ICMPKIT_MONITOR_TRIALS"); s != "" {
		n, err := strconv.Atoi(s)
		require.NoError(t, err)
		trials, survey = n, true
	}
	var cases []lossCase
	for _, v6 := range []bool{false, true} {
		for _, iv := range []time.Duration{100 * time.Millisecond, 200 * time.Millisecond, time.Second} {
			for _, noPings := range []bool{false, true} {
				cases = append(cases,
					lossCase{v6: v6, limited: true, dropAt: 3, interval: iv, noPings: noPings},
					lossCase{v6: v6, drop: 0.2, dropAt: 3, interval: iv, noPings: noPings},
					lossCase{v6: v6, limited: true, drop: 0.2, dropAt: 3, interval: iv, noPings: noPings},
					lossCase{v6: v6, limited: true, drop: 0.1, dropAt: 2, interval: iv, noPings: noPings},
					lossCase{v6: v6, limited: true, drop: 0.3, dropAt: 4, interval: iv, noPings: noPings})
			}
		}
	}
	for _, c := range cases {
		t.Run(c.String(), func(t *testing.T) {
			missed := 0
			mean := make([]float64, 6)
			for seed := range uint64(trials) {
				loss := c.run(t, seed+1)
				require.Len(t, loss, 6)
				for i, l := range loss {
					mean[i] += l / float64(trials)
					// Bounds, whatever the pace: the loss never exceeds the destination's by
					// more than chance, nor decreases along the path.
					assert.LessOrEqual(t, l, loss[5]+1e-9, "seed %d hop %d", seed+1, i+1)
					if i > 0 {
						assert.GreaterOrEqual(t, l, loss[i-1], "seed %d hop %d", seed+1, i+1)
					}
				}
				if bad := c.check(loss); bad != "" {
					missed++
					if survey && missed <= 3 {
						t.Logf("seed %d: %s (losses %.3f)", seed+1, bad, loss)
					}
				}
			}
			if survey {
				t.Logf("SURVEY %s: %d of %d missed, mean %.3f", c, missed, trials, mean)
				return
			}
			if !c.noPings || c.interval >= time.Second {
				assert.LessOrEqual(t, missed, trials/5, "runs out of tolerance")
			}
			for i, m := range mean {
				switch {
				case (!c.noPings || c.answers() >= 40) && i+1 > c.dropAt:
					assert.InDelta(t, c.drop, m, 0.04, "hop %d on average", i+1)
				case c.answers() >= 20 && i+1 > c.dropAt && c.drop >= 0.2:
					assert.InDelta(t, c.drop, m, 0.08, "hop %d on average", i+1)
				case (!c.noPings || c.answers() >= 40) && i+1 <= c.dropAt,
					c.answers() >= 20 && i+1 <= c.dropAt && c.drop != 0.1:
					assert.LessOrEqual(t, m, 0.025, "hop %d on average: no refusal counted as loss", i+1)
				}
			}
		})
	}
}
