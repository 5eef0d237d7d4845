package main

import (
	"fmt"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/icmpkit/icmpkit/internal/lab"
)

// The live view, driven through tmux: a terminal of 120 columns runs `icmpkit mtr` on two
// targets of a lab chain; the test reads the screen (capture-pane) and types keys (send-keys).

type tmuxPane struct {
	t    *testing.T
	name string
}

func (p tmuxPane) run(args ...string) string {
	p.t.Helper()
	out, err := exec.Command("tmux", args...).CombinedOutput()
	require.NoError(p.t, err, "tmux %v: %s", args, out)
	return string(out)
}

func (p tmuxPane) screen() string { return p.run("capture-pane", "-p", "-t", p.name) }

func (p tmuxPane) keys(k ...string) { p.run(append([]string{"send-keys", "-t", p.name}, k...)...) }

// wait polls the screen until ok accepts it, and fails the test after 15 s.
func (p tmuxPane) wait(what string, ok func(string) bool) string {
	p.t.Helper()
	var s string
	for deadline := time.Now().Add(15 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		if s = p.screen(); ok(s) {
			return s
		}
	}
	p.t.Fatalf("waiting for %s; the screen:\n%s", what, s)
	return ""
}

var liveCycle = regexp.MustCompile(`\(198\.18\.\d+\.\d+\)  cycle (\d+)`)

// cycleOf gives the cycle shown for the IPv4 target, -1 if none.
func cycleOf(s string) int {
	m := liveCycle.FindStringSubmatch(s)
	if m == nil {
		return -1
	}
	n, _ := strconv.Atoi(m[1])
	return n
}

func TestMtrLiveTmux(t *testing.T) {
	privileged(t)
	if _, err := exec.LookPath("tmux"); err != nil {
		lab.SkipOrFail(t, "tmux is not installed")
	}
	c := lab.NewChain(t, lab.ChainConfig{Routers: 2})
	traceHosts(t, c)
	bin := binary(t)
	for _, quit := range []string{"q", "C-c"} {
		t.Run(quit, func(t *testing.T) {
			p := tmuxPane{t, fmt.Sprintf("ikmtr%d", time.Now().UnixNano())}
			// The shell notes the terminal's settings before and after, and the exit status.
			script := fmt.Sprintf(`s1=$(stty -g); ip netns exec %s %s mtr -i 0.2 %s %s; echo "EXITED $?"; [ "$s1" = "$(stty -g)" ] && echo TTY-RESTORED; sleep 60`,
				c.Client.NS, bin, c.Target.V4, c.Target.V6)
			p.run("new-session", "-d", "-s", p.name, "-x", "120", "-y", "40", "bash", "-c", script)
			t.Cleanup(func() { exec.Command("tmux", "kill-session", "-t", p.name).Run() })

			// Rows appear, named from the hosts file, one block per target.
			s := p.wait("the rows", func(s string) bool {
				return strings.Contains(s, "target.v4.lab") && strings.Contains(s, "target.v6.lab") && cycleOf(s) >= 3
			})
			assert.Contains(t, s, mtrKeys)
			assert.Regexp(t, `(?m)^  1\. r1\.v4\.lab +\d+\.\d%`, s)
			assert.Regexp(t, `(?m)^  3\. target\.v6\.lab +\d+\.\d%`, s)
			// They update.
			first := cycleOf(s)
			p.wait("a later cycle", func(s string) bool { return cycleOf(s) > first+2 })

			// n: addresses instead of names, and back.
			p.keys("n")
			p.wait("addresses", func(s string) bool { return strings.Contains(s, "  1. "+c.Router(1).V4.String()) })
			p.keys("n")
			p.wait("names again", func(s string) bool { return strings.Contains(s, "  1. r1.v4.lab") })

			// p: paused, the cycles stand still; p again: they go on.
			p.keys("p")
			s = p.wait("paused", func(s string) bool { return strings.Contains(s, "[paused]") })
			time.Sleep(300 * time.Millisecond) // a cycle in progress may still complete
			held := cycleOf(p.screen())
			time.Sleep(time.Second)
			assert.Equal(t, held, cycleOf(p.screen()), "no cycle while paused")
			p.keys("p")
			p.wait("resumed", func(s string) bool { return !strings.Contains(s, "[paused]") && cycleOf(s) > held })

			// r: the statistics start again.
			p.wait("a few more cycles", func(s string) bool { return cycleOf(s) >= 10 })
			p.keys("r")
			p.wait("reset", func(s string) bool { n := cycleOf(s); return n >= 0 && n < 5 })

			// d: the recent RTTs instead of the statistics, and back.
			p.keys("d")
			p.wait("the RTT display", func(s string) bool { return strings.Contains(s, "recent RTTs") })
			p.keys("d")
			p.wait("the statistics", func(s string) bool { return strings.Contains(s, "Loss%") })

			// A resize redraws at the new width.
			p.run("resize-window", "-t", p.name, "-x", "70", "-y", "30")
			s = p.wait("the narrower screen", func(s string) bool {
				l := strings.Split(s, "\n")[0]
				return strings.HasPrefix(l, "icmpkit mtr") && len(strings.TrimRight(l, " ")) <= 70 && strings.HasSuffix(strings.TrimRight(l, " "), ")")
			})
			for _, l := range strings.Split(s, "\n") {
				assert.LessOrEqual(t, len(l), 70, "%q", l)
			}

			// q or Ctrl-C: out, status 0, the terminal as it was.
			p.keys(quit)
			s = p.wait("the exit", func(s string) bool { return strings.Contains(s, "EXITED") })
			assert.Contains(t, s, "EXITED 0")
			p.wait("the terminal restored", func(s string) bool { return strings.Contains(s, "TTY-RESTORED") })
			assert.NotContains(t, p.screen(), "Loss%", "the alternate screen is gone")
		})
	}
}
