package main

import (
	"context"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/icmpkit/icmpkit"
	"github.com/icmpkit/icmpkit/transport"
	"github.com/icmpkit/icmpkit/transport/mock"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/net/icmp"
)

// These tests pin traceroute's lines as traceroute(8) -I prints them, over the in-memory
// network inside synctest bubbles; reverse lookups are answered by fakeNames.

// fakeNames is a reverse resolver: a name per address, each lookup taking its delay (or
// giving up when its context ends). It counts the lookups per address.
type fakeNames struct {
	names map[netip.Addr]string
	delay map[netip.Addr]time.Duration
	mu    sync.Mutex
	calls map[netip.Addr]int
}

func (f *fakeNames) lookup(ctx context.Context, a netip.Addr) string {
	f.mu.Lock()
	if f.calls == nil {
		f.calls = map[netip.Addr]int{}
	}
	f.calls[a]++
	f.mu.Unlock()
	select {
	case <-time.After(f.delay[a]):
		return f.names[a]
	case <-ctx.Done():
		return ""
	}
}

func (f *fakeNames) count() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	n := 0
	for _, c := range f.calls {
		n += c
	}
	return n
}

// traceNet is 198.18.9.9 (and 2001:db8:9::9) behind r1 (1 ms) and r2 (2 ms), answering in 3 ms.
func traceNet(t *testing.T) *mock.Network {
	n := mock.NewNetwork(mock.Config{Seed: 3})
	for _, dst := range []netip.Addr{addr("198.18.9.9"), addr("2001:db8:9::9")} {
		r1, r2 := addr("198.18.0.2"), addr("198.18.1.2")
		if dst.Is6() {
			r1, r2 = addr("2001:db8::2"), addr("2001:db8:1::2")
		}
		require.NoError(t, n.AddHost(dst, mock.Host{Latency: 3 * time.Millisecond}))
		require.NoError(t, n.AddPath(dst,
			mock.Router{Addr: r1, Latency: time.Millisecond},
			mock.Router{Addr: r2, Latency: 2 * time.Millisecond},
		))
	}
	return n
}

func TestTracerouteNames(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n := traceNet(t)
		names := &fakeNames{names: map[netip.Addr]string{
			addr("198.18.0.2"): "r1.lab", addr("198.18.9.9"): "target.lab", addr("2001:db8:1::2"): "r2.lab",
		}}
		r := runOn(t, n, runOpts{lookup: names.lookup}, "traceroute", "198.18.9.9")
		require.Equal(t, exitOK, r.code, r.stderr)
		assert.Equal(t, "traceroute to 198.18.9.9 (198.18.9.9), 30 hops max, 60 byte packets\n"+
			" 1  r1.lab (198.18.0.2)  1.000 ms  1.000 ms  1.000 ms\n"+
			" 2  198.18.1.2 (198.18.1.2)  2.000 ms  2.000 ms  2.000 ms\n"+
			" 3  target.lab (198.18.9.9)  3.000 ms  3.000 ms  3.000 ms\n", r.stdout, "an address without a name shows as traceroute(8) shows it")
		assert.Equal(t, map[netip.Addr]int{addr("198.18.0.2"): 1, addr("198.18.1.2"): 1, addr("198.18.9.9"): 1}, names.calls, "each responder looked up once")

		r = runOn(t, n, runOpts{lookup: names.lookup}, "traceroute", "2001:db8:9::9")
		require.Equal(t, exitOK, r.code, r.stderr)
		assert.Equal(t, "traceroute to 2001:db8:9::9 (2001:db8:9::9), 30 hops max, 80 byte packets\n"+
			" 1  2001:db8::2 (2001:db8::2)  1.000 ms  1.000 ms  1.000 ms\n"+
			" 2  r2.lab (2001:db8:1::2)  2.000 ms  2.000 ms  2.000 ms\n"+
			" 3  2001:db8:9::9 (2001:db8:9::9)  3.000 ms  3.000 ms  3.000 ms\n", r.stdout)

		before := names.count()
		r = runOn(t, n, runOpts{lookup: names.lookup}, "traceroute", "-n", "198.18.9.9")
		require.Equal(t, exitOK, r.code, r.stderr)
		assert.Equal(t, "traceroute to 198.18.9.9 (198.18.9.9), 30 hops max, 60 byte packets\n"+
			" 1  198.18.0.2  1.000 ms  1.000 ms  1.000 ms\n"+
			" 2  198.18.1.2  2.000 ms  2.000 ms  2.000 ms\n"+
			" 3  198.18.9.9  3.000 ms  3.000 ms  3.000 ms\n", r.stdout)
		assert.Equal(t, before, names.count(), "-n looks nothing up")

		r = runOn(t, n, runOpts{lookup: names.lookup}, "traceroute", "--json", "198.18.9.9")
		require.Equal(t, exitOK, r.code, r.stderr)
		assert.Equal(t, before, names.count(), "--json looks nothing up")
	})
}

