// Package lab builds real networks out of Linux network namespaces for icmpkit's tests: a chain
// of routers for ping and traceroute, and a broadcast segment for broadcast ping. It drives
// iproute2 (`ip`) and nftables (`nft`) and needs root; [Require] skips a test without it, or
// fails it when ICMPKIT_REQUIRE_PRIV=1.
//
// # Chain
//
// [NewChain] builds
//
//	client ──link 0── r1 ──link 1── r2 ── … ── rN ──link N── target
//
// one namespace per node, a veth pair per link (a router's eth0 faces the client, its eth1 the
// target; client and target have eth0 alone), IPv4 and IPv6 on every link. Link i carries
// 198.18.i.0/24 and 2001:db8:0:i::/64 (i written in decimal in both: link 30 is 198.18.30.0/24
// and 2001:db8:0:30::/64). The end nearer the client is .1 / ::1, the other .2 / ::2. So:
//
//	client   198.18.0.1       2001:db8::1
//	router k 198.18.(k-1).2   2001:db8:0:(k-1)::2   (client side: the source of its ICMP errors)
//	         198.18.k.1       2001:db8:0:k::1       (target side)
//	target   198.18.N.2       2001:db8:0:N::2
//
// Client and target route by default toward the chain; each router has a route for every link
// (and nothing else, so an address outside the plan draws a network unreachable from r1).
// Routers forward IPv4 and IPv6. IPv6 addresses are added with nodad and accept_dad=0, and the
// chain is returned only once no address is tentative and every link runs. Unless
// [ChainConfig.DefaultRateLimits] or [ChainConfig.RateLimited], ICMP rate limits are lifted on
// every node so that each router answers every probe; with RateLimited, every node gets the
// limits of a Linux router at the kernel's documented defaults (a burst of 6 errors to each
// destination, then one a second), as routers have them outside a lab.
//
// Behaviours on top, all chosen in [ChainConfig]:
//   - Silent routers: an nftables output rule drops their ICMP/ICMPv6 time-exceeded, so
//     traceroute prints "*" at their hop.
//   - Dead hosts: 198.18.N.100, .101, … and 2001:db8:0:N::100, ::101, … on the target's segment.
//     The target owns them (neighbor discovery resolves them) and an nftables input rule drops
//     every packet sent to them, so nothing answers, not even with an ICMP error: a multiping
//     tells them apart from the living target by silence alone.
//   - Unreachable addresses: 198.19.0.1, .2, … and 2001:db8:ffff::1, ::2, …, routed along the
//     chain up to router UnreachableAt, whose nftables reject rule answers with ICMP host
//     unreachable (3/1) or ICMPv6 no route (1/0) from its client-side address, limited only
//     by the namespace's ICMP rate limits (an "unreachable" route would also be limited by
//     the host-wide net.ipv4.route.error_cost).
//   - Target loss: the target drops a given percentage of echo requests at random (nftables
//     numgen).
//   - MTU per link, for path MTU discovery (tracepath shows "pmtu" of the smallest).
//
// # Broadcast segment
//
// [NewBroadcast] builds one Ethernet segment, 198.18.0.0/24 and 2001:db8::/64: the client
// (198.18.0.1) and responders 198.18.0.2, .3, … (2001:db8::2, ::3, …), each linked to a bridge
// in a namespace of its own ("switch"). Responders answer echo requests sent to the broadcast
// address 198.18.0.255 (net.ipv4.icmp_echo_ignore_broadcasts=0).
//
// # Using a lab
//
// [Do] runs a function on a thread inside a namespace: sockets opened there belong to it for
// life, so a test makes its transport inside Do (as the client) and uses it from anywhere.
// [Lab.Exec] runs a command in a namespace, [Lab.Start] a background one (foreign traffic such
// as `ping -f`) killed at the end of the test. [Lab.RunChild] runs one test of the current
// binary again inside a namespace as uid 65534, after setting net.ipv4.ping_group_range there,
// to exercise unprivileged ping sockets; the child learns the lab's addresses from the
// environment ([Chain.Env], [ChildChain]). [Lab.Hosts] gives the commands run in a namespace
// a hosts file of their own (through /etc/netns), so that lab addresses have names, forward
// and reverse, for icmpkit and the reference tools alike.
//
// # The tests' own namespace
//
// A test binary that builds labs runs, as root, in a network namespace of its own: its
// TestMain calls [Isolate] first, which runs the binary again in a new namespace whose only
// interface is loopback, and [Require] refuses to build a lab anywhere else. Lab namespaces
// are made from there, and so every socket and command of the tests that is not in a lab is
// in a namespace with no route but loopback: a packet for a lab address sent from the wrong
// namespace is refused with "network is unreachable" and cannot leave through the machine's
// default route. The labs' namespaces themselves are linked only to each other.
//
// # Names and cleanup
//
// Only namespaces are created from the host's point of view; every interface, address, route,
// sysctl and nftables table lives inside them, and nothing of the host's network is touched.
// Namespace names are "ik<pid>-<lab>-<node>" (e.g. ik4242-3-r17), unique across concurrent test
// processes; interface names (eth0, eth1, br0, p<k>) need only be unique inside a namespace.
// t.Cleanup kills background commands and deletes the namespaces, which takes their links and
// rules along, whether the test passed, failed or panicked. The first [Require] of a process
// also deletes namespaces left by lab processes that no longer run.
//
// Addresses come only from 198.18.0.0/15 and 2001:db8::/32 (RFC 2544, RFC 3849), which no real
// network routes.
package lab
