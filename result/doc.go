// Package result holds what probing gives: [Host] for Ping and Multiping, [Hop] and [Trace]
// for Traceroute, with icmplib's statistics (min/avg/max RTT, loss, jitter) and iputils' mdev.
//
// Statistics are computed exactly, in a running summary ([Stats]) that does not grow with the
// number of replies, so a long ping can drop the RTT list and keep flat memory. JSON encoding
// follows icmpkit's command-line output: RTTs in milliseconds, packet_loss as a fraction.
package result
