package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/netip"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/icmpkit/icmpkit/probe"
	"github.com/icmpkit/icmpkit/transport"
	"github.com/icmpkit/icmpkit/transport/mock"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/net/ipv4"
)

// These tests run ping in-process over the in-memory network (see run_test.go), so every
// time and every line is exact: names, -D, -O, -p, -w, duplicates, errors, long RTTs.

// labNames are the names of mockLab's hosts, as a hosts file would give them.
func labNames() *fakeLookups {
	return &fakeLookups{
		addrs: map[string]netip.Addr{
			"two.lab": addr("198.18.0.2"), "alias": addr("198.18.0.2"), "six.lab": addr("2001:db8::1"),
			"far.lab": addr("198.18.9.9"), "dead.lab": addr("198.18.0.4"),
		},
		cnames: map[string]string{"two.lab": "two.lab", "alias": "two.lab", "six.lab": "not-for-ipv6.lab", "far.lab": "far.lab"},
		names: map[netip.Addr]string{
			addr("198.18.0.2"): "two.lab", addr("2001:db8::1"): "six.lab",
			addr("198.18.1.1"): "r1.lab", addr("198.18.9.9"): "far.lab",
		},
		ifaces: map[string]netip.Addr{"eth7": addr("198.18.0.100")},
	}
}

func TestPingByName(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		look := labNames()
		r := runOn(t, mockLab(t), runOpts{lookups: look}, "ping", "-c", "3", "-i", "0.2", "alias")
		require.Equal(t, exitOK, r.code, r.stderr)
		assert.Equal(t, "PING two.lab (198.18.0.2) 56(84) bytes of data.\n"+
			"64 bytes from two.lab (198.18.0.2): icmp_seq=1 ttl=64 time=2.00 ms\n"+
			"64 bytes from two.lab (198.18.0.2): icmp_seq=2 ttl=64 time=2.00 ms\n"+
			"64 bytes from two.lab (198.18.0.2): icmp_seq=3 ttl=64 time=2.00 ms\n"+
			"\n--- two.lab ping statistics ---\n"+
			"3 packets transmitted, 3 received, 0% packet loss, time 400ms\n"+
			"rtt min/avg/max/mdev = 2.000/2.000/2.000/0.000 ms\n", r.stdout, "an IPv4 target goes by its canonical name")
		assert.Equal(t, map[netip.Addr]int{addr("198.18.0.2"): 1}, look.asked, "one reverse lookup per address")

		// IPv6: the name as given, the target's reverse lookup in the header.
		look = labNames()
		r = runOn(t, mockLab(t), runOpts{lookups: look}, "ping", "-c", "1", "six.lab")
		require.Equal(t, exitOK, r.code, r.stderr)
		assert.Equal(t, "PING six.lab(six.lab (2001:db8::1)) 56 data bytes\n"+
			"64 bytes from six.lab (2001:db8::1): icmp_seq=1 ttl=255 time=0.500 ms\n"+
			"\n--- six.lab ping statistics ---\n"+
			"1 packets transmitted, 1 received, 0% packet loss, time 0ms\n"+
			"rtt min/avg/max/mdev = 0.500/0.500/0.500/0.000 ms\n", r.stdout)
		assert.Equal(t, 1, look.asked[addr("2001:db8::1")], "the header's lookup serves the replies too")

		// Errors name the router; -n keeps addresses alone, and the header's name.
		r = runOn(t, mockLab(t), runOpts{lookups: labNames()}, "ping", "-c", "2", "-i", "0.2", "-t", "1", "far.lab")
		assert.Equal(t, exitFail, r.code)
		assert.Contains(t, r.stdout, "PING far.lab (198.18.9.9) 56(84) bytes of data.\n"+
			"From r1.lab (198.18.1.1) icmp_seq=1 Time to live exceeded\n"+
			"From r1.lab (198.18.1.1) icmp_seq=2 Time to live exceeded\n")
		look = labNames()
		r = runOn(t, mockLab(t), runOpts{lookups: look}, "ping", "-n", "-c", "1", "-t", "1", "far.lab")
		assert.Contains(t, r.stdout, "PING far.lab (198.18.9.9) 56(84) bytes of data.\nFrom 198.18.1.1 icmp_seq=1 Time to live exceeded\n")
		r = runOn(t, mockLab(t), runOpts{lookups: look}, "ping", "-n", "-c", "1", "six.lab")
		assert.Contains(t, r.stdout, "PING six.lab(2001:db8::1) 56 data bytes\n64 bytes from 2001:db8::1: icmp_seq=1 ")
		assert.Empty(t, look.asked, "-n looks nothing up")

		// A target given as an address: addresses alone, no lookups.
		for _, host := range []string{"198.18.0.2", "2001:db8::1"} {
			look = labNames()
			r = runOn(t, mockLab(t), runOpts{lookups: look}, "ping", "-c", "1", host)
			require.Equal(t, exitOK, r.code, r.stderr)
			assert.Contains(t, r.stdout, "bytes from "+host+": icmp_seq=1 ")
			assert.Empty(t, look.asked, host)
		}
	})
}

