package main

import (
	"fmt"
	"regexp"
	"strings"
	"testing"

	"github.com/icmpkit/icmpkit/internal/lab"
	"github.com/stretchr/testify/require"
)

// The golden cases of multiping: fping 5.1 and icmpkit multiping on the same targets, in the
// same lab, line for line once the times are masked. Two differences are by design, and
// every case takes them out of fping's text before comparing:
//
//   - The summary lines of -c (ADDRESS : xmt/rcv/%loss = ...) and the blank line before them
//     go to standard output, where the contract has them; fping writes them to standard
//     error. fpingSummariesToStdout moves them in fping's text.
//   - A target is followed by one space before its colon, as the contract's line has it;
//     fping pads every target to the width of the longest (fpingPadding).
//
// The options differ in spelling where icmpkit keeps ping's: -W SEC for fping's -t MS, -t for
// -H, -s BYTES for -b, --stats for -s.

// fpingPadding takes out the spaces fping pads targets with before their colon.
var fpingPadding = masking{regexp.MustCompile(`^(\S+(?: \(\S+\))?) +: `), "$1 : "}

var fpingSummaryLine = regexp.MustCompile(`^\S+(?: \(\S+\))? +: xmt/rcv/%loss = `)

// fpingSummariesToStdout moves fping's summary lines, with the blank line before them, from
// its standard error to the end of its standard output.
func fpingSummariesToStdout(stdout, stderr string) (string, string) {
	var keep, moved []string
	lines := strings.SplitAfter(stderr, "\n")
	for i, l := range lines {
		switch {
		case fpingSummaryLine.MatchString(l):
			moved = append(moved, l)
		case l == "\n" && i+1 < len(lines) && fpingSummaryLine.MatchString(lines[i+1]):
			moved = append(moved, l)
		default:
			keep = append(keep, l)
		}
	}
	return stdout + strings.Join(moved, ""), strings.Join(keep, "")
}

// fpingCase is a golden case of multiping.
type fpingCase struct {
	name      string
	ref, ours []string // the options and targets of each
	summaries bool     // fping prints -c's summaries (on stderr), icmpkit on stdout
	stderr    bool     // compare standard error too
	set       bool
	mask      []masking
	extra     []extraLine
	codes     *[2]int
}

func (c fpingCase) golden(ns string) golden {
	g := golden{
		ns:     ns,
		ref:    append([]string{"fping"}, c.ref...),
		ours:   append([]string{"multiping"}, c.ours...),
		mask:   append([]masking{fpingPadding}, c.mask...),
		set:    c.set,
		extra:  c.extra,
		stderr: c.stderr,
		codes:  c.codes,
	}
	if c.summaries {
		g.refStreams = fpingSummariesToStdout
	}
	return g
}

