package main

import (
	"context"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/icmpkit/icmpkit"
	"github.com/icmpkit/icmpkit/probe"
	"github.com/icmpkit/icmpkit/result"
	"github.com/icmpkit/icmpkit/transport"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/net/ipv4"
	"golang.org/x/net/ipv6"
)

func TestPingHeaderLines(t *testing.T) {
	v4, v6 := netip.MustParseAddr("198.18.3.2"), netip.MustParseAddr("2001:db8:0:3::2")
	for _, tt := range []struct {
		h    pingHead
		want string
	}{
		{pingHead{name: "localhost", dst: netip.MustParseAddr("127.0.0.1"), size: 56}, "PING localhost (127.0.0.1) 56(84) bytes of data.\n"},
		{pingHead{name: "198.18.3.2", dst: v4, size: 1000}, "PING 198.18.3.2 (198.18.3.2) 1000(1028) bytes of data.\n"},
		{pingHead{name: "::1", dst: netip.IPv6Loopback(), shown: "::1", size: 56}, "PING ::1(::1) 56 data bytes\n"},
		{pingHead{name: "target6.lab", dst: v6, shown: "target6.lab (2001:db8:0:3::2)", size: 0}, "PING target6.lab(target6.lab (2001:db8:0:3::2)) 0 data bytes\n"},
		{pingHead{name: "198.18.3.2", dst: v4, source: netip.MustParseAddr("198.18.0.1"), size: 56}, "PING 198.18.3.2 (198.18.3.2) from 198.18.0.1 : 56(84) bytes of data.\n"},
		{pingHead{name: "198.18.3.2", dst: v4, source: netip.MustParseAddr("198.18.0.1"), iface: "eth0", size: 56}, "PING 198.18.3.2 (198.18.3.2) from 198.18.0.1 eth0: 56(84) bytes of data.\n"},
		{pingHead{name: "2001:db8:0:3::2", dst: v6, shown: "2001:db8:0:3::2", source: netip.MustParseAddr("2001:db8::1"), iface: "eth0", size: 56}, "PING 2001:db8:0:3::2(2001:db8:0:3::2) from 2001:db8::1 eth0: 56 data bytes\n"},
		{pingHead{name: "198.18.3.2", dst: v4, iface: "eth7", size: 56}, "PING 198.18.3.2 (198.18.3.2) 56(84) bytes of data.\n"},
	} {
		var b strings.Builder
		writePingHeader(&b, tt.h)
		assert.Equal(t, tt.want, b.String())
	}
}

func TestPingPatternValue(t *testing.T) {
	for _, tt := range []struct {
		in, line string
		fill     []byte // a payload of 5 bytes
	}{
		{"ff", "PATTERN: 0xff\n", []byte{0xff, 0xff, 0xff, 0xff, 0xff}},
		{"abc", "PATTERN: 0xab0c\n", []byte{0xab, 0x0c, 0xab, 0x0c, 0xab}},
		{"00FF10", "PATTERN: 0x00ff10\n", []byte{0, 0xff, 0x10, 0, 0xff}},
		{"0123456789abcdef0123456789abcdef", "PATTERN: 0x0123456789abcdef0123456789abcdef\n", []byte{1, 0x23, 0x45, 0x67, 0x89}},
	} {
		var v patternValue
		require.NoError(t, v.Set(tt.in), tt.in)
		var b strings.Builder
		writePattern(&b, v.b)
		assert.Equal(t, tt.line, b.String())
		assert.Equal(t, tt.fill, v.fill(5))
		assert.Empty(t, v.fill(0))
	}
	for in, msg := range map[string]string{
		"":                                  "empty",
		"xyz":                               `'x' is not a hex digit`,
		"0xff":                              `'x' is not a hex digit`,
		"ff 00":                             `' ' is not a hex digit`,
		"0123456789abcdef0123456789abcdef0": "33 hex digits, at most 32 (16 bytes)",
	} {
		var v patternValue
		err := v.Set(in)
		require.Error(t, err, in)
		assert.Contains(t, err.Error(), msg)
		assert.False(t, v.set)
	}
}

