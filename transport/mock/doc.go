// Package mock is an in-memory network for testing code that pings and traces: its
// [Transport] implements transport.Transport (and BatchSender, BatchReceiver, Broadcaster,
// Identifier, Namer) over a [Network] of simulated hosts and routers, with no socket and no
// privilege.
//
// A Network holds:
//   - hosts ([Network.AddHost]), alive or dead, with latency, jitter, seeded loss, and faults:
//     duplicate, late and corrupted replies;
//   - paths of routers toward a destination ([Network.AddPath]): a request whose TTL ends on a
//     router gets Time Exceeded (RFC 792, RFC 4443) from it; routers may be silent, answer
//     Destination Unreachable, attach RFC 4950 MPLS label stacks, enforce an MTU (Fragmentation
//     Needed, Packet Too Big; RFC 1191, RFC 8201), limit their ICMP errors with Linux's token
//     buckets ([RateLimit]), or share a hop by per-flow hashing ([ECMP]);
//   - broadcast addresses and their members ([Network.AddBroadcast]);
//   - a gateway per family for destinations it does not know ([Network.SetGateway]).
//
// Destinations never added answer nothing, as dead hosts. Several transports may share a
// network, as several processes share a host; each gets only the replies to what it sent, plus
// what [Transport.Inject] puts in. A transport records what it sent ([Transport.Sent]) and
// counts it ([Transport.Counts]).
//
// Random choices (loss, jitter, late and corrupted replies) come from [Config.Seed]: each host
// and router draws from the seed and the number of requests it has seen, so the same traffic
// meets the same fate on every run, whatever identifiers it uses and however goroutines
// interleave, as long as each host and router sees its requests in the same order.
//
// Time is the time package's: a reply arrives when its latency has passed, by a single timer
// per transport; no goroutine runs per packet and none outlives Close. Inside a
// testing/synctest bubble the clock is fake, so a test of a thousand one-second pings takes
// milliseconds and every RTT is exact. Create the network's transports inside the bubble:
//
//	func TestPing(t *testing.T) {
//		synctest.Test(t, func(t *testing.T) {
//			n := mock.NewNetwork(mock.Config{Seed: 1})
//			dst := netip.MustParseAddr("198.18.0.1")
//			require.NoError(t, n.AddHost(dst, mock.Host{Latency: 20 * time.Millisecond, Loss: 0.25}))
//			tr := n.Transport(mock.TransportConfig{})
//			defer tr.Close()
//			// ... hand tr to the code under test, which sees 20 ms RTTs and a quarter lost ...
//		})
//	}
package mock
