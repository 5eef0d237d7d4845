package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/icmpkit/icmpkit/internal/lab"
	"github.com/icmpkit/icmpkit/internal/leakcheck"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// These tests build the program and run it as a subprocess: against loopback (raw sockets as
// root), in a private network namespace as an unprivileged user (datagram sockets), and in
// the namespaces of internal/lab (routers, dead hosts, a broadcast segment).

var (
	buildOnce sync.Once
	binPath   string
	buildErr  error
	binDir    string
)

// TestMain runs the tests, as root in a network namespace of their own with only loopback
// (lab.Isolate), checks that they left no goroutine or file descriptor behind, and removes the
// built program.
func TestMain(m *testing.M) {
	lab.Isolate()
	code := leakcheck.Run(m, leakcheck.DefaultGrace, os.Stderr)
	if binDir != "" {
		os.RemoveAll(binDir)
	}
	os.Exit(code)
}

// binary builds the program once per test run, into a directory that any user may read, so
// that it can also run as nobody.
func binary(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		binDir, buildErr = os.MkdirTemp("", "icmpkit-cli-")
		if buildErr != nil {
			return
		}
		if buildErr = os.Chmod(binDir, 0o755); buildErr != nil {
			return
		}
		binPath = filepath.Join(binDir, "icmpkit")
		out, err := exec.Command("go", "build", "-buildvcs=false", "-o", binPath, ".").CombinedOutput()
		if err != nil {
			buildErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	require.NoError(t, buildErr)
	return binPath
}

type cliResult struct {
	stdout, stderr string
	code           int
}

// runCmd runs a command with a deadline and returns what it printed and its exit status.
func runCmd(t *testing.T, stdin string, name string, args ...string) cliResult {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	var stdout, stderr strings.Builder
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	cmd.Stdin = strings.NewReader(stdin)
	err := cmd.Run()
	r := cliResult{stdout: stdout.String(), stderr: stderr.String()}
	var exit *exec.ExitError
	switch {
	case err == nil:
	case errorsAs(err, &exit):
		r.code = exit.ExitCode()
	default:
		t.Fatalf("run %s %v: %v", name, args, err)
	}
	require.NoError(t, ctx.Err(), "%s %v did not end within a minute", name, args)
	return r
}

func errorsAs(err error, target **exec.ExitError) bool {
	e, ok := err.(*exec.ExitError)
	if ok {
		*target = e
	}
	return ok
}

// runBin runs the program with args.
func runBin(t *testing.T, args ...string) cliResult {
	t.Helper()
	return runCmd(t, "", binary(t), args...)
}

// privileged skips the test unless raw sockets can be opened (root), or fails it when
// ICMPKIT_REQUIRE_PRIV=1.
func privileged(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		lab.SkipOrFail(t, "needs root for raw ICMP sockets and network namespaces")
	}
}

// lines splits output into lines, without the final newline.
func lines(s string) []string {
	return strings.Split(strings.TrimSuffix(s, "\n"), "\n")
}