func TestReplyTimeRounding(t *testing.T) {
	// iputils' thresholds: 99.950 ms and up shows no decimal, 9.995 ms one, 1 ms two.
	for us, want := range map[int64]string{
		0: "0.000", 45: "0.045", 999: "0.999", 1000: "1.00", 1004: "1.00", 1005: "1.01", 9994: "9.99",
		9995: "10.0", 10049: "10.0", 10050: "10.1", 99949: "99.9", 99950: "100", 123456: "123", 2000000: "2000",
	} {
		assert.Equal(t, want, string(appendReplyTime(nil, us)), us)
	}
	assert.Equal(t, "1.23", replyTime(1234567*time.Nanosecond), "whole microseconds, as iputils measures")
}

func reply4(src string, typ ipv4.ICMPType, code int) transport.Reply {
	return transport.Reply{Source: netip.MustParseAddr(src), Type: typ, Code: code}
}

func reply6(src string, typ ipv6.ICMPType, code int) transport.Reply {
	return transport.Reply{Source: netip.MustParseAddr(src), Type: typ, Code: code}
}

// Every ICMP error in the words of iputils ping 20221126.
func TestPingICMPErrorWords(t *testing.T) {
	r4 := "198.18.0.2"
	r6 := "2001:db8::2"
	with := func(r transport.Reply, f func(*transport.Reply)) transport.Reply { f(&r); return r }
	for _, tt := range []struct {
		r    transport.Reply
		want string
	}{
		{reply4(r4, ipv4.ICMPTypeDestinationUnreachable, 0), "Destination Net Unreachable"},
		{reply4(r4, ipv4.ICMPTypeDestinationUnreachable, 1), "Destination Host Unreachable"},
		{reply4(r4, ipv4.ICMPTypeDestinationUnreachable, 2), "Destination Protocol Unreachable"},
		{reply4(r4, ipv4.ICMPTypeDestinationUnreachable, 3), "Destination Port Unreachable"},
		{with(reply4(r4, ipv4.ICMPTypeDestinationUnreachable, 4), func(r *transport.Reply) { r.MTU = 1400 }), "Frag needed and DF set (mtu = 1400)"},
		{reply4(r4, ipv4.ICMPTypeDestinationUnreachable, 5), "Source Route Failed"},
		{reply4(r4, ipv4.ICMPTypeDestinationUnreachable, 6), "Destination Net Unknown"},
		{reply4(r4, ipv4.ICMPTypeDestinationUnreachable, 7), "Destination Host Unknown"},
		{reply4(r4, ipv4.ICMPTypeDestinationUnreachable, 8), "Source Host Isolated"},
		{reply4(r4, ipv4.ICMPTypeDestinationUnreachable, 9), "Destination Net Prohibited"},
		{reply4(r4, ipv4.ICMPTypeDestinationUnreachable, 10), "Destination Host Prohibited"},
		{reply4(r4, ipv4.ICMPTypeDestinationUnreachable, 11), "Destination Net Unreachable for Type of Service"},
		{reply4(r4, ipv4.ICMPTypeDestinationUnreachable, 12), "Destination Host Unreachable for Type of Service"},
		{reply4(r4, ipv4.ICMPTypeDestinationUnreachable, 13), "Packet filtered"},
		{reply4(r4, ipv4.ICMPTypeDestinationUnreachable, 14), "Precedence Violation"},
		{reply4(r4, ipv4.ICMPTypeDestinationUnreachable, 15), "Precedence Cutoff"},
		{reply4(r4, ipv4.ICMPTypeDestinationUnreachable, 16), "Dest Unreachable, Bad Code: 16"},
		{reply4(r4, ipv4.ICMPTypeTimeExceeded, 0), "Time to live exceeded"},
		{reply4(r4, ipv4.ICMPTypeTimeExceeded, 1), "Frag reassembly time exceeded"},
		{reply4(r4, ipv4.ICMPTypeTimeExceeded, 2), "Time exceeded, Bad Code: 2"},
		{with(reply4(r4, ipv4.ICMPTypeParameterProblem, 0), func(r *transport.Reply) { r.Pointer = 20 }), "Parameter problem: pointer = 20"},
		{reply4(r4, ipv4.ICMPType(4), 0), "Source Quench"},
		{reply4(r4, ipv4.ICMPTypeTimestamp, 0), "Bad ICMP type: 13"},

		{reply6(r6, ipv6.ICMPTypeDestinationUnreachable, 0), "Destination unreachable: No route"},
		{reply6(r6, ipv6.ICMPTypeDestinationUnreachable, 1), "Destination unreachable: Administratively prohibited"},
		{reply6(r6, ipv6.ICMPTypeDestinationUnreachable, 2), "Destination unreachable: Beyond scope of source address"},
		{reply6(r6, ipv6.ICMPTypeDestinationUnreachable, 3), "Destination unreachable: Address unreachable"},
		{reply6(r6, ipv6.ICMPTypeDestinationUnreachable, 4), "Destination unreachable: Port unreachable"},
		{reply6(r6, ipv6.ICMPTypeDestinationUnreachable, 5), "Destination unreachable: Unknown code 5"},
		{reply6(r6, ipv6.ICMPTypeDestinationUnreachable, 6), "Destination unreachable: Unknown code 6"},
		{with(reply6(r6, ipv6.ICMPTypePacketTooBig, 0), func(r *transport.Reply) { r.MTU = 1280 }), "Packet too big: mtu=1280"},
		{with(reply6(r6, ipv6.ICMPTypePacketTooBig, 3), func(r *transport.Reply) { r.MTU = 1400 }), "Packet too big: mtu=1400, code=3"},
		{reply6(r6, ipv6.ICMPTypeTimeExceeded, 0), "Time exceeded: Hop limit"},
		{reply6(r6, ipv6.ICMPTypeTimeExceeded, 1), "Time exceeded: Defragmentation failure"},
		{reply6(r6, ipv6.ICMPTypeTimeExceeded, 7), "Time exceeded: code 7"},
		{with(reply6(r6, ipv6.ICMPTypeParameterProblem, 0), func(r *transport.Reply) { r.Pointer = 6 }), "Parameter problem: Wrong header field at 6"},
		{with(reply6(r6, ipv6.ICMPTypeParameterProblem, 1), func(r *transport.Reply) { r.Pointer = 40 }), "Parameter problem: Unknown header at 40"},
		{with(reply6(r6, ipv6.ICMPTypeParameterProblem, 2), func(r *transport.Reply) { r.Pointer = 42 }), "Parameter problem: Unknown option at 42"},
		{with(reply6(r6, ipv6.ICMPTypeParameterProblem, 3), func(r *transport.Reply) { r.Pointer = 0 }), "Parameter problem: code 3 at 0"},
		{reply6(r6, ipv6.ICMPTypeNeighborSolicitation, 0), "unknown icmp type: 135"},
	} {
		l := pingLines{}
		got := l.outcome(&probe.Outcome{Seq: 4, Reply: tt.r})
		src := tt.r.Source.String()
		assert.Equal(t, "From "+src+" icmp_seq=5 "+tt.want+"\n", string(got), "%v code %d", tt.r.Type, tt.r.Code)
	}
}

