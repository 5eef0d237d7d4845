package transport_test

import (
	"fmt"
	"testing"

	"github.com/icmpkit/icmpkit/transport"
	"github.com/stretchr/testify/assert"
	"golang.org/x/net/icmp"
	"golang.org/x/net/ipv4"
	"golang.org/x/net/ipv6"
)

// traceroute(8)'s table: the cases of parse_icmp_res in traceroute 2.1.2 (Debian's
// traceroute package), by the C names of the codes it lists, and the mark each case prints.
// A code it does not list prints "!<code>"; a message of another type "!<type-code>", but
// for an echo reply, a Time Exceeded in transit and a Packet Too Big ("!F-<mtu>").
var (
	tracerouteV4 = []struct {
		names []string
		codes []int
		mark  string
	}{
		{[]string{"ICMP_UNREACH_NET", "ICMP_UNREACH_NET_UNKNOWN", "ICMP_UNREACH_ISOLATED", "ICMP_UNREACH_TOSNET"}, []int{0, 6, 8, 11}, "!N"},
		{[]string{"ICMP_UNREACH_HOST", "ICMP_UNREACH_HOST_UNKNOWN", "ICMP_UNREACH_TOSHOST"}, []int{1, 7, 12}, "!H"},
		{[]string{"ICMP_UNREACH_NET_PROHIB", "ICMP_UNREACH_HOST_PROHIB", "ICMP_UNREACH_FILTER_PROHIB"}, []int{9, 10, 13}, "!X"},
		{[]string{"ICMP_UNREACH_PORT"}, []int{3}, ""},
		{[]string{"ICMP_UNREACH_PROTOCOL"}, []int{2}, "!P"},
		{[]string{"ICMP_UNREACH_NEEDFRAG"}, []int{4}, "!F-1400"}, // "!F-%d" of the next-hop MTU
		{[]string{"ICMP_UNREACH_SRCFAIL"}, []int{5}, "!S"},
		{[]string{"ICMP_UNREACH_HOST_PRECEDENCE"}, []int{14}, "!V"},
		{[]string{"ICMP_UNREACH_PRECEDENCE_CUTOFF"}, []int{15}, "!C"},
	}
	tracerouteV6 = []struct {
		names []string
		codes []int
		mark  string
	}{
		{[]string{"ICMP6_DST_UNREACH_NOROUTE"}, []int{0}, "!N"},
		{[]string{"ICMP6_DST_UNREACH_BEYONDSCOPE", "ICMP6_DST_UNREACH_ADDR"}, []int{2, 3}, "!H"},
		{[]string{"ICMP6_DST_UNREACH_ADMIN"}, []int{1}, "!X"},
		{[]string{"ICMP6_DST_UNREACH_NOPORT"}, []int{4}, ""},
	}
)

// TestMarkTraceroute checks Mark against traceroute(8)'s table for every code of every
// message type, and Unreachable against it for Destination Unreachable.
func TestMarkTraceroute(t *testing.T) {
	v4 := map[int]string{}
	for _, c := range tracerouteV4 {
		for _, code := range c.codes {
			v4[code] = c.mark
		}
	}
	v6 := map[int]string{}
	for _, c := range tracerouteV6 {
		for _, code := range c.codes {
			v6[code] = c.mark
		}
	}
	for typ := range 256 {
		for code := range 256 {
			for _, isV6 := range []bool{false, true} {
				r := transport.Reply{Code: code, MTU: 1400}
				var want string
				var unreach bool
				if isV6 {
					r.Type = ipv6.ICMPType(typ)
					switch {
					case r.Type == ipv6.ICMPTypeEchoReply, r.Type == ipv6.ICMPTypeTimeExceeded && code == 0:
					case r.Type == ipv6.ICMPTypePacketTooBig:
						want = "!F-1400"
					case r.Type == ipv6.ICMPTypeDestinationUnreachable:
						unreach = true
						m, listed := v6[code]
						want = m
						if !listed {
							want = fmt.Sprintf("!<%d>", code)
						}
					default:
						want = fmt.Sprintf("!<%d-%d>", typ, code)
					}
				} else {
					r.Type = ipv4.ICMPType(typ)
					switch {
					case r.Type == ipv4.ICMPTypeEchoReply, r.Type == ipv4.ICMPTypeTimeExceeded && code == 0:
					case r.Type == ipv4.ICMPTypeDestinationUnreachable:
						unreach = true
						m, listed := v4[code]
						want = m
						if !listed {
							want = fmt.Sprintf("!<%d>", code)
						}
					default:
						want = fmt.Sprintf("!<%d-%d>", typ, code)
					}
				}
				if !assert.Equal(t, want, r.Mark(), "IPv6 %v, type %d, code %d", isV6, typ, code) {
					return
				}
				if !unreach {
					want = ""
				}
				if !assert.Equal(t, want, r.Unreachable(), "IPv6 %v, type %d, code %d", isV6, typ, code) {
					return
				}
			}
		}
	}
}

// TestMarkCodes spells out the codes where traceroute(8) departs from the names' first
// guess, each as traceroute prints it.
func TestMarkCodes(t *testing.T) {
	for _, tc := range []struct {
		typ  icmp.Type
		code int
		want string
	}{
		{ipv4.ICMPTypeDestinationUnreachable, 3, ""},   // port unreachable: reached
		{ipv4.ICMPTypeDestinationUnreachable, 8, "!N"}, // source host isolated
		{ipv4.ICMPTypeDestinationUnreachable, 16, "!<16>"},
		{ipv4.ICMPTypeTimeExceeded, 1, "!<11-1>"}, // reassembly time exceeded
		{ipv4.ICMPTypeParameterProblem, 0, "!<12-0>"},
		{ipv6.ICMPTypeDestinationUnreachable, 2, "!H"},   // beyond scope
		{ipv6.ICMPTypeDestinationUnreachable, 4, ""},     // port unreachable: reached
		{ipv6.ICMPTypeDestinationUnreachable, 5, "!<5>"}, // source address failed policy
		{ipv6.ICMPTypeDestinationUnreachable, 6, "!<6>"}, // reject route
		{ipv6.ICMPTypePacketTooBig, 0, "!F-1280"},
		{ipv6.ICMPTypeParameterProblem, 1, "!<4-1>"},
	} {
		r := transport.Reply{Type: tc.typ, Code: tc.code, MTU: 1280}
		assert.Equal(t, tc.want, r.Mark(), "%v code %d", tc.typ, tc.code)
	}
}
