package main

import (
	"bytes"
	"context"
	"encoding/json"
	"net/netip"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"testing/synctest"
	"time"

	"github.com/icmpkit/icmpkit"
	"github.com/icmpkit/icmpkit/errors"
	"github.com/icmpkit/icmpkit/transport"
	"github.com/icmpkit/icmpkit/transport/mock"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/net/icmp"
)

// These tests run the program in-process over the in-memory network, inside synctest
// bubbles, so every RTT is exact and no test waits for real time. The tests in cli_test.go run
// the built binary against loopback.

// fakeRun is one in-process run of the program.
type fakeRun struct {
	code           int
	stdout, stderr string
	opened         []icmpkit.Config
	modes          []icmpkit.Mode
	tr             *mock.Transport
}

// named gives a mock transport another name, as raw and dgram transports have.
type named struct {
	*mock.Transport
	name string
}

func (n named) Name() string { return n.name }

type runOpts struct {
	stdin    string
	openErr  error
	name     string // the name the transport reports; "" keeps "mock"
	cancelAt time.Duration
	terminal bool
	lookups  lookups                                  // nil: lookup, or the system's without names
	lookup   func(context.Context, netip.Addr) string // reverse lookups, when lookups is nil
}

// runOn runs the program with args over n (inside the caller's bubble).
func runOn(t *testing.T, n *mock.Network, o runOpts, args ...string) *fakeRun {
	t.Helper()
	var stdout, stderr bytes.Buffer
	fr := &fakeRun{}
	e := &env{
		stdin: strings.NewReader(o.stdin), stdout: &stdout, stderr: &stderr,
		stdoutTerminal: o.terminal, stderrTerminal: o.terminal, lookups: o.lookups,
		open: func(m icmpkit.Mode, cfg icmpkit.Config) (transport.Transport, error) {
			fr.opened = append(fr.opened, cfg)
			fr.modes = append(fr.modes, m)
			if o.openErr != nil {
				return nil, o.openErr
			}
			fr.tr = n.Transport(mock.TransportConfig{})
			if cfg.Broadcast {
				require.NoError(t, fr.tr.SetBroadcast(true))
			}
			if o.name != "" {
				return named{fr.tr, o.name}, nil
			}
			return fr.tr, nil
		},
	}
	if e.lookups == nil {
		// No test asks the system for a name: that would reach for a DNS server.
		e.lookups = reverseOnly(o.lookup)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	if o.cancelAt > 0 {
		time.AfterFunc(o.cancelAt, cancel)
	}
	fr.code = run(ctx, args, e)
	fr.stdout, fr.stderr = stdout.String(), stderr.String()
	return fr
}

// reverseOnly answers reverse lookups with its function (nil: no address has a name), and
// everything else as the system does but for canonical names, which it leaves alone.
type reverseOnly func(context.Context, netip.Addr) string

func (f reverseOnly) resolve(ctx context.Context, host string, family icmpkit.Family) (netip.Addr, error) {
	return systemLookups{}.resolve(ctx, host, family)
}

func (reverseOnly) canonical(context.Context, string) string { return "" }

func (f reverseOnly) name(ctx context.Context, a netip.Addr) string {
	if f == nil {
		return ""
	}
	return f(ctx, a)
}

func (reverseOnly) ifaceAddr(iface string, dst netip.Addr) (netip.Addr, bool) {
	return systemLookups{}.ifaceAddr(iface, dst)
}

func addr(s string) netip.Addr { return netip.MustParseAddr(s) }

// mockLab is a small network: live hosts 198.18.0.1-3 (1, 2, 3 ms), a dead 198.18.0.4, an IPv6
// host, and 198.18.9.9 behind two routers.
func mockLab(t *testing.T) *mock.Network {
	n := mock.NewNetwork(mock.Config{Seed: 1})
	for i := 1; i <= 3; i++ {
		require.NoError(t, n.AddHost(netip.AddrFrom4([4]byte{198, 18, 0, byte(i)}), mock.Host{Latency: time.Duration(i) * time.Millisecond}))
	}
	require.NoError(t, n.AddHost(addr("198.18.0.4"), mock.Host{Dead: true}))
	require.NoError(t, n.AddHost(addr("2001:db8::1"), mock.Host{Latency: 500 * time.Microsecond, TTL: 255}))
	require.NoError(t, n.AddHost(addr("198.18.9.9"), mock.Host{Latency: 8 * time.Millisecond}))
	require.NoError(t, n.AddPath(addr("198.18.9.9"),
		mock.Router{Addr: addr("198.18.1.1"), Latency: 1500 * time.Microsecond},
		mock.Router{Addr: addr("198.18.2.1"), Latency: 4 * time.Millisecond, MPLS: []icmp.MPLSLabel{{Label: 100, TC: 0, S: true, TTL: 1}}},
	))
	return n
}

func TestPingText(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := runOn(t, mockLab(t), runOpts{}, "ping", "-c", "3", "-i", "0.2", "198.18.0.2")
		require.Equal(t, exitOK, r.code, r.stderr)
		assert.Empty(t, r.stderr)
		want := "PING 198.18.0.2 (198.18.0.2) 56(84) bytes of data.\n" +
			"64 bytes from 198.18.0.2: icmp_seq=1 ttl=64 time=2.00 ms\n" +
			"64 bytes from 198.18.0.2: icmp_seq=2 ttl=64 time=2.00 ms\n" +
			"64 bytes from 198.18.0.2: icmp_seq=3 ttl=64 time=2.00 ms\n" +
			"\n--- 198.18.0.2 ping statistics ---\n" +
			"3 packets transmitted, 3 received, 0% packet loss, time 400ms\n" +
			"rtt min/avg/max/mdev = 2.000/2.000/2.000/0.000 ms\n"
		assert.Equal(t, want, r.stdout)
		assert.Equal(t, []icmpkit.Mode{icmpkit.ModeAuto}, r.modes)
		assert.Equal(t, icmpkit.IPv4, r.opened[0].Family, "only the destination's family is opened")
	})
}

