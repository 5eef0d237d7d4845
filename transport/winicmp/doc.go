// Package winicmp is icmpkit's unprivileged transport on Windows: the ICMP API of
// iphlpapi.dll (IcmpSendEcho2Ex, Icmp6SendEcho2), which is not a socket. icmpkit.ModeUnprivileged
// picks it on Windows, where datagram ICMP sockets (transport/dgram) do not exist; it names
// itself "dgram" (transport.Namer), the unprivileged mode, as that transport does elsewhere.
//
// It sends ICMP echo requests (RFC 792, RFC 4443) and returns echo replies and the ICMP
// errors the API reports for them as [transport.Reply] values.
//
// Windows has no datagram ICMP sockets; its unprivileged ICMP is the ICMP API of iphlpapi.dll,
// which Windows' own ping and tracert use and which needs no privilege. Each family has a
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
package winicmp
