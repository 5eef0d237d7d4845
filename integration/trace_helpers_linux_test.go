package integration

import (
	"context"
	"fmt"
	"maps"
	"net/netip"
	"regexp"
	"slices"
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

// traceFamilies are the address families every traceroute test covers.
var traceFamilies = []struct {
	name string
	v6   bool
}{{"v4", false}, {"v6", true}}

// Transports a traceroute test runs through.
const (
	traceRaw   = "raw"   // raw sockets, opened as root in the client's namespace
	traceDgram = "dgram" // ping sockets, opened by a child process running as uid 65534 there
)

var traceBothModes = []string{traceRaw, traceDgram}

// tracePick gives a node's address of the family.
func tracePick(n lab.Node, v6 bool) netip.Addr {
	if v6 {
		return n.V6
	}
	return n.V4
}

// traceModes runs body once per mode as a subtest named after it, each on a chain of its own
// built from cfg, so that kernel state one run leaves behind (ICMP rate-limit tokens, cached
// path MTUs) does not reach the other. The raw run opens its transport inside the client's
// namespace; the dgram run starts this same subtest again in a child process, as uid 65534
// admitted by net.ipv4.ping_group_range, which opens ping sockets and runs body there.
func traceModes(t *testing.T, cfg lab.ChainConfig, modes []string, body func(t *testing.T, info lab.ChainInfo, tr transport.Transport)) {
	for _, mode := range modes {
		t.Run(mode, func(t *testing.T) {
			if lab.IsChild() {
				// The child runs as uid 65534 and may not build labs: it gets the parent's.
				require.Equal(t, traceDgram, mode, "only ping sockets run in a child")
				info := lab.ChildChain(t)
				tr, err := dgram.New(dgram.Config{})
				require.NoError(t, err, "open ping sockets as uid 65534")
				t.Cleanup(func() { tr.Close() })
				body(t, info, tr)
				return
			}
			lab.Require(t)
			c := lab.NewChain(t, cfg)
			if mode == traceDgram {
				res := c.RunChild(c.Client.NS, lab.Child{Test: t.Name(), Env: c.Env(), Timeout: time.Minute})
				if res.Passed { // else RunChild has failed the test with the whole output
					traceRelay(t, res.Output)
				}
				return
			}
			var tr *raw.Transport
			require.NoError(t, c.Do(c.Client.NS, func() error {
				var err error
				tr, err = raw.New(raw.Config{})
				return err
			}))
			t.Cleanup(func() { tr.Close() })
			body(t, c.ChainInfo, tr)
		})
	}
}

// traceLogRE matches a log line of a child's `go test -v` output.
var traceLogRE = regexp.MustCompile(`^(\s+)(trace_\w+_test\.go:\d+: .*)$`)

// traceRelay logs what a child logged (each entry with its continuation lines), and files
// the times it reported.
func traceRelay(t *testing.T, output string) {
	t.Helper()
	var entry []string
	indent := -1
	flush := func() {
		if len(entry) > 0 {
			t.Log("child: " + strings.Join(entry, "\n"))
		}
		entry, indent = nil, -1
	}
	for line := range strings.Lines(output) {
		line = strings.TrimRight(line, "\n")
		trimmed := strings.TrimLeft(line, " \t")
		if indent >= 0 && trimmed != "" && len(line)-len(trimmed) > indent {
			entry = append(entry, trimmed)
			continue
		}
		flush()
		m := traceLogRE.FindStringSubmatch(line)
		if m == nil {
			continue
		}
		indent = len(m[1])
		entry = append(entry, m[2])
		if e := traceTimeRE.FindStringSubmatch(m[2]); e != nil {
			if d, err := time.ParseDuration(e[2]); err == nil {
				traceTimes.Store(e[1], d)
			}
		}
	}
	flush()
}

// traceTimes holds, by test name, the time that traceTime reported, from this process or from
// a child.
var traceTimes sync.Map

var traceTimeRE = regexp.MustCompile(`trace time of (\S+): (\S+)$`)

// traceTime logs how long a trace took, in a form that traceRelay reads from a child.
func traceTime(t *testing.T, d time.Duration) {
	t.Helper()
	t.Logf("trace time of %s: %v", t.Name(), d)
	traceTimes.Store(t.Name(), d)
}

// traceTimeOf gives the time traceTime reported for a test.
func traceTimeOf(name string) (time.Duration, bool) {
	v, ok := traceTimes.Load(name)
	if !ok {
		return 0, false
	}
	return v.(time.Duration), true
}

// traceRun traces dst through tr and gives the trace, how long it took, and the distances
// that OnHop saw, in the order it saw them.
// traceRun traces dst over tr with a Prober made for the one trace, as a run of a program
// does (see traceRunOn).
func traceRun(t *testing.T, tr transport.Transport, dst netip.Addr, opts probe.TraceOptions) (*result.Trace, time.Duration, []int) {
	t.Helper()
	pr := probe.New(tr, nil)
	defer pr.Close()
	return traceRunOn(t, pr, dst, opts)
}

// traceRunOn traces dst over pr, a Prober that several traces may share: what its pacer
// learnt of the routers' rate limits serves the next trace.
func traceRunOn(t *testing.T, pr *probe.Prober, dst netip.Addr, opts probe.TraceOptions) (*result.Trace, time.Duration, []int) {
	t.Helper()
	var streamed []int
	opts.OnHop = func(h result.Hop) { streamed = append(streamed, h.Distance) }
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	start := time.Now()
	got, err := pr.Traceroute(ctx, dst, &opts)
	elapsed := time.Since(start)
	require.NoError(t, err, "trace %s", dst)
	require.NotNil(t, got)
	return got, elapsed, streamed
}

// traceHop is what a test expects of one distance.
type traceHop struct {
	addr        netip.Addr
	unreachable string
	mtu         int
}

// traceExpect gives, for the chain's target of the family, the address expected at each
// distance: every router, then the target, except the silent routers.
func traceExpect(info lab.ChainInfo, v6 bool) map[int]traceHop {
	want := map[int]traceHop{}
	for i, n := range info.Hops() {
		if !slices.Contains(info.Config.Silent, i+1) {
			want[i+1] = traceHop{addr: tracePick(n, v6)}
		}
	}
	return want
}

// traceLine renders one hop as the tests compare it: distance, responders, probes answered
// out of sent (left out when answered is negative), and the annotations.
func traceLine(distance int, responders []netip.Addr, answered, sent int, unreachable string, mtu int) string {
	s := fmt.Sprintf("%2d %v", distance, responders)
	if answered >= 0 {
		s += fmt.Sprintf(" %d/%d", answered, sent)
	}
	if unreachable != "" {
		s += " " + unreachable
	}
	if mtu != 0 {
		s += fmt.Sprintf(" mtu %d", mtu)
	}
	return s
}

// traceCheck asserts that the trace holds exactly the hops of want, in order, each answered
// by its address alone, with the annotations expected; that each hop answered all its count
// probes (with count 0: at least one of them); and that OnHop saw the same distances in the
// same order.
func traceCheck(t *testing.T, got *result.Trace, want map[int]traceHop, count int, streamed []int) {
	t.Helper()
	var wantLines, gotLines []string
	for _, d := range slices.Sorted(maps.Keys(want)) {
		w := want[d]
		answered := count
		if count == 0 {
			answered = -1
		}
		wantLines = append(wantLines, traceLine(d, []netip.Addr{w.addr}, answered, count, w.unreachable, w.mtu))
	}
	var gotDist []int
	for _, h := range got.Hops {
		answered := h.PacketsReceived()
		if count == 0 {
			assert.Positive(t, answered, "hop %d: answers", h.Distance)
			answered = -1
		}
		gotLines = append(gotLines, traceLine(h.Distance, h.Responders, answered, h.PacketsSent, h.Unreachable, h.MTU))
		gotDist = append(gotDist, h.Distance)
		if assert.NotEmpty(t, h.Responders, "hop %d: responders", h.Distance) {
			assert.Equal(t, h.Responders[0], h.Address, "hop %d: Address is the first responder", h.Distance)
		}
	}
	assert.Equal(t, wantLines, gotLines, "hops of the trace to %s (distance, responders, answered/sent)", got.Destination)
	assert.Equal(t, gotDist, streamed, "distances in the order OnHop saw them")
}

// traceLoss sums up how far a trace falls short of every distance of want answering all
// count probes: the distances missing, and the probes lost at the distances present.
func traceLoss(got *result.Trace, want map[int]traceHop, count int) (missing []int, lost int) {
	seen := map[int]bool{}
	for _, h := range got.Hops {
		seen[h.Distance] = true
		lost += count - h.PacketsReceived()
	}
	for d := range want {
		if !seen[d] {
			missing = append(missing, d)
			lost += count
		}
	}
	slices.Sort(missing)
	return missing, lost
}
