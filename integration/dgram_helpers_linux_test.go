package integration

import (
	"context"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/icmpkit/icmpkit/internal/lab"
	"github.com/icmpkit/icmpkit/probe"
	"github.com/icmpkit/icmpkit/result"
	"github.com/icmpkit/icmpkit/transport"
	"github.com/icmpkit/icmpkit/transport/dgram"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Environment variables a parent test passes to its children besides the lab's addresses.
const (
	dgramEnvRole    = "ICMPKIT_DGRAM_ROLE"     // which part of a test a child plays
	dgramEnvRawHops = "ICMPKIT_DGRAM_RAW_HOPS" // the hop list a raw traceroute gave, as JSON
	dgramEnvBarrier = "ICMPKIT_DGRAM_BARRIER"  // directory where concurrent children meet
)

// dgramChildTimeout bounds each child's run.
const dgramChildTimeout = time.Minute

// dgramFamilies are the address families every test covers.
var dgramFamilies = []struct {
	name string
	v6   bool
}{{"v4", false}, {"v6", true}}

// dgramPick gives a node's address of the family.
func dgramPick(n lab.Node, v6 bool) netip.Addr {
	if v6 {
		return n.V6
	}
	return n.V4
}

// dgramRole gives the role the parent gave this child process.
func dgramRole() string { return os.Getenv(dgramEnvRole) }

// dgramChildStart checks what every child checks first: it runs as uid 65534 (not root), and
// gives the lab's addresses.
func dgramChildStart(t *testing.T) lab.ChainInfo {
	t.Helper()
	require.Equal(t, lab.Nobody, os.Getuid(), "the child runs as nobody")
	require.Equal(t, lab.Nobody, os.Getgid(), "the child runs in group nogroup")
	return lab.ChildChain(t)
}

// dgramOpen opens a datagram transport with both families, as the child's user, and closes
// it at the end of the test.
func dgramOpen(t *testing.T) *dgram.Transport {
	t.Helper()
	tr, err := dgram.New(dgram.Config{})
	require.NoError(t, err, "open ping sockets as uid %d", os.Getuid())
	t.Cleanup(func() { assert.NoError(t, tr.Close()) })
	v4, v6 := tr.Families()
	require.True(t, v4 && v6, "both families open (v4 %v, v6 %v)", v4, v6)
	return tr
}

// dgramRunChild runs the test named test as uid 65534 in the chain's client namespace, with
// the chain's addresses and env, and relays what the child logged. The caller checks
// res.Passed: RunChild is told MayFail so that it can run from any goroutine.
func dgramRunChild(t *testing.T, c *lab.Chain, test, pingGroupRange string, env ...string) lab.ChildResult {
	t.Helper()
	res := c.RunChild(c.Client.NS, lab.Child{
		Test:           test,
		Env:            append(c.Env(), env...),
		PingGroupRange: pingGroupRange,
		Timeout:        dgramChildTimeout,
		MayFail:        true,
	})
	return res
}

// dgramRequirePassed fails the test with the child's output unless the child passed, and
// relays its log lines.
func dgramRequirePassed(t *testing.T, what string, res lab.ChildResult) {
	t.Helper()
	dgramRelay(t, what, res.Output)
	require.True(t, res.Passed, "child %s did not pass: exit %d, err %v\n%s", what, res.ExitCode, res.Err, res.Output)
}

// dgramLogRE matches a log line of a child's `go test -v` output from these files.
var dgramLogRE = regexp.MustCompile(`^\s+(dgram_\w+_test\.go:\d+: .*)$`)

// dgramRelay logs the lines a child logged, with their continuation lines.
func dgramRelay(t *testing.T, what, output string) {
	t.Helper()
	var msg []string
	flush := func() {
		if msg != nil {
			t.Logf("child %s: %s", what, strings.Join(msg, "\n"))
			msg = nil
		}
	}
	for line := range strings.Lines(output) {
		line = strings.TrimRight(line, "\n")
		if m := dgramLogRE.FindStringSubmatch(line); m != nil {
			flush()
			msg = []string{m[1]}
			continue
		}
		// go test -v indents a message's further lines deeper than its first.
		if msg != nil && strings.HasPrefix(line, "        ") {
			msg = append(msg, strings.TrimSpace(line))
			continue
		}
		flush()
	}
	flush()
}

// dgramPinged is what one probe.Ping gave, gathered without a *testing.T so that pings can
// run in goroutines of their own; check asserts on it afterwards.
type dgramPinged struct {
	dst      netip.Addr
	count    int
	wantID   int // -1: any
	host     *result.Host
	err      error
	elapsed  time.Duration
	bad      []string    // outcomes other than one echo reply per request from dst
	answered map[int]int // sequence: echo replies counted
}

// dgramPing pings dst count times through tr with probe.Ping, interval apart, and records
// every outcome. With wantTTL above zero, a reply must also arrive with that TTL / hop limit.
// On a transport whose identifier is fixed (a Linux ping socket), each reply must carry it.
func dgramPing(pr *probe.Prober, dst netip.Addr, count int, interval time.Duration, wantTTL int) *dgramPinged {
	p := &dgramPinged{dst: dst, count: count, wantID: -1, answered: map[int]int{}}
	if idr, ok := pr.Transport().(transport.Identifier); ok {
		if id, fixed := idr.Identifier(dst); fixed {
			p.wantID = id
		}
	}
	opts := &probe.PingOptions{
		Count:    count,
		Interval: interval,
		Timeout:  2 * time.Second,
		// Calls come from one goroutine and Ping waits for each: no lock needed.
		OnReply: func(o probe.Outcome) {
			switch {
			case o.TimedOut:
				p.bad = append(p.bad, fmt.Sprintf("seq %d timed out", o.Seq))
			case o.Duplicate:
				p.bad = append(p.bad, fmt.Sprintf("seq %d: duplicate from %s", o.Seq, o.Reply.Source))
			case o.Reply.Kind() != transport.KindEchoReply:
				p.bad = append(p.bad, fmt.Sprintf("seq %d: %s from %s", o.Seq, o.Reply.Kind(), o.Reply.Source))
			case o.Reply.Source != dst || (p.wantID >= 0 && o.Reply.ID != p.wantID):
				p.bad = append(p.bad, fmt.Sprintf("seq %d: reply from %s id %d, want %s id %d", o.Seq, o.Reply.Source, o.Reply.ID, dst, p.wantID))
			case wantTTL > 0 && o.Reply.TTL != wantTTL:
				p.bad = append(p.bad, fmt.Sprintf("seq %d: received TTL %d, want %d", o.Seq, o.Reply.TTL, wantTTL))
			default:
				p.answered[o.Seq]++
			}
		},
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	start := time.Now()
	p.host, p.err = pr.Ping(ctx, dst, opts)
	p.elapsed = time.Since(start)
	return p
}

// check asserts an exact count: every request answered once by dst, and nothing else.
func (p *dgramPinged) check(t *testing.T, what string) {
	t.Helper()
	require.NoError(t, p.err, "%s: ping %s", what, p.dst)
	h := p.host
	id := "any"
	if p.wantID >= 0 {
		id = strconv.Itoa(p.wantID)
	}
	t.Logf("%s: %s id %s: %d sent, %d received, %d duplicates, %d errors in %v",
		what, p.dst, id, h.PacketsSent, h.PacketsReceived(), h.Duplicates, h.Errors, p.elapsed.Round(time.Millisecond))
	assert.Empty(t, p.bad, "%s: outcomes other than one echo reply per request from %s", what, p.dst)
	assert.Len(t, p.answered, p.count, "%s: distinct sequences answered by %s", what, p.dst)
	assert.Equal(t, p.dst, h.Address, what)
	assert.Equal(t, p.count, h.PacketsSent, "%s: sent to %s", what, p.dst)
	assert.Equal(t, p.count, h.PacketsReceived(), "%s: received from %s", what, p.dst)
	assert.Zero(t, h.Duplicates, "%s: duplicates from %s", what, p.dst)
	assert.Zero(t, h.Errors, "%s: ICMP errors for %s", what, p.dst)
	assert.Len(t, h.RTTs, p.count, "%s: RTTs of %s", what, p.dst)
}

// dgramPingCheck pings dst through tr and asserts an exact count (see dgramPing).
func dgramPingCheck(t *testing.T, tr transport.Transport, dst netip.Addr, count int, interval time.Duration, wantTTL int) {
	t.Helper()
	pr := probe.New(tr, nil)
	defer pr.Close()
	dgramPing(pr, dst, count, interval, wantTTL).check(t, "ping")
}

// dgramHopLines renders a trace as the tests compare it: one line per distance that
// answered, with its responders, probes answered out of sent and annotation, then whether
// the destination was reached.
func dgramHopLines(tr *result.Trace) []string {
	var lines []string
	for _, h := range tr.Hops {
		s := fmt.Sprintf("%2d %v %d/%d", h.Distance, h.Responders, h.PacketsReceived(), h.PacketsSent)
		if h.Unreachable != "" {
			s += " " + h.Unreachable
		}
		lines = append(lines, s)
	}
	return append(lines, fmt.Sprintf("reached %v", tr.Reached))
}

// dgramChainHops gives the hop lines a trace of the chain's target must give: every router
// but the silent ones at its distance, then the target, each answering all count probes.
func dgramChainHops(info lab.ChainInfo, v6 bool, count int) []string {
	var lines []string
	for i, n := range info.Hops() {
		if slices.Contains(info.Config.Silent, i+1) {
			continue
		}
		lines = append(lines, fmt.Sprintf("%2d %v %d/%d", i+1, []netip.Addr{dgramPick(n, v6)}, count, count))
	}
	return append(lines, "reached true")
}

// dgramBarrier makes a directory where concurrent children meet, which uid 65534 may write.
func dgramBarrier(t *testing.T) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "ikdgram-")
	require.NoError(t, err)
	t.Cleanup(func() { os.RemoveAll(dir) })
	require.NoError(t, os.Chmod(dir, 0o777))
	return dir
}

// dgramMeet marks this child ready in the barrier directory and waits until every one of
// roles is, so that the children's pings overlap.
func dgramMeet(t *testing.T, role string, roles ...string) {
	t.Helper()
	dir := os.Getenv(dgramEnvBarrier)
	require.NotEmpty(t, dir, "%s not set", dgramEnvBarrier)
	require.NoError(t, os.WriteFile(filepath.Join(dir, role), nil, 0o644))
	deadline := time.Now().Add(20 * time.Second)
	for _, r := range roles {
		for {
			if _, err := os.Stat(filepath.Join(dir, r)); err == nil {
				break
			}
			require.True(t, time.Now().Before(deadline), "child %s waited in vain for %s", role, r)
			time.Sleep(5 * time.Millisecond)
		}
	}
}
