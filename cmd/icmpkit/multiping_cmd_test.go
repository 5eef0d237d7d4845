package main

import (
	"context"
	"net/netip"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/icmpkit/icmpkit/transport/mock"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// multiping's fping options, over the in-memory lab (times exact: the mock's latencies).

func TestMultipingAliveUnreachable(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := runOn(t, mockLab(t), runOpts{}, "multiping", "-a", "-c1", "-W0.3", "198.18.0.2", "198.18.0.4", "198.18.0.1")
		assert.Equal(t, exitFail, r.code)
		assert.Equal(t, "198.18.0.2\n198.18.0.1\n", r.stdout, "the alive targets, in input order, and nothing else")
		assert.Equal(t, "198.18.0.2 : xmt/rcv/%loss = 1/1/0%, min/avg/max = 2.00/2.00/2.00\n"+
			"198.18.0.4 : xmt/rcv/%loss = 1/0/100%\n"+
			"198.18.0.1 : xmt/rcv/%loss = 1/1/0%, min/avg/max = 1.00/1.00/1.00\n", r.stderr, "the summaries go to stderr, as fping's")

		r = runOn(t, mockLab(t), runOpts{}, "multiping", "-u", "-q", "-c1", "-W0.3", "198.18.0.2", "198.18.0.4", "198.18.0.1")
		assert.Equal(t, exitFail, r.code)
		assert.Equal(t, "198.18.0.4\n", r.stdout)

		r = runOn(t, mockLab(t), runOpts{}, "multiping", "-ae", "-c2", "-i0.1", "198.18.0.3", "2001:db8::1")
		assert.Equal(t, exitOK, r.code)
		assert.Equal(t, "198.18.0.3 (3.00 ms)\n2001:db8::1 (0.500 ms)\n", r.stdout, "-e: the first reply's RTT")
	})
}

func TestMultipingVCount(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n := mockLab(t)
		require.NoError(t, n.AddHost(addr("198.18.0.5"), mock.Host{Latency: 20 * time.Millisecond, Loss: 0.5}))
		r := runOn(t, n, runOpts{}, "multiping", "-C", "4", "-p", "100", "-W", "0.3", "198.18.0.2", "198.18.0.4", "198.18.0.5")
		assert.Equal(t, exitFail, r.code)
		assert.NotContains(t, r.stdout, "xmt/rcv")
		assert.Equal(t, 4, strings.Count(r.stdout, "198.18.0.2 : ["), r.stdout)
		assert.Equal(t, 4, strings.Count(r.stdout, "198.18.0.4 : ["), r.stdout)
		lines := strings.Split(r.stderr, "\n")
		require.Len(t, lines, 5, r.stderr)
		assert.Equal(t, "", lines[0], "a blank line after the reply lines")
		assert.Equal(t, "198.18.0.2 : 2.00 2.00 2.00 2.00", lines[1])
		assert.Equal(t, "198.18.0.4 : - - - -", lines[2])
		// The lossy host: each request's RTT in its place, "-" where it was lost, the same
		// requests as its reply lines say.
		got := strings.Fields(strings.TrimPrefix(lines[3], "198.18.0.5 :"))
		require.Len(t, got, 4, lines[3])
		for i, v := range got {
			answered := strings.Contains(r.stdout, "198.18.0.5 : ["+string(rune('0'+i))+"], 64 bytes, 20.0 ms")
			if answered {
				assert.Equal(t, "20.0", v, "request %d", i)
			} else {
				assert.Equal(t, "-", v, "request %d", i)
			}
		}

		r = runOn(t, mockLab(t), runOpts{}, "multiping", "-qC2", "-p100", "198.18.0.1")
		assert.Equal(t, exitOK, r.code)
		assert.Empty(t, r.stdout)
		assert.Equal(t, "198.18.0.1 : 1.00 1.00\n", r.stderr)
	})
}

func TestMultipingStats(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := runOn(t, mockLab(t), runOpts{}, "multiping", "--stats", "-q", "-c2", "-i0.1", "-W0.3", "198.18.0.1", "198.18.0.3", "198.18.0.4")
		assert.Equal(t, exitFail, r.code)
		assert.Equal(t, "\n"+
			"       3 targets\n"+
			"       2 alive\n"+
			"       1 unreachable\n"+
			"       0 unknown addresses\n"+
			"\n"+
			"       2 timeouts (waiting for response)\n"+
			"       6 ICMP Echos sent\n"+
			"       4 ICMP Echo Replies received\n"+
			"       0 other ICMP received\n"+
			"\n"+
			" 1.00 ms (min round trip time)\n"+
			" 2.00 ms (avg round trip time)\n"+
			" 3.00 ms (max round trip time)\n"+
			"        0.400 sec (elapsed real time)\n"+
			"\n", r.stderr)
	})
}

