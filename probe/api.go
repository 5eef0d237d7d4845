package probe

import (
	"context"
	"iter"
	"net/netip"

	"github.com/icmpkit/icmpkit/result"
	"github.com/icmpkit/icmpkit/transport"
)

// Ping sends opts.Count echo requests to dst over t and summarizes the replies.
// Cancelling ctx stops it early; the Host then covers what was sent so far, and the error is
// ctx's. Many Ping, Multiping and Traceroute calls may share one transport at once.
func Ping(ctx context.Context, t transport.Transport, dst netip.Addr, opts *PingOptions) (*result.Host, error) {
	panic("not yet")
}

// Multiping pings every target, IPv4 and IPv6 mixed, and returns the Hosts in input order.
func Multiping(ctx context.Context, t transport.Transport, targets []netip.Addr, opts *MultipingOptions) ([]*result.Host, error) {
	panic("not yet")
}

// MultipingSeq is Multiping's streaming form: it pulls targets from the iterator as room
// opens in the window and yields each Host when it completes, in input order unless
// opts.Unordered. Memory stays bounded whatever the number of targets. A yielded error ends
// the sequence.
func MultipingSeq(ctx context.Context, t transport.Transport, targets iter.Seq[netip.Addr], opts *MultipingOptions) iter.Seq2[*result.Host, error] {
	panic("not yet")
}

// Traceroute finds the routers on the path to dst.
func Traceroute(ctx context.Context, t transport.Transport, dst netip.Addr, opts *TraceOptions) (*result.Trace, error) {
	panic("not yet")
}
