package integration

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/icmpkit/icmpkit/internal/lab"
	"github.com/icmpkit/icmpkit/probe"
	"github.com/icmpkit/icmpkit/transport"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// traceRouters makes a 30-hop chain: 29 routers and the target at distance 30, which the
// default MaxHops (30) reaches.
const traceRouters = 29

// Every router of a 30-hop chain answers: the trace lists them at distances 1..29 and the
// target at 30, every probe answered, and streams the hops in order.
func TestTraceChain(t *testing.T) {
	traceModes(t, lab.ChainConfig{Routers: traceRouters}, traceBothModes, func(t *testing.T, info lab.ChainInfo, tr transport.Transport) {
		for _, f := range traceFamilies {
			t.Run(f.name, func(t *testing.T) {
				dst := tracePick(info.Target, f.v6)
				got, elapsed, streamed := traceRun(t, tr, dst, probe.TraceOptions{})
				traceTime(t, elapsed)
				assert.True(t, got.Reached, "reached")
				assert.Equal(t, dst, got.Destination)
				want := traceExpect(info, f.v6)
				require.Len(t, want, 30)
				traceCheck(t, got, want, probe.DefaultTraceCount, streamed)
			})
		}
	})
}

// Twenty routers in a row are silent on a 30-hop chain: the window moves past them, so the
// trace takes about one timeout rather than one per silent distance, and lists exactly the
// ten distances that answer.
func TestTraceSilentRouters(t *testing.T) {
	const timeout = 2 * time.Second
	var silent []int
	for k := 2; k <= 21; k++ {
		silent = append(silent, k)
	}
	cfg := lab.ChainConfig{Routers: traceRouters, Silent: silent}
	traceModes(t, cfg, traceBothModes, func(t *testing.T, info lab.ChainInfo, tr transport.Transport) {
		for _, f := range traceFamilies {
			t.Run(f.name, func(t *testing.T) {
				dst := tracePick(info.Target, f.v6)
				got, elapsed, streamed := traceRun(t, tr, dst, probe.TraceOptions{Timeout: timeout})
				traceTime(t, elapsed)
				assert.True(t, got.Reached, "reached")
				want := traceExpect(info, f.v6)
				require.Len(t, want, 10)
				traceCheck(t, got, want, probe.DefaultTraceCount, streamed)
				// The goal is 3 s. The bound asserted leaves room for a loaded machine, and still
				// fails a trace that waits out two timeouts in a row (hop by hop: 20 of them).
				t.Logf("%d silent routers, timeout %v: trace took %v (goal: at most 3s)", len(silent), timeout, elapsed)
				assert.Less(t, elapsed, 2*timeout, "a trace past silent routers waits about one timeout in all")
			})
		}
	})
}

// Path MTU discovery on chains whose links have smaller MTUs: the trace finds the smallest,
// and each hop reports the MTU of the path up to it. In "middle" it drops at distances 2 and
// 4; in "first link" the client's own link is the first drop. A second trace through the same
// transport, once the kernel has learnt the path MTU, must find the same.
func TestTracePathMTU(t *testing.T) {
	cases := []struct {
		name string
		mtus map[int]int // link → MTU; link i joins the nodes at distances i and i+1
	}{
		{"middle", map[int]int{1: 1450, 3: 1300}},
		{"first link", map[int]int{0: 1400, 3: 1300}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cfg := lab.ChainConfig{Routers: 5, MTU: tc.mtus}
			traceModes(t, cfg, traceBothModes, func(t *testing.T, info lab.ChainInfo, tr transport.Transport) {
				for _, f := range traceFamilies {
					t.Run(f.name, func(t *testing.T) {
						dst := tracePick(info.Target, f.v6)
						want := traceExpect(info, f.v6)
						// The probe for distance d crosses links 0..d-1.
						pmtu := 1500
						for d := 1; d <= len(want); d++ {
							if m, ok := tc.mtus[d-1]; ok {
								pmtu = min(pmtu, m)
							}
							w := want[d]
							w.mtu = pmtu
							want[d] = w
						}
						for _, run := range []string{"first", "again"} {
							got, elapsed, streamed := traceRun(t, tr, dst, probe.TraceOptions{PathMTU: true})
							t.Logf("%s trace: path MTU %d in %v", run, got.PathMTU, elapsed)
							assert.True(t, got.Reached, "%s trace: reached", run)
							assert.Equal(t, pmtu, got.PathMTU, "%s trace: path MTU", run)
							traceCheck(t, got, want, probe.DefaultTraceCount, streamed)
						}
					})
				}
			})
		})
	}
}