func TestPingTextIPv6(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := runOn(t, mockLab(t), runOpts{}, "ping", "-c", "2", "-s", "100", "2001:db8::1")
		require.Equal(t, exitOK, r.code, r.stderr)
		lines := strings.Split(r.stdout, "\n")
		assert.Equal(t, "PING 2001:db8::1(2001:db8::1) 100 data bytes", lines[0])
		assert.Equal(t, "108 bytes from 2001:db8::1: icmp_seq=1 ttl=255 time=0.500 ms", lines[1])
		assert.Contains(t, r.stdout, "2 packets transmitted, 2 received, 0% packet loss")
		assert.Equal(t, icmpkit.IPv6, r.opened[0].Family)
	})
}

func TestPingErrorsAndLoss(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		// TTL 1 ends on the first router: every request gets Time Exceeded.
		r := runOn(t, mockLab(t), runOpts{}, "ping", "-c", "2", "-t", "1", "198.18.9.9")
		assert.Equal(t, exitFail, r.code)
		assert.Contains(t, r.stdout, "From 198.18.1.1 icmp_seq=1 Time to live exceeded\n")
		assert.Contains(t, r.stdout, "From 198.18.1.1 icmp_seq=2 Time to live exceeded\n")
		assert.Contains(t, r.stdout, "2 packets transmitted, 0 received, +2 errors, 100% packet loss")
		assert.NotContains(t, r.stdout, "rtt min/avg/max/mdev")

		// A dead host: nothing but the summary, after each request's timeout.
		start := time.Now()
		r = runOn(t, mockLab(t), runOpts{}, "ping", "-c", "2", "-W", "0.5", "198.18.0.4")
		assert.Equal(t, exitFail, r.code)
		assert.Equal(t, 1500*time.Millisecond, time.Since(start))
		assert.Equal(t, "PING 198.18.0.4 (198.18.0.4) 56(84) bytes of data.\n\n--- 198.18.0.4 ping statistics ---\n"+
			"2 packets transmitted, 0 received, 100% packet loss, time 1000ms\n\n", r.stdout)
	})
}

func TestPingQuietAndBackToBack(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		start := time.Now()
		r := runOn(t, mockLab(t), runOpts{}, "ping", "-q", "-c", "5", "-i", "0", "198.18.0.3")
		require.Equal(t, exitOK, r.code, r.stderr)
		assert.Equal(t, 15*time.Millisecond, time.Since(start), "-i 0 sends each request when the previous is answered")
		assert.NotContains(t, r.stdout, "bytes from")
		assert.Contains(t, r.stdout, "5 packets transmitted, 5 received, 0% packet loss, time 12ms\nrtt min/avg/max/mdev = 3.000/3.000/3.000/0.000 ms, ipg/ewma 3.000/3.000 ms\n")
	})
}