// slowNames takes its time for each reverse lookup, or until its context ends.
type slowNames struct {
	*fakeLookups
	delay time.Duration
}

func (s slowNames) name(ctx context.Context, a netip.Addr) string {
	select {
	case <-time.After(s.delay):
		return s.fakeLookups.name(ctx, a)
	case <-ctx.Done():
		return ""
	}
}

// A slow reverse lookup holds back the lines behind it, in order, but never the requests.
func TestPingSlowLookup(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		start := time.Now()
		r := runOn(t, mockLab(t), runOpts{lookups: slowNames{labNames(), 3 * time.Second}}, "ping", "-c", "3", "-i", "0.2", "-t", "1", "far.lab")
		assert.Equal(t, exitFail, r.code)
		sent := r.tr.Sent()
		require.Len(t, sent, 3)
		for i, req := range sent {
			assert.Equal(t, start.Add(time.Duration(i)*200*time.Millisecond), req.SentAt, "the requests keep their cadence")
		}
		assert.Equal(t, 3*time.Second+1500*time.Microsecond, time.Since(start), "the run waits for its lines")
		assert.Contains(t, r.stdout, "From r1.lab (198.18.1.1) icmp_seq=1 Time to live exceeded\n"+
			"From r1.lab (198.18.1.1) icmp_seq=2 Time to live exceeded\n"+
			"From r1.lab (198.18.1.1) icmp_seq=3 Time to live exceeded\n"+
			"\n--- far.lab ping statistics ---\n3 packets transmitted, 0 received, +3 errors, 100% packet loss, time 400ms\n")

		// The end of the run (here the first error under -w) cuts a lookup short: the
		// address alone, as iputils prints once it is exiting.
		start = time.Now()
		r = runOn(t, mockLab(t), runOpts{lookups: slowNames{labNames(), time.Minute}}, "ping", "-w", "10", "-i", "0.4", "-t", "1", "far.lab")
		assert.Equal(t, exitFail, r.code)
		assert.Contains(t, r.stdout, "\nFrom 198.18.1.1 icmp_seq=1 Time to live exceeded\n")
		assert.Equal(t, 1500*time.Microsecond, time.Since(start))
	})
}