// timedWriter records when each write (each flushed line) happened, from the bubble's start.
type timedWriter struct {
	start time.Time
	mu    sync.Mutex
	at    []time.Duration
	b     strings.Builder
}

func (w *timedWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.at = append(w.at, time.Since(w.start).Truncate(time.Microsecond)) // as lines show RTTs
	return w.b.Write(p)
}

// TestTracerouteLookupsInParallel checks that a responder's lookup starts with its first answer,
// while probing goes on, so that a line waits for no more than its own lookups, and that a
// lookup is given up after lookupTimeout.
func TestTracerouteLookupsInParallel(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n := mock.NewNetwork(mock.Config{Seed: 3})
		dst, r1, r2, r3 := addr("198.18.9.9"), addr("198.18.0.2"), addr("198.18.1.2"), addr("198.18.2.2")
		require.NoError(t, n.AddHost(dst, mock.Host{Latency: 4 * time.Millisecond}))
		require.NoError(t, n.AddPath(dst,
			mock.Router{Addr: r1, Latency: time.Millisecond},
			// Distance 2 answers from 2 ms to 902 ms: its first answer comes well before its last.
			mock.Router{Addr: r2, Latency: 2 * time.Millisecond, Jitter: 900 * time.Millisecond},
			mock.Router{Addr: r3, Latency: 3 * time.Millisecond},
		))
		names := &fakeNames{
			names: map[netip.Addr]string{r1: "r1", r2: "r2", r3: "r3", dst: "dst"},
			delay: map[netip.Addr]time.Duration{r2: time.Second, r3: time.Hour},
		}
		w := &timedWriter{start: time.Now()}
		e := &env{stdout: w, stderr: &strings.Builder{}, lookups: reverseOnly(names.lookup),
			open: func(icmpkit.Mode, icmpkit.Config) (transport.Transport, error) {
				return n.Transport(mock.TransportConfig{}), nil
			}}
		code := run(context.Background(), []string{"traceroute", "-q", "4", "-z", "0", "-W", "1", dst.String()}, e)
		require.Equal(t, exitOK, code)
		lines := strings.Split(strings.TrimSuffix(w.b.String(), "\n"), "\n")
		require.Len(t, lines, 5, w.b.String())
		assert.Equal(t, " 1  r1 (198.18.0.2)  1.000 ms  1.000 ms  1.000 ms  1.000 ms", lines[1])
		assert.Equal(t, " 3  198.18.2.2 (198.18.2.2)  3.000 ms  3.000 ms  3.000 ms  3.000 ms", lines[3], "r3's name took too long")
		assert.Equal(t, " 4  dst (198.18.9.9)  4.000 ms  4.000 ms  4.000 ms  4.000 ms", lines[4])
		// The probes of a distance go out together, at 0: their answers come at their RTTs.
		var rtts []time.Duration
		for f := range strings.SplitSeq(strings.TrimPrefix(lines[2], " 2  r2 (198.18.1.2)  "), " ms  ") {
			ms, err := time.ParseDuration(strings.TrimSuffix(f, " ms") + "ms")
			require.NoError(t, err, lines[2])
			rtts = append(rtts, ms)
		}
		require.Len(t, rtts, 4, lines[2])
		first, last := slices.Min(rtts), slices.Max(rtts)
		require.Less(t, first+100*time.Millisecond, last, "the answers of distance 2 spread out")
		assert.Equal(t, []time.Duration{
			0,                                  // the header
			time.Millisecond,                   // r1's name came at once
			first + time.Second,                // r2's lookup, 1 s, began with its first answer
			lookupTimeout + 3*time.Millisecond, // r3's, given up 2 s after its first answer at 3 ms
			lookupTimeout + 3*time.Millisecond, // the destination's name came at 4 ms
		}, w.at)
	})
}