func TestMultipingErrorsAndDuplicates(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n := mockLab(t)
		require.NoError(t, n.AddHost(addr("198.18.0.6"), mock.Host{Latency: 5 * time.Millisecond, Duplicates: 1}))
		// TTL 1 ends at the first router on the way to 198.18.9.9: Time Exceeded, on stderr as
		// fping prints it, and the request's timeout line, on stdout.
		r := runOn(t, n, runOpts{}, "multiping", "-c1", "-t1", "198.18.9.9")
		assert.Equal(t, exitFail, r.code)
		assert.Equal(t, "198.18.9.9 : [0], timed out (NaN avg, 100% loss)\n\n198.18.9.9 : xmt/rcv/%loss = 1/0/100%\n", r.stdout)
		assert.Equal(t, "ICMP Time Exceeded from 198.18.1.1 for ICMP Echo sent to 198.18.9.9\n", r.stderr)

		r = runOn(t, n, runOpts{}, "multiping", "-q", "-c1", "-t1", "198.18.9.9")
		assert.Equal(t, "198.18.9.9 : xmt/rcv/%loss = 1/0/100%\n", r.stdout)
		assert.Empty(t, r.stderr, "-q: no error lines")

		// Copies of a reply print nothing among the reply lines, as with fping; with -q, a
		// line each on stderr.
		r = runOn(t, n, runOpts{}, "multiping", "-c2", "-i0.1", "198.18.0.6")
		assert.Equal(t, exitOK, r.code)
		assert.Empty(t, r.stderr)
		assert.Equal(t, "198.18.0.6 : [0], 64 bytes, 5.00 ms (5.00 avg, 0% loss)\n"+
			"198.18.0.6 : [1], 64 bytes, 5.00 ms (5.00 avg, 0% loss)\n"+
			"\n198.18.0.6 : xmt/rcv/%loss = 2/2/0%, min/avg/max = 5.00/5.00/5.00\n", r.stdout)
		r = runOn(t, n, runOpts{}, "multiping", "-q", "-c2", "-i0.1", "198.18.0.6")
		assert.Equal(t, "198.18.0.6 : xmt/rcv/%loss = 2/2/0%, min/avg/max = 5.00/5.00/5.00\n", r.stdout)
		assert.Equal(t, "198.18.0.6 : duplicate for [0], 64 bytes, 5.00 ms\n", r.stderr)
	})
}

func TestMultipingNames(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		names := func(_ context.Context, a netip.Addr) string {
			if a == addr("198.18.0.1") {
				return "one.lab"
			}
			return ""
		}
		r := runOn(t, mockLab(t), runOpts{lookup: names}, "multiping", "-d", "-q", "-c1", "198.18.0.1", "198.18.0.2")
		assert.Equal(t, "one.lab : xmt/rcv/%loss = 1/1/0%, min/avg/max = 1.00/1.00/1.00\n"+
			"198.18.0.2 : xmt/rcv/%loss = 1/1/0%, min/avg/max = 2.00/2.00/2.00\n", r.stdout)
		r = runOn(t, mockLab(t), runOpts{lookup: names}, "multiping", "-dA", "-c1", "198.18.0.1")
		assert.Equal(t, "one.lab (198.18.0.1) : [0], 64 bytes, 1.00 ms (1.00 avg, 0% loss)\n\n"+
			"one.lab (198.18.0.1) : xmt/rcv/%loss = 1/1/0%, min/avg/max = 1.00/1.00/1.00\n", r.stdout)
		r = runOn(t, mockLab(t), runOpts{lookup: names}, "multiping", "-q", "-c1", "198.18.0.1")
		assert.Equal(t, "198.18.0.1 : xmt/rcv/%loss = 1/1/0%, min/avg/max = 1.00/1.00/1.00\n", r.stdout, "no lookups without -d")
	})
}

func TestMultipingLoop(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := runOn(t, mockLab(t), runOpts{cancelAt: 350 * time.Millisecond}, "multiping", "-l", "-p", "100", "198.18.0.1")
		assert.Equal(t, exitOK, r.code, "Ctrl-C is how -l ends: every host alive")
		assert.Equal(t, "198.18.0.1 : [0], 64 bytes, 1.00 ms (1.00 avg, 0% loss)\n"+
			"198.18.0.1 : [1], 64 bytes, 1.00 ms (1.00 avg, 0% loss)\n"+
			"198.18.0.1 : [2], 64 bytes, 1.00 ms (1.00 avg, 0% loss)\n"+
			"198.18.0.1 : [3], 64 bytes, 1.00 ms (1.00 avg, 0% loss)\n"+
			"\n198.18.0.1 : xmt/rcv/%loss = 4/4/0%, min/avg/max = 1.00/1.00/1.00\n", r.stdout)
	})
}

func TestMultipingFpingUsage(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		for _, tc := range []struct {
			args []string
			want string
		}{
			{[]string{"-a", "-u", "198.18.0.1"}, "-a and -u exclude each other"},
			{[]string{"-l", "-c", "3", "198.18.0.1"}, "-l excludes -c and -C"},
			{[]string{"-l", "-C", "3", "198.18.0.1"}, "-l excludes -c and -C"},
			{[]string{"-C", "0", "198.18.0.1"}, `invalid value "0" for -C: must be at least 1`},
			{[]string{"-p", "-1", "198.18.0.1"}, `invalid value "-1" for -p: must not be negative`},
			{[]string{"-p", "x", "198.18.0.1"}, `invalid value "x" for -p: not a number of milliseconds`},
		} {
			r := runOn(t, mockLab(t), runOpts{}, append([]string{"multiping"}, tc.args...)...)
			assert.Equal(t, exitError, r.code, tc.args)
			assert.Contains(t, r.stderr, tc.want, tc.args)
			assert.Empty(t, r.stdout, tc.args)
		}
	})
}
