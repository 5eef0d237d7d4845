package winicmp

import (
	"encoding/binary"
	"net/netip"

	"github.com/icmpkit/icmpkit/internal/sockio"
	"github.com/icmpkit/icmpkit/internal/wire"
	"github.com/icmpkit/icmpkit/transport"
)

// The Windows ICMP API (iphlpapi.dll: IcmpSendEcho2Ex, Icmp6SendEcho2) reports each request's
// outcome as an IP_STATUS value in the reply it writes. What follows reads those replies and
// maps the statuses to ICMP types and codes. It is plain byte handling, kept free of system
// calls so that it is tested, and fuzzed, on every system.

// IP_STATUS values (ipexport.h). IPv6 reuses some numbers with its own meaning: 11002 is "no
// route", 11003 "address unreachable", 11004 "administratively prohibited", 11013 "hop limit
// exceeded".
const (
	ipSuccess             = 0
	ipBufTooSmall         = 11001
	ipDestNetUnreachable  = 11002 // IPv6: IP_DEST_NO_ROUTE
	ipDestHostUnreachable = 11003 // IPv6: IP_DEST_ADDR_UNREACHABLE
	ipDestProtUnreachable = 11004 // IPv6: IP_DEST_PROHIBITED
	ipDestPortUnreachable = 11005
	ipNoResources         = 11006
	ipBadOption           = 11007
	ipHWError             = 11008
	ipPacketTooBig        = 11009
	ipReqTimedOut         = 11010
	ipBadReq              = 11011
	ipBadRoute            = 11012
	ipTTLExpiredTransit   = 11013 // IPv6: IP_HOP_LIMIT_EXCEEDED
	ipTTLExpiredReassem   = 11014 // IPv6: IP_REASSEMBLY_TIME_EXCEEDED
	ipParamProblem        = 11015
	ipSourceQuench        = 11016
	ipOptionTooBig        = 11017
	ipBadDestination      = 11018
	ipDestUnreachable     = 11040 // IPv6 only, unspecified code
	ipTimeExceeded        = 11041 // IPv6 only, unspecified code
	ipBadHeader           = 11042 // IPv6 only
	ipUnrecognizedNextHdr = 11043 // IPv6 only
	ipICMPError           = 11044 // IPv6 only
	ipDestScopeMismatch   = 11045 // IPv6 only
	ipGeneralFailure      = 11050
)

// statusMessage maps an IP_STATUS to the ICMP message a router or the destination sent, as
// type and code of the family. ok is false for statuses that are no answer from the network:
// a timeout (the request went unanswered) and local failures (no resources, a bad request).
func statusMessage(v6 bool, status uint32) (typ, code int, ok bool) {
	if v6 {
		switch status {
		case ipSuccess:
			return wire.TypeEchoReplyV6, 0, true
		case ipDestNetUnreachable, ipDestUnreachable:
			return wire.TypeUnreachV6, 0, true // no route to destination
		case ipDestProtUnreachable:
			return wire.TypeUnreachV6, 1, true // administratively prohibited
		case ipDestScopeMismatch:
			return wire.TypeUnreachV6, 2, true // beyond scope of source address
		case ipDestHostUnreachable:
			return wire.TypeUnreachV6, 3, true // address unreachable
		case ipDestPortUnreachable:
			return wire.TypeUnreachV6, 4, true
		case ipPacketTooBig:
			return wire.TypeTooBigV6, 0, true
		case ipTTLExpiredTransit, ipTimeExceeded:
			return wire.TypeExceededV6, 0, true
		case ipTTLExpiredReassem:
			return wire.TypeExceededV6, 1, true
		case ipParamProblem, ipBadHeader:
			return wire.TypeParamProbV6, 0, true
		case ipUnrecognizedNextHdr:
			return wire.TypeParamProbV6, 1, true
		}
		return 0, 0, false
	}
	switch status {
	case ipSuccess:
		return wire.TypeEchoReplyV4, 0, true
	case ipDestNetUnreachable:
		return wire.TypeUnreachV4, 0, true
	case ipDestHostUnreachable:
		return wire.TypeUnreachV4, 1, true
	case ipDestProtUnreachable:
		return wire.TypeUnreachV4, 2, true
	case ipDestPortUnreachable:
		return wire.TypeUnreachV4, 3, true
	case ipPacketTooBig:
		return wire.TypeUnreachV4, 4, true // fragmentation needed and DF set
	case ipTTLExpiredTransit:
		return wire.TypeExceededV4, 0, true
	case ipTTLExpiredReassem:
		return wire.TypeExceededV4, 1, true
	case ipParamProblem:
		return wire.TypeParamProbV4, 0, true
	case ipSourceQuench:
		return typeSourceQuenchV4, 0, true
	}
	return 0, 0, false
}