// TestTracerouteMarks pins traceroute(8)'s annotation of each Destination Unreachable code.
func TestTracerouteMarks(t *testing.T) {
	type mark struct {
		code int
		mark string
	}
	v4 := []mark{{0, "!N"}, {1, "!H"}, {2, "!P"}, {3, ""}, {4, "!F-0"}, {5, "!S"}, {6, "!N"}, {7, "!H"}, {8, "!N"},
		{9, "!X"}, {10, "!X"}, {11, "!N"}, {12, "!H"}, {13, "!X"}, {14, "!V"}, {15, "!C"}, {16, "!<16>"}, {255, "!<255>"}}
	v6 := []mark{{0, "!N"}, {1, "!X"}, {2, "!H"}, {3, "!H"}, {4, ""}, {5, "!<5>"}, {6, "!<6>"}, {7, "!<7>"}}
	synctest.Test(t, func(t *testing.T) {
		n := mock.NewNetwork(mock.Config{})
		for i, c := range append(v4, v6...) {
			dst := netip.AddrFrom4([4]byte{198, 18, 100, byte(c.code)})
			from := netip.AddrFrom4([4]byte{198, 18, 0, byte(c.code)})
			if i >= len(v4) {
				dst = netip.AddrFrom16([16]byte{0x20, 0x01, 0x0d, 0xb8, 0, 100, 15: byte(c.code)})
				from = netip.AddrFrom16([16]byte{0x20, 0x01, 0x0d, 0xb8, 15: byte(c.code)})
			}
			require.NoError(t, n.AddPath(dst, mock.Router{Addr: from, Latency: time.Millisecond, Unreachable: true, UnreachableCode: c.code}))
			r := runOn(t, n, runOpts{}, "traceroute", "-n", "-q", "2", dst.String())
			assert.Equal(t, exitFail, r.code, "%s is not reached", dst)
			m := ""
			if c.mark != "" {
				m = " " + c.mark
			}
			assert.Equal(t, fmt.Sprintf("traceroute to %s (%s), 30 hops max, %d byte packets\n 1  %s  1.000 ms%s  1.000 ms%s\n",
				dst, dst, 60+20*b2i(dst.Is6()), from, m, m), r.stdout, "code %d", c.code)
		}
	})
}

func TestTracerouteExtensions(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n := mockLab(t)
		dst := addr("198.18.8.8")
		require.NoError(t, n.AddHost(dst, mock.Host{Latency: 5 * time.Millisecond}))
		require.NoError(t, n.AddPath(dst,
			mock.Router{Addr: addr("198.18.1.1"), Latency: time.Millisecond},
			mock.Router{Addr: addr("198.18.3.1"), Latency: 2 * time.Millisecond, MPLS: []icmp.MPLSLabel{{Label: 24001, TC: 0, S: false, TTL: 1}, {Label: 16, TC: 5, S: true, TTL: 1}}},
		))
		r := runOn(t, n, runOpts{}, "traceroute", "-n", "-e", "198.18.9.9")
		require.Equal(t, exitOK, r.code, r.stderr)
		assert.Equal(t, "traceroute to 198.18.9.9 (198.18.9.9), 30 hops max, 60 byte packets\n"+
			" 1  198.18.1.1  1.500 ms  1.500 ms  1.500 ms\n"+
			" 2  198.18.2.1 <MPLS:L=100,E=0,S=1,T=1>  4.000 ms  4.000 ms  4.000 ms\n"+
			" 3  198.18.9.9  8.000 ms  8.000 ms  8.000 ms\n", r.stdout)

		names := &fakeNames{names: map[netip.Addr]string{addr("198.18.3.1"): "lsr.lab"}}
		r = runOn(t, n, runOpts{lookup: names.lookup}, "traceroute", "--extensions", "-q", "1", dst.String())
		require.Equal(t, exitOK, r.code, r.stderr)
		assert.Equal(t, "traceroute to 198.18.8.8 (198.18.8.8), 30 hops max, 60 byte packets\n"+
			" 1  198.18.1.1 (198.18.1.1)  1.000 ms\n"+
			" 2  lsr.lab (198.18.3.1) <MPLS:L=24001,E=0,S=0,T=1/L=16,E=5,S=1,T=1>  2.000 ms\n"+
			" 3  198.18.8.8 (198.18.8.8)  5.000 ms\n", r.stdout)

		r = runOn(t, n, runOpts{}, "traceroute", "-n", "-q", "1", dst.String())
		require.Equal(t, exitOK, r.code, r.stderr)
		assert.Equal(t, " 2  198.18.3.1  2.000 ms\n", strings.SplitAfter(r.stdout, "\n")[2], "without -e no extension is shown")
	})
}