// fakeLookups answers from tables, as a hosts file would.
type fakeLookups struct {
	addrs  map[string]netip.Addr
	cnames map[string]string
	names  map[netip.Addr]string
	ifaces map[string]netip.Addr
	asked  map[netip.Addr]int
}

func (f *fakeLookups) resolve(ctx context.Context, host string, family icmpkit.Family) (netip.Addr, error) {
	if a, ok := f.addrs[host]; ok {
		return a, nil
	}
	return icmpkit.Resolve(ctx, host, family)
}

func (f *fakeLookups) canonical(_ context.Context, host string) string { return f.cnames[host] }

func (f *fakeLookups) name(_ context.Context, a netip.Addr) string {
	if f.asked == nil {
		f.asked = map[netip.Addr]int{}
	}
	f.asked[a]++
	return f.names[a]
}

func (f *fakeLookups) ifaceAddr(iface string, dst netip.Addr) (netip.Addr, bool) {
	a, ok := f.ifaces[iface]
	return a, ok && a.Is4() == dst.Is4()
}

func TestPingReplyLines(t *testing.T) {
	src4, src6 := netip.MustParseAddr("198.18.0.2"), netip.MustParseAddr("2001:db8::2")
	echo4 := transport.Reply{Source: src4, Type: ipv4.ICMPTypeEchoReply, Bytes: 64, TTL: 64,
		ReceivedAt: time.Unix(1733150000, 123456789)}
	l := pingLines{size: 56, markDups: true}
	line := func(o probe.Outcome) string { return string(l.outcome(&o)) }

	assert.Equal(t, "64 bytes from 198.18.0.2: icmp_seq=1 ttl=64 time=0.045 ms\n", line(probe.Outcome{Seq: 0, RTT: 45 * time.Microsecond, Reply: echo4}))
	assert.Equal(t, "64 bytes from 198.18.0.2: icmp_seq=2 ttl=64 time=12.3 ms (DUP!)\n", line(probe.Outcome{Seq: 1, RTT: 12345 * time.Microsecond, Reply: echo4, Duplicate: true}))
	assert.Empty(t, line(probe.Outcome{Seq: 2, TimedOut: true}))
	noTTL := transport.Reply{Source: src6, Type: ipv6.ICMPTypeEchoReply, Bytes: 64}
	assert.Equal(t, "64 bytes from 2001:db8::2: icmp_seq=3 time=150 ms\n", line(probe.Outcome{Seq: 2, RTT: 150 * time.Millisecond, Reply: noTTL}), "no ttl= when the transport cannot tell")
	short := echo4
	short.Bytes = 40
	assert.Equal(t, "40 bytes from 198.18.0.2: icmp_seq=4 ttl=64 (truncated)\n", line(probe.Outcome{Seq: 3, RTT: time.Millisecond, Reply: short}))
	assert.Equal(t, "64 bytes from 198.18.0.2: icmp_seq=65535 ttl=64 time=1.50 ms\n", line(probe.Outcome{Seq: 65534, RTT: 1500 * time.Microsecond, Reply: echo4}))
	assert.Equal(t, "64 bytes from 198.18.0.2: icmp_seq=0 ttl=64 time=1.50 ms\n", line(probe.Outcome{Seq: 65535, RTT: 1500 * time.Microsecond, Reply: echo4}), "16 bits, as iputils")

	// Broadcast and multicast: no (DUP!), as iputils.
	l.markDups = false
	assert.Equal(t, "64 bytes from 198.18.0.2: icmp_seq=2 ttl=64 time=12.3 ms\n", line(probe.Outcome{Seq: 1, RTT: 12345 * time.Microsecond, Reply: echo4, Duplicate: true}))

	// -D: the receive time.
	l.timestamps = true
	assert.Equal(t, "[1733150000.123456] 64 bytes from 198.18.0.2: icmp_seq=1 ttl=64 time=0.045 ms\n", line(probe.Outcome{Seq: 0, RTT: 45 * time.Microsecond, Reply: echo4}))
	te := reply4("198.18.0.2", ipv4.ICMPTypeTimeExceeded, 0)
	te.ReceivedAt = time.Unix(1733150001, 5000)
	assert.Equal(t, "[1733150001.000005] From 198.18.0.2 icmp_seq=1 Time to live exceeded\n", line(probe.Outcome{Seq: 0, Reply: te}))
	assert.Equal(t, "[1733150002.000000] no answer yet for icmp_seq=7\n", string(l.noAnswer(6, time.Unix(1733150002, 999))))
	l.timestamps = false
	assert.Equal(t, "no answer yet for icmp_seq=1\n", string(l.noAnswer(0, time.Time{})))

	// Names: "NAME (ADDRESS)", an address without a name alone, each looked up once.
	look := &fakeLookups{names: map[netip.Addr]string{src4: "r1.lab", src6: "2001:db8::2"}}
	l.names = newNames(context.Background(), look.name, 0)
	defer l.names.close()
	assert.Equal(t, "64 bytes from r1.lab (198.18.0.2): icmp_seq=1 ttl=64 time=0.045 ms\n", line(probe.Outcome{Seq: 0, RTT: 45 * time.Microsecond, Reply: echo4}))
	assert.Equal(t, "From r1.lab (198.18.0.2) icmp_seq=1 Time to live exceeded\n", line(probe.Outcome{Seq: 0, Reply: te}))
	assert.Equal(t, "64 bytes from 2001:db8::2: icmp_seq=3 time=150 ms\n", line(probe.Outcome{Seq: 2, RTT: 150 * time.Millisecond, Reply: noTTL}), "a name that is the address")
	other := echo4
	other.Source = netip.MustParseAddr("198.18.0.3")
	assert.Equal(t, "64 bytes from 198.18.0.3: icmp_seq=1 ttl=64 time=0.045 ms\n", line(probe.Outcome{Seq: 0, RTT: 45 * time.Microsecond, Reply: other}), "no name")
	for range 3 {
		line(probe.Outcome{Seq: 0, RTT: 45 * time.Microsecond, Reply: echo4})
		line(probe.Outcome{Seq: 0, RTT: 45 * time.Microsecond, Reply: other})
	}
	assert.Equal(t, map[netip.Addr]int{src4: 1, src6: 1, other.Source: 1}, look.asked, "one lookup per address")

	// Once the run has ended, lookups give up: the address alone.
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	l.names = newNames(ctx, look.name, 0)
	assert.Equal(t, "64 bytes from 198.18.0.2: icmp_seq=1 ttl=64 time=0.045 ms\n", line(probe.Outcome{Seq: 0, RTT: 45 * time.Microsecond, Reply: echo4}))
	assert.Equal(t, 1, look.asked[src4])
}