func TestPingPayloadAndOptions(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := runOn(t, mockLab(t), runOpts{}, "ping", "-c", "1", "-s", "0", "-t", "17", "-Q", "184", "-I", "198.18.0.100", "198.18.0.1")
		require.Equal(t, exitOK, r.code, r.stderr)
		sent := r.tr.Sent()
		require.Len(t, sent, 1)
		assert.Equal(t, 0, sent[0].PayloadLen(), "-s 0 sends no data")
		assert.Equal(t, 17, sent[0].TTL)
		assert.Equal(t, 184, sent[0].TrafficClass)
		assert.Contains(t, r.stdout, "PING 198.18.0.1 (198.18.0.1) from 198.18.0.100 : 0(28) bytes of data.\n8 bytes from 198.18.0.1: icmp_seq=1")
		assert.Equal(t, addr("198.18.0.100"), r.opened[0].Source)

		r = runOn(t, mockLab(t), runOpts{}, "ping", "-c", "1", "-I", "eth7", "--mode", "dgram", "198.18.0.1")
		require.Equal(t, exitOK, r.code, r.stderr)
		assert.Equal(t, "eth7", r.opened[0].Interface)
		assert.Equal(t, []icmpkit.Mode{icmpkit.ModeUnprivileged}, r.modes)
	})
}

func TestPingJSON(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := runOn(t, mockLab(t), runOpts{}, "ping", "--json", "-c", "3", "-i", "0.1", "198.18.0.1")
		require.Equal(t, exitOK, r.code, r.stderr)
		require.Equal(t, 1, strings.Count(r.stdout, "\n"), "one JSON object, nothing else: %q", r.stdout)
		var m map[string]any
		require.NoError(t, json.Unmarshal([]byte(r.stdout), &m))
		checkHostJSON(t, m)
		assert.Equal(t, "198.18.0.1", m["address"])
		assert.Equal(t, true, m["is_alive"])
		assert.Equal(t, 3.0, m["packets_sent"])
		assert.Equal(t, 3.0, m["packets_received"])
		assert.Equal(t, 0.0, m["packet_loss"])
		assert.Equal(t, 1.0, m["min_rtt"])
		assert.Equal(t, []any{1.0, 1.0, 1.0}, m["rtts"])

		r = runOn(t, mockLab(t), runOpts{}, "ping", "--json", "-c", "2", "-W", "0.1", "198.18.0.4")
		assert.Equal(t, exitFail, r.code)
		require.NoError(t, json.Unmarshal([]byte(r.stdout), &m))
		checkHostJSON(t, m)
		assert.Equal(t, "198.18.0.4", m["address"], "the address probed, also when dead")
		assert.Equal(t, false, m["is_alive"])
		assert.Equal(t, 1.0, m["packet_loss"])
		assert.Equal(t, []any{}, m["rtts"])
		assert.Equal(t, 0.0, m["avg_rtt"])
	})
}

// checkHostJSON checks the fields of a contract Host object and their types.
func checkHostJSON(t *testing.T, m map[string]any) {
	t.Helper()
	assert.IsType(t, "", m["address"])
	assert.IsType(t, true, m["is_alive"])
	for _, k := range []string{"packets_sent", "packets_received", "packet_loss", "min_rtt", "avg_rtt", "max_rtt", "stddev", "jitter"} {
		assert.IsType(t, 0.0, m[k], k)
	}
	assert.IsType(t, []any{}, m["rtts"])
	for _, r := range m["rtts"].([]any) {
		assert.IsType(t, 0.0, r)
	}
	loss := m["packet_loss"].(float64)
	assert.True(t, loss >= 0 && loss <= 1, "packet_loss is a fraction: %v", loss)
	for _, k := range []string{"packets_sent", "packets_received"} {
		v := m[k].(float64)
		assert.Equal(t, float64(int(v)), v, "%s is an integer", k)
	}
}

func TestPingInterrupted(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := runOn(t, mockLab(t), runOpts{cancelAt: 2500 * time.Millisecond}, "ping", "-c", "100", "198.18.0.1")
		assert.Equal(t, exitOK, r.code, "some replies came before Ctrl-C")
		assert.Equal(t, 3, strings.Count(r.stdout, "bytes from"))
		assert.Regexp(t, `\n--- 198\.18\.0\.1 ping statistics ---\n3 packets transmitted, 3 received, 0% packet loss, time 2000ms\nrtt min/avg/max/mdev = `, r.stdout)

		r = runOn(t, mockLab(t), runOpts{cancelAt: 1500 * time.Millisecond}, "ping", "-c", "100", "198.18.0.4")
		assert.Equal(t, exitFail, r.code, "no reply before Ctrl-C")
		assert.Contains(t, r.stdout, "2 packets transmitted, 0 received, 100% packet loss")
	})
}