// Bad input never needs a privilege: it is refused before any socket is opened.
func TestCLIBadInput(t *testing.T) {
	tests := [][]string{
		{"ping", "--no-such-flag", "127.0.0.1"},
		{"ping", "-c", "0", "127.0.0.1"},
		{"ping", "-c", "-1", "127.0.0.1"},
		{"ping", "-i", "-1", "127.0.0.1"},
		{"ping", "-W", "-1", "127.0.0.1"},
		{"ping", "-s", "65508", "127.0.0.1"},
		{"ping", "-s", "65528", "::1"},
		{"ping", "-t", "0", "127.0.0.1"},
		{"ping", "-t", "256", "127.0.0.1"},
		{"ping", "-Q", "256", "127.0.0.1"},
		{"ping", "-Q", "-1", "127.0.0.1"},
		{"ping", "no-such-host.invalid"},
		{"ping"},
		{"ping", "--mode", "kernel", "127.0.0.1"},
		{"multiping"},
		{"multiping", "-g", "127.0.0.0/40"},
		{"multiping", "-g", "not-a-prefix"},
		{"multiping", "-c", "0", "127.0.0.1"},
		{"multiping", "-i", "-0.5", "127.0.0.1"},
		{"multiping", "-W", "-2", "127.0.0.1"},
		{"multiping", "-t", "300", "127.0.0.1"},
		{"multiping", "127.0.0.1", "no-such-host.invalid"},
		{"multiping", "--rate", "-5", "127.0.0.1"},
		{"traceroute", "-m", "0", "127.0.0.1"},
		{"traceroute", "-q", "0", "127.0.0.1"},
		{"traceroute", "-W", "-1", "127.0.0.1"},
		{"traceroute", "-Q", "999", "127.0.0.1"},
		{"traceroute", "no-such-host.invalid"},
		{"tracert", "127.0.0.1"},
		{"ping", "--json=1", "127.0.0.1"},
		{"ping", "--help=x"},
		{"multiping", "--json=yes", "127.0.0.1"},
		{"traceroute", "--paris=1", "127.0.0.1"},
	}
	for _, args := range tests {
		t.Run(strings.Join(args, " "), func(t *testing.T) {
			r := runBin(t, args...)
			assert.Equal(t, exitError, r.code)
			assert.Empty(t, r.stdout)
			if len(args) > 1 {
				assert.Len(t, lines(r.stderr), 1, "one line: %q", r.stderr)
			}
			assert.Regexp(t, `^(icmpkit|usage)`, r.stderr)
		})
	}
	// An empty target list from stdin.
	r := runCmd(t, "# nothing\n\n", binary(t), "multiping", "-f", "-")
	assert.Equal(t, exitError, r.code)
	assert.Contains(t, r.stderr, "empty")

	for _, cmd := range []string{"ping", "multiping", "traceroute"} {
		r := runBin(t, cmd, "-h")
		assert.Equal(t, exitOK, r.code)
		assert.Contains(t, r.stdout, "(default ")
	}
}

var (
	pingHeader  = regexp.MustCompile(`^PING (\S+?) ?\((\S+)\) (\d+)(\((\d+)\) bytes of data\.| data bytes)$`)
	pingReply   = regexp.MustCompile(`^(\d+) bytes from (?:\S+ \()?([0-9a-f.:]+)\)?: icmp_seq=(\d+) ttl=(\d+) time=(\d+(\.\d+)?) ms$`)
	pingStats   = regexp.MustCompile(`^(\d+) packets transmitted, (\d+) received, (\+\d+ duplicates, )?(\+\d+ errors, )?(\d+(\.\d+)?)% packet loss, time (\d+)ms$`)
	pingRTT     = regexp.MustCompile(`^rtt min/avg/max/mdev = \d+\.\d{3}/\d+\.\d{3}/\d+\.\d{3}/\d+\.\d{3} ms$`)
	hopLineRE   = regexp.MustCompile(`^ ?(\d+)  (\S+)((  \d+\.\d{3} ms( ![A-Z<>0-9]+)?)| \*)+$`)
	silentHopRE = regexp.MustCompile(`^ ?(\d+) ( \*)+$`)
)