func TestPingDuplicates(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n := mockLab(t)
		require.NoError(t, n.AddHost(addr("198.18.0.5"), mock.Host{Latency: 1500 * time.Microsecond, Duplicates: 2}))
		r := runOn(t, n, runOpts{}, "ping", "-c", "2", "-i", "0.2", "198.18.0.5")
		require.Equal(t, exitOK, r.code, r.stderr)
		assert.Equal(t, "PING 198.18.0.5 (198.18.0.5) 56(84) bytes of data.\n"+
			"64 bytes from 198.18.0.5: icmp_seq=1 ttl=64 time=1.50 ms\n"+
			"64 bytes from 198.18.0.5: icmp_seq=1 ttl=64 time=1.50 ms (DUP!)\n"+
			"64 bytes from 198.18.0.5: icmp_seq=1 ttl=64 time=1.50 ms (DUP!)\n"+
			"64 bytes from 198.18.0.5: icmp_seq=2 ttl=64 time=1.50 ms\n"+
			"\n--- 198.18.0.5 ping statistics ---\n"+
			"2 packets transmitted, 2 received, +2 duplicates, 0% packet loss, time 200ms\n"+
			"rtt min/avg/max/mdev = 1.500/1.500/1.500/0.000 ms\n", r.stdout,
			"the run ends with the first answer to the last request, as iputils'")

		// -b: several answers are the rule, and iputils marks none.
		r = runOn(t, n, runOpts{}, "ping", "-b", "-c", "2", "-i", "0.2", "198.18.0.5")
		require.Equal(t, exitOK, r.code, r.stderr)
		assert.NotContains(t, r.stdout, "(DUP!)")
		assert.Contains(t, r.stdout, "2 packets transmitted, 2 received, +2 duplicates, 0% packet loss")

		require.NoError(t, n.AddBroadcast(addr("198.18.0.255"), addr("198.18.0.1"), addr("198.18.0.2"), addr("198.18.0.3")))
		r = runOn(t, n, runOpts{}, "ping", "-b", "-c", "2", "-i", "0.2", "198.18.0.255")
		require.Equal(t, exitOK, r.code, r.stderr)
		assert.Equal(t, "PING 198.18.0.255 (198.18.0.255) 56(84) bytes of data.\n"+
			"64 bytes from 198.18.0.1: icmp_seq=1 ttl=64 time=1.00 ms\n"+
			"64 bytes from 198.18.0.2: icmp_seq=1 ttl=64 time=2.00 ms\n"+
			"64 bytes from 198.18.0.3: icmp_seq=1 ttl=64 time=3.00 ms\n"+
			"64 bytes from 198.18.0.1: icmp_seq=2 ttl=64 time=1.00 ms\n"+
			"\n--- 198.18.0.255 ping statistics ---\n"+
			"2 packets transmitted, 2 received, +2 duplicates, 0% packet loss, time 200ms\n"+
			"rtt min/avg/max/mdev = 1.000/1.750/3.000/0.829 ms\n", r.stdout, "duplicates count in the RTTs, as in iputils")
	})
}

// RTTs are printed with the precision iputils gives them, also past 1, 10 and 100 ms.
func TestPingLongRTTs(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n := mockLab(t)
		for i, tt := range []struct {
			rtt        time.Duration
			line, rtt4 string
		}{
			{999 * time.Microsecond, "time=0.999 ms", "0.999/0.999/0.999/0.000"},
			{1234567 * time.Nanosecond, "time=1.23 ms", "1.234/1.234/1.234/0.000"},
			{9995 * time.Microsecond, "time=10.0 ms", "9.995/9.995/9.995/0.000"},
			{12345 * time.Microsecond, "time=12.3 ms", "12.345/12.345/12.345/0.000"},
			{99950 * time.Microsecond, "time=100 ms", "99.950/99.950/99.950/0.000"},
			{123456 * time.Microsecond, "time=123 ms", "123.456/123.456/123.456/0.000"},
			{1500 * time.Millisecond, "time=1500 ms", "1500.000/1500.000/1500.000/0.000"},
		} {
			a := netip.AddrFrom4([4]byte{198, 18, 4, byte(i + 1)})
			require.NoError(t, n.AddHost(a, mock.Host{Latency: tt.rtt}))
			r := runOn(t, n, runOpts{}, "ping", "-c", "1", a.String())
			require.Equal(t, exitOK, r.code, r.stderr)
			assert.Contains(t, r.stdout, ": icmp_seq=1 ttl=64 "+tt.line+"\n", tt.rtt)
			assert.Contains(t, r.stdout, "\nrtt min/avg/max/mdev = "+tt.rtt4+" ms\n", tt.rtt)
		}
	})
}

// -D: each line starts with its time, the receive time of the reply; the bubble's clock starts
// at 2000-01-01 00:00:00 UTC.
func TestPingTimestamps(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := runOn(t, mockLab(t), runOpts{}, "ping", "-D", "-c", "2", "-i", "0.25", "198.18.0.2")
		require.Equal(t, exitOK, r.code, r.stderr)
		assert.Equal(t, "PING 198.18.0.2 (198.18.0.2) 56(84) bytes of data.\n"+
			"[946684800.002000] 64 bytes from 198.18.0.2: icmp_seq=1 ttl=64 time=2.00 ms\n"+
			"[946684800.252000] 64 bytes from 198.18.0.2: icmp_seq=2 ttl=64 time=2.00 ms\n"+
			"\n--- 198.18.0.2 ping statistics ---\n"+
			"2 packets transmitted, 2 received, 0% packet loss, time 250ms\n"+
			"rtt min/avg/max/mdev = 2.000/2.000/2.000/0.000 ms\n", r.stdout)

	})
	synctest.Test(t, func(t *testing.T) {
		r := runOn(t, mockLab(t), runOpts{}, "ping", "-D", "-c", "1", "-t", "1", "198.18.9.9")
		assert.Contains(t, r.stdout, "\n[946684800.001500] From 198.18.1.1 icmp_seq=1 Time to live exceeded\n")
	})
}