// TestGoldenFping runs fping and icmpkit multiping side by side on a chain
//
//	client — r1 — r2 (silent) — target
//
// where r1 refuses the unreachable addresses, the target owns a dead address, and the client
// has names for them all; then on a target that answers every request twice, and on a lossy
// one.
func TestGoldenFping(t *testing.T) {
	privileged(t)
	requireTool(t, "fping")
	c := lab.NewChain(t, lab.ChainConfig{Routers: 2, Silent: []int{2}, DeadHosts: 1, Unreachable: 1, UnreachableAt: 1})
	ns := c.Client.NS
	require.NoError(t, c.Hosts(ns,
		lab.HostEntry{Name: "target.lab", Addr: c.Target.V4}, lab.HostEntry{Name: "target6.lab", Addr: c.Target.V6},
		lab.HostEntry{Name: "r1.lab", Addr: c.Router(1).V4}))
	t4, t6 := c.Target.V4.String(), c.Target.V6.String()
	dead4, dead6 := c.DeadV4[0].String(), c.DeadV6[0].String()
	unreach4, unreach6 := c.UnreachableV4[0].String(), c.UnreachableV6[0].String()
	r1 := c.Router(1).V4.String()
	// Several targets answer in an order of their own: their reply lines are compared as
	// sets, the summaries (in input order) among them.
	many := []string{t4, dead4, t6, "target.lab", dead6}

	v6Error := extraLine{regexp.MustCompile(`^ICMP \S+ Unreachable from 2001:db8:`),
		"fping 5.1 reports no ICMPv6 errors; icmpkit names them as their ICMPv4 counterparts", true}
	cases := []fpingCase{
		{name: "IPv4", ref: []string{"-c", "3", "-p", "200", "-t", "500", t4},
			ours: []string{"-c", "3", "-p", "200", "-W", "0.5", t4}, summaries: true, stderr: true},
		{name: "IPv6", ref: []string{"-c", "3", "-p", "200", "-t", "500", t6},
			ours: []string{"-c", "3", "-i", "0.2", "-W", "0.5", t6}, summaries: true, stderr: true},
		{name: "name", ref: []string{"-c", "2", "-p", "200", "-t", "500", "target.lab"},
			ours: []string{"-c", "2", "-p", "200", "-W", "0.5", "target.lab"}, summaries: true, stderr: true},
		{name: "-A name", ref: []string{"-A", "-c", "1", "-t", "500", "target6.lab"},
			ours: []string{"-A", "-c", "1", "-W", "0.5", "target6.lab"}, summaries: true, stderr: true},
		{name: "-d", ref: []string{"-d", "-c", "1", "-t", "500", r1},
			ours: []string{"-d", "-c", "1", "-W", "0.5", r1}, summaries: true, stderr: true},
		{name: "-d -A", ref: []string{"-d", "-A", "-c", "1", "-t", "500", r1},
			ours: []string{"-dA", "-c1", "-W0.5", r1}, summaries: true, stderr: true},
		{name: "dead host", ref: []string{"-c", "2", "-p", "200", "-t", "500", dead4},
			ours: []string{"-c", "2", "-p", "200", "-W", "0.5", dead4}, summaries: true, stderr: true},
		{name: "dead host IPv6", ref: []string{"-c", "2", "-p", "200", "-t", "500", dead6},
			ours: []string{"-c", "2", "-p", "200", "-W", "0.5", dead6}, summaries: true, stderr: true},
		{name: "silent router", ref: []string{"-c", "2", "-p", "200", "-t", "500", "-H", "2", t4},
			ours: []string{"-c", "2", "-p", "200", "-W", "0.5", "-t", "2", t4}, summaries: true, stderr: true},
		{name: "TTL exceeded", ref: []string{"-c", "2", "-p", "200", "-t", "500", "-H", "1", t4},
			ours: []string{"-c", "2", "-p", "200", "-W", "0.5", "-t", "1", t4}, summaries: true, stderr: true},
		{name: "unreachable", ref: []string{"-c", "2", "-p", "200", "-t", "500", unreach4},
			ours: []string{"-c", "2", "-p", "200", "-W", "0.5", unreach4}, summaries: true, stderr: true},
		{name: "unreachable IPv6", ref: []string{"-c", "2", "-p", "200", "-t", "500", unreach6},
			ours: []string{"-c", "2", "-p", "200", "-W", "0.5", unreach6}, summaries: true, stderr: true,
			extra: []extraLine{v6Error}},
		{name: "-q unreachable", ref: []string{"-q", "-c", "2", "-p", "200", "-t", "500", unreach4},
			ours: []string{"-q", "-c", "2", "-p", "200", "-W", "0.5", unreach4}, summaries: true, stderr: true},
		{name: "several", ref: append([]string{"-c", "2", "-p", "200", "-t", "500"}, many...),
			ours: append([]string{"-c", "2", "-p", "200", "-W", "0.5"}, many...), summaries: true, stderr: true, set: true},
		{name: "-q several", ref: append([]string{"-q", "-c", "2", "-p", "200", "-t", "500"}, many...),
			ours: append([]string{"-q", "-c", "2", "-p", "200", "-W", "0.5"}, many...), summaries: true, stderr: true},
		{name: "-s", ref: append([]string{"-s", "-q", "-c", "2", "-p", "200", "-t", "500"}, many...),
			ours: append([]string{"--stats", "-q", "-c", "2", "-p", "200", "-W", "0.5"}, many...), summaries: true, stderr: true},
		{name: "-C", ref: append([]string{"-C", "3", "-p", "200", "-t", "500"}, many...),
			ours: append([]string{"-C", "3", "-p", "200", "-W", "0.5"}, many...), stderr: true, set: true},
		{name: "-C -q", ref: append([]string{"-C", "2", "-q", "-p", "200", "-t", "500"}, many...),
			ours: append([]string{"-qC2", "-p200", "-W0.5"}, many...), stderr: true},
		// fping ignores -a and -u when it counts (-c); they list the targets in its default
		// mode, which is what icmpkit's lists are compared with: standard output alone, as
		// sets (fping lists the alive ones as they answer).
		{name: "-a", ref: append([]string{"-a", "-t", "500", "-r", "0"}, many...),
			ours: append([]string{"-a", "-c", "1", "-W", "0.5"}, many...), set: true},
		{name: "-u", ref: append([]string{"-u", "-t", "500", "-r", "0"}, many...),
			ours: append([]string{"-u", "-c", "1", "-W", "0.5"}, many...)},
		// inet_aton(3)'s forms, which fping takes through getaddrinfo(3) and shows as given.
		{name: "inet_aton forms", ref: append([]string{"-q", "-c", "1", "-t", "500"}, atonForms(c.Target.V4)...),
			ours: append([]string{"-q", "-c", "1", "-W", "0.5"}, atonForms(c.Target.V4)...), summaries: true, stderr: true},
		{name: "-a -e", ref: []string{"-a", "-e", "-t", "500", "-r", "0", t4, t6},
			ours: []string{"-ae", "-c1", "-W0.5", t4, t6}, set: true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) { compareGolden(t, tc.golden(ns)) })
	}

	t.Run("duplicates", func(t *testing.T) {
		d := lab.NewChain(t, lab.ChainConfig{})
		// The target sends every echo reply twice: nftables duplicates it to the client.
		rules := fmt.Sprintf("table ip golden_dup {\n chain out {\n  type filter hook output priority 0;\n"+
			"  icmp type echo-reply dup to %s device \"eth0\"\n }\n}\n"+
			"table ip6 golden_dup6 {\n chain out {\n  type filter hook output priority 0;\n"+
			"  icmpv6 type echo-reply dup to %s device \"eth0\"\n }\n}\n", d.Client.V4, d.Client.V6)
		out, err := d.Exec(d.Target.NS, "sh", "-c", "printf '%s' '"+rules+"' | nft -f -")
		require.NoError(t, err, out)
		targets := []string{d.Target.V4.String(), d.Target.V6.String()}
		// Reply lines: the copies print nothing, in both.
		compareGolden(t, fpingCase{ref: append([]string{"-c", "3", "-p", "200", "-t", "500"}, targets...),
			ours: append([]string{"-c", "3", "-p", "200", "-W", "0.5"}, targets...), summaries: true, stderr: true, set: true}.golden(d.Client.NS))
		// -q: a line each on stderr. The copy of a host's last reply may come after either
		// tool is done with that host, so the requests are masked and the lines compared as
		// sets.
		compareGolden(t, fpingCase{ref: append([]string{"-q", "-c", "3", "-p", "200", "-t", "500"}, targets...),
			ours: append([]string{"-q", "-c", "3", "-p", "200", "-W", "0.5"}, targets...), summaries: true, stderr: true, set: true,
			mask: []masking{{regexp.MustCompile(`duplicate for \[\d+\]`), "duplicate for [#]"}}}.golden(d.Client.NS))
	})

	t.Run("lossy target", func(t *testing.T) {
		l := lab.NewChain(t, lab.ChainConfig{Routers: 1, TargetLoss: 30})
		targets := []string{l.Target.V4.String(), l.Target.V6.String()}
		// Which requests are lost differs between the runs: the sets of lines are compared,
		// with the request numbers and the counts masked. Twenty requests, so that each tool
		// sees both a reply and a loss for each target in all but about one run in 300.
		compareGolden(t, fpingCase{ref: append([]string{"-c", "20", "-p", "50", "-t", "500"}, targets...),
			ours: append([]string{"-c", "20", "-p", "50", "-W", "0.5"}, targets...), summaries: true, stderr: true, set: true,
			mask: []masking{
				{regexp.MustCompile(`\[\d+\]`), "[#]"},
				{regexp.MustCompile(`\d+% loss`), "#% loss"},
				{regexp.MustCompile(`\((#|NaN) avg`), "(# avg"},
				{regexp.MustCompile(`= 20/\d+/\d+%.*`), "= 20/#/#%"},
			}}.golden(l.Client.NS))
	})
}