func TestCLIPingLoopback(t *testing.T) {
	privileged(t)
	for _, tt := range []struct{ host, addr string }{{"127.0.0.1", "127.0.0.1"}, {"localhost", "127.0.0.1"}, {"::1", "::1"}} {
		t.Run(tt.host, func(t *testing.T) {
			r := runBin(t, "ping", "-c", "3", "-i", "0.05", tt.host)
			require.Equal(t, exitOK, r.code, r.stderr)
			assert.Empty(t, r.stderr)
			l := lines(r.stdout)
			require.Len(t, l, 8, r.stdout)
			m := pingHeader.FindStringSubmatch(l[0])
			require.NotNil(t, m, l[0])
			assert.Equal(t, tt.host, m[1])
			assert.Equal(t, tt.addr, m[2])
			for i, line := range l[1:4] {
				m := pingReply.FindStringSubmatch(line)
				require.NotNil(t, m, line)
				assert.Equal(t, "64", m[1])
				assert.Equal(t, tt.addr, m[2])
				assert.Equal(t, fmt.Sprint(i+1), m[3])
				assert.Equal(t, "64", m[4])
			}
			assert.Equal(t, "", l[4])
			assert.Equal(t, "--- "+tt.host+" ping statistics ---", l[5])
			m = pingStats.FindStringSubmatch(l[6])
			require.NotNil(t, m, l[6])
			assert.Equal(t, "3", m[1])
			assert.Equal(t, "3", m[2])
			assert.Equal(t, "0", m[5])
			assert.Regexp(t, pingRTT, l[7])
		})
	}

	r := runBin(t, "ping", "-q", "-c", "2", "-i", "0", "-s", "1000", "127.0.0.1")
	require.Equal(t, exitOK, r.code, r.stderr)
	assert.NotContains(t, r.stdout, "bytes from")
	assert.Contains(t, r.stdout, "PING 127.0.0.1 (127.0.0.1) 1000(1028) bytes of data.\n")
	assert.Contains(t, r.stdout, "2 packets transmitted, 2 received, 0% packet loss")
}

func TestCLIPingJSON(t *testing.T) {
	privileged(t)
	r := runBin(t, "ping", "--json", "-c", "3", "-i", "0.05", "127.0.0.1")
	require.Equal(t, exitOK, r.code, r.stderr)
	require.Len(t, lines(r.stdout), 1, "one object and nothing else: %q", r.stdout)
	var m map[string]any
	require.NoError(t, json.Unmarshal([]byte(r.stdout), &m))
	checkHostJSON(t, m)
	assert.Equal(t, "127.0.0.1", m["address"])
	assert.Equal(t, true, m["is_alive"])
	assert.Equal(t, 3.0, m["packets_sent"])
	assert.Equal(t, 3.0, m["packets_received"])
	assert.Equal(t, 0.0, m["packet_loss"])
	assert.Len(t, m["rtts"], 3)
	min, avg, max := m["min_rtt"].(float64), m["avg_rtt"].(float64), m["max_rtt"].(float64)
	assert.True(t, 0 < min && min <= avg && avg <= max && max < 1000, "RTTs in milliseconds: %v %v %v", min, avg, max)
}

func TestCLIPingInterrupt(t *testing.T) {
	privileged(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, binary(t), "ping", "-c", "100", "-i", "0.2", "127.0.0.1")
	out, err := cmd.StdoutPipe()
	require.NoError(t, err)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	require.NoError(t, cmd.Start())
	sc := bufio.NewScanner(out)
	var got []string
	for sc.Scan() {
		got = append(got, sc.Text())
		if strings.Count(strings.Join(got, "\n"), "bytes from") == 3 {
			break
		}
	}
	require.NoError(t, cmd.Process.Signal(syscall.SIGINT))
	rest, _ := io.ReadAll(out)
	err = cmd.Wait()
	require.NoError(t, err, "exit 0 after Ctrl-C with replies; stderr %q", stderr.String())
	got = append(got, lines(string(rest))...)
	text := strings.Join(got, "\n")
	assert.Contains(t, text, "--- 127.0.0.1 ping statistics ---")
	m := pingStats.FindStringSubmatch(got[len(got)-2])
	require.NotNil(t, m, text)
	assert.GreaterOrEqual(t, m[2], "3")
	assert.Less(t, len(got), 20, "stopped early: %s", text)
	assert.Regexp(t, pingRTT, got[len(got)-1])
}

// startToFirstLine starts cmd and reads its first line of output, which must begin with
// prefix; the rest of the output is left in the reader.
func startToFirstLine(t *testing.T, cmd *exec.Cmd, prefix string) *bufio.Reader {
	t.Helper()
	out, err := cmd.StdoutPipe()
	require.NoError(t, err)
	require.NoError(t, cmd.Start())
	r := bufio.NewReader(out)
	first, err := r.ReadString('\n')
	require.NoError(t, err)
	require.True(t, strings.HasPrefix(first, prefix), first)
	return r
}