// TestTracerouteProbeOrder checks that each probe keeps its place: lost ones, duplicates
// counted once, and responders that change within a line.
func TestTracerouteProbeOrder(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n := mock.NewNetwork(mock.Config{Seed: 5})
		dst := addr("198.18.9.9")
		require.NoError(t, n.AddHost(dst, mock.Host{Latency: 3 * time.Millisecond, Loss: 0.5, Duplicates: 2}))
		require.NoError(t, n.AddPath(dst,
			mock.Router{Addr: addr("198.18.0.2"), Latency: 1234567891 * time.Nanosecond},
			mock.ECMP{{Addr: addr("198.18.1.2"), Latency: 2 * time.Millisecond}, {Addr: addr("198.18.1.3"), Latency: 7 * time.Millisecond}},
		))
		r := runOn(t, n, runOpts{}, "traceroute", "-n", "-q", "8", "-m", "2", dst.String())
		require.Equal(t, exitFail, r.code, r.stderr)
		lines := strings.Split(strings.TrimSuffix(r.stdout, "\n"), "\n")
		require.Len(t, lines, 3, r.stdout)
		assert.Equal(t, " 1  198.18.0.2"+strings.Repeat("  1234.568 ms", 8), lines[1])

		// Distance 2: which router a probe meets depends on its checksum, and so on its
		// sequence number, which differs from run to run. Each answer's time tells its router.
		words := strings.Fields(lines[2])
		require.Equal(t, "2", words[0])
		var shown string
		for i := 1; i < len(words); {
			if strings.HasPrefix(words[i], "198.18.1.") {
				assert.NotEqual(t, shown, words[i], "a responder is named only where it changes: %s", lines[2])
				shown = words[i]
				i++
			}
			require.Less(t, i+1, len(words), lines[2])
			want := map[string]string{"198.18.1.2": "2.000", "198.18.1.3": "7.000"}[shown]
			assert.Equal(t, []string{want, "ms"}, words[i:i+2], "the time of %s: %s", shown, lines[2])
			i += 2
		}
		assert.Equal(t, 8, strings.Count(lines[2], " ms"))

		// The lossy destination's lost probes keep their places; its duplicates are not shown.
		// (Its losses follow the order its requests come in: those of distance 3 first.)
		r = runOn(t, n, runOpts{}, "traceroute", "-n", "-q", "8", "-f", "3", "-z", "0", dst.String())
		require.Equal(t, exitOK, r.code, r.stderr)
		assert.Equal(t, " 3  * * 198.18.9.9  3.000 ms *  3.000 ms  3.000 ms *  3.000 ms\n", strings.SplitAfter(r.stdout, "\n")[1])

		r = runOn(t, n, runOpts{}, "traceroute", "-n", "--paris", "-q", "8", "-f", "2", "-m", "2", dst.String())
		assert.Regexp(t, `^ 2  198\.18\.1\.[23](  [27]\.000 ms){8}\n$`, strings.SplitAfter(r.stdout, "\n")[1], "--paris keeps one path")
	})
}