// typeSourceQuenchV4 is ICMPv4 Source Quench (RFC 792, deprecated by RFC 6633).
const typeSourceQuenchV4 = 4

// Layouts of what the API writes, on 64-bit Windows.
//
// ICMP_ECHO_REPLY: Address (4, network order), Status (4), RoundTripTime (4, ms), DataSize
// (2), Reserved (2), Data (pointer, 8), then IP_OPTION_INFORMATION: Ttl, Tos, Flags,
// OptionsSize (1 each), padding (4), OptionsData (pointer, 8): 40 bytes in all.
//
// ICMPV6_ECHO_REPLY: IPV6_ADDRESS_EX, packed (sin6_port 2, sin6_flowinfo 4, sin6_addr 16,
// sin6_scope_id 4: 26 bytes), padding (2), Status (4), RoundTripTime (4): 36 bytes.
const (
	echoReplyLenV4 = 40
	echoReplyLenV6 = 36

	offStatusV4   = 4
	offDataSizeV4 = 12
	offTTLV4      = 24
	offAddrV6     = 6
	offScopeV6    = 22
	offStatusV6   = 28
)

// ipOptionsLen is the size of IP_OPTION_INFORMATION on 64-bit Windows.
const ipOptionsLen = 16

// ipFlagDF is IP_FLAG_DF, the don't-fragment flag of IP_OPTION_INFORMATION.Flags.
const ipFlagDF = 0x2

// putOptions writes an IP_OPTION_INFORMATION without IP options into b[:ipOptionsLen].
func putOptions(b []byte, ttl, tos int, df bool) {
	_ = b[ipOptionsLen-1]
	clear(b[:ipOptionsLen])
	b[0], b[1] = byte(ttl), byte(tos)
	if df {
		b[2] = ipFlagDF
	}
}

// replyBufferLen gives the size of the reply buffer for a request of payload bytes: the reply
// structure, the echoed data, 8 bytes for an ICMP error, room for IP options (40 bytes at most)
// and the IO_STATUS_BLOCK (16 bytes) that asynchronous calls keep there.
func replyBufferLen(v6 bool, payload int) int {
	n := echoReplyLenV4
	if v6 {
		n = echoReplyLenV6
	}
	return n + payload + 8 + 40 + 16
}

// parseAPIReply reads the reply the API wrote in b for a request with the given identity and
// payload size, and fills r: Source, the type and code mapped from the status, Bytes, TTL
// (IPv4 only; ICMPV6_ECHO_REPLY carries none), and Destination, ID and Seq from the request,
// which the API pairs with its reply. Bytes is the ICMP message's size for an echo reply (8
// plus the data that came back); the API does not say how much of the request an ICMP error
// quoted, so an error counts the smallest such message, its header, the quoted IP header and 8
// bytes (RFC 792). It reports false when b holds no answer: a timeout, a local failure, or a
// buffer too short for a reply. r.ReceivedAt is the caller's.
func parseAPIReply(v6 bool, b []byte, dst netip.Addr, id, seq, payload int, r *transport.Reply) bool {
	var status uint32
	var src netip.Addr
	ttl, data, header := 0, payload, 20
	if v6 {
		if len(b) < echoReplyLenV6 {
			return false
		}
		status = binary.LittleEndian.Uint32(b[offStatusV6:])
		src = sockio.WithScope(netip.AddrFrom16([16]byte(b[offAddrV6:offAddrV6+16])),
			binary.LittleEndian.Uint32(b[offScopeV6:]))
		header = 40
	} else {
		if len(b) < echoReplyLenV4 {
			return false
		}
		status = binary.LittleEndian.Uint32(b[offStatusV4:])
		src = netip.AddrFrom4([4]byte(b[0:4]))
		data = int(binary.LittleEndian.Uint16(b[offDataSizeV4:]))
		ttl = int(b[offTTLV4])
	}
	typ, code, ok := statusMessage(v6, status)
	if !ok {
		return false
	}
	r.Source = src
	r.Destination = dst
	r.ID, r.Seq = id, seq
	r.Type = wire.ICMPType(v6, byte(typ))
	r.Code = code
	r.Bytes = 8 + data
	if typ != wire.TypeEchoReplyV4 && typ != wire.TypeEchoReplyV6 {
		r.Bytes = 8 + header + 8
	}
	r.TTL = ttl
	r.MTU = 0
	r.MPLS = nil
	return true
}
