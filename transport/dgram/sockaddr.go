package dgram

import (
	"net"
	"net/netip"
	"strconv"
	"sync"
)

// zones caches interface names by index and indexes by name, for the zones of IPv6
// link-local addresses.
var (
	zones       sync.Map // uint32 -> string
	zoneIndexes sync.Map // string -> uint32
)

// zoneName gives the name of the interface with index idx, or the index in decimal when the
// interface is gone.
func zoneName(idx uint32) string {
	if v, ok := zones.Load(idx); ok {
		return v.(string)
	}
	name := strconv.FormatUint(uint64(idx), 10)
	if ifi, err := net.InterfaceByIndex(int(idx)); err == nil {
		name = ifi.Name
	}
	zones.Store(idx, name)
	return name
}

// zoneIndex gives the interface index for an address's zone: an interface name or a decimal
// index. It gives 0 for no zone and false for an unknown interface.
func zoneIndex(zone string) (uint32, bool) {
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

// withScope gives a with the zone that an IPv6 scope identifier names; scope 0 means none.
func withScope(a netip.Addr, scope uint32) netip.Addr {
	if scope == 0 || !a.Is6() {
		return a
	}
	return a.WithZone(zoneName(scope))
}