// A destination behind an "unreachable" route: the trace ends at the router that refuses it,
// annotated as traceroute(8) does (!H for ICMP host unreachable, !N for ICMPv6 no route), and
// does not wait for the probes it sent beyond.
//
// Linux limits the IPv4 unreachables of such a route apart from the ICMP rate limits that the
// lab lifts: net.ipv4.route.error_cost and error_burst, a bucket per source (a burst of 5, then
// one a second) whose sysctls are global, out of a namespace's reach. The probes sent beyond
// the router in the same window reach it too and spend that burst, so with three probes a
// distance the router answers the first alone, and the trace waits out the other two (a
// real router's unreachable limit does the same). With one probe a distance, sent when a
// token has come back, the router's own probe is the first to use it.
func TestTraceUnreachable(t *testing.T) {
	cfg := lab.ChainConfig{Routers: 5, Unreachable: 1, UnreachableAt: 3}
	traceModes(t, cfg, traceBothModes, func(t *testing.T, info lab.ChainInfo, tr transport.Transport) {
		for _, f := range traceFamilies {
			t.Run(f.name, func(t *testing.T) {
				dst, mark := info.UnreachableV4[0], "!H"
				if f.v6 {
					dst, mark = info.UnreachableV6[0], "!N"
				}
				want := map[int]traceHop{
					1: {addr: tracePick(info.Router(1), f.v6)},
					2: {addr: tracePick(info.Router(2), f.v6)},
					3: {addr: tracePick(info.UnreachableFrom(), f.v6), unreachable: mark},
				}

				got, elapsed, streamed := traceRun(t, tr, dst, probe.TraceOptions{})
				answered := 0
				if len(got.Hops) > 0 {
					answered = got.Hops[len(got.Hops)-1].PacketsReceived()
				}
				t.Logf("%d probes a distance: the trace to %s ended after %d hops in %v, %d probes answered at the last",
					probe.DefaultTraceCount, dst, len(got.Hops), elapsed, answered)
				assert.False(t, got.Reached, "reached")
				// The lab's unreachables go through the lifted ICMP rate limit alone.
				traceCheck(t, got, want, probe.DefaultTraceCount, streamed)
				assert.Less(t, elapsed, probe.DefaultTimeout, "no probe beyond the unreachable router is waited for")

				got, elapsed, streamed = traceRun(t, tr, dst, probe.TraceOptions{Count: 1})
				t.Logf("1 probe a distance: the trace to %s ended after %d hops in %v", dst, len(got.Hops), elapsed)
				assert.False(t, got.Reached, "reached")
				traceCheck(t, got, want, 1, streamed)
				assert.Less(t, elapsed, probe.DefaultTimeout, "no probe beyond the unreachable router is waited for")
			})
		}
	})
}

// Routers keep the kernel's ICMP rate limits: time exceeded to one destination in a burst of
// 6, then one a second for IPv4 (net.ipv4.icmp_ratelimit=1000 ms) and one each 25 ms for IPv6
// toward a /64 (net.ipv6.icmp.ratelimit=100 ms, shortened for wide prefixes). A trace with the
// default 3 probes a distance gets an answer to each, and so does a second one straight after
// from what the buckets hold; a third one over the same Prober, which finds the IPv4 buckets
// spent, gets its answers from the pacing of its probes (see TestTraceRateLimitedBackToBack). The unlimited chain runs
// the same traces as the control, and the times of both first traces are compared.
func TestTraceRateLimits(t *testing.T) {
	const traces = 3
	for _, limited := range []bool{false, true} {
		name := "unlimited"
		if limited {
			name = "default"
		}
		t.Run(name, func(t *testing.T) {
			cfg := lab.ChainConfig{Routers: traceRouters, DefaultRateLimits: limited}
			traceModes(t, cfg, traceBothModes, func(t *testing.T, info lab.ChainInfo, tr transport.Transport) {
				for _, f := range traceFamilies {
					t.Run(f.name, func(t *testing.T) {
						dst := tracePick(info.Target, f.v6)
						want := traceExpect(info, f.v6)
						var report []string
						pr := probe.New(tr, nil)
						defer pr.Close()
						for i := range traces {
							got, elapsed, streamed := traceRunOn(t, pr, dst, probe.TraceOptions{})
							missing, lost := traceLoss(got, want, probe.DefaultTraceCount)
							report = append(report, fmt.Sprintf("trace %d: %v, %d of %d probes unanswered, distances missing %v",
								i+1, elapsed.Round(time.Millisecond), lost, len(want)*probe.DefaultTraceCount, missing))
							if i == 0 {
								traceTime(t, elapsed)
							}
							assert.True(t, got.Reached, "trace %d: reached", i+1)
							traceCheck(t, got, want, probe.DefaultTraceCount, streamed)
						}
						t.Logf("rate limits %s, %d traces back to back:\n%s", name, traces, strings.Join(report, "\n"))
					})
				}
			})
		})
	}
	if lab.IsChild() {
		return
	}
	for _, mode := range traceBothModes {
		for _, f := range traceFamilies {
			suffix := "/" + mode + "/" + f.name
			free, ok1 := traceTimeOf(t.Name() + "/unlimited" + suffix)
			slow, ok2 := traceTimeOf(t.Name() + "/default" + suffix)
			if ok1 && ok2 {
				t.Logf("%s %s: first trace %v with default rate limits, %v without: ratio %.2f (goal: at most 3)",
					mode, f.name, slow, free, float64(slow)/float64(free))
			}
		}
	}
}

// Twenty traces in a row of a 30-hop chain through ping sockets, IPv4 and IPv6: none loses a
// probe, so every hop of every trace has all its answers.
func TestTraceRepeated(t *testing.T) {
	const runs = 20
	traceModes(t, lab.ChainConfig{Routers: traceRouters}, []string{traceDgram}, func(t *testing.T, info lab.ChainInfo, tr transport.Transport) {
		for _, f := range traceFamilies {
			t.Run(f.name, func(t *testing.T) {
				dst := tracePick(info.Target, f.v6)
				want := traceExpect(info, f.v6)
				var times []time.Duration
				for i := range runs {
					got, elapsed, streamed := traceRun(t, tr, dst, probe.TraceOptions{})
					times = append(times, elapsed)
					missing, lost := traceLoss(got, want, probe.DefaultTraceCount)
					if !assert.Zero(t, lost, "trace %d of %d: probes unanswered (distances missing: %v)", i+1, runs, missing) {
						traceCheck(t, got, want, probe.DefaultTraceCount, streamed)
					}
					assert.True(t, got.Reached, "trace %d: reached", i+1)
				}
				slices.Sort(times)
				t.Logf("%d traces: min %v, median %v, max %v", runs, times[0], times[len(times)/2], times[len(times)-1])
			})
		}
	})
}
