// Package dgram is icmpkit's unprivileged transport: datagram ICMP "ping" sockets,
// socket(AF_INET, SOCK_DGRAM, IPPROTO_ICMP) and socket(AF_INET6, SOCK_DGRAM, IPPROTO_ICMPV6),
// and on Windows the ICMP API (IcmpSendEcho2Ex, Icmp6SendEcho2).
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
// Windows has no datagram ICMP sockets; its unprivileged ICMP is the ICMP API of iphlpapi.dll,
// which Windows' own ping and tracert use and which needs no privilege: a "socket" there is a
// handle from IcmpCreateFile (IPv4) or Icmp6CreateFile (IPv6), and each request is an
// asynchronous IcmpSendEcho2Ex or Icmp6SendEcho2 call whose options carry the TTL / hop
// limit, the TOS byte and, on IPv4, the don't-fragment flag. Each call names an APC routine
// that the system runs on the calling thread when the reply or the time-out comes, so every
// socket has one goroutine, locked to its thread, that issues its calls and waits alertably
// for their APCs: many requests are in flight at once (up to 4096 a socket, past which Send
// waits) with one thread.
//
// The reply's IP_STATUS becomes the ICMP type and code of the message it stands for:
// IP_SUCCESS an echo reply, IP_TTL_EXPIRED_TRANSIT a Time Exceeded from the router whose
// address the reply gives, IP_DEST_*_UNREACHABLE a Destination Unreachable of the matching
// code, IP_PACKET_TOO_BIG a Fragmentation Needed (IPv4) or Packet Too Big (IPv6), and so on
// (IPv6 gives some numbers meanings of its own). IP_REQ_TIMED_OUT, and local failures, are no
// reply at all. The system chooses the identifier and sequence that go on the wire and pairs
// each reply with its request, so a Reply carries the request's own Destination, ID and Seq:
// [Transport.Identifier] reports a random default with fixed=false, and any identifier
// serves. Receive times are taken when the APC runs (the API's own round-trip time counts
// whole milliseconds); the TTL is the reply's (IPv4; IPv6 replies report none); Bytes is the
// echo reply's size, and for an ICMP error the smallest such message, as the API does not say
// how much of the request it quoted. Next-hop MTUs and MPLS labels are not reported.
//
// The system waits for each reply for [Config.ReplyTimeout] (a request's Timeout when set); a
// later reply is lost. Interface binding and broadcast are not available (errors matching
// errors.ErrNotSupported; bind a Source address instead), nor is DontFragment on IPv6.
// Close closes the handles and returns without waiting for the requests still in flight
// (Wine 8.0 lets them run to their time-out); their memory is kept until the system is done
// with it.
//
// Wine 8.0 implements IcmpSendEcho2Ex with its APCs, the TTL option and Time Exceeded replies
// (it uses the host's raw or ping sockets), but not ICMPv6: Icmp6CreateFile and
// Icmp6SendEcho2 fail with ERROR_CALL_NOT_IMPLEMENTED, so a transport of both families opens
// IPv4 alone there and a request to an IPv6 address fails with errors.ErrNotSupported.
//
// # Elsewhere
//
// [New] fails with an error matching errors.ErrNotSupported.
package dgram