// tallyOf feeds a tally with sends every interval from start and the given outcomes, each
// after the sends made before it arrived.
func tallyOf(start time.Time, interval time.Duration, sends int, outcomes ...probe.Outcome) *pingTally {
	t := &pingTally{start: start, lastSeq: -1}
	next := 0
	for _, o := range outcomes {
		at := o.Reply.ReceivedAt
		for next < sends && start.Add(time.Duration(next)*interval).Before(at) {
			t.sending(next, start.Add(time.Duration(next)*interval))
			next++
		}
		t.outcome(&o)
	}
	for ; next < sends; next++ {
		t.sending(next, start.Add(time.Duration(next)*interval))
	}
	return t
}

func echoAt(seq int, start time.Time, interval, rtt time.Duration, dup bool) probe.Outcome {
	sent := start.Add(time.Duration(seq) * interval)
	return probe.Outcome{Seq: seq, RTT: rtt, Duplicate: dup,
		Reply: transport.Reply{Type: ipv4.ICMPTypeEchoReply, ReceivedAt: sent.Add(rtt)}}
}

func TestPingSummaryLines(t *testing.T) {
	start := time.Unix(1733150000, 0)
	us := time.Microsecond
	summary := func(host string, h *result.Host, t *pingTally) string {
		var b strings.Builder
		writePingSummary(&b, host, h, t)
		return b.String()
	}
	host := func(sent, received, dups, errs int) *result.Host {
		h := &result.Host{PacketsSent: sent, Duplicates: dups, Errors: errs}
		for range received {
			h.Stats.Add(time.Millisecond)
		}
		return h
	}

	// A real broadcast run (iputils printed these figures): duplicates count in the RTTs.
	tl := tallyOf(start, 200*time.Millisecond+1500*us, 2,
		echoAt(0, start, 0, 156*us, false), echoAt(0, start, 0, 157*us, true), echoAt(0, start, 0, 158*us, true),
		echoAt(1, start, 200*time.Millisecond+1500*us, 108*us, false))
	assert.Equal(t, "\n--- 198.18.0.255 ping statistics ---\n"+
		"2 packets transmitted, 2 received, +2 duplicates, 0% packet loss, time 202ms\n"+
		"rtt min/avg/max/mdev = 0.108/0.144/0.158/0.021 ms\n", summary("198.18.0.255", host(2, 2, 2, 0), tl))

	// Loss as iputils prints a float with %g; time rounded to the millisecond.
	tl = tallyOf(start, 1000249*us, 3, echoAt(0, start, 1000249*us, 40*us, false))
	assert.Equal(t, "\n--- h ping statistics ---\n"+
		"3 packets transmitted, 1 received, 66.6667% packet loss, time 2000ms\n"+
		"rtt min/avg/max/mdev = 0.040/0.040/0.040/0.000 ms\n", summary("h", host(3, 1, 0, 0), tl))
	tl = tallyOf(start, 1000250*us, 3, echoAt(0, start, 0, 40*us, false))
	assert.Contains(t, summary("h", host(3, 1, 0, 0), tl), ", time 2001ms\n")
	tl = tallyOf(start, 100*time.Millisecond, 7)
	assert.Contains(t, summary("h", host(7, 1, 0, 0), tl), "7 packets transmitted, 1 received, 85.7143% packet loss")

	// Nothing back: no rtt line, but the empty line iputils ends with.
	tl = tallyOf(start, 200*time.Millisecond, 2)
	assert.Equal(t, "\n--- 198.18.0.9 ping statistics ---\n"+
		"2 packets transmitted, 0 received, +2 errors, 100% packet loss, time 200ms\n\n", summary("198.18.0.9", host(2, 0, 0, 2), tl))

	// Nothing sent (Ctrl-C at once): neither loss nor time.
	assert.Equal(t, "\n--- h ping statistics ---\n0 packets transmitted, 0 received\n\n", summary("h", host(0, 0, 0, 0), &pingTally{start: start}))

	// pipe: answers that came after later requests went out.
	tl = tallyOf(start, 300*time.Millisecond, 3,
		echoAt(0, start, 300*time.Millisecond, 3*time.Second, false))
	assert.Equal(t, 3, tl.pipe)
	assert.Contains(t, summary("h", host(3, 1, 0, 0), tl), "rtt min/avg/max/mdev = 3000.000/3000.000/3000.000/0.000 ms, pipe 3\n")
	errAt := func(seq int, at time.Time) probe.Outcome {
		return probe.Outcome{Seq: seq, Reply: transport.Reply{Type: ipv4.ICMPTypeDestinationUnreachable, Code: 1, ReceivedAt: at}}
	}
	tl = tallyOf(start, 300*time.Millisecond, 5, errAt(0, start.Add(3*time.Second)), errAt(1, start.Add(3*time.Second)))
	assert.Equal(t, "\n--- h ping statistics ---\n5 packets transmitted, 0 received, +2 errors, 100% packet loss, time 1200ms\npipe 5\n",
		summary("h", host(5, 0, 0, 2), tl), "iputils' pipe line when nothing came back")
	err6 := errAt(0, start.Add(3*time.Second))
	err6.Reply.Type = ipv6.ICMPTypeDestinationUnreachable
	tl = tallyOf(start, 300*time.Millisecond, 5, err6)
	assert.Equal(t, 0, tl.pipe, "iputils does not count ICMPv6 errors in the pipe")

	// -i 0: the gap between requests and the moving average.
	tl = tallyOf(start, 3*time.Millisecond, 5,
		echoAt(0, start, 3*time.Millisecond, 3*time.Millisecond, false), echoAt(1, start, 3*time.Millisecond, 3*time.Millisecond, false),
		echoAt(2, start, 3*time.Millisecond, 3*time.Millisecond, false), echoAt(3, start, 3*time.Millisecond, 3*time.Millisecond, false),
		echoAt(4, start, 3*time.Millisecond, 3*time.Millisecond, false))
	tl.backToBack = true
	assert.Equal(t, "\n--- h ping statistics ---\n5 packets transmitted, 5 received, 0% packet loss, time 12ms\n"+
		"rtt min/avg/max/mdev = 3.000/3.000/3.000/0.000 ms, ipg/ewma 3.000/3.000 ms\n", summary("h", host(5, 5, 0, 0), tl))
}