func TestPingBroadcast(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n := mockLab(t)
		require.NoError(t, n.AddBroadcast(addr("198.18.0.255"), addr("198.18.0.1"), addr("198.18.0.2")))
		r := runOn(t, n, runOpts{}, "ping", "-c", "1", "198.18.0.255")
		assert.Equal(t, exitError, r.code)
		assert.Contains(t, r.stderr, "-b")
		assert.Equal(t, 1, strings.Count(r.stderr, "\n"))

		r = runOn(t, n, runOpts{}, "ping", "-b", "-c", "2", "198.18.0.255")
		assert.Equal(t, exitOK, r.code, r.stderr)
		assert.True(t, r.opened[0].Broadcast)
		assert.Contains(t, r.stdout, "64 bytes from 198.18.0.1: icmp_seq=1")
	})
}

func TestFallbackAndPermission(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := runOn(t, mockLab(t), runOpts{name: "dgram"}, "ping", "-c", "1", "198.18.0.1")
		assert.Equal(t, exitOK, r.code)
		assert.Equal(t, "icmpkit ping: raw ICMP sockets unavailable, fell back to unprivileged datagram sockets (--mode dgram)\n", r.stderr)

		for _, mode := range []string{"raw", "dgram"} {
			r = runOn(t, mockLab(t), runOpts{name: mode}, "ping", "--mode", mode, "-c", "1", "198.18.0.1")
			assert.Equal(t, exitOK, r.code)
			assert.Empty(t, r.stderr, "no report without a fallback")
		}
		r = runOn(t, mockLab(t), runOpts{name: "raw"}, "ping", "-c", "1", "198.18.0.1")
		assert.Empty(t, r.stderr, "no report when auto got raw")

		denied := &errors.Error{Op: "open raw ICMPv4 socket", Class: errors.ErrPermission, Err: syscall.EPERM}
		for _, cmd := range [][]string{{"ping", "198.18.0.1"}, {"multiping", "198.18.0.1"}, {"traceroute", "198.18.0.1"}} {
			r = runOn(t, mockLab(t), runOpts{openErr: denied}, cmd...)
			assert.Equal(t, exitError, r.code, cmd)
			assert.Empty(t, r.stdout, cmd)
			assert.Equal(t, 1, strings.Count(r.stderr, "\n"), "one line: %q", r.stderr)
			assert.Contains(t, r.stderr, "permission denied")
			assert.Contains(t, r.stderr, "CAP_NET_RAW")
			assert.Contains(t, r.stderr, "net.ipv4.ping_group_range")
		}
		// The joined errors of both transports still come out on one line.
		both := &errors.Error{Op: "open ICMP transport", Class: errors.ErrPermission, Err: errors.Join(denied, syscall.EACCES)}
		r = runOn(t, mockLab(t), runOpts{openErr: both}, "ping", "198.18.0.1")
		assert.Equal(t, exitError, r.code)
		assert.Equal(t, 1, strings.Count(r.stderr, "\n"), "one line: %q", r.stderr)
	})
}