// A Ctrl-C at once after the first line of output, before or just after the first reply,
// still gives the summary: the handler is in place before anything is printed.
func TestCLIPingInterruptAfterFirstLine(t *testing.T) {
	privileged(t)
	for range 5 {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		cmd := exec.CommandContext(ctx, binary(t), "ping", "-c", "100", "-i", "0.2", "127.0.0.1")
		r := startToFirstLine(t, cmd, "PING 127.0.0.1 ")
		require.NoError(t, cmd.Process.Signal(syscall.SIGINT))
		rest, _ := io.ReadAll(r)
		err := cmd.Wait()
		cancel()
		state := cmd.ProcessState
		require.True(t, state.Exited(), "ended by a signal (%v) instead of printing its summary", state)
		assert.Contains(t, []int{exitOK, exitFail}, state.ExitCode(), "%v", err)
		assert.Contains(t, string(rest), "--- 127.0.0.1 ping statistics ---")
	}
}

func TestCLIMultipingLoopback(t *testing.T) {
	privileged(t)
	var targets []string
	for i := 1; i <= 50; i++ {
		targets = append(targets, fmt.Sprintf("127.0.0.%d", i))
	}
	rand.Shuffle(len(targets), func(i, j int) { targets[i], targets[j] = targets[j], targets[i] })

	r := runBin(t, append([]string{"multiping", "--json", "-c", "2", "-i", "0.05"}, targets...)...)
	require.Equal(t, exitOK, r.code, r.stderr)
	assert.Empty(t, r.stderr, "no progress bar when stderr is not a terminal")
	l := lines(r.stdout)
	require.Len(t, l, len(targets))
	for i, line := range l {
		var m map[string]any
		require.NoError(t, json.Unmarshal([]byte(line), &m), line)
		checkHostJSON(t, m)
		assert.Equal(t, targets[i], m["address"], "input order")
		assert.Equal(t, true, m["is_alive"])
		assert.Equal(t, 2.0, m["packets_sent"])
	}

	r = runBin(t, "multiping", "-q", "-c", "1", "-g", "127.0.0.0/28", "::1")
	require.Equal(t, exitOK, r.code, r.stderr)
	l = lines(r.stdout)
	require.Len(t, l, 15)
	for i, line := range l {
		m := hostLine.FindStringSubmatch(line)
		require.NotNil(t, m, line)
		if i < 14 {
			assert.Equal(t, fmt.Sprintf("127.0.0.%d", i+1), m[1])
		} else {
			assert.Equal(t, "::1", m[1])
		}
		assert.Equal(t, "1/1/0", m[2]+"/"+m[3]+"/"+m[4])
		assert.NotEmpty(t, m[5], "min/avg/max")
	}

	r = runCmd(t, "127.0.0.3\n# comment\nlocalhost\n", binary(t), "multiping", "-qc1", "--progress", "-f", "-")
	require.Equal(t, exitOK, r.code, r.stderr)
	assert.Regexp(t, `^127\.0\.0\.3 : xmt/rcv/%loss = 1/1/0%, min/avg/max = [\d./]+\nlocalhost : `, r.stdout, "a name is shown as given")
	assert.Contains(t, r.stderr, "hosts done", "--progress draws on stderr")
	assert.NotContains(t, r.stdout, "\r")
}

func TestCLITracerouteLoopback(t *testing.T) {
	privileged(t)
	r := runBin(t, "traceroute", "-n", "127.0.0.1")
	require.Equal(t, exitOK, r.code, r.stderr)
	l := lines(r.stdout)
	require.Len(t, l, 2, r.stdout)
	assert.Equal(t, "traceroute to 127.0.0.1 (127.0.0.1), 30 hops max, 60 byte packets", l[0])
	m := hopLineRE.FindStringSubmatch(l[1])
	require.NotNil(t, m, l[1])
	assert.Equal(t, "1", m[1])
	assert.Equal(t, "127.0.0.1", m[2])
	assert.Equal(t, 3, strings.Count(l[1], " ms"))

	r = runBin(t, "traceroute", "--json", "::1")
	require.Equal(t, exitOK, r.code, r.stderr)
	var tr map[string]any
	require.NoError(t, json.Unmarshal([]byte(r.stdout), &tr))
	assert.Equal(t, "::1", tr["destination"])
	assert.Equal(t, true, tr["reached"])
	hops := tr["hops"].([]any)
	require.Len(t, hops, 1)
	hop := hops[0].(map[string]any)
	checkHostJSON(t, hop)
	assert.Equal(t, 1.0, hop["distance"])
	assert.Equal(t, "::1", hop["address"])
}