// The moving average and the mean deviation, in iputils' integer arithmetic.
func TestPingTallyArithmetic(t *testing.T) {
	tl := &pingTally{lastSeq: -1}
	for i, us := range []int64{58, 51} {
		tl.sending(i, time.Time{})
		tl.outcome(&probe.Outcome{Seq: i, RTT: time.Duration(us) * time.Microsecond, Reply: transport.Reply{Type: ipv4.ICMPTypeEchoReply}})
	}
	assert.Equal(t, int64(3), tl.mdev(), "0.051/0.054/0.058/0.003 from a run of iputils")
	assert.Equal(t, int64(58*8+51-58), tl.ewma)
	// iputils' Newton iteration stops where it starts to oscillate, one above the root
	// for 3 and 8.
	for a, want := range map[int64]int64{0: 0, 1: 1, 2: 1, 3: 2, 4: 2, 8: 3, 66: 8, 450: 21, 1 << 40: 1 << 20} {
		assert.Equal(t, want, llsqrt(a), a)
	}
	// Sums past 2^31 µs take iputils' other formula: 4000 RTTs of 600 ms, half of them 2 µs
	// longer, deviate by 1 µs.
	tl = &pingTally{lastSeq: -1}
	for i := range 4000 {
		tl.sending(i, time.Time{})
		tl.outcome(&probe.Outcome{Seq: i, RTT: time.Duration(600000+2*(i%2)) * time.Microsecond, Reply: transport.Reply{Type: ipv4.ICMPTypeEchoReply}})
	}
	assert.Greater(t, tl.sum, int64(1<<31))
	assert.Equal(t, int64(1), tl.mdev())
	assert.Equal(t, int64(600001), tl.sum/tl.n)
}

// -O: a request without an echo reply when the next goes out; an ICMP error is no answer.
func TestPingTallyOutstanding(t *testing.T) {
	tl := &pingTally{lastSeq: -1}
	assert.False(t, tl.sending(0, time.Time{}), "nothing before the first")
	assert.True(t, tl.sending(1, time.Time{}))
	tl.outcome(&probe.Outcome{Seq: 1, Reply: transport.Reply{Type: ipv4.ICMPTypeEchoReply}})
	assert.False(t, tl.sending(2, time.Time{}))
	tl.outcome(&probe.Outcome{Seq: 2, Reply: transport.Reply{Type: ipv4.ICMPTypeTimeExceeded}})
	assert.True(t, tl.sending(3, time.Time{}))
	tl.outcome(&probe.Outcome{Seq: 2, Reply: transport.Reply{Type: ipv4.ICMPTypeEchoReply}})
	assert.True(t, tl.sending(4, time.Time{}), "a late reply to an older request does not answer the last")
	tl.outcome(&probe.Outcome{Seq: 4, TimedOut: true})
	assert.True(t, tl.sending(5, time.Time{}))
}
