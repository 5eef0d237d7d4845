package icmpkit

import (
	"context"
	"net"
	"net/netip"
	"strconv"
	"strings"

	"github.com/icmpkit/icmpkit/errors"
	"github.com/icmpkit/icmpkit/transport"
)

// Family selects an address family: the family a host name resolves to (icmplib's family
// parameter) and the sockets a transport opens. It is transport.Family.
type Family = transport.Family

// Families. The zero value, FamilyAny, prefers IPv4 and takes IPv6 when a name has no IPv4
// address, and opens the sockets of both families.
const (
	FamilyAny = transport.FamilyBoth
	IPv4      = transport.FamilyIPv4
	IPv6      = transport.FamilyIPv6
)

// Resolve turns host into one address. An address literal (as ParseAddr takes it: IPv4 in
// any form inet_aton reads, IPv6 with or without a zone) is taken as it is, without a lookup;
// a name goes to the system resolver
// (net.DefaultResolver), and the first IPv4 address wins unless family says IPv6 (or the name
// has no IPv4 address). "localhost" and names under it are the loopback address, 127.0.0.1
// or ::1, without a lookup (RFC 6761). IPv4-mapped IPv6 addresses come back unmapped.
//
// A name that does not resolve to an address of the family gives an error matching
// errors.ErrNameLookup; an empty host or a literal of the other family, errors.ErrInvalidArgument.
func Resolve(ctx context.Context, host string, family Family) (netip.Addr, error) {
	if !family.Valid() {
		return netip.Addr{}, errors.Invalid("family", "must be FamilyAny, IPv4 or IPv6, got %d", int(family))
	}
	host = strings.TrimSpace(host)
	if host == "" {
		return netip.Addr{}, errors.Invalid("host", "is empty")
	}
	if a, err := ParseAddr(host); err == nil {
		if !family.Includes(a) {
			return netip.Addr{}, errors.Invalid("host", "%s is not an %s address", host, family)
		}
		return a, nil
	}
	if isLocalhost(host) {
		return loopback(family), nil
	}
	network := "ip"
	switch family {
	case IPv4:
		network = "ip4"
	case IPv6:
		network = "ip6"
	}
	addrs, err := net.DefaultResolver.LookupNetIP(ctx, network, host)
	if a, ok := pick(addrs, family); ok {
		return a, nil
	}
	if err == nil {
		what := "no address"
		if family != FamilyAny {
			what = "no " + family.String() + " address"
		}
		err = errors.New(what)
	}
	return netip.Addr{}, &errors.Error{Op: "resolve " + host, Class: errors.ErrNameLookup, Err: err}
}

// ParseAddr reads an address literal as getaddrinfo(3) reads one, and so iputils ping, fping
// and traceroute(8): an IPv6 address, with or without a zone, within brackets or not; an IPv4
// address in dotted decimal; or an IPv4 address in one of inet_aton(3)'s older forms, with
// one to four parts, each decimal, octal after a leading 0 or hexadecimal after 0x, the last
// part filling the bytes left ("127.1", "0177.0.0.1", "2130706433" and "0x7f.1" are all
// 127.0.0.1). IPv4-mapped IPv6 addresses come back unmapped. Anything else is an error
// matching errors.ErrInvalidArgument.
func ParseAddr(s string) (netip.Addr, error) {
	s = strings.TrimSuffix(strings.TrimPrefix(s, "["), "]")
	if a, err := netip.ParseAddr(s); err == nil {
		return a.Unmap(), nil
	}
	if a, ok := parseInetAton(s); ok {
		return a, nil
	}
	return netip.Addr{}, errors.Invalid("address", "%q is not an IP address", s)
}

// parseInetAton reads the IPv4 forms of inet_aton(3), as glibc's getaddrinfo(3) takes them:
// no sign, no space, nothing after the last part.
func parseInetAton(s string) (netip.Addr, bool) {
	var parts [4]uint64
	n := 0
	for {
		if n == len(parts) || s == "" || s[0] < '0' || s[0] > '9' {
			return netip.Addr{}, false
		}
		base, digits := 10, s
		switch {
		case len(s) > 1 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X'):
			base, digits = 16, s[2:]
		case s[0] == '0':
			base = 8
		}
		end := 0
		for end < len(digits) && digits[end] != '.' {
			end++
		}
		if base == 16 && end == 0 {
			return netip.Addr{}, false // "0x" with no digit: strtoul stops before the x
		}
		v, err := strconv.ParseUint(digits[:end], base, 32)
		if err != nil {
			return netip.Addr{}, false
		}
		parts[n] = v
		n++
		if end == len(digits) {
			break
		}
		s = digits[end+1:]
	}
	// The last part fills the bytes the others leave.
	last := parts[n-1]
	if last > 0xffffffff>>(8*(n-1)) {
		return netip.Addr{}, false
	}
	v := uint32(last)
	for i := 0; i < n-1; i++ {
		if parts[i] > 0xff {
			return netip.Addr{}, false
		}
		v |= uint32(parts[i]) << (24 - 8*i)
	}
	return netip.AddrFrom4([4]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)}), true
}

// pick gives the first IPv4 address of addrs, else the first IPv6 one, within family.
func pick(addrs []netip.Addr, family Family) (netip.Addr, bool) {
	var v6 netip.Addr
	for _, a := range addrs {
		a = a.Unmap()
		if !family.Includes(a) {
			continue
		}
		if a.Is4() {
			return a, true
		}
		if !v6.IsValid() {
			v6 = a
		}
	}
	return v6, v6.IsValid()
}

func loopback(family Family) netip.Addr {
	if family == IPv6 {
		return netip.IPv6Loopback()
	}
	return netip.AddrFrom4([4]byte{127, 0, 0, 1})
}

// isLocalhost reports whether host is "localhost" or a name under it, which RFC 6761 reserves
// for the loopback address.
func isLocalhost(host string) bool {
	host = strings.ToLower(strings.TrimSuffix(host, "."))
	return host == "localhost" || strings.HasSuffix(host, ".localhost")
}
