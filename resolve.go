package icmpkit

import (
	"context"
	"net"
	"net/netip"
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

// Resolve turns host into one address. An address literal (IPv4, IPv6, with or without a
// zone) is taken as it is, without a lookup; a name goes to the system resolver
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
	if a, err := netip.ParseAddr(strings.TrimSuffix(strings.TrimPrefix(host, "["), "]")); err == nil {
		a = a.Unmap()
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
