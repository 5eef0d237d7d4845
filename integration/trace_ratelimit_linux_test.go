package integration

import (
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/icmpkit/icmpkit/internal/lab"
	"github.com/icmpkit/icmpkit/probe"
	"github.com/icmpkit/icmpkit/result"
	"github.com/icmpkit/icmpkit/transport"
	"github.com/icmpkit/icmpkit/transport/dgram"
	"github.com/icmpkit/icmpkit/transport/raw"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// rateLimitedRouters is the length of the rate-limited chains.
const rateLimitedRouters = 8

// rateLimitedOpen opens a transport of the kind tr is, as another process would: ping sockets
// in a child (which runs in the client's namespace), raw sockets in the client's namespace.
func rateLimitedOpen(t *testing.T, info lab.ChainInfo) transport.Transport {
	t.Helper()
	if lab.IsChild() {
		tr, err := dgram.New(dgram.Config{})
		require.NoError(t, err)
		return tr
	}
	var tr transport.Transport
	require.NoError(t, lab.Do(info.Client.NS, func() error {
		var err error
		tr, err = raw.New(raw.Config{})
		return err
	}))
	return tr
}

// rateLimitedSummary gives "answered/sent (limited)" for each hop of a trace.
func rateLimitedSummary(got *result.Trace) string {
	var b strings.Builder
	for _, h := range got.Hops {
		fmt.Fprintf(&b, " %d:%d/%d", h.Distance, h.PacketsReceived(), h.PacketsSent)
		if h.RateLimited > 0 {
			fmt.Fprintf(&b, "(%d)", h.RateLimited)
		}
	}
	return b.String()
}

// Routers with Linux's default ICMP rate limits answer each destination a burst of 6 errors,
// then one a second. Ten traces back to back, each through a transport of its own as ten runs
// of a program would be, get every answer at every hop: the first two from the bursts, the
// later ones because the tracer learns each router's limit, paces its probes to it and sends
// again those the limit took. IPv4 and IPv6, raw and ping sockets. How long each takes is
// logged, not asserted (bench/ratelimit.sh measures it, beside traceroute -I; the tracer's
// time bound is asserted over the in-memory network, on its fake clock).
func TestTraceRateLimitedBackToBack(t *testing.T) {
	const runs = 10
	cfg := lab.ChainConfig{Routers: rateLimitedRouters, RateLimited: true}
	for _, f := range traceFamilies {
		t.Run(f.name, func(t *testing.T) {
			traceModes(t, cfg, traceBothModes, func(t *testing.T, info lab.ChainInfo, first transport.Transport) {
				dst := tracePick(info.Target, f.v6)
				want := traceExpect(info, f.v6)
				var report []string
				for i := range runs {
					tr := first
					if i > 0 {
						tr = rateLimitedOpen(t, info)
					}
					got, elapsed, streamed := traceRun(t, tr, dst, probe.TraceOptions{})
					if i > 0 {
						require.NoError(t, tr.Close())
					}
					report = append(report, fmt.Sprintf("trace %2d: %v,%s", i+1, elapsed.Round(time.Millisecond), rateLimitedSummary(got)))
					assert.True(t, got.Reached, "trace %d: reached", i+1)
					traceCheck(t, got, want, probe.DefaultTraceCount, streamed)
				}
				t.Logf("%d traces back to back through rate-limited routers (distance:answered/sent(lost to the limit)):\n%s",
					runs, strings.Join(report, "\n"))
			})
		})
	}
}

// Ten traces at once over one Prober share what the routers can answer: every hop of each
// is exact, as the traces take turns at each router.
func TestTraceRateLimitedConcurrent(t *testing.T) {
	const traces = 10
	cfg := lab.ChainConfig{Routers: rateLimitedRouters, RateLimited: true}
	for _, f := range traceFamilies {
		t.Run(f.name, func(t *testing.T) {
			traceModes(t, cfg, traceBothModes, func(t *testing.T, info lab.ChainInfo, tr transport.Transport) {
				dst := tracePick(info.Target, f.v6)
				want := traceExpect(info, f.v6)
				got := make([]*result.Trace, traces)
				took := make([]time.Duration, traces)
				streamed := make([][]int, traces)
				pr := probe.New(tr, nil)
				defer pr.Close()
				var wg sync.WaitGroup
				for i := range traces {
					wg.Go(func() {
						var mu sync.Mutex
						opts := probe.TraceOptions{OnHop: func(h result.Hop) {
							mu.Lock()
							streamed[i] = append(streamed[i], h.Distance)
							mu.Unlock()
						}}
						start := time.Now()
						var err error
						got[i], err = pr.Traceroute(t.Context(), dst, &opts)
						took[i] = time.Since(start)
						assert.NoError(t, err, "trace %d", i+1)
					})
				}
				wg.Wait()
				var report []string
				for i := range traces {
					require.NotNil(t, got[i], "trace %d", i+1)
					report = append(report, fmt.Sprintf("trace %2d: %v,%s", i+1, took[i].Round(time.Millisecond), rateLimitedSummary(got[i])))
					assert.True(t, got[i].Reached, "trace %d: reached", i+1)
					traceCheck(t, got[i], want, probe.DefaultTraceCount, streamed[i])
				}
				t.Logf("%d traces at once over one transport through rate-limited routers:\n%s", traces, strings.Join(report, "\n"))
			})
		})
	}
}
