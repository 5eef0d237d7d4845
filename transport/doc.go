// Package transport is the seam between icmpkit's algorithms and the wire.
//
// A [Transport] sends ICMP echo requests (RFC 792 for IPv4, RFC 4443 for IPv6) and receives
// what comes back, normalized into one [Reply] type: an echo reply and an ICMP error message
// that quotes one of our requests (Time Exceeded, Destination Unreachable, Packet Too Big,
// Parameter Problem) carry the same fields, and the error's quoted request names the probe.
// RFC 4884 extensions carrying RFC 4950 MPLS label stacks come out as [Reply.MPLS].
//
// Implementations: transport/raw (privileged raw sockets), transport/dgram (unprivileged
// datagram "ping" sockets), transport/winicmp (the Windows ICMP API, unprivileged) and
// transport/mock (an in-memory network for tests). Anyone can add
// another: implement the three methods of Transport, and optionally the small capability
// interfaces [Identifier], [BatchSender], [BatchReceiver], [Poller], [Broadcaster] and
// [Namer].
//
// The package probe runs Ping, Multiping and Traceroute over any Transport.
package transport
