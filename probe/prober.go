package probe

import (
	"context"
	"iter"
	"net/netip"

	icmperrors "github.com/icmpkit/icmpkit/errors"
	"github.com/icmpkit/icmpkit/result"
	"github.com/icmpkit/icmpkit/transport"
)

// Options configures a Prober. The zero value (or a nil *Options) gives the defaults.
type Options struct {
	// PaceMemory bounds how many responders the pacer remembers (see Traceroute): what it
	// knows of routers' ICMP rate limits. Zero means 4,096; negative is invalid.
	PaceMemory int
}

// A Prober runs Ping, Multiping and Traceroute over one transport, for as long as the program
// needs. It owns what lives as long as the transport is used: the one goroutine that reads
// it and hands each reply to the call waiting for it, and the pacer that learns routers' ICMP
// rate limits. A Prober is safe for concurrent use: any number of calls may run at once and
// share the transport's sockets.
//
// Only one Prober may read a transport: two Probers over the same transport, or a Prober and
// a program calling the transport's Receive, split its replies between them. A Prober's
// memory is bounded by what is in flight, not by what it has done.
type Prober struct {
	e *engine
}

// New makes a Prober over t. It does not take ownership of t: close t after the Prober.
// A nil t gives a Prober whose calls fail with an error matching errors.ErrInvalidArgument;
// so do invalid Options.
func New(t transport.Transport, opts *Options) *Prober {
	var o Options
	if opts != nil {
		o = *opts
	}
	p := &Prober{}
	switch {
	case t == nil:
		p.e = failedEngine(icmperrors.Invalid("transport", "is nil"))
	case o.PaceMemory < 0:
		p.e = failedEngine(icmperrors.Invalid("pace memory", "must not be negative, got %d", o.PaceMemory))
	default:
		p.e = newEngine(t, o.PaceMemory)
	}
	return p
}

// failedEngine gives an engine that serves no call, for err.
func failedEngine(err error) *engine {
	e := newEngine(nil, 0)
	e.closed = true
	e.fail(err)
	return e
}

// Transport gives the transport the Prober reads.
func (p *Prober) Transport() transport.Transport { return p.e.t }

// Close stops the Prober's reader and releases what it holds. Calls in progress end with an
// error matching errors.ErrUnavailable, as do later calls. Close does not close the
// transport. It is safe to call more than once, and from any goroutine.
func (p *Prober) Close() error {
	p.e.close()
	return nil
}

// usable gives the error a call fails with at once: the Prober is closed, or was made with
// bad arguments.
func (p *Prober) usable() error {
	if p.e.isClosed() {
		return p.e.err
	}
	return nil
}

// The package-level functions run one call over a Prober made for it. They suit a transport
// that nothing else reads meanwhile; concurrent calls over one transport share a Prober.

// Ping is New(t, nil).Ping(ctx, dst, opts), closing the Prober after.
func Ping(ctx context.Context, t transport.Transport, dst netip.Addr, opts *PingOptions) (*result.Host, error) {
	p := New(t, nil)
	defer p.Close()
	return p.Ping(ctx, dst, opts)
}

// Multiping is New(t, nil).Multiping(ctx, targets, opts), closing the Prober after.
func Multiping(ctx context.Context, t transport.Transport, targets []netip.Addr, opts *MultipingOptions) ([]*result.Host, error) {
	p := New(t, nil)
	defer p.Close()
	return p.Multiping(ctx, targets, opts)
}

// MultipingSeq is New(t, nil).MultipingSeq(ctx, targets, opts), closing the Prober when the
// sequence ends.
func MultipingSeq(ctx context.Context, t transport.Transport, targets iter.Seq[netip.Addr], opts *MultipingOptions) iter.Seq2[*result.Host, error] {
	return func(yield func(*result.Host, error) bool) {
		p := New(t, nil)
		defer p.Close()
		p.MultipingSeq(ctx, targets, opts)(yield)
	}
}

// Traceroute is New(t, nil).Traceroute(ctx, dst, opts), closing the Prober after.
func Traceroute(ctx context.Context, t transport.Transport, dst netip.Addr, opts *TraceOptions) (*result.Trace, error) {
	p := New(t, nil)
	defer p.Close()
	return p.Traceroute(ctx, dst, opts)
}
