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

// maxNames bounds how many addresses a run remembers the names of; past it, it starts over.
const maxNames = 4096

// nameCache names the hosts that answer a run, as "NAME (ADDRESS)", looking each address up
// once. It belongs to one goroutine at a time.
type nameCache struct {
	ctx   context.Context // the run's: once it ends, lookups give up and addresses stand alone
	look  lookups
	names map[netip.Addr]string // "" for an address without a name
}

func newNameCache(ctx context.Context, look lookups) *nameCache {
	return &nameCache{ctx: ctx, look: look, names: make(map[netip.Addr]string)}
}

// appendHost appends "NAME (ADDRESS)", or the address alone when it has no name.
func (c *nameCache) appendHost(b []byte, a netip.Addr) []byte {
	name, ok := c.names[a]
	if !ok && c.ctx.Err() == nil {
		name = c.look.name(c.ctx, a)
		if name == a.String() {
			name = ""
		}
		if c.ctx.Err() == nil {
			if len(c.names) >= maxNames {
				clear(c.names)
			}
			c.names[a] = name
		} else {
			name = "" // cut short: the address alone, as for every lookup once the run ended
		}
	}
	if name == "" {
		return a.AppendTo(b)
	}
	b = append(b, name...)
	b = append(b, " ("...)
	b = a.AppendTo(b)
	return append(b, ')')
}
