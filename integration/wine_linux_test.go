//go:build linux

package integration

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/icmpkit/icmpkit/internal/lab"
	"github.com/icmpkit/icmpkit/internal/wine"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// wineChain is the chain the Windows binaries run against: three routers, the second silent,
// a dead host and an address the last router refuses.
var wineChain = lab.ChainConfig{Routers: 3, Silent: []int{2}, DeadHosts: 1, Unreachable: 1}

// wineTests lists, for each package whose Windows test binary runs under Wine, the tests
// that must pass there, and those that may instead skip, saying why, for a call Wine lacks.
var wineTests = []struct {
	pkg   string
	run   string
	pass  []string
	gapOK map[string]string // test -> what its skip message must name
}{
	{
		pkg: "./transport/winicmp", run: "^TestWindows",
		pass: []string{"TestWindowsPingLoopback", "TestWindowsFamilies", "TestWindowsManyInFlight",
			"TestWindowsPoll", "TestWindowsCloseAndContext", "TestWindowsBadInput",
			"TestWindowsProbePingAndMultiping", "TestWindowsLabTTL", "TestWindowsLabTraceroute",
			"TestWindowsLabDeadHost", "TestWindowsLabUnreachable"},
		gapOK: map[string]string{"TestWindowsPingLoopbackV6": "does not implement Icmp6CreateFile and Icmp6SendEcho2"},
	},
	{pkg: "./transport/raw", run: "^TestWindows", pass: []string{"TestWindowsRawRefuses"}},
	{pkg: ".", run: "^TestWindows", pass: []string{"TestWindowsModes", "TestWindowsConvenience"}},
	// Packages without a system in them pass on Windows as they do here.
	{pkg: "./probe", pass: nil},
	{pkg: "./internal/wire", pass: nil},
}

// TestWine cross-compiles the Windows test binaries and the command, and runs them under
// wine64 inside the client namespace of a chain lab, with the lab's addresses in their
// environment: the ICMP API transport pings loopback, traces the chain hop by hop and times
// out on the dead host, for real. It runs with ICMPKIT_WINE=1 (.ci/wine.sh sets it); then a
// missing wine64 fails it, as a missing lab does with ICMPKIT_REQUIRE_PRIV=1, and so does
// any Windows test that skips for another reason than a call Wine is known to lack.
func TestWine(t *testing.T) {
	if !wine.Enabled() {
		t.Skipf("the Windows binaries run under wine64 only with %s=1 (.ci/wine.sh sets it)", wine.EnvRun)
	}
	if _, _, err := wine.Find(); err != nil {
		t.Fatalf("%s=1 but %v", wine.EnvRun, err)
	}
	c := lab.NewChain(t, wineChain)
	dir := t.TempDir()
	start := time.Now()
	bins := map[string]string{}
	for _, wt := range wineTests {
		bins[wt.pkg] = windowsBuild(t, dir, "test", wt.pkg)
	}
	icmpkit := windowsBuild(t, dir, "build", "./cmd/icmpkit")
	t.Logf("cross-compiled in %v", time.Since(start).Round(time.Millisecond))

	start = time.Now()
	prefix, err := wine.New(context.Background(), filepath.Join(dir, "prefix"), c.Client.NS)
	require.NoError(t, err)
	t.Cleanup(func() { assert.NoError(t, prefix.Close()) })
	t.Logf("Wine prefix made in %s in %v", c.Client.NS, time.Since(start).Round(time.Millisecond))

	for _, wt := range wineTests {
		t.Run(strings.TrimPrefix(wt.pkg, "./"), func(t *testing.T) {
			args := []string{"-test.v", "-test.count=1", "-test.timeout=5m"}
			if wt.run != "" {
				args = append(args, "-test.run", wt.run)
			}
			out, err := runWine(t, prefix, c, bins[wt.pkg], args...)
			results := goTestResults(out)
			require.NoError(t, err, "%s", out)
			require.NotEmpty(t, results, "no test ran:\n%s", out)
			for _, name := range wt.pass {
				assert.Equal(t, "PASS", results[name], "%s", name)
			}
			for name, status := range results {
				if status == "PASS" {
					continue
				}
				why, known := wt.gapOK[name]
				if assert.True(t, known && status == "SKIP", "%s: %s\n%s", name, status, out) {
					assert.Contains(t, out, why, "%s says which calls Wine lacks", name)
					t.Logf("%s skipped under Wine: %s", name, why)
				}
			}
		})
	}
	t.Run("command", func(t *testing.T) { wineCommand(t, prefix, c, icmpkit) })
}

