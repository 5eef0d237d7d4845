package main

import (
	"fmt"
	"os/exec"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/icmpkit/icmpkit/internal/lab"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Golden tests run a reference tool (iputils ping, traceroute(8), fping) and icmpkit on the
// same case, in the same lab namespace, one after the other, and compare what they print
// line for line once the measured numbers are masked. A difference fails the test. Where
// icmpkit prints more than the reference, the case lists each such line with the reason.

// golden is one side-by-side case.
type golden struct {
	ns   string   // the namespace both run in
	ref  []string // the reference command and its arguments
	ours []string // icmpkit's arguments
	// mask lists further replacements, for numbers that differ from run to run in this case
	// (the counts of a lossy target), applied after maskMeasured.
	mask []masking
	// set compares the sets of distinct lines rather than the sequences: for a lossy target,
	// whose lost requests differ between the runs.
	set bool
	// extra lists the lines icmpkit prints that the reference does not, each with why.
	extra []extraLine
	// stderr compares standard error too (fping -s writes its statistics there); otherwise
	// only standard output and the exit status are compared.
	stderr bool
	// refStreams, when set, rearranges the reference's standard output and error before
	// they are compared, for text that icmpkit prints on the other stream by design.
	refStreams func(stdout, stderr string) (string, string)
	// codes, when set, are the exit statuses expected of the reference and of icmpkit where
	// they differ by design (fping's statuses against the contract's); otherwise both must
	// exit alike.
	codes *[2]int
}

type masking struct {
	re   *regexp.Regexp
	with string
}

// extraLine is a line that only icmpkit prints, on standard output unless stderr.
type extraLine struct {
	re     *regexp.Regexp
	why    string
	stderr bool
}

var (
	ipv4Addr  = regexp.MustCompile(`\b\d{1,3}(\.\d{1,3}){3}\b`)
	decimal   = regexp.MustCompile(`\d+\.\d+(e[+-]\d+)?`)
	measuredN = []masking{
		{regexp.MustCompile(`time=\S+`), "time=#"},
		{regexp.MustCompile(`\btime \d+ms\b`), "time #ms"},
		{regexp.MustCompile(`\b\d+ ms\b`), "# ms"},
	}
)

// maskMeasured replaces every measured number of a line (RTTs, times, timestamps: numbers
// with decimals, and the few integers that are times) with "#", leaving addresses alone.
func maskMeasured(line string) string {
	addrs := ipv4Addr.FindAllString(line, -1)
	line = ipv4Addr.ReplaceAllString(line, "\x00")
	line = decimal.ReplaceAllString(line, "#")
	for _, m := range measuredN {
		line = m.re.ReplaceAllString(line, m.with)
	}
	for _, a := range addrs {
		line = strings.Replace(line, "\x00", a, 1)
	}
	return line
}

func TestMaskMeasured(t *testing.T) {
	for in, want := range map[string]string{
		"64 bytes from 198.18.3.2: icmp_seq=1 ttl=61 time=0.425 ms":                  "64 bytes from 198.18.3.2: icmp_seq=1 ttl=61 time=# ms",
		"3 packets transmitted, 3 received, 0% packet loss, time 406ms":              "3 packets transmitted, 3 received, 0% packet loss, time #ms",
		"rtt min/avg/max/mdev = 0.082/0.200/0.425/0.158 ms":                          "rtt min/avg/max/mdev = #/#/#/# ms",
		" 1  198.18.0.2  0.085 ms  0.058 ms  0.049 ms":                               " 1  198.18.0.2  # ms  # ms  # ms",
		"[1796298887.069381] 64 bytes from ::1: icmp_seq=1 ttl=64 time=123 ms":       "[#] 64 bytes from ::1: icmp_seq=1 ttl=64 time=# ms",
		"127.0.0.1 : [0], 64 bytes, 0.045 ms (0.045 avg, 0% loss)":                   "127.0.0.1 : [0], 64 bytes, # ms (# avg, 0% loss)",
		"198.18.0.2 : xmt/rcv/%loss = 2/2/0%, min/avg/max = 0.04/1.2e+03/12.1":       "198.18.0.2 : xmt/rcv/%loss = 2/2/0%, min/avg/max = #/#/#",
		"2001:db8::2 (2001:db8::2)  123 ms !H":                                       "2001:db8::2 (2001:db8::2)  # ms !H",
		"traceroute to 198.18.3.2 (198.18.3.2), 30 hops max, 60 byte packets":        "traceroute to 198.18.3.2 (198.18.3.2), 30 hops max, 60 byte packets",
		"PING 2001:db8:0:3::2(2001:db8:0:3::2) 56 data bytes":                        "PING 2001:db8:0:3::2(2001:db8:0:3::2) 56 data bytes",
		"From 198.18.1.2 icmp_seq=1 Destination Host Unreachable":                    "From 198.18.1.2 icmp_seq=1 Destination Host Unreachable",
		"     1.2.3.4 : 0.04 - 0.05":                                                 "     1.2.3.4 : # - #",
		" 2  r1.lab (198.18.0.2)  0.101 ms <MPLS:L=100,E=0,S=1,T=1>  1.000 ms  2 ms": " 2  r1.lab (198.18.0.2)  # ms <MPLS:L=100,E=0,S=1,T=1>  # ms  # ms",
	} {
		assert.Equal(t, want, maskMeasured(in), in)
	}
}

// compareGolden runs both sides of g and fails the test on any difference.
func compareGolden(t *testing.T, g golden) {
	t.Helper()
	ref := runCmd(t, "", "ip", append([]string{"netns", "exec", g.ns}, g.ref...)...)
	ours := inNS(t, g.ns, g.ours...)
	cmdline := fmt.Sprintf("reference: %s\nicmpkit:   icmpkit %s", strings.Join(g.ref, " "), strings.Join(g.ours, " "))
	if g.codes != nil {
		assert.Equal(t, *g.codes, [2]int{ref.code, ours.code}, "exit statuses, reference and icmpkit\n%s", cmdline)
	} else {
		assert.Equal(t, ref.code, ours.code, "exit status\n%s\nreference stderr: %s\nicmpkit stderr: %s", cmdline, ref.stderr, ours.stderr)
	}
	if g.refStreams != nil {
		ref.stdout, ref.stderr = g.refStreams(ref.stdout, ref.stderr)
	}
	g.compare(t, "stdout", cmdline, ref.stdout, ours.stdout)
	if g.stderr {
		g.compare(t, "stderr", cmdline, ref.stderr, ours.stderr)
	}
}

// compare compares one stream of both sides.
func (g golden) compare(t *testing.T, stream, cmdline, ref, ours string) {
	t.Helper()
	mask := func(out string) []string {
		var lines []string
		for _, l := range strings.SplitAfter(out, "\n") {
			if l == "" {
				continue
			}
			l = maskMeasured(l)
			for _, m := range g.mask {
				l = m.re.ReplaceAllString(l, m.with)
			}
			lines = append(lines, l)
		}
		return lines
	}
	refLines, ourLines := mask(ref), mask(ours)
	// Lines only icmpkit prints, by design, are taken out before comparing; each such rule
	// must have matched at least once, so that the case stays honest about what it allows.
	for _, x := range g.extra {
		if x.stderr != (stream == "stderr") {
			continue
		}
		n := len(ourLines)
		ourLines = slices.DeleteFunc(ourLines, func(l string) bool { return x.re.MatchString(l) && !slices.Contains(refLines, l) })
		assert.Less(t, len(ourLines), n, "%s: no line of icmpkit's matches %s (%s)\n%s\n%s", stream, x.re, x.why, cmdline, ours)
	}
	if g.set {
		refLines, ourLines = distinct(refLines), distinct(ourLines)
	}
	if !slices.Equal(refLines, ourLines) {
		t.Errorf("%s differs (numbers masked)\n%s\n%s", stream, cmdline, sideBySide(refLines, ourLines))
	}
}

// distinct gives the sorted distinct lines.
func distinct(lines []string) []string {
	lines = slices.Clone(lines)
	slices.Sort(lines)
	return slices.Compact(lines)
}

// sideBySide shows two sets of lines, marking those that differ.
func sideBySide(ref, ours []string) string {
	var b strings.Builder
	for i := range max(len(ref), len(ours)) {
		var r, o string
		if i < len(ref) {
			r = ref[i]
		}
		if i < len(ours) {
			o = ours[i]
		}
		mark := " "
		if r != o {
			mark = "≠"
		}
		fmt.Fprintf(&b, "%s ref  %q\n  ours %q\n", mark, r, o)
	}
	return b.String()
}

// The reference tools, at the versions whose output icmpkit's follows (Debian 12's packages).
var referenceTools = map[string]struct{ versionFlag, version string }{
	"ping":       {"-V", "iputils 20221126"},
	"traceroute": {"-V", "version 2.1.2"},
	"fping":      {"-v", "Version 5.1"},
}

// requireTool skips the test when a reference tool is missing or of another version, or fails
// it instead when ICMPKIT_REQUIRE_PRIV=1 (.ci/run installs them).
func requireTool(t *testing.T, name string) {
	t.Helper()
	ref, ok := referenceTools[name]
	require.True(t, ok, "%s is not a reference tool", name)
	out, err := exec.Command(name, ref.versionFlag).CombinedOutput()
	switch {
	case err != nil:
		lab.SkipOrFail(t, "the reference tool %s does not run: %v: %s", name, err, out)
	case !strings.Contains(string(out), ref.version):
		lab.SkipOrFail(t, "the reference tool %s is not at %s: %s", name, ref.version, out)
	}
}
