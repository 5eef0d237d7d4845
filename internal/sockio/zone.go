package sockio

import (
	"net"
	"net/netip"
	"strconv"
	"sync"
)

// zones caches interface names by index and indexes by name, for the zones of IPv6
// link-local addresses.
var (
	zoneNames   sync.Map // uint32 -> string
	zoneIndexes sync.Map // string -> uint32
)

// ZoneName gives the name of the interface with index idx, or the index in decimal when the
// interface is gone.
func ZoneName(idx uint32) string {
	if v, ok := zoneNames.Load(idx); ok {
		return v.(string)
	}
	name := strconv.FormatUint(uint64(idx), 10)
	if ifi, err := net.InterfaceByIndex(int(idx)); err == nil {
		name = ifi.Name
	}
	zoneNames.Store(idx, name)
	return name
}

// ZoneIndex gives the interface index for an address's zone: an interface name or a decimal
// index. It gives 0 for no zone and false for an unknown interface.
func ZoneIndex(zone string) (uint32, bool) {
	if zone == "" {
		return 0, true
	}
	if n, err := strconv.ParseUint(zone, 10, 32); err == nil {
		return uint32(n), true
	}
	if v, ok := zoneIndexes.Load(zone); ok {
		return v.(uint32), true
	}
	ifi, err := net.InterfaceByName(zone)
	if err != nil {
		return 0, false
	}
	zoneIndexes.Store(zone, uint32(ifi.Index))
	return uint32(ifi.Index), true
}

// WithScope gives a with the zone that an IPv6 scope identifier names; scope 0, and any
// scope of an address that is not link-local, mean none.
func WithScope(a netip.Addr, scope uint32) netip.Addr {
	if scope == 0 || !a.Is6() || !(a.IsLinkLocalUnicast() || a.IsLinkLocalMulticast()) {
		return a
	}
	return a.WithZone(ZoneName(scope))
}