func TestPingOutstanding(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := runOn(t, mockLab(t), runOpts{}, "ping", "-O", "-c", "3", "-i", "0.2", "-W", "0.5", "198.18.0.4")
		assert.Equal(t, exitFail, r.code)
		assert.Equal(t, "PING 198.18.0.4 (198.18.0.4) 56(84) bytes of data.\n"+
			"no answer yet for icmp_seq=1\n"+
			"no answer yet for icmp_seq=2\n"+
			"\n--- 198.18.0.4 ping statistics ---\n"+
			"3 packets transmitted, 0 received, 100% packet loss, time 400ms\n\n", r.stdout, "nothing for the last request: no request follows it")

	})
	synctest.Test(t, func(t *testing.T) {
		// -q keeps them, as iputils; -D stamps them with the time of the next request.
		r := runOn(t, mockLab(t), runOpts{}, "ping", "-q", "-D", "-O", "-c", "2", "-i", "0.2", "-W", "0.5", "198.18.0.4")
		assert.Equal(t, "PING 198.18.0.4 (198.18.0.4) 56(84) bytes of data.\n"+
			"[946684800.200000] no answer yet for icmp_seq=1\n"+
			"\n--- 198.18.0.4 ping statistics ---\n"+
			"2 packets transmitted, 0 received, 100% packet loss, time 200ms\n\n", r.stdout)

		// A slow reply: not yet in when the next request goes; an ICMP error is no answer.
		n := mockLab(t)
		require.NoError(t, n.AddHost(addr("198.18.0.6"), mock.Host{Latency: 300 * time.Millisecond}))
		r = runOn(t, n, runOpts{}, "ping", "-O", "-c", "3", "-i", "0.2", "198.18.0.6")
		require.Equal(t, exitOK, r.code)
		assert.Equal(t, "PING 198.18.0.6 (198.18.0.6) 56(84) bytes of data.\n"+
			"no answer yet for icmp_seq=1\n"+
			"64 bytes from 198.18.0.6: icmp_seq=1 ttl=64 time=300 ms\n"+
			"no answer yet for icmp_seq=2\n"+
			"64 bytes from 198.18.0.6: icmp_seq=2 ttl=64 time=300 ms\n"+
			"64 bytes from 198.18.0.6: icmp_seq=3 ttl=64 time=300 ms\n"+
			"\n--- 198.18.0.6 ping statistics ---\n"+
			"3 packets transmitted, 3 received, 0% packet loss, time 400ms\n"+
			"rtt min/avg/max/mdev = 300.000/300.000/300.000/0.000 ms, pipe 2\n", r.stdout)
		r = runOn(t, n, runOpts{}, "ping", "-O", "-c", "2", "-i", "0.2", "-t", "1", "198.18.9.9")
		assert.Equal(t, "PING 198.18.9.9 (198.18.9.9) 56(84) bytes of data.\n"+
			"From 198.18.1.1 icmp_seq=1 Time to live exceeded\n"+
			"no answer yet for icmp_seq=1\n"+
			"From 198.18.1.1 icmp_seq=2 Time to live exceeded\n"+
			"\n--- 198.18.9.9 ping statistics ---\n"+
			"2 packets transmitted, 0 received, +2 errors, 100% packet loss, time 200ms\n\n", r.stdout)
	})
}

