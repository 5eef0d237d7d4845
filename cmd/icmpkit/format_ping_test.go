package main

import (
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/icmpkit/icmpkit/probe"
	"github.com/icmpkit/icmpkit/result"
	"github.com/icmpkit/icmpkit/transport"
	"github.com/stretchr/testify/assert"
	"golang.org/x/net/ipv4"
	"golang.org/x/net/ipv6"
)

func TestPingLines(t *testing.T) {
	var b strings.Builder
	writePingHeader(&b, "localhost", netip.MustParseAddr("127.0.0.1"), 56)
	writePingHeader(&b, "db8", netip.MustParseAddr("2001:db8::1"), 1000)

	src4, src6 := netip.MustParseAddr("198.18.0.2"), netip.MustParseAddr("2001:db8::2")
	writeOutcome(&b, probe.Outcome{Seq: 0, RTT: 45 * time.Microsecond,
		Reply: transport.Reply{Source: src4, Type: ipv4.ICMPTypeEchoReply, Bytes: 64, TTL: 64}})
	writeOutcome(&b, probe.Outcome{Seq: 1, RTT: 12345 * time.Microsecond, Duplicate: true,
		Reply: transport.Reply{Source: src6, Type: ipv6.ICMPTypeEchoReply, Bytes: 1008}})
	writeOutcome(&b, probe.Outcome{Seq: 2, TimedOut: true})
	writeOutcome(&b, probe.Outcome{Seq: 3,
		Reply: transport.Reply{Source: src4, Type: ipv4.ICMPTypeTimeExceeded, Code: 0}})
	writeOutcome(&b, probe.Outcome{Seq: 4,
		Reply: transport.Reply{Source: src6, Type: ipv6.ICMPTypeDestinationUnreachable, Code: 1}})
	assert.Equal(t, ""+
		"PING localhost (127.0.0.1) 56(84) bytes of data.\n"+
		"PING db8 (2001:db8::1) 1000 data bytes\n"+
		"64 bytes from 198.18.0.2: icmp_seq=1 ttl=64 time=0.045 ms\n"+
		"1008 bytes from 2001:db8::2: icmp_seq=2 time=12.3 ms (DUP!)\n"+
		"From 198.18.0.2 icmp_seq=4 Time to live exceeded\n"+
		"From 2001:db8::2 icmp_seq=5 "+(&transport.Reply{Type: ipv6.ICMPTypeDestinationUnreachable, Code: 1}).Message()+"\n",
		b.String())
}

func TestPingSummary(t *testing.T) {
	var b strings.Builder
	h := &result.Host{Address: netip.MustParseAddr("127.0.0.1"), PacketsSent: 3}
	for _, us := range []int{40, 50, 60} {
		h.Add(time.Duration(us) * time.Microsecond)
	}
	writePingSummary(&b, "localhost", h, 2003*time.Millisecond)
	assert.Equal(t, "\n--- localhost ping statistics ---\n"+
		"3 packets transmitted, 3 received, 0% packet loss, time 2003ms\n"+
		"rtt min/avg/max/mdev = 0.040/0.050/0.060/0.008 ms\n", b.String())

	b.Reset()
	h = &result.Host{Address: netip.MustParseAddr("198.18.0.9"), PacketsSent: 3, Duplicates: 2, Errors: 1}
	writePingSummary(&b, "198.18.0.9", h, 0)
	assert.Equal(t, "\n--- 198.18.0.9 ping statistics ---\n"+
		"3 packets transmitted, 0 received, +2 duplicates, +1 errors, 100% packet loss, time 0ms\n", b.String())

	b.Reset()
	h = &result.Host{Address: netip.MustParseAddr("198.18.0.9"), PacketsSent: 3}
	h.Add(time.Millisecond)
	writePingSummary(&b, "198.18.0.9", h, 0)
	assert.Contains(t, b.String(), ", 66.67% packet loss,")
}