// windowsBuild cross-compiles pkg for windows/amd64 into dir: a test binary (kind "test")
// or a program ("build").
func windowsBuild(t *testing.T, dir, kind, pkg string) string {
	t.Helper()
	goTool, err := exec.LookPath("go")
	require.NoError(t, err, "the Go tool cross-compiles the Windows binaries")
	name := strings.NewReplacer("./", "", "/", "_", ".", "root").Replace(pkg)
	out := filepath.Join(dir, name+"."+kind+".exe")
	args := []string{"build", "-o", out, pkg}
	if kind == "test" {
		args = []string{"test", "-c", "-o", out, pkg}
	}
	cmd := exec.Command(goTool, args...)
	cmd.Dir = ".."
	cmd.Env = append(os.Environ(), "GOOS=windows", "GOARCH=amd64", "CGO_ENABLED=0")
	b, err := cmd.CombinedOutput()
	require.NoError(t, err, "go %s: %s", strings.Join(args, " "), b)
	return out
}

// runWine runs a Windows program in the prefix with the lab's addresses in its environment,
// and gives its output.
func runWine(t *testing.T, p *wine.Prefix, c *lab.Chain, exe string, args ...string) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 6*time.Minute)
	defer cancel()
	cmd := p.Command(ctx, exe, args...)
	cmd.Env = append(cmd.Env, c.Env()...)
	cmd.Env = append(cmd.Env, lab.EnvRequirePriv+"=1")
	b, err := cmd.CombinedOutput()
	return strings.ReplaceAll(string(b), "\r\n", "\n"), err
}

var goTestLine = regexp.MustCompile(`(?m)^--- (PASS|FAIL|SKIP): (\S+)`)

// goTestResults gives the outcome of each top-level test in go test -v output.
func goTestResults(out string) map[string]string {
	res := map[string]string{}
	for _, m := range goTestLine.FindAllStringSubmatch(out, -1) {
		res[m[2]] = m[1]
	}
	return res
}

// wineCommand runs icmpkit.exe's three subcommands against loopback and the chain.
func wineCommand(t *testing.T, p *wine.Prefix, c *lab.Chain, exe string) {
	run := func(t *testing.T, wantCode int, args ...string) string {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		cmd := p.Command(ctx, exe, args...)
		var stdout, stderr strings.Builder
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		err := cmd.Run()
		code := 0
		if ee, ok := err.(*exec.ExitError); ok {
			code = ee.ExitCode()
		} else {
			require.NoError(t, err)
		}
		out := strings.ReplaceAll(stdout.String(), "\r\n", "\n")
		require.Equal(t, wantCode, code, "icmpkit %s\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), out, stderr.String())
		return out
	}
	t.Run("ping", func(t *testing.T) {
		out := run(t, 0, "ping", "-c", "3", "-i", "0.2", "127.0.0.1")
		assert.Regexp(t, `(?m)^64 bytes from 127\.0\.0\.1: icmp_seq=1 ttl=64 time=`, out)
		assert.Contains(t, out, "3 packets transmitted, 3 received, 0% packet loss")
		out = run(t, 1, "ping", "-c", "2", "-i", "0.2", "-W", "0.5", c.DeadV4[0].String())
		assert.Contains(t, out, "2 packets transmitted, 0 received, 100% packet loss")
	})
	t.Run("multiping", func(t *testing.T) {
		target, dead := c.Target.V4.String(), c.DeadV4[0].String()
		out := run(t, 1, "multiping", "-c", "2", "-i", "0.2", "-W", "0.5", "127.0.0.1", target, dead)
		assert.Regexp(t, `(?m)^127\.0\.0\.1 : xmt/rcv/%loss = 2/2/0%`, out)
		assert.Regexp(t, `(?m)^`+regexp.QuoteMeta(target)+` : xmt/rcv/%loss = 2/2/0%`, out)
		assert.Regexp(t, `(?m)^`+regexp.QuoteMeta(dead)+` : xmt/rcv/%loss = 2/0/100%`, out)
	})
	t.Run("traceroute", func(t *testing.T) {
		out := run(t, 0, "traceroute", "-n", "-q", "1", "-W", "1", c.Target.V4.String())
		var want []string
		for i, n := range c.Hops() {
			if isSilentRouter(c.Config, i+1) {
				want = append(want, fmt.Sprintf("%2d  *", i+1))
			} else {
				want = append(want, fmt.Sprintf("%2d  %s  ", i+1, n.V4))
			}
		}
		lines := strings.Split(strings.TrimSpace(out), "\n")
		require.Len(t, lines, 1+len(want), "%s", out)
		for i, w := range want {
			assert.True(t, strings.HasPrefix(lines[1+i], w), "hop %d: got %q, want it to start %q", i+1, lines[1+i], w)
		}
	})
}

func isSilentRouter(cfg lab.ChainConfig, router int) bool {
	for _, s := range cfg.Silent {
		if s == router {
			return true
		}
	}
	return false
}