// pipe: how many requests were out when an answer came. iputils counts ICMPv6 errors out.
func TestPingPipe(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n := mockLab(t)
		require.NoError(t, n.AddHost(addr("198.18.5.5"), mock.Host{}))
		require.NoError(t, n.AddPath(addr("198.18.5.5"), mock.Router{Addr: addr("198.18.5.1"), Latency: 700 * time.Millisecond, Unreachable: true, UnreachableCode: 1}))
		require.NoError(t, n.AddHost(addr("2001:db8:5::5"), mock.Host{}))
		require.NoError(t, n.AddPath(addr("2001:db8:5::5"), mock.Router{Addr: addr("2001:db8:5::1"), Latency: 700 * time.Millisecond, Unreachable: true, UnreachableCode: 3}))
		r := runOn(t, n, runOpts{}, "ping", "-c", "4", "-i", "0.2", "198.18.5.5")
		assert.Equal(t, exitFail, r.code)
		assert.Contains(t, r.stdout, "From 198.18.5.1 icmp_seq=4 Destination Host Unreachable\n"+
			"\n--- 198.18.5.5 ping statistics ---\n4 packets transmitted, 0 received, +4 errors, 100% packet loss, time 600ms\npipe 4\n")
		r = runOn(t, n, runOpts{}, "ping", "-c", "4", "-i", "0.2", "2001:db8:5::5")
		assert.Contains(t, r.stdout, "From 2001:db8:5::1 icmp_seq=4 Destination unreachable: Address unreachable\n"+
			"\n--- 2001:db8:5::5 ping statistics ---\n4 packets transmitted, 0 received, +4 errors, 100% packet loss, time 600ms\n\n")
	})
}

func TestPingDeadline(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		// No -c: requests until the deadline.
		start := time.Now()
		r := runOn(t, mockLab(t), runOpts{}, "ping", "-w", "1", "-i", "0.3", "198.18.0.1")
		require.Equal(t, exitOK, r.code, r.stderr)
		assert.Equal(t, time.Second, time.Since(start))
		assert.Equal(t, 4, strings.Count(r.stdout, "bytes from"))
		assert.Contains(t, r.stdout, "\n4 packets transmitted, 4 received, 0% packet loss, time 900ms\n")

		start = time.Now()
		r = runOn(t, mockLab(t), runOpts{}, "ping", "-w", "1", "-c", "2", "-i", "0.3", "198.18.0.4")
		assert.Equal(t, exitFail, r.code)
		assert.Equal(t, time.Second, time.Since(start))
		assert.Contains(t, r.stdout, "\n4 packets transmitted, 0 received, 100% packet loss, time 900ms\n\n", "beyond -c until the deadline")

		// -c N: stop once N requests are answered.
		start = time.Now()
		r = runOn(t, mockLab(t), runOpts{}, "ping", "-w", "5", "-c", "2", "-i", "0.2", "198.18.0.3")
		require.Equal(t, exitOK, r.code)
		assert.Equal(t, 203*time.Millisecond, time.Since(start))
		assert.Contains(t, r.stdout, "\n2 packets transmitted, 2 received, 0% packet loss, time 200ms\n")
		n := mockLab(t)
		require.NoError(t, n.AddHost(addr("198.18.0.7"), mock.Host{Loss: 0.8}))
		r = runOn(t, n, runOpts{}, "ping", "-w", "10", "-c", "3", "-i", "0.1", "-W", "0.05", "198.18.0.7")
		require.Equal(t, exitOK, r.code)
		assert.Equal(t, 3, strings.Count(r.stdout, "bytes from"))
		var sent, recv int
		require.NoError(t, scanStats(r.stdout, &sent, &recv))
		assert.Equal(t, 3, recv)
		assert.Greater(t, sent, 3, "lost requests are made up for: %s", r.stdout)
		// Fewer than N by the deadline: iputils exits 1, icmpkit 0 for any reply.
		r = runOn(t, n, runOpts{}, "ping", "-w", "1", "-c", "50", "-i", "0.1", "198.18.0.7")
		assert.Equal(t, exitOK, r.code)

		// The first ICMP error ends a run with a deadline.
		start = time.Now()
		r = runOn(t, mockLab(t), runOpts{}, "ping", "-w", "3", "-i", "0.2", "-t", "1", "198.18.9.9")
		assert.Equal(t, exitFail, r.code)
		assert.Equal(t, 1500*time.Microsecond, time.Since(start))
		assert.Equal(t, "PING 198.18.9.9 (198.18.9.9) 56(84) bytes of data.\n"+
			"From 198.18.1.1 icmp_seq=1 Time to live exceeded\n"+
			"\n--- 198.18.9.9 ping statistics ---\n"+
			"1 packets transmitted, 0 received, +1 errors, 100% packet loss, time 0ms\n\n", r.stdout)

		// --json: one object.
		r = runOn(t, mockLab(t), runOpts{}, "ping", "--json", "-w", "1", "-i", "0.3", "198.18.0.1")
		require.Equal(t, exitOK, r.code)
		var m map[string]any
		require.NoError(t, json.Unmarshal([]byte(r.stdout), &m), r.stdout)
		assert.Equal(t, 4.0, m["packets_sent"])
		assert.Len(t, m["rtts"], 4)

		// -w 0 is no deadline: -c's default.
		r = runOn(t, mockLab(t), runOpts{}, "ping", "-w", "0", "-i", "0.1", "198.18.0.1")
		assert.Contains(t, r.stdout, "\n4 packets transmitted, 4 received")

		// Ctrl-C before the deadline: the summary as ever.
		r = runOn(t, mockLab(t), runOpts{cancelAt: 450 * time.Millisecond}, "ping", "-w", "10", "-i", "0.2", "198.18.0.1")
		assert.Equal(t, exitOK, r.code)
		assert.Contains(t, r.stdout, "\n3 packets transmitted, 3 received, 0% packet loss, time 400ms\n")
	})
}