// TestTraceroutePacketLength checks the header's packet size against what is sent, for
// traceroute(8)'s defaults and its PACKETLEN operand.
func TestTraceroutePacketLength(t *testing.T) {
	for _, c := range []struct {
		args    []string
		size    int // in the header
		payload int // sent
	}{
		{[]string{"198.18.9.9"}, 60, 32},
		{[]string{"2001:db8:9::9"}, 80, 32},
		{[]string{"198.18.9.9", "100"}, 100, 72},
		{[]string{"2001:db8:9::9", "-n", "1500"}, 1500, 1452},
		{[]string{"198.18.9.9", "29"}, 29, 1},
		{[]string{"198.18.9.9", "28"}, 28, 0},
		{[]string{"198.18.9.9", "0"}, 28, 0},
		{[]string{"2001:db8:9::9", "30"}, 48, 0},
		{[]string{"198.18.9.9", "65000"}, 65000, 64972},
		{[]string{"--paris", "198.18.9.9", "28"}, 30, 2},
		{[]string{"--paris", "198.18.9.9"}, 60, 32},
	} {
		t.Run(strings.Join(c.args, " "), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				r := runOn(t, traceNet(t), runOpts{}, append([]string{"traceroute", "-q", "1"}, c.args...)...)
				require.Equal(t, exitOK, r.code, r.stderr)
				dst := "198.18.9.9"
				if strings.Contains(strings.Join(c.args, " "), ":") {
					dst = "2001:db8:9::9"
				}
				assert.True(t, strings.HasPrefix(r.stdout, fmt.Sprintf("traceroute to %s (%s), 30 hops max, %d byte packets\n", dst, dst, c.size)), r.stdout)
				sent := r.tr.Sent()
				require.NotEmpty(t, sent)
				for _, req := range sent {
					assert.Equal(t, c.payload, req.PayloadLen())
				}
			})
		})
	}
	synctest.Test(t, func(t *testing.T) {
		r := runOn(t, traceNet(t), runOpts{}, "traceroute", "--pmtu", "-n", "198.18.9.9")
		require.Equal(t, exitOK, r.code, r.stderr)
		assert.True(t, strings.HasPrefix(r.stdout, "traceroute to 198.18.9.9 (198.18.9.9), 30 hops max, 1500 byte packets\n"), "--pmtu starts at 1500 bytes")
		assert.Equal(t, 1500-28, r.tr.Sent()[0].PayloadLen())
	})
}

