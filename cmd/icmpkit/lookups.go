package main

import (
	"context"
	"net"
	"net/netip"
	"strings"

	"github.com/icmpkit/icmpkit"
)

// lookups is what the subcommands ask the system about names and interfaces. systemLookups asks the
// system's resolver and interface list; tests give their own.
type lookups interface {
	// resolve gives the address to ping for host, as icmpkit.Resolve does.
	resolve(ctx context.Context, host string, family icmpkit.Family) (netip.Addr, error)
	// canonical gives the canonical name of host: where its CNAME records lead, or the first
	// name of its hosts file line. "" when it cannot tell.
	canonical(ctx context.Context, host string) string
	// name gives the name of address a (a reverse lookup), or "" when it has none.
	name(ctx context.Context, a netip.Addr) string
	// ifaceAddr gives the address that interface iface sends from toward dst, if it has one.
	ifaceAddr(iface string, dst netip.Addr) (netip.Addr, bool)
}

// systemLookups asks the system: net.DefaultResolver, which reads the hosts file before
// asking DNS, and the interfaces' addresses.
type systemLookups struct{}

func (systemLookups) resolve(ctx context.Context, host string, family icmpkit.Family) (netip.Addr, error) {
	return icmpkit.Resolve(ctx, host, family)
}

func (systemLookups) canonical(ctx context.Context, host string) string {
	name, err := net.DefaultResolver.LookupCNAME(ctx, host)
	if err != nil {
		return ""
	}
	return strings.TrimSuffix(name, ".")
}

func (systemLookups) name(ctx context.Context, a netip.Addr) string {
	names, err := net.DefaultResolver.LookupAddr(ctx, a.String())
	if err != nil || len(names) == 0 {
		return ""
	}
	return strings.TrimSuffix(names[0], ".")
}

// ifaceAddr picks the first address of dst's family on the interface, of dst's scope: a
// link-local one for a link-local destination, else a wider one.
func (systemLookups) ifaceAddr(iface string, dst netip.Addr) (netip.Addr, bool) {
	ifc, err := net.InterfaceByName(iface)
	if err != nil {
		return netip.Addr{}, false
	}
	addrs, err := ifc.Addrs()
	if err != nil {
		return netip.Addr{}, false
	}
	linkLocal := dst.IsLinkLocalUnicast()
	for _, a := range addrs {
		p, err := netip.ParsePrefix(a.String())
		if err != nil {
			continue
		}
		if src := p.Addr().Unmap(); src.Is4() == dst.Is4() && src.IsLinkLocalUnicast() == linkLocal {
			return src, true
		}
	}
	return netip.Addr{}, false
}

// isLocalhostName reports whether host is "localhost" or a name under it, which resolve to
// the loopback address without a lookup (RFC 6761).
func isLocalhostName(host string) bool {
	host = strings.ToLower(strings.TrimSuffix(host, "."))
	return host == "localhost" || strings.HasSuffix(host, ".localhost")
}