func TestBadInput(t *testing.T) {
	dir := t.TempDir()
	empty := filepath.Join(dir, "empty")
	require.NoError(t, os.WriteFile(empty, []byte("# nothing here\n\n"), 0o644))
	tests := []struct {
		name string
		args []string
		want string // a regexp the stderr line must match
	}{
		{"no subcommand", nil, `usage: icmpkit`},
		{"unknown subcommand", []string{"pong", "198.18.0.1"}, `unknown subcommand "pong"`},
		{"unknown flag", []string{"ping", "--nope", "198.18.0.1"}, `unknown option --nope`},
		{"count 0", []string{"ping", "-c", "0", "198.18.0.1"}, `-c: must be at least 1`},
		{"count negative", []string{"ping", "-c", "-3", "198.18.0.1"}, `-c: must be at least 1`},
		{"count not a number", []string{"ping", "-c", "many", "198.18.0.1"}, `-c: not an integer`},
		{"negative interval", []string{"ping", "-i", "-1", "198.18.0.1"}, `-i: must not be negative`},
		{"negative timeout", []string{"ping", "-W", "-0.5", "198.18.0.1"}, `-W: must not be negative`},
		{"zero timeout", []string{"ping", "-W", "0", "198.18.0.1"}, `-W: must be more than 0`},
		{"interval NaN", []string{"ping", "-i", "NaN", "198.18.0.1"}, `-i: not a number of seconds`},
		{"IPv4 payload too large", []string{"ping", "-s", "65508", "198.18.0.1"}, `payload size.*65508 bytes is more than an IPv4 echo request can carry \(65507\)`},
		{"payload too large for any family", []string{"ping", "-s", "65528", "::1"}, `-s: must be in 0\.\.65527`},
		{"negative payload", []string{"ping", "-s", "-1", "198.18.0.1"}, `-s: must be in 0\.\.65527`},
		{"TTL 0", []string{"ping", "-t", "0", "198.18.0.1"}, `-t: must be in 1\.\.255`},
		{"TTL 256", []string{"ping", "-t", "256", "198.18.0.1"}, `-t: must be in 1\.\.255`},
		{"traffic class 256", []string{"ping", "-Q", "256", "198.18.0.1"}, `-Q: must be in 0\.\.255`},
		{"traffic class negative", []string{"ping", "-Q", "-1", "198.18.0.1"}, `-Q: must be in 0\.\.255`},
		{"unresolvable name", []string{"ping", "no-such-host.invalid"}, `resolve no-such-host\.invalid: name lookup failed`},
		{"no host", []string{"ping"}, `needs exactly one HOST, got 0`},
		{"two hosts", []string{"ping", "198.18.0.1", "198.18.0.2"}, `needs exactly one HOST, got 2`},
		{"bad mode", []string{"ping", "--mode", "icmp", "198.18.0.1"}, `--mode: must be auto, raw or dgram|-mode: must be auto, raw or dgram`},
		{"-4 and -6", []string{"ping", "-4", "-6", "localhost"}, `-4 and -6 exclude each other`},
		{"-6 with an IPv4 literal", []string{"ping", "-6", "198.18.0.1"}, `198\.18\.0\.1 is not an IPv6 address`},
		{"source of the other family", []string{"ping", "-I", "::1", "198.18.0.1"}, `198\.18\.0\.1 is not an IPv6 address`},
		{"bad interface", []string{"ping", "-I", "not an interface", "198.18.0.1"}, `neither an address nor an interface`},
		{"multiping no targets", []string{"multiping"}, `no targets`},
		{"multiping empty file", []string{"multiping", "-f", empty}, `the list of targets is empty`},
		{"multiping missing file", []string{"multiping", "-f", filepath.Join(dir, "missing")}, `no such file`},
		{"multiping bad CIDR", []string{"multiping", "-g", "198.18.0.0/33"}, `-g: not a CIDR prefix`},
		{"multiping unresolvable arg", []string{"multiping", "198.18.0.1", "no-such-host.invalid"}, `name lookup failed`},
		{"multiping count 0", []string{"multiping", "-c", "0", "198.18.0.1"}, `-c: must be at least 1`},
		{"multiping negative rate", []string{"multiping", "--rate", "-1", "198.18.0.1"}, `-rate: must not be negative`},
		{"multiping payload too large", []string{"multiping", "-s", "65508", "198.18.0.1"}, `65508 bytes is more than an IPv4`},
		{"multiping stdin twice", []string{"multiping", "-f", "-", "-f", "-"}, `standard input given twice`},
		{"traceroute first beyond max", []string{"traceroute", "-f", "10", "-m", "5", "198.18.0.1"}, `first hop.*10 is beyond the last distance 5`},
		{"traceroute max 256", []string{"traceroute", "-m", "256", "198.18.0.1"}, `-m: must be in 1\.\.255`},
		{"traceroute probes 0", []string{"traceroute", "-q", "0", "198.18.0.1"}, `-q: must be in 1\.\.255`},
		{"traceroute negative wait", []string{"traceroute", "-z", "-1", "198.18.0.1"}, `-z: must not be negative`},
		{"traceroute unresolvable", []string{"traceroute", "no-such-host.invalid"}, `name lookup failed`},
		{"traceroute traffic class", []string{"traceroute", "-Q", "300", "198.18.0.1"}, `-Q: must be in 0\.\.255`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// Name lookups cannot run in a synctest bubble; these runs end before any wait.
			r := runOn(t, mockLab(t), runOpts{}, tt.args...)
			assert.Equal(t, exitError, r.code)
			assert.Regexp(t, regexp.MustCompile(tt.want), r.stderr)
			if tt.args != nil {
				assert.Equal(t, 1, strings.Count(r.stderr, "\n"), "one line: %q", r.stderr)
			}
			assert.NotContains(t, r.stdout, "bytes from")
			if !strings.Contains(tt.name, "file name") {
				assert.NotContains(t, r.stdout, "xmt/rcv")
			}
		})
	}
}

// helpLine is an option's line in the help: its name, its value's placeholder and its default.
var helpLine = regexp.MustCompile(`^  (--?[a-zA-Z0-9][a-z0-9-]*)(?:, --[a-z0-9-]+)?(?: (\S+))? .*\(default ([^)]+)\)$`)