// inPrivateNet runs the program in a network namespace of its own with loopback up and
// net.ipv4.ping_group_range set to groups, as uid and gid 65534 without capabilities.
func inPrivateNet(t *testing.T, groups string, args ...string) cliResult {
	t.Helper()
	if _, err := exec.LookPath("unshare"); err != nil {
		lab.SkipOrFail(t, "needs unshare(1): %v", err)
	}
	if _, err := exec.LookPath("setpriv"); err != nil {
		lab.SkipOrFail(t, "needs setpriv(1): %v", err)
	}
	script := `ip link set lo up && echo "$1" > /proc/sys/net/ipv4/ping_group_range && shift && ` +
		`exec setpriv --reuid=65534 --regid=65534 --clear-groups --inh-caps=-all "$@"`
	return runCmd(t, "", "unshare", append([]string{"-n", "sh", "-c", script, "sh", groups, binary(t)}, args...)...)
}

func TestCLIUnprivileged(t *testing.T) {
	privileged(t)
	r := inPrivateNet(t, "65534 65534", "ping", "--mode", "dgram", "-c", "2", "-i", "0.05", "127.0.0.1")
	require.Equal(t, exitOK, r.code, r.stderr)
	assert.Empty(t, r.stderr)
	assert.Equal(t, 2, strings.Count(r.stdout, "bytes from 127.0.0.1: icmp_seq="))

	// Auto mode falls back to datagram sockets and says so, on stderr only.
	r = inPrivateNet(t, "0 2147483647", "ping", "-c", "1", "::1")
	require.Equal(t, exitOK, r.code, r.stderr)
	assert.Equal(t, "icmpkit ping: raw ICMP sockets unavailable, fell back to unprivileged datagram sockets (--mode dgram)\n", r.stderr)
	assert.Contains(t, r.stdout, "bytes from ::1: icmp_seq=1")

	r = inPrivateNet(t, "0 2147483647", "multiping", "--json", "-c", "1", "127.0.0.2", "::1")
	require.Equal(t, exitOK, r.code, r.stderr)
	assert.Len(t, lines(r.stdout), 2)
	assert.Len(t, lines(r.stderr), 1, "the fallback report")

	r = inPrivateNet(t, "0 2147483647", "traceroute", "-n", "--mode", "dgram", "127.0.0.1")
	require.Equal(t, exitOK, r.code, r.stderr)
	assert.Regexp(t, hopLineRE, lines(r.stdout)[1])

	// Permission problems: exit 2, naming the remedies.
	r = inPrivateNet(t, "0 2147483647", "ping", "--mode", "raw", "-c", "1", "127.0.0.1")
	assert.Equal(t, exitError, r.code)
	assert.Empty(t, r.stdout)
	assert.Len(t, lines(r.stderr), 1)
	assert.Contains(t, r.stderr, "permission denied")
	assert.Contains(t, r.stderr, "CAP_NET_RAW")

	r = inPrivateNet(t, "1 0", "ping", "-c", "1", "127.0.0.1")
	assert.Equal(t, exitError, r.code)
	assert.Len(t, lines(r.stderr), 1, r.stderr)
	assert.Contains(t, r.stderr, "CAP_NET_RAW")
	assert.Contains(t, r.stderr, "net.ipv4.ping_group_range")

	r = inPrivateNet(t, "1 0", "ping", "--mode", "dgram", "-c", "1", "127.0.0.1")
	assert.Equal(t, exitError, r.code)
	assert.Contains(t, r.stderr, "ping_group_range")
}

