// Package dgram is icmpkit's unprivileged transport: datagram ICMP "ping" sockets,
// socket(AF_INET, SOCK_DGRAM, IPPROTO_ICMP) and socket(AF_INET6, SOCK_DGRAM, IPPROTO_ICMPV6).
//
// It sends ICMP echo requests (RFC 792, RFC 4443) and returns echo replies and the ICMP
// errors that quote them (Destination Unreachable, Time Exceeded, Packet Too Big, Parameter
// Problem) as [transport.Reply] values, with RFC 4950 MPLS label stacks carried in RFC 4884
// extensions when a router attaches them.
//
// # Linux
//
// A ping socket needs no capability, but the caller's group must lie inside the sysctl
// net.ipv4.ping_group_range (which governs IPv6 as well, per network namespace). The kernel
// writes the socket's bound port into every request's identifier and delivers replies by that
// identifier, so [Transport.Identifier] reports it as fixed and Send overwrites Request.ID.
// ICMP errors are read from the socket's error queue (IP_RECVERR / IPV6_RECVERR): the
// offending router comes from SO_EE_OFFENDER, the probe from the quoted echo request, and with
// IP_RECVERR_RFC4884 (Linux 5.9 and later) the offset of the RFC 4884 extension structure.
// Receive times are the kernel's (SO_TIMESTAMPNS), for replies and errors alike. Requests carry
// their TTL / hop limit and traffic class as per-packet control messages; IPv4 "don't
// fragment" is set with IP_MTU_DISCOVER around the packet that asks for it, IPv6's with the
// IPV6_DONTFRAG control message.
//
// The goroutines that read the sockets start with the first Receive, and a socket joins Go's
// poller only when something has to wait on it; [Transport.Poll] reads what is already there,
// replies and error queue alike, without waiting. A one-packet ping whose reply is polled so
// starts no goroutine and makes no epoll instance.
//
// Broadcast (IPv4 only) needs SO_BROADCAST, which [Transport.SetBroadcast] sets; without it a
// broadcast destination fails with errors.ErrBroadcast. Linux answers echo requests sent to a
// broadcast address only when net.ipv4.icmp_echo_ignore_broadcasts is 0.
//
// # macOS
//
// Datagram ICMP sockets need no privilege there, but the system neither rewrites the
// identifier nor filters by it: the transport picks a random identifier (Identifier reports
// it with fixed=false), keeps the identifiers it has sent with and drops every other message.
//
// # Windows
//
// Windows has no datagram ICMP sockets: its unprivileged ICMP is the ICMP API, which
// transport/winicmp wraps (icmpkit.ModeUnprivileged picks it there). [New] fails with an error
// matching errors.ErrNotSupported.
//
// # Elsewhere
//
// [New] fails with an error matching errors.ErrNotSupported.
package dgram
