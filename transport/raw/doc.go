// Package raw is icmpkit's privileged transport: raw ICMP sockets (raw(7), icmp(7)), which need
// root or CAP_NET_RAW on Linux.
//
// One [Transport] holds one raw socket per address family, opened by [New], and serves any
// number of targets and concurrent probes. It sends echo requests (RFC 792, RFC 4443) with a
// per-packet TTL or hop limit, traffic class and Don't Fragment setting, and returns echo
// replies and the ICMP errors that quote its requests (Time Exceeded, Destination Unreachable,
// Packet Too Big, Parameter Problem), with the kernel's receive timestamp, the received TTL,
// the MTU of Packet Too Big and Fragmentation Needed, and RFC 4884 / RFC 4950 MPLS label
// stacks.
//
// A raw socket receives a copy of every ICMP packet of its network namespace, so the kernel
// filters for it: ICMP_FILTER keeps only echo replies and error messages, and, from the first
// packet that is not ours, a classic BPF program keeps only echo replies that carry one of the
// transport's identifiers and errors that quote an echo request carrying one. Replies are
// checked again in user space.
//
// Sockets are non-blocking. From the first Receive, one reader goroutine per socket reads
// batches with recvmmsg(2), waiting in Go's network poller, into a queue that Receive and
// ReceiveBatch drain; Poll reads without waiting what is already there, so that a reply queued
// during its request's send (loopback) is taken at once. A socket joins the poller only when
// something has to wait on it (its reader, or a send that finds the send buffer full), so a
// short-lived transport whose replies are all polled starts no goroutine and leaves the
// process without the poller's epoll instance. SendBatch sends with sendmmsg(2). The queue,
// the readers' lifetime and the recvmmsg batch are those of internal/sockio, which
// transport/dgram shares; packet parsing lives in internal/wire.
//
// Raw sockets are implemented on Linux. Elsewhere [New] returns an error matching
// errors.ErrNotSupported: use the unprivileged transport (transport/dgram) there. On
// Windows, where raw ICMP sockets need Administrator rights, a process without them gets an
// error that also matches errors.ErrPermission and says so; the ICMP API transport
// (transport/winicmp) needs no privilege there.
package raw