// scanStats reads the counts of ping's statistics line.
func scanStats(out string, sent, received *int) error {
	for _, l := range strings.Split(out, "\n") {
		if strings.Contains(l, " packets transmitted, ") {
			_, err := fmt.Sscanf(l, "%d packets transmitted, %d received", sent, received)
			return err
		}
	}
	return assert.AnError
}

func TestPingPattern(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := runOn(t, mockLab(t), runOpts{}, "ping", "-p", "ff00", "-s", "5", "-c", "2", "-i", "0.1", "198.18.0.1")
		require.Equal(t, exitOK, r.code, r.stderr)
		assert.True(t, strings.HasPrefix(r.stdout, "PATTERN: 0xff00\nPING 198.18.0.1 (198.18.0.1) 5(33) bytes of data.\n13 bytes from 198.18.0.1: icmp_seq=1 "), r.stdout)
		for _, req := range r.tr.Sent() {
			assert.Equal(t, []byte{0xff, 0, 0xff, 0, 0xff}, req.Payload, "the pattern fills the whole payload")
		}
		r = runOn(t, mockLab(t), runOpts{}, "ping", "-p", "a", "-c", "1", "2001:db8::1")
		require.Equal(t, exitOK, r.code, r.stderr)
		assert.True(t, strings.HasPrefix(r.stdout, "PATTERN: 0x0a\nPING 2001:db8::1(2001:db8::1) 56 data bytes\n64 bytes from"), r.stdout)
		assert.Equal(t, make([]byte, 56), zeroed(r.tr.Sent()[0].Payload, 0x0a), "56 bytes of 0x0a")

		for _, args := range [][]string{{"-q"}, {"--json"}} {
			r = runOn(t, mockLab(t), runOpts{}, append(append([]string{"ping"}, args...), "-p", "ff", "-c", "1", "198.18.0.1")...)
			require.Equal(t, exitOK, r.code)
			assert.NotContains(t, r.stdout, "PATTERN", args)
		}
	})
	for _, p := range []string{"xyz", "", "0x12", "0123456789abcdef0123456789abcdef00"} {
		r := runOn(t, mockLab(t), runOpts{}, "ping", "-p", p, "198.18.0.1")
		assert.Equal(t, exitError, r.code, p)
		assert.Empty(t, r.stdout)
		assert.Equal(t, 1, strings.Count(r.stderr, "\n"), "one line: %q", r.stderr)
		assert.Contains(t, r.stderr, `invalid value "`+p+`" for -p: `)
	}
}

// zeroed gives b with every byte equal to c set to zero.
func zeroed(b []byte, c byte) []byte {
	out := make([]byte, len(b))
	for i, x := range b {
		if x != c {
			out[i] = x
		}
	}
	return out
}

