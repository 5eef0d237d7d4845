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

// monitorSummary gives "estimate (lost/sent, of which lost/sent before the pace; pings
// lost/sent)" for each hop.
func monitorSummary(p *result.Path) string {
	var b strings.Builder
	for _, h := range p.Hops {
		fmt.Fprintf(&b, " %d:%.0f%%(%d/%d,%d/%d;%d/%d)", h.Distance, 100*h.Loss, h.FirstLost, h.Sent, h.RateLimited, h.Unpaced, h.PingLost, h.Pinged)
	}
	return b.String()
}

// The monitor's loss figures on a lab chain of six hops over 100 cycles at 100 ms, mtr's
// -i 0.1: routers at Linux's ICMP rate limits with no loss show no loss; router 3 dropping 20%
// of the echo requests it forwards shows as 20% from hop 4 on and none before, with the rate
// limits and without. The routers answer one paced probe a second at most, about 16 in the
// run; their echo replies to the monitor's pings of their own addresses, which Linux does not
// limit, give the rest. Every hop is held to the tolerances: at most 3 points above zero up to
// router 3, and beyond it the binomial ones (99.9%) of the probes sent there. IPv4 and IPv6,
// raw and ping sockets; ICMPKIT_MONITOR_CYCLES runs more cycles.
func TestTraceMonitorLoss(t *testing.T) {
	const lossAt, loss = 3, 20
	for _, sit := range []struct {
		name    string
		cfg     lab.ChainConfig
		lossPct int
	}{
		{"limits", lab.ChainConfig{Routers: monitorRouters, RateLimited: true}, 0},
		{"loss", lab.ChainConfig{Routers: monitorRouters, ForwardLoss: loss, ForwardLossAt: lossAt}, loss},
		{"both", lab.ChainConfig{Routers: monitorRouters, RateLimited: true, ForwardLoss: loss, ForwardLossAt: lossAt}, loss},
	} {
		t.Run(sit.name, func(t *testing.T) {
			for _, f := range traceFamilies {
				t.Run(f.name, func(t *testing.T) {
					traceModes(t, sit.cfg, traceBothModes, func(t *testing.T, info lab.ChainInfo, tr transport.Transport) {
						dst := tracePick(info.Target, f.v6)
						cycles := monitorCycles(100)
						start := time.Now()
						var last *result.Path
						for p, err := range probe.Monitor(context.Background(), tr, dst, &probe.MonitorOptions{Cycles: cycles, Interval: 100 * time.Millisecond}) {
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
						for _, h := range last.Hops {
							got := int(100*h.Loss + 0.5)
							if h.Distance <= lossAt || sit.lossPct == 0 {
								assert.LessOrEqual(t, got, 3, "hop %d", h.Distance)
								continue
							}
							// The samples of the hop's own: its echo requests, else its paced probes.
							n := h.Sent - h.Unpaced
							if !h.PingRefused && h.Pinged > 0 {
								n = h.Pinged
							}
							lo, hi := rawBinomial(n, float64(sit.lossPct)/100, 0.999)
							assert.GreaterOrEqual(t, h.Loss*float64(n)+0.5, float64(lo), "hop %d: %d%%", h.Distance, got)
							assert.LessOrEqual(t, h.Loss*float64(n)-0.5, float64(hi), "hop %d: %d%%", h.Distance, got)
							assert.False(t, h.PingRefused, "hop %d: Linux answers every echo request", h.Distance)
						}
					})
				})
			}
		})
	}
}
