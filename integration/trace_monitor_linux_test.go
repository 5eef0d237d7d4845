package integration

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/icmpkit/icmpkit/internal/lab"
	"github.com/icmpkit/icmpkit/probe"
	"github.com/icmpkit/icmpkit/result"
	"github.com/icmpkit/icmpkit/transport"
)

// monitorRouters is the length of the monitored chains: six hops, as in bench/mtr.sh.
const monitorRouters = 5

// monitorCycles gives the cycles of a lab monitor run: ICMPKIT_MONITOR_CYCLES, or def.
func monitorCycles(def int) int {
	if n, err := strconv.Atoi(os.Getenv("ICMPKIT_MONITOR_CYCLES")); err == nil && n > 0 {
		return n
	}
	return def
}

// monitorSummary gives "estimate (lost/sent, of which lost/sent before the pace)" for each hop.
func monitorSummary(p *result.Path) string {
	var b strings.Builder
	for _, h := range p.Hops {
		fmt.Fprintf(&b, " %d:%.0f%%(%d/%d,%d/%d)", h.Distance, 100*h.Loss, h.FirstLost, h.Sent, h.RateLimited, h.Unpaced)
	}
	return b.String()
}

// The monitor's loss figures on a lab chain of six hops, at 100 or 200 ms a cycle: routers at
// Linux's ICMP rate limits with no loss show no loss; router 3 dropping 20% of the echo
// requests it forwards shows as 20% from hop 4 on and none before (with the rate limits too,
// see below). The tolerances are the binomial ones of the probes sent to each hop (99.9%), and at
// most 3 points above zero before the loss. IPv4 and IPv6, raw and ping sockets;
// ICMPKIT_MONITOR_CYCLES runs more cycles (bench/mtr.sh runs the command for 100 at 0.2 s).
func TestTraceMonitorLoss(t *testing.T) {
	const lossAt, loss = 3, 20
	for _, sit := range []struct {
		name     string
		cfg      lab.ChainConfig
		cycles   int
		interval time.Duration
		lossPct  int
		exact    bool // every hop held to the tolerances
	}{
		// The routers answer one probe a second once their burst is spent: the monitor needs
		// about 5 s to learn that, and asks them once a second after. With the loss too, the
		// paced probes (about 20 a router in 30 s) are too few to place the step of the loss
		// every time: about one run in five puts it a hop off (bench/mtr.sh reports the
		// figures). Loss alone over 60 cycles is placed within the tolerances nearly always,
		// but not always: when the destination loses far fewer by chance than the hops before
		// it (5 of 60 against 15 of 60, seen once), those hops read as refusing answers and take
		// the loss before the step. Both cases hold the monitor to what it always gives: the
		// routers' limits are not loss, no hop loses more than the destination, and the
		// destination's own figure is right; the tolerances are logged.
		{"limits", lab.ChainConfig{Routers: monitorRouters, RateLimited: true}, 30, 100 * time.Millisecond, 0, true},
		{"loss", lab.ChainConfig{Routers: monitorRouters, ForwardLoss: loss, ForwardLossAt: lossAt}, 60, 100 * time.Millisecond, loss, false},
		{"both", lab.ChainConfig{Routers: monitorRouters, RateLimited: true, ForwardLoss: loss, ForwardLossAt: lossAt}, 150, 200 * time.Millisecond, loss, false},
	} {
		t.Run(sit.name, func(t *testing.T) {
			for _, f := range traceFamilies {
				t.Run(f.name, func(t *testing.T) {
					traceModes(t, sit.cfg, traceBothModes, func(t *testing.T, info lab.ChainInfo, tr transport.Transport) {
						dst := tracePick(info.Target, f.v6)
						cycles := monitorCycles(sit.cycles)
						start := time.Now()
						var last *result.Path
						for p, err := range probe.Monitor(context.Background(), tr, dst, &probe.MonitorOptions{Cycles: cycles, Interval: sit.interval}) {
							require.NoError(t, err)
							last = p
						}
						t.Logf("%d cycles in %v:%s", cycles, time.Since(start).Round(time.Millisecond), monitorSummary(last))
						require.NotNil(t, last)
						require.Len(t, last.Hops, monitorRouters+1)
						assert.True(t, last.Hops[monitorRouters].Target)
						target := last.Hops[monitorRouters]
						lo, hi := rawBinomial(target.Sent, float64(sit.lossPct)/100, 0.999)
						assert.GreaterOrEqual(t, target.Loss*float64(target.Sent)+0.5, float64(lo), "the destination")
						assert.LessOrEqual(t, target.Loss*float64(target.Sent)-0.5, float64(hi), "the destination")
						if !sit.exact {
							for _, h := range last.Hops[:monitorRouters] {
								assert.LessOrEqual(t, h.Loss, target.Loss, "hop %d", h.Distance)
								if h.Distance <= lossAt && sit.cfg.RateLimited {
									assert.Less(t, h.Loss, h.AnswerLoss(), "hop %d: its limit is not loss", h.Distance)
								}
							}
							return
						}
						for _, h := range last.Hops {
							got := int(100*h.Loss + 0.5)
							if h.Distance <= lossAt || sit.lossPct == 0 {
								assert.LessOrEqual(t, got, 3, "hop %d", h.Distance)
								continue
							}
							lo, hi := rawBinomial(h.Sent, float64(sit.lossPct)/100, 0.999)
							assert.GreaterOrEqual(t, h.Loss*float64(h.Sent)+0.5, float64(lo), "hop %d: %d%%", h.Distance, got)
							assert.LessOrEqual(t, h.Loss*float64(h.Sent)-0.5, float64(hi), "hop %d: %d%%", h.Distance, got)
						}
					})
				})
			}
		})
	}
}