// TestTracerouteFlags checks the options traceroute(8) users type, and their mistakes.
func TestTracerouteFlags(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n := traceNet(t)
		require.NoError(t, n.AddHost(addr("198.18.5.5"), mock.Host{Latency: 400 * time.Millisecond}))
		for _, wait := range [][]string{{"-w", "0.3"}, {"--wait=0.3"}, {"-W", "0.3"}, {"-w0.3"}} {
			r := runOn(t, n, runOpts{}, append([]string{"traceroute", "-n", "-q", "1", "-m", "1"}, append(wait, "198.18.5.5")...)...)
			assert.Equal(t, exitFail, r.code, "%v: a 400 ms answer is too late", wait)
			assert.Equal(t, " 1  *\n", strings.SplitAfter(r.stdout, "\n")[1], wait)
		}
		r := runOn(t, n, runOpts{}, "traceroute", "-n", "-q", "1", "-w", "0.5", "198.18.5.5")
		assert.Equal(t, exitOK, r.code)
		assert.Equal(t, " 1  198.18.5.5  400.000 ms\n", strings.SplitAfter(r.stdout, "\n")[1])

		// -N: probes in flight at once. With one, each probe waits for the previous answer.
		r = runOn(t, n, runOpts{}, "traceroute", "-n", "-N", "1", "-q", "1", "198.18.9.9")
		require.Equal(t, exitOK, r.code, r.stderr)
		sent := r.tr.Sent()
		require.Len(t, sent, 3)
		assert.Equal(t, []time.Duration{time.Millisecond, 2 * time.Millisecond}, []time.Duration{sent[1].SentAt.Sub(sent[0].SentAt), sent[2].SentAt.Sub(sent[1].SentAt)})
		r = runOn(t, n, runOpts{}, "traceroute", "-n", "--sim-queries=16", "-q", "1", "198.18.9.9")
		require.Equal(t, exitOK, r.code, r.stderr)
		assert.Equal(t, r.tr.Sent()[0].SentAt, r.tr.Sent()[15].SentAt, "16 at once")

		for _, tos := range [][]string{{"-t", "16"}, {"--tos", "16"}, {"-Q", "16"}} {
			r = runOn(t, n, runOpts{}, append([]string{"traceroute", "-n", "--icmp", "-q", "1"}, append(tos, "198.18.9.9")...)...)
			require.Equal(t, exitOK, r.code, r.stderr)
			assert.Equal(t, 16, r.tr.Sent()[0].TrafficClass, tos)
		}

		r = runOn(t, n, runOpts{}, "traceroute", "-n", "-q", "1", "-s", "198.18.0.1", "-i", "eth0", "198.18.9.9")
		require.Equal(t, exitOK, r.code, r.stderr)
		assert.Equal(t, addr("198.18.0.1"), r.opened[0].Source)
		assert.Equal(t, "eth0", r.opened[0].Interface)
		r = runOn(t, n, runOpts{}, "traceroute", "-n", "-q", "1", "--source=2001:db8::1", "--interface", "eth1", "2001:db8:9::9")
		require.Equal(t, exitOK, r.code, r.stderr)
		assert.Equal(t, addr("2001:db8::1"), r.opened[0].Source)
		assert.Equal(t, "eth1", r.opened[0].Interface)
		r = runOn(t, n, runOpts{}, "traceroute", "-n", "-q", "1", "-I", "eth2", "-i", "eth2", "198.18.9.9")
		require.Equal(t, exitOK, r.code, r.stderr)
		assert.Equal(t, "eth2", r.opened[0].Interface)

		for _, c := range []struct {
			args []string
			msg  string
		}{
			{[]string{"198.18.9.9", "65001"}, `invalid packet length "65001": must be in 0\.\.65000`},
			{[]string{"198.18.9.9", "1x"}, `invalid packet length "1x"`},
			{[]string{"198.18.9.9", "60", "70"}, `needs a HOST and at most a PACKETLEN, got 3 arguments`},
			{[]string{}, `needs a HOST and at most a PACKETLEN, got 0 arguments`},
			{[]string{"-s", "eth0", "198.18.9.9"}, `-s "eth0" is not an address`},
			{[]string{"-s", "198.18.0.1", "-I", "198.18.0.1", "198.18.9.9"}, `-s and -I exclude each other`},
			{[]string{"-i", "198.18.0.1", "198.18.9.9"}, `-i 198\.18\.0\.1 is an address, not an interface name`},
			{[]string{"-i", "a/b", "198.18.9.9"}, `-i "a/b" is not an interface name`},
			{[]string{"-I", "eth0", "-i", "eth1", "198.18.9.9"}, `-i and -I name different interfaces`},
			{[]string{"-s", "2001:db8::1", "198.18.9.9"}, `198\.18\.9\.9 is not an IPv6 address`},
			{[]string{"-4", "-s", "2001:db8::1", "198.18.9.9"}, `-s 2001:db8::1 is not an IPv4 address`},
			{[]string{"-6", "--source", "198.18.0.1", "2001:db8:9::9"}, `-s 198\.18\.0\.1 is not an IPv6 address`},
			{[]string{"-N", "0", "198.18.9.9"}, `-N: must be at least 1`},
			{[]string{"-w", "0", "198.18.9.9"}, `-w: must be more than 0`},
			{[]string{"-w", "5,3,10", "198.18.9.9"}, `invalid value "5,3,10" for -w`},
			{[]string{"-t", "256", "198.18.9.9"}, `-t: must be in 0\.\.255`},
			{[]string{"-e=1", "198.18.9.9"}, `unknown option -=`},
		} {
			r := runOn(t, n, runOpts{}, append([]string{"traceroute"}, c.args...)...)
			assert.Equal(t, exitError, r.code, c.args)
			assert.Empty(t, r.stdout, c.args)
			assert.Len(t, strings.Split(strings.TrimSuffix(r.stderr, "\n"), "\n"), 1, c.args)
			assert.Regexp(t, c.msg, r.stderr, c.args)
		}
	})
}

// TestTracerouteInterrupted checks that Ctrl-C prints the lines that are final, gives up the
// lookups under way, and ends.
func TestTracerouteInterrupted(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n := mock.NewNetwork(mock.Config{})
		dst := addr("198.18.9.9")
		require.NoError(t, n.AddHost(dst, mock.Host{Dead: true}))
		require.NoError(t, n.AddPath(dst, mock.Router{Addr: addr("198.18.0.2"), Latency: time.Millisecond}, mock.Router{Addr: addr("198.18.1.2"), Silent: true}))
		names := &fakeNames{names: map[netip.Addr]string{addr("198.18.0.2"): "r1"}, delay: map[netip.Addr]time.Duration{addr("198.18.0.2"): time.Hour}}
		start := time.Now()
		r := runOn(t, n, runOpts{lookup: names.lookup, cancelAt: time.Second}, "traceroute", "-W", "5", dst.String())
		assert.Equal(t, time.Second, time.Since(start))
		assert.Equal(t, exitFail, r.code)
		assert.Equal(t, "traceroute to 198.18.9.9 (198.18.9.9), 30 hops max, 60 byte packets\n"+
			" 1  198.18.0.2 (198.18.0.2)  1.000 ms  1.000 ms  1.000 ms\n", r.stdout)
	})
}
