package transport

import "net/netip"

// Family selects address families: the sockets a transport opens, the family a host name
// resolves to. It is the one family type of icmpkit; the root package's icmpkit.Family is
// this type.
type Family uint8

// Families.
const (
	// FamilyBoth means either family: a transport opens an IPv4 and an IPv6 socket (a system
	// without one of them leaves the transport with the family it has), and a name resolves
	// to its first IPv4 address, or its first IPv6 address when it has none.
	FamilyBoth Family = iota
	// FamilyIPv4 means IPv4 only.
	FamilyIPv4
	// FamilyIPv6 means IPv6 only.
	FamilyIPv6
)

func (f Family) String() string {
	switch f {
	case FamilyBoth:
		return "IPv4 and IPv6"
	case FamilyIPv4:
		return "IPv4"
	case FamilyIPv6:
		return "IPv6"
	}
	return "unknown family"
}

// Valid reports whether f is one of FamilyBoth, FamilyIPv4 and FamilyIPv6.
func (f Family) Valid() bool { return f <= FamilyIPv6 }

// Includes reports whether f admits addresses of a's family (IPv4-mapped IPv6 addresses
// count as IPv4). FamilyBoth admits every address.
func (f Family) Includes(a netip.Addr) bool {
	switch f {
	case FamilyIPv4:
		return a.Unmap().Is4()
	case FamilyIPv6:
		return !a.Unmap().Is4()
	}
	return true
}

// Wants reports whether f asks for the IPv6 family (v6) or the IPv4 family (!v6).
func (f Family) Wants(v6 bool) bool {
	switch f {
	case FamilyIPv4:
		return !v6
	case FamilyIPv6:
		return v6
	}
	return true
}