func TestHelp(t *testing.T) {
	for _, cmd := range []string{"ping", "multiping", "traceroute"} {
		r := runOn(t, mockLab(t), runOpts{}, cmd, "-h")
		assert.Equal(t, exitOK, r.code)
		assert.Empty(t, r.stderr)
		assert.Contains(t, r.stdout, "usage: icmpkit "+cmd)
		// Every flag is listed with its default.
		_, list, ok := strings.Cut(r.stdout, "\noptions (")
		require.True(t, ok, r.stdout)
		lines := strings.Split(strings.TrimSpace(list), "\n")
		lines = lines[1 : len(lines)-1] // the heading's end, and -h
		assert.GreaterOrEqual(t, len(lines), 12)
		for _, line := range lines {
			if strings.HasPrefix(line, "  -C N ") {
				// -C is off unless given, and takes no value that means off.
				assert.NotContains(t, line, "(default", "multiping -C")
				continue
			}
			m := helpLine.FindStringSubmatch(line)
			if !assert.NotNil(t, m, line) {
				continue
			}
			// The default shown is one the option takes.
			if name, meta, def := m[1], m[2], m[3]; meta != "" && def != "none" {
				r := runOn(t, mockLab(t), runOpts{}, cmd, name, def, "-h")
				assert.Equal(t, exitOK, r.code, "%s %s %s: %s", cmd, name, def, r.stderr)
			}
		}
		assert.Contains(t, r.stdout, "  -h, --help ")
	}
	r := runOn(t, mockLab(t), runOpts{}, "ping", "-h")
	for _, want := range []string{"-c N", "(default 4)", "-i SEC", "(default 1)", "-W SEC", "(default 2)", "-s BYTES", "(default 56)", "-t N", "(default 64)", "-Q N", "-I ADDR|IFNAME", "-4", "-6", "-b", "--mode auto|raw|dgram", "(default auto)", "--json", "-q"} {
		assert.Contains(t, r.stdout, want)
	}
	r = runOn(t, mockLab(t), runOpts{}, "multiping", "-h")
	for _, want := range []string{"-c N", "(default 2)", "--rate PPS", "--progress", "-g CIDR", "-f FILE"} {
		assert.Contains(t, r.stdout, want)
	}
	r = runOn(t, mockLab(t), runOpts{}, "traceroute", "-h")
	for _, want := range []string{"-q, --queries N", "(default 3)", "-f, --first N", "(default 1)", "-m, --max-hops N", "(default 30)", "-z SEC", "(default 0)", "--fast"} {
		assert.Contains(t, r.stdout, want)
	}
	r = runOn(t, mockLab(t), runOpts{}, "-h")
	assert.Equal(t, exitOK, r.code)
	assert.Contains(t, r.stdout, "traceroute")
}

// hostLine is a summary line of fping's; its RTTs keep three significant decimals.
var hostLine = regexp.MustCompile(`^(\S+) : xmt/rcv/%loss = (\d+)/(\d+)/(\d+)%(, min/avg/max = [\d.e+]+/[\d.e+]+/[\d.e+]+)?$`)

func TestMultipingText(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := runOn(t, mockLab(t), runOpts{}, "multiping", "-i", "0.1", "-W", "0.5", "198.18.0.3", "198.18.0.4", "2001:db8::1", "198.18.0.1")
		assert.Equal(t, exitFail, r.code, "198.18.0.4 is dead")
		// fping -c's text: a line a reply or timeout as it happens, then a summary a host in
		// input order.
		assert.Equal(t, "2001:db8::1 : [0], 64 bytes, 0.500 ms (0.500 avg, 0% loss)\n"+
			"198.18.0.1 : [0], 64 bytes, 1.00 ms (1.00 avg, 0% loss)\n"+
			"198.18.0.3 : [0], 64 bytes, 3.00 ms (3.00 avg, 0% loss)\n"+
			"2001:db8::1 : [1], 64 bytes, 0.500 ms (0.500 avg, 0% loss)\n"+
			"198.18.0.1 : [1], 64 bytes, 1.00 ms (1.00 avg, 0% loss)\n"+
			"198.18.0.3 : [1], 64 bytes, 3.00 ms (3.00 avg, 0% loss)\n"+
			"198.18.0.4 : [0], timed out (NaN avg, 100% loss)\n"+
			"198.18.0.4 : [1], timed out (NaN avg, 100% loss)\n"+
			"\n"+
			"198.18.0.3 : xmt/rcv/%loss = 2/2/0%, min/avg/max = 3.00/3.00/3.00\n"+
			"198.18.0.4 : xmt/rcv/%loss = 2/0/100%\n"+
			"2001:db8::1 : xmt/rcv/%loss = 2/2/0%, min/avg/max = 0.500/0.500/0.500\n"+
			"198.18.0.1 : xmt/rcv/%loss = 2/2/0%, min/avg/max = 1.00/1.00/1.00\n", r.stdout)
		assert.Empty(t, r.stderr, "no progress bar when stderr is not a terminal")
		assert.Equal(t, icmpkit.FamilyAny, r.opened[0].Family, "both families")

		r = runOn(t, mockLab(t), runOpts{}, "multiping", "-q", "-c", "3", "198.18.0.1", "198.18.0.2")
		assert.Equal(t, exitOK, r.code, "every host alive")
		for _, l := range strings.Split(strings.TrimSpace(r.stdout), "\n") {
			assert.Regexp(t, hostLine, l)
		}
	})
}