// inNS runs the program in namespace ns.
func inNS(t *testing.T, ns string, args ...string) cliResult {
	t.Helper()
	return runCmd(t, "", "ip", append([]string{"netns", "exec", ns, binary(t)}, args...)...)
}

func TestCLIChain(t *testing.T) {
	privileged(t)
	c := lab.NewChain(t, lab.ChainConfig{Routers: 3, Silent: []int{2}, DeadHosts: 2, Unreachable: 1, UnreachableAt: 2})
	ns := c.Client.NS
	target := c.Target.V4.String()

	t.Run("traceroute", func(t *testing.T) {
		r := inNS(t, ns, "traceroute", "-n", "-W", "0.5", target)
		require.Equal(t, exitOK, r.code, r.stderr)
		l := lines(r.stdout)
		require.Len(t, l, 5, r.stdout)
		assert.Equal(t, fmt.Sprintf("traceroute to %s (%s), 30 hops max, 60 byte packets", target, target), l[0])
		for i, want := range []string{c.Router(1).V4.String(), "*", c.Router(3).V4.String(), target} {
			if want == "*" {
				assert.Equal(t, " 2  * * *", l[i+1])
				continue
			}
			m := hopLineRE.FindStringSubmatch(l[i+1])
			require.NotNil(t, m, l[i+1])
			assert.Equal(t, fmt.Sprint(i+1), m[1])
			assert.Equal(t, want, m[2])
		}
	})
	t.Run("traceroute path MTU", func(t *testing.T) {
		c := lab.NewChain(t, lab.ChainConfig{Routers: 3, MTU: map[int]int{2: 1400}})
		for _, dst := range []netip.Addr{c.Target.V4, c.Target.V6} {
			r := inNS(t, c.Client.NS, "traceroute", "-n", "--pmtu", "--paris", "-W", "0.5", dst.String())
			require.Equal(t, exitOK, r.code, r.stderr)
			l := lines(r.stdout)
			require.Len(t, l, 5, r.stdout)
			// Link 2 joins the routers at distances 2 and 3.
			assert.Regexp(t, `  pmtu 1500$`, l[1], "the first hop shows the starting MTU")
			assert.NotContains(t, l[2], "pmtu", "the MTU is shown again only where it changes")
			assert.Regexp(t, `  pmtu 1400$`, l[3], "router 3 is behind the 1400-byte link")
			assert.NotContains(t, l[4], "pmtu")
		}
	})
	t.Run("traceroute IPv6 JSON", func(t *testing.T) {
		r := inNS(t, ns, "traceroute", "--json", "-W", "0.5", c.Target.V6.String())
		require.Equal(t, exitOK, r.code, r.stderr)
		var tr map[string]any
		require.NoError(t, json.Unmarshal([]byte(r.stdout), &tr))
		assert.Equal(t, true, tr["reached"])
		hops := tr["hops"].([]any)
		require.Len(t, hops, 3, "the silent router is left out")
		for i, want := range []struct {
			dist float64
			addr netip.Addr
		}{{1, c.Router(1).V6}, {3, c.Router(3).V6}, {4, c.Target.V6}} {
			hop := hops[i].(map[string]any)
			checkHostJSON(t, hop)
			assert.Equal(t, want.dist, hop["distance"])
			assert.Equal(t, want.addr.String(), hop["address"])
		}
	})
	t.Run("traceroute unreachable", func(t *testing.T) {
		r := inNS(t, ns, "traceroute", "-n", "-q", "1", "-W", "0.5", c.UnreachableV4[0].String())
		assert.Equal(t, exitFail, r.code, r.stderr)
		l := lines(r.stdout)
		require.Len(t, l, 3, r.stdout)
		assert.Regexp(t, `^ 2  `+regexp.QuoteMeta(c.UnreachableFrom().V4.String())+`  \d+\.\d{3} ms !H$`, l[2])
	})
	t.Run("ping TTL exceeded", func(t *testing.T) {
		r := inNS(t, ns, "ping", "-c", "2", "-i", "0.1", "-t", "1", target)
		assert.Equal(t, exitFail, r.code, r.stderr)
		from := c.Router(1).V4.String()
		assert.Contains(t, r.stdout, "From "+from+" icmp_seq=1 Time to live exceeded\n")
		assert.Contains(t, r.stdout, "From "+from+" icmp_seq=2 Time to live exceeded\n")
		assert.Contains(t, r.stdout, "2 packets transmitted, 0 received, +2 errors, 100% packet loss")
	})
	t.Run("one-request ping interrupted", func(t *testing.T) {
		// A ping of one request installs its Ctrl-C handler once it waits for its reply,
		// moments after the first line.
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		cmd := exec.CommandContext(ctx, "ip", "netns", "exec", ns, binary(t), "ping", "-c", "1", "-W", "10", c.DeadV4[0].String())
		r := startToFirstLine(t, cmd, "PING ")
		time.Sleep(300 * time.Millisecond) // well past that, on a loaded machine too
		require.NoError(t, cmd.Process.Signal(syscall.SIGINT))
		rest, _ := io.ReadAll(r)
		cmd.Wait()
		require.True(t, cmd.ProcessState.Exited(), "ended by a signal (%v) instead of printing its summary", cmd.ProcessState)
		assert.Equal(t, exitFail, cmd.ProcessState.ExitCode())
		assert.Contains(t, string(rest), "1 packets transmitted, 0 received, 100% packet loss")
	})
	t.Run("multiping with dead hosts", func(t *testing.T) {
		r := inNS(t, ns, "multiping", "-q", "-c", "2", "-i", "0.1", "-W", "0.5", target, c.DeadV4[0].String(), c.Target.V6.String(), c.DeadV6[1].String())
		assert.Equal(t, exitFail, r.code, r.stderr)
		l := lines(r.stdout)
		require.Len(t, l, 4, r.stdout)
		assert.Regexp(t, `^`+regexp.QuoteMeta(target)+` : xmt/rcv/%loss = 2/2/0%, min/avg/max = `, l[0])
		assert.Equal(t, c.DeadV4[0].String()+" : xmt/rcv/%loss = 2/0/100%", l[1])
		assert.Regexp(t, `^`+regexp.QuoteMeta(c.Target.V6.String())+` : xmt/rcv/%loss = 2/2/0%`, l[2])
		assert.Equal(t, c.DeadV6[1].String()+" : xmt/rcv/%loss = 2/0/100%", l[3])

		r = inNS(t, ns, "multiping", "--json", "-c", "1", "-W", "0.5", c.DeadV4[1].String())
		assert.Equal(t, exitFail, r.code)
		var m map[string]any
		require.NoError(t, json.Unmarshal([]byte(r.stdout), &m))
		checkHostJSON(t, m)
		assert.Equal(t, c.DeadV4[1].String(), m["address"], "the address probed, also when dead")
		assert.Equal(t, []any{}, m["rtts"])
	})
	t.Run("unprivileged traceroute", func(t *testing.T) {
		require.NoError(t, c.SetPingGroupRange(ns, 65534, 65534))
		r := runCmd(t, "", "ip", "netns", "exec", ns, "setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "--inh-caps=-all",
			binary(t), "traceroute", "-n", "--mode", "dgram", "-W", "0.5", target)
		require.Equal(t, exitOK, r.code, r.stderr)
		l := lines(r.stdout)
		require.Len(t, l, 5, r.stdout)
		assert.Regexp(t, `^ 1  `+regexp.QuoteMeta(c.Router(1).V4.String())+`  `, l[1])
		assert.Regexp(t, silentHopRE, l[2])
	})
}

