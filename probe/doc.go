// Package probe runs Ping, Multiping and Traceroute over any transport.Transport: raw
// sockets, unprivileged ping sockets, the in-memory network of transport/mock, or a transport
// of the caller's own. It never learns what carries the packets.
//
// The algorithms follow icmplib's parameters and defaults (RFC 792 and RFC 4443 echo, with the
// ICMP errors of RFC 1122/1812 as per-probe outcomes) and go beyond it:
//
//   - A Prober (New) serves any number of concurrent calls over one transport for as long as
//     the program runs: it owns the transport's single reader, which dispatches each reply to
//     the call that sent its request, by destination, identifier and sequence, and the pacer
//     that learns routers' ICMP rate limits. Close releases both. The package-level functions
//     make a Prober for one call.
//   - Multiping keeps a window of hosts in progress, pulls targets from an iterator, paces
//     requests to a rate, batches sends where the transport can, and has no 65,535-probe
//     ceiling: sequences are reused once their request is resolved. It returns as soon as
//     every host is answered or timed out.
//   - Traceroute probes many distances at once, so silent routers cost about one timeout in
//     all, and reports per-hop statistics, every responder (ECMP), unreachable codes, RFC 4950
//     MPLS labels, and keeps one flow identity in Paris mode.
//   - Results stream as they happen (PingOptions.OnReply, MultipingSeq, TraceOptions.OnHop
//     and OnProbe), and every call takes a context.Context.
//
// Options structs are valid at their zero value, which means icmplib's defaults.
package probe
