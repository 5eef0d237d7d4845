package transport

// Family selects the address families a transport opens sockets for.
type Family uint8

// Families.
const (
	// FamilyBoth opens an IPv4 and an IPv6 socket. A system without one of them leaves the
	// transport with the family it has.
	FamilyBoth Family = iota
	// FamilyIPv4 opens an IPv4 socket only.
	FamilyIPv4
	// FamilyIPv6 opens an IPv6 socket only.
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