func TestCLIBroadcast(t *testing.T) {
	privileged(t)
	b := lab.NewBroadcast(t, lab.BroadcastConfig{Responders: 3})
	bcast := b.Broadcast.String()
	r := inNS(t, b.Client.NS, "ping", "-c", "1", bcast)
	assert.Equal(t, exitError, r.code)
	assert.Contains(t, r.stderr, "-b")

	r = inNS(t, b.Client.NS, "ping", "-b", "-c", "2", "-i", "0.2", bcast)
	require.Equal(t, exitOK, r.code, r.stderr)
	for _, resp := range b.Responders {
		assert.Contains(t, r.stdout, "64 bytes from "+resp.V4.String()+": icmp_seq=1")
	}
}

// TestCLIWriteError runs each subcommand with its standard output on /dev/full: the run
// stops at the first write that fails and says so on stderr, exit 2, rather than losing its
// results silently. (A standard output closed with >&- cannot be told apart: Go's runtime
// gives a program started with a closed descriptor 0, 1 or 2 /dev/null in its place, so that
// the program's own files never take that number, and what is written there is discarded as
// with >/dev/null.)
func TestCLIWriteError(t *testing.T) {
	privileged(t)
	for _, args := range [][]string{
		{"ping", "-c1", "127.0.0.1"},
		{"ping", "-c", "100", "-i", "0.2", "127.0.0.1"},
		{"ping", "--json", "-c1", "127.0.0.1"},
		{"ping", "-q", "-c1", "::1"},
		{"multiping", "-c1", "127.0.0.1", "::1"},
		{"multiping", "-q", "-c1", "127.0.0.1"},
		{"multiping", "--json", "-c1", "127.0.0.1"},
		{"multiping", "-l", "-p", "100", "127.0.0.1"},
		{"traceroute", "127.0.0.1"},
		{"traceroute", "--json", "-n", "127.0.0.1"},
		{"ping", "-h"},
	} {
		t.Run(strings.Join(args, " "), func(t *testing.T) {
			full, err := os.OpenFile("/dev/full", os.O_WRONLY, 0)
			require.NoError(t, err)
			defer full.Close()
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			cmd := exec.CommandContext(ctx, binary(t), args...)
			var stderr strings.Builder
			cmd.Stdout, cmd.Stderr = full, &stderr
			err = cmd.Run()
			require.NoError(t, ctx.Err(), "the run ends at the first failed write")
			var exit *exec.ExitError
			require.True(t, errorsAs(err, &exit), "%v", err)
			assert.Equal(t, exitError, exit.ExitCode())
			assert.Equal(t, "icmpkit "+args[0]+": write error: no space left on device\n", stderr.String())
		})
	}
}

