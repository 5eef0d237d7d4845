package main

import (
	"encoding/json"
	"fmt"
	"regexp"
	"strings"
	"testing"

	"github.com/icmpkit/icmpkit/internal/lab"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The golden cases of traceroute: traceroute(8) -I (ICMP echo probes, as icmpkit sends) and
// icmpkit traceroute with the same options, in the same lab, line for line once the times are
// masked.

// traceCase is a golden case of traceroute: the options both take.
type traceCase struct {
	name string
	args []string
	// ours are icmpkit's own options, given to icmpkit alone.
	ours []string
	// reached says whether the trace reaches its destination. traceroute(8) exits 0 whenever
	// it ran; icmpkit exits 1 when the destination was not reached, as its contract says.
	reached bool
	mask    []masking
	set     bool
}

func (c traceCase) golden(ns string) golden {
	g := golden{
		ns:   ns,
		ref:  append([]string{"traceroute", "-I"}, c.args...),
		ours: append(append([]string{"traceroute"}, c.ours...), c.args...),
		mask: c.mask,
		set:  c.set,
	}
	if !c.reached {
		g.codes = &[2]int{exitOK, exitFail}
	}
	return g
}

// traceHosts names every node of c that answers a traceroute from the client, in a hosts file
// of the client's: r1.v4.lab, r1.v6.lab … target.v4.lab, target.v6.lab (names of one family
// each, since the tools pick families differently for a name with both). So no lookup leaves
// the client for a DNS server.
func traceHosts(t *testing.T, c *lab.Chain) {
	t.Helper()
	var hosts []lab.HostEntry
	for _, n := range c.Hops() {
		hosts = append(hosts, lab.HostEntry{Name: n.Name + ".v4.lab", Addr: n.V4}, lab.HostEntry{Name: n.Name + ".v6.lab", Addr: n.V6})
	}
	require.NoError(t, c.Hosts(c.Client.NS, hosts...))
}

func TestGoldenTraceroute(t *testing.T) {
	privileged(t)
	requireTool(t, "traceroute")
	c := lab.NewChain(t, lab.ChainConfig{Routers: 3, Silent: []int{2}, Unreachable: 1, UnreachableAt: 2})
	traceHosts(t, c)
	t4, t6 := c.Target.V4.String(), c.Target.V6.String()
	u4, u6 := c.UnreachableV4[0].String(), c.UnreachableV6[0].String()
	for _, tc := range []traceCase{
		{name: "IPv4 names", args: []string{"-w", "0.5", t4}, reached: true},
		{name: "IPv4 -n", args: []string{"-n", "-w", "0.5", t4}, reached: true},
		{name: "IPv6 names", args: []string{"-w", "0.5", t6}, reached: true},
		{name: "IPv6 -n", args: []string{"-n", "-w", "0.5", t6}, reached: true},
		{name: "a name", args: []string{"-w", "0.5", "target.v4.lab"}, reached: true},
		{name: "an IPv6 name", args: []string{"-w", "0.5", "target.v6.lab"}, reached: true},
		{name: "-q 1", args: []string{"-q", "1", "-w", "0.5", t4}, reached: true},
		{name: "-f 3 -q 5", args: []string{"-f", "3", "-q", "5", "-n", "-w", "0.5", t6}, reached: true},
		{name: "unreachable IPv4", args: []string{"-w", "0.5", u4}},
		{name: "unreachable IPv6 -n", args: []string{"-n", "-w", "0.5", u6}},
		{name: "not reached within -m", args: []string{"-m", "2", "-w", "0.5", t4}},
		{name: "packet length", args: []string{"-n", "-w", "0.5", t4, "1000"}, reached: true},
		{name: "short packet length", args: []string{"-n", "-w", "0.5", t6, "20"}, reached: true},
		{name: "-e with no extensions", args: []string{"-e", "-w", "0.5", t4}, reached: true},
		{name: "-N 1 -t 16", args: []string{"-N", "1", "-t", "16", "-n", "-w", "0.5", t4}, reached: true},
		// icmpkit's own options: --paris changes no line.
		{name: "--paris", args: []string{"-n", "-w", "0.5", t4}, ours: []string{"--paris"}, reached: true},
	} {
		t.Run(tc.name, func(t *testing.T) { compareGolden(t, tc.golden(c.Client.NS)) })
	}
	// --pmtu, icmpkit's own, adds the path MTU to the line of each hop where it changes (the
	// first here), and its probes start at 1500 bytes: traceroute(8) is given that length.
	t.Run("--pmtu", func(t *testing.T) {
		args := []string{"-n", "-f", "3", "-w", "0.5", t6}
		compareGolden(t, golden{ns: c.Client.NS,
			ref:  append([]string{"traceroute", "-I"}, append(args, "1500")...),
			ours: append([]string{"traceroute", "--pmtu"}, args...),
			mask: []masking{{regexp.MustCompile(`  pmtu 1500\n$`), "\n"}},
		})
		r := inNS(t, c.Client.NS, append([]string{"traceroute", "--pmtu"}, args...)...)
		require.Equal(t, exitOK, r.code, r.stderr)
		l := lines(r.stdout)
		require.Len(t, l, 3, r.stdout)
		assert.Regexp(t, `^ 3  .*  pmtu 1500$`, l[1], "the only line icmpkit prints more on")
		assert.NotContains(t, l[2], "pmtu")
	})
}

// lostProbes masks a line's lost probes and times, leaving the responders: which probes a
// lossy target loses differs from run to run.
var lostProbes = []masking{{regexp.MustCompile(` \*`), ""}, {regexp.MustCompile(`(  # ms)+`), "  (probes)"}}

func TestGoldenTracerouteLossy(t *testing.T) {
	privileged(t)
	requireTool(t, "traceroute")
	// With 10 probes a distance and 25% loss, the target loses all of its at 1 in 10^6.
	c := lab.NewChain(t, lab.ChainConfig{Routers: 1, TargetLoss: 25})
	traceHosts(t, c)
	for _, tc := range []traceCase{
		{name: "IPv4 names", args: []string{"-q", "10", "-w", "0.5", c.Target.V4.String()}},
		{name: "IPv6 -n", args: []string{"-n", "-q", "10", "-w", "0.5", c.Target.V6.String()}},
	} {
		tc.reached, tc.mask, tc.set = true, lostProbes, true
		t.Run(tc.name, func(t *testing.T) { compareGolden(t, tc.golden(c.Client.NS)) })
	}
}

// TestGoldenTracerouteDuplicates has the target send each echo reply twice (an nftables dup
// of its replies to the last router): each probe counts once, in both tools.
func TestGoldenTracerouteDuplicates(t *testing.T) {
	privileged(t)
	requireTool(t, "traceroute")
	requireTool(t, "ping")
	c := lab.NewChain(t, lab.ChainConfig{Routers: 2})
	traceHosts(t, c)
	for _, rule := range duplicateRules(c) {
		out, err := c.Exec(c.Target.NS, "nft", rule)
		require.NoError(t, err, "nft %s: %s", rule, out)
	}
	for _, dst := range []string{c.Target.V4.String(), c.Target.V6.String()} {
		out, _ := c.Exec(c.Client.NS, "ping", "-n", "-c", "2", "-i", "0.1", dst)
		require.Contains(t, out, "(DUP!)", "the target answers twice")
	}
	for _, tc := range []traceCase{
		{name: "IPv4", args: []string{"-w", "0.5", c.Target.V4.String()}, reached: true},
		{name: "IPv6", args: []string{"-n", "-w", "0.5", c.Target.V6.String()}, reached: true},
	} {
		t.Run(tc.name, func(t *testing.T) { compareGolden(t, tc.golden(c.Client.NS)) })
	}
}

// duplicateRules gives the nftables commands that have c's target send a copy of each echo
// reply to the last router, which forwards it to the client as it forwards the reply.
func duplicateRules(c *lab.Chain) []string {
	n := len(c.Routers)
	// Link n joins router n (its .1 / ::1 end) and the target.
	gw4 := fmt.Sprintf("198.18.%d.1", n)
	gw6 := fmt.Sprintf("2001:db8:0:%d::1", n)
	var rules []string
	for _, f := range []struct{ family, match, gw string }{{"ip", "icmp type echo-reply", gw4}, {"ip6", "icmpv6 type echo-reply", gw6}} {
		rules = append(rules,
			"add table "+f.family+" ikdup",
			"add chain "+f.family+" ikdup out { type filter hook output priority 0 ; }",
			strings.Join([]string{"add rule", f.family, "ikdup out", f.match, "dup to", f.gw, "device eth0"}, " "))
	}
	return rules
}

// TestGoldenTracerouteMarks has the refusing router answer each of its unreachable addresses
// with another code of Destination Unreachable (an nftables reject rule an address), and
// compares the marks both tools print after the router's time: every code traceroute(8)
// has a letter for, a port unreachable (no mark: the trace ends there), and IPv6 codes it has
// none for. (Linux hands no ICMPv4 Destination Unreachable of a code above 15 to an error
// queue, where traceroute(8) reads, so it shows such an answer as "*"; icmpkit's raw socket
// sees it and prints "!<code>", as traceroute(8)'s table says, which transport's test of
// Mark covers. Code 4, fragmentation needed, is the path MTU's, tested with --pmtu.)
func TestGoldenTracerouteMarks(t *testing.T) {
	privileged(t)
	requireTool(t, "traceroute")
	codes4 := []int{0, 1, 2, 3, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15}
	codes6 := []int{0, 1, 2, 3, 4, 5, 6, 7}
	c := lab.NewChain(t, lab.ChainConfig{Routers: 2, Unreachable: len(codes4), UnreachableAt: 2})
	traceHosts(t, c)
	rules := []string{
		"add table ip ikmarks",
		"add chain ip ikmarks pre { type filter hook prerouting priority -10 ; }",
		"add table ip6 ikmarks",
		"add chain ip6 ikmarks pre { type filter hook prerouting priority -10 ; }",
	}
	for i, code := range codes4 {
		rules = append(rules, fmt.Sprintf("add rule ip ikmarks pre ip daddr %s reject with icmp type %d", c.UnreachableV4[i], code))
	}
	for i, code := range codes6 {
		rules = append(rules, fmt.Sprintf("add rule ip6 ikmarks pre ip6 daddr %s reject with icmpv6 type %d", c.UnreachableV6[i], code))
	}
	ns := c.UnreachableFrom().NS
	for _, rule := range rules {
		out, err := c.Exec(ns, "nft", rule)
		require.NoError(t, err, "nft %s: %s", rule, out)
	}
	var cases []traceCase
	for i, code := range codes4 {
		cases = append(cases, traceCase{name: fmt.Sprintf("IPv4 code %d", code), args: []string{"-n", "-q", "1", "-w", "0.5", c.UnreachableV4[i].String()}})
	}
	for i, code := range codes6 {
		cases = append(cases, traceCase{name: fmt.Sprintf("IPv6 code %d", code), args: []string{"-n", "-q", "1", "-w", "0.5", c.UnreachableV6[i].String()}})
	}
	router := regexp.MustCompile(`^ 2  \S+  \d+\.\d{3} ms ?(.*)$`)
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			compareGolden(t, tc.golden(c.Client.NS))
			// --json gives the router's hop the mark the text shows.
			text := inNS(t, c.Client.NS, append([]string{"traceroute"}, tc.args...)...)
			l := lines(text.stdout)
			require.Len(t, l, 3, text.stdout)
			m := router.FindStringSubmatch(l[2])
			require.NotNil(t, m, l[2])
			r := inNS(t, c.Client.NS, append([]string{"traceroute", "--json"}, tc.args...)...)
			var tr struct {
				Hops []struct {
					Distance    int    `json:"distance"`
					Unreachable string `json:"unreachable"`
				} `json:"hops"`
			}
			require.NoError(t, json.Unmarshal([]byte(r.stdout), &tr), r.stdout)
			require.NotEmpty(t, tr.Hops, r.stdout)
			last := tr.Hops[len(tr.Hops)-1]
			assert.Equal(t, 2, last.Distance, r.stdout)
			assert.Equal(t, m[1], last.Unreachable, "the mark in JSON and in the text")
		})
	}
}
