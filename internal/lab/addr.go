package lab

import (
	"fmt"
	"net/netip"
	"strconv"
)

// Node is one host of a lab.
type Node struct {
	Name string     // role: "client", "r1"…"rN", "target", "switch", "resp1"…
	NS   string     // network namespace name, for Do, Exec and Start
	V4   netip.Addr // for a router: its client-side address, the source of its ICMP errors toward the client
	V6   netip.Addr // likewise for IPv6
}

// mirror returns n written in decimal and read as hex, so IPv6 groups repeat IPv4 numbers:
// link 30 is 198.18.30.0/24 and 2001:db8:0:30::/64.
func mirror(n int) uint16 {
	v, err := strconv.ParseUint(strconv.Itoa(n), 16, 16)
	if err != nil {
		panic(fmt.Sprintf("lab: mirror(%d): %v", n, err)) // callers keep n in 0..9999
	}
	return uint16(v)
}

// v4 builds 198.18.0.0/15 addresses: a is 18 or 19.
func v4(a, b, c int) netip.Addr { return netip.AddrFrom4([4]byte{198, byte(a), byte(b), byte(c)}) }

// v6 builds 2001:db8:g2:g3::host with g3 and host mirrored from decimal.
func v6(g2 uint16, g3, host int) netip.Addr {
	var b [16]byte
	b[0], b[1], b[2], b[3] = 0x20, 0x01, 0x0d, 0xb8
	b[4], b[5] = byte(g2>>8), byte(g2)
	m := mirror(g3)
	b[6], b[7] = byte(m>>8), byte(m)
	h := mirror(host)
	b[14], b[15] = byte(h>>8), byte(h)
	return netip.AddrFrom16(b)
}
