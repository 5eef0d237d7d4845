// Package icmpkit is the convenience layer of icmpkit: icmplib's entry points in Go.
//
// [Ping], [Multiping], [MultipingSeq] and [Traceroute] take host names or address literals,
// resolve them once with the system resolver ([Resolve]), open a real transport ([Open]: a
// privileged raw socket, an unprivileged datagram "ping" socket, or the first of the two that
// the process may use, as [Mode] says), run the algorithms of package probe over it and close
// it. [Socket] is icmplib's ICMPv4Socket and ICMPv6Socket: send one echo request, receive the
// replies to it, over any transport.Transport.
//
// Echo requests and replies are ICMP (RFC 792) and ICMPv6 (RFC 4443) messages; traceroute
// reads the Time Exceeded and Destination Unreachable messages routers send (RFC 1812).
//
// Errors match the classes of package errors: a bad option matches errors.ErrInvalidArgument,
// a name that does not resolve errors.ErrNameLookup, a missing privilege errors.ErrPermission,
// a closed socket errors.ErrUnavailable, a receive that waited in vain errors.ErrTimeout.
//
// The programs in cmd/icmpkit (ping, multiping and traceroute on the command line) and
// examples/ are built on this package.
package icmpkit