func TestMultipingTargets(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n := mockLab(t)
		for i := 1; i <= 14; i++ {
			require.NoError(t, n.AddHost(netip.AddrFrom4([4]byte{198, 18, 3, byte(i)}), mock.Host{Latency: time.Duration(15-i) * time.Millisecond}))
		}
		file := filepath.Join(t.TempDir(), "targets")
		require.NoError(t, os.WriteFile(file, []byte("# targets\n198.18.0.2\n\n  198.18.0.1  # comment\n"), 0o644))
		r := runOn(t, n, runOpts{stdin: "198.18.0.3\n2001:db8::1\n"},
			"multiping", "-c", "1", "--json", "-g", "198.18.3.0/28", "-f", "-", "-f", file, "198.18.3.1")
		require.Equal(t, exitOK, r.code, r.stderr)
		var got []string
		for _, l := range strings.Split(strings.TrimSpace(r.stdout), "\n") {
			var m map[string]any
			require.NoError(t, json.Unmarshal([]byte(l), &m), l)
			checkHostJSON(t, m)
			assert.Equal(t, true, m["is_alive"])
			got = append(got, m["address"].(string))
		}
		var want []string
		for i := 1; i <= 14; i++ {
			want = append(want, netip.AddrFrom4([4]byte{198, 18, 3, byte(i)}).String())
		}
		want = append(want, "198.18.0.3", "2001:db8::1", "198.18.0.2", "198.18.0.1", "198.18.3.1")
		assert.Equal(t, want, got, "command-line order: -g, -f -, -f FILE, then arguments")
	})
}

func TestMultipingProgress(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := runOn(t, mockLab(t), runOpts{terminal: true}, "multiping", "-c", "1", "-W", "0.3", "198.18.0.1", "198.18.0.2", "198.18.0.4")
		assert.Equal(t, exitFail, r.code)
		assert.Equal(t, 3, strings.Count(r.stdout, "xmt/rcv"))
		assert.NotContains(t, r.stdout, "hosts", "the progress bar never goes to stdout")
		assert.Contains(t, r.stderr, "/3 hosts")
		assert.True(t, strings.HasSuffix(r.stderr, "\r\033[K"), "the bar is cleared at the end: %q", r.stderr)

		r = runOn(t, mockLab(t), runOpts{terminal: true}, "multiping", "--progress=false", "-c", "1", "198.18.0.1")
		assert.Empty(t, r.stderr)
		r = runOn(t, mockLab(t), runOpts{}, "multiping", "--progress", "--json", "-c", "1", "198.18.0.1")
		assert.Contains(t, r.stderr, "1/1 hosts")
		var m map[string]any
		require.NoError(t, json.Unmarshal([]byte(r.stdout), &m), "the JSON output stays clean")
	})
}

func TestMultipingInterrupted(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := runOn(t, mockLab(t), runOpts{cancelAt: 1500 * time.Millisecond}, "multiping", "-q", "-c", "10", "198.18.0.1", "198.18.0.2")
		assert.Equal(t, exitOK, r.code, "every host answered before Ctrl-C")
		assert.Equal(t, "198.18.0.1 : xmt/rcv/%loss = 2/2/0%, min/avg/max = 1.00/1.00/1.00\n"+
			"198.18.0.2 : xmt/rcv/%loss = 2/2/0%, min/avg/max = 2.00/2.00/2.00\n", r.stdout, "what was measured before Ctrl-C")
		r = runOn(t, mockLab(t), runOpts{cancelAt: 1500 * time.Millisecond}, "multiping", "-q", "-c", "10", "-W", "0.5", "198.18.0.1", "198.18.0.4")
		assert.Equal(t, exitFail, r.code, "198.18.0.4 never answered")
	})
}