// TestCLIMultipingInterrupt stops a multiping with Ctrl-C after a few rounds: every host has
// answered, so it exits 0, as fping does.
func TestCLIMultipingInterrupt(t *testing.T) {
	privileged(t)
	for _, quiet := range []bool{false, true} {
		t.Run(fmt.Sprintf("quiet %v", quiet), func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			args := []string{"multiping", "-c", "100", "-i", "0.2", "127.0.0.1", "::1"}
			if quiet {
				args = append(args, "-q")
			}
			cmd := exec.CommandContext(ctx, binary(t), args...)
			out, err := cmd.StdoutPipe()
			require.NoError(t, err)
			var stderr strings.Builder
			cmd.Stderr = &stderr
			require.NoError(t, cmd.Start())
			r := bufio.NewReader(out)
			if quiet {
				time.Sleep(900 * time.Millisecond) // four rounds
			} else {
				for range 8 { // four rounds of two replies
					l, err := r.ReadString('\n')
					require.NoError(t, err)
					require.Contains(t, l, "bytes")
				}
			}
			require.NoError(t, cmd.Process.Signal(syscall.SIGINT))
			rest, _ := io.ReadAll(r)
			err = cmd.Wait()
			var summaries []string
			for _, l := range lines(string(rest)) {
				if hostLine.MatchString(l) {
					summaries = append(summaries, l)
				}
			}
			require.Len(t, summaries, 2, "%s\nstderr: %s", rest, stderr.String())
			for _, l := range summaries {
				m := hostLine.FindStringSubmatch(l)
				assert.NotEqual(t, "0", m[3], "answered: %s", l)
				assert.Less(t, len(m[2]), 3, "stopped after a few rounds: %s", l)
			}
			require.NoError(t, err, "exit 0: every host answered\n%s\nstderr: %s", rest, stderr.String())
		})
	}
}