func TestPingSourceInHeader(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := runOn(t, mockLab(t), runOpts{lookups: labNames()}, "ping", "-c", "1", "-I", "eth7", "198.18.0.1")
		require.Equal(t, exitOK, r.code, r.stderr)
		assert.True(t, strings.HasPrefix(r.stdout, "PING 198.18.0.1 (198.18.0.1) from 198.18.0.100 eth7: 56(84) bytes of data.\n"), r.stdout)
		r = runOn(t, mockLab(t), runOpts{lookups: labNames()}, "ping", "-c", "1", "-I", "eth7", "2001:db8::1")
		require.Equal(t, exitOK, r.code, r.stderr)
		assert.True(t, strings.HasPrefix(r.stdout, "PING 2001:db8::1(2001:db8::1) 56 data bytes\n"), "no address of the family on eth7: %s", r.stdout)
	})
}

// ICMP errors that routers of the mock send, end to end, in iputils' words.
func TestPingErrorsByName(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n := mockLab(t)
		for i, tt := range []struct {
			dst, router string
			code        int
			want        string
		}{
			{"198.18.6.1", "198.18.6.254", 0, "Destination Net Unreachable"},
			{"198.18.6.2", "198.18.6.254", 3, "Destination Port Unreachable"},
			{"198.18.6.3", "198.18.6.254", 13, "Packet filtered"},
			{"198.18.6.4", "198.18.6.254", 10, "Destination Host Prohibited"},
			{"2001:db8:6::1", "2001:db8:6::fe", 0, "Destination unreachable: No route"},
			{"2001:db8:6::2", "2001:db8:6::fe", 1, "Destination unreachable: Administratively prohibited"},
			{"2001:db8:6::3", "2001:db8:6::fe", 4, "Destination unreachable: Port unreachable"},
			{"2001:db8:6::4", "2001:db8:6::fe", 6, "Destination unreachable: Unknown code 6"},
		} {
			require.NoError(t, n.AddHost(addr(tt.dst), mock.Host{}), i)
			require.NoError(t, n.AddPath(addr(tt.dst), mock.Router{Addr: addr(tt.router), Unreachable: true, UnreachableCode: tt.code}))
			r := runOn(t, n, runOpts{}, "ping", "-c", "1", tt.dst)
			assert.Equal(t, exitFail, r.code)
			assert.Contains(t, r.stdout, "\nFrom "+tt.router+" icmp_seq=1 "+tt.want+"\n", tt.dst)
			assert.Contains(t, r.stdout, "1 packets transmitted, 0 received, +1 errors, 100% packet loss, time 0ms\n\n")
		}
	})
}

// The lines of a long run cost no allocation each.
func TestPingLinesDoNotAllocate(t *testing.T) {
	var out strings.Builder
	out.Grow(1 << 20)
	l := pingLines{size: 56, markDups: true, timestamps: true, buf: make([]byte, 0, 256)}
	tally := &pingTally{lastSeq: -1}
	echo := probe.Outcome{Seq: 3, RTT: 1234 * time.Microsecond, Duplicate: true,
		Reply: transport.Reply{Source: addr("198.18.0.2"), Type: ipv4.ICMPTypeEchoReply, Bytes: 64, TTL: 61, ReceivedAt: time.Unix(1733150000, 0)}}
	te := probe.Outcome{Seq: 4, Reply: transport.Reply{Source: addr("198.18.0.3"), Type: ipv4.ICMPTypeTimeExceeded, ReceivedAt: time.Unix(1733150000, 0)}}
	look := labNames()
	names := newNames(context.Background(), look.name, 0)
	defer names.close()
	allocs := testing.AllocsPerRun(1000, func() {
		tally.sending(5, time.Unix(1733150000, 0))
		tally.outcome(&echo)
		out.Write(l.outcome(&echo))
		out.Write(l.outcome(&te))
		out.Write(l.noAnswer(5, time.Unix(1733150000, 0)))
	})
	assert.Zero(t, allocs)
	l.names = names
	out.Write(l.outcome(&echo)) // the first lookup fills the cache
	allocs = testing.AllocsPerRun(1000, func() { out.Write(l.outcome(&echo)) })
	assert.Zero(t, allocs, "names come from the cache")
}