func TestMultipingLargePrefix(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		// A /20 of hosts that answer nothing, with a window of targets in flight: the run
		// streams one line per address in order.
		start := time.Now()
		r := runOn(t, mock.NewNetwork(mock.Config{}), runOpts{}, "multiping", "-q", "-c", "1", "-W", "0.1", "-g", "198.18.16.0/20")
		assert.Equal(t, exitFail, r.code)
		lines := strings.Split(strings.TrimSpace(r.stdout), "\n")
		require.Len(t, lines, 4094)
		assert.True(t, strings.HasPrefix(lines[0], "198.18.16.1 : xmt/rcv/%loss = 1/0/100%"))
		assert.True(t, strings.HasPrefix(lines[4093], "198.18.31.254 : "))
		assert.Less(t, time.Since(start), time.Second)
	})
}

func TestTracerouteText(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n := mockLab(t)
		require.NoError(t, n.AddHost(addr("198.18.7.7"), mock.Host{}))
		require.NoError(t, n.AddPath(addr("198.18.7.7"),
			mock.Router{Addr: addr("198.18.1.1"), Latency: time.Millisecond},
			mock.Router{Addr: addr("198.18.5.5"), Silent: true},
			mock.Router{Addr: addr("198.18.6.6"), Latency: 2 * time.Millisecond, Unreachable: true, UnreachableCode: 1},
		))
		r := runOn(t, n, runOpts{}, "traceroute", "-n", "-W", "0.5", "198.18.9.9")
		require.Equal(t, exitOK, r.code, r.stderr)
		assert.Equal(t, "traceroute to 198.18.9.9 (198.18.9.9), 30 hops max, 60 byte packets\n"+
			" 1  198.18.1.1  1.500 ms  1.500 ms  1.500 ms\n"+
			" 2  198.18.2.1  4.000 ms  4.000 ms  4.000 ms\n"+
			" 3  198.18.9.9  8.000 ms  8.000 ms  8.000 ms\n", r.stdout)

		r = runOn(t, n, runOpts{}, "traceroute", "-n", "-q", "2", "-W", "0.5", "198.18.7.7")
		assert.Equal(t, exitFail, r.code, "unreachable is not reached")
		assert.Equal(t, "traceroute to 198.18.7.7 (198.18.7.7), 30 hops max, 60 byte packets\n"+
			" 1  198.18.1.1  1.000 ms  1.000 ms\n"+
			" 2  * *\n"+
			" 3  198.18.6.6  2.000 ms !H  2.000 ms !H\n", r.stdout)

		// Nothing beyond the first router answers: stars up to -m.
		r = runOn(t, n, runOpts{}, "traceroute", "-f", "2", "-m", "4", "-W", "0.2", "-z", "0", "198.18.0.99")
		assert.Equal(t, exitFail, r.code)
		assert.Equal(t, "traceroute to 198.18.0.99 (198.18.0.99), 4 hops max, 60 byte packets\n"+
			" 2  * * *\n 3  * * *\n 4  * * *\n", r.stdout)
		for _, l := range strings.Split(strings.TrimSpace(r.stdout), "\n")[1:] {
			assert.Regexp(t, `^ ?\d+  (\S+  \d+\.\d{3} ms( !\S+)?( \S+  \d+\.\d{3} ms)*|\*)( \*)*`, l)
		}
	})
}

func TestTracerouteJSON(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := runOn(t, mockLab(t), runOpts{}, "traceroute", "--json", "--fast", "198.18.9.9")
		require.Equal(t, exitOK, r.code, r.stderr)
		require.Equal(t, 1, strings.Count(r.stdout, "\n"))
		var m map[string]any
		require.NoError(t, json.Unmarshal([]byte(r.stdout), &m))
		assert.Equal(t, "198.18.9.9", m["destination"])
		assert.Equal(t, true, m["reached"])
		hops, ok := m["hops"].([]any)
		require.True(t, ok)
		require.Len(t, hops, 3)
		for i, h := range hops {
			hop := h.(map[string]any)
			checkHostJSON(t, hop)
			assert.Equal(t, float64(i+1), hop["distance"])
			assert.Equal(t, 1.0, hop["packets_sent"], "fast mode")
		}
		assert.Equal(t, "198.18.2.1", hops[1].(map[string]any)["address"])

		r = runOn(t, mockLab(t), runOpts{}, "traceroute", "--json", "-m", "3", "-W", "0.1", "198.18.0.99")
		assert.Equal(t, exitFail, r.code)
		require.NoError(t, json.Unmarshal([]byte(r.stdout), &m))
		assert.Equal(t, false, m["reached"])
		assert.Equal(t, []any{}, m["hops"])
	})
}
