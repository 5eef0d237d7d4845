package icmpkit

import (
	"cmp"
	"context"
	"iter"
	"math"
	"net/netip"
	"sync"
	"time"

	"github.com/icmpkit/icmpkit/errors"
	"github.com/icmpkit/icmpkit/probe"
	"github.com/icmpkit/icmpkit/result"
	"github.com/icmpkit/icmpkit/transport"
)

// BackToBack is the Interval that sends each request as soon as the previous one is answered
// or timed out (icmplib's interval=0, the command line's -i 0).
const BackToBack time.Duration = -1

// PingOptions configures Ping: icmplib's ping parameters. The zero value (or nil) gives
// icmplib's defaults: 4 requests 1 s apart, 2 s timeout, 56 bytes of payload, TTL 64, over a
// raw socket when permitted, else a datagram socket.
type PingOptions struct {
	// Count is the number of echo requests. Zero means 4; negative is invalid.
	Count int
	// Interval is the time from one request to the next. Zero means 1 s; BackToBack sends
	// each as soon as the previous one is answered or timed out; other negative values are
	// invalid.
	Interval time.Duration
	// Timeout is how long each request waits for its reply. Zero means 2 s; negative is
	// invalid.
	Timeout time.Duration
	// ID is the echo identifier, 0..65535. Zero lets icmpkit or the system choose.
	ID int
	// Payload is sent in every request when non-nil; a non-nil empty slice sends no data.
	Payload []byte
	// PayloadSize is the size of the generated payload when Payload is nil. Zero means 56.
	PayloadSize int
	// TTL is the time to live / hop limit, 1..255. Zero means 64.
	TTL int
	// TrafficClass is the IPv4 TOS byte / IPv6 traffic class, 0..255.
	TrafficClass int
	// Family is the family a host name resolves to. Zero means IPv4 first.
	Family Family
	// Mode picks the transport. Zero means ModeAuto.
	Mode Mode
	// Source is the address to send from. The zero value lets the system choose.
	Source netip.Addr
	// Interface is the network interface to send through. Empty means any.
	Interface string
	// Broadcast allows a broadcast destination. False means such a destination fails with an
	// error matching errors.ErrBroadcast.
	Broadcast bool
	// Transport, when set, carries the requests instead of one opened as Mode says; Mode,
	// Source, Interface and Broadcast are then ignored, and Ping leaves it open. The call
	// reads the transport for its duration: calls that overlap in time over one transport
	// share a Prober instead.
	Transport transport.Transport
	// Prober, when set, runs the call: a long-lived probe.Prober that many calls, at once or
	// one after another, share (with its reader and what its pacer learnt of routers' rate
	// limits). Transport, Mode, Source, Interface and Broadcast are then ignored, and the
	// Prober stays open.
	Prober *probe.Prober
	// DropRTTs keeps the statistics but not the list of RTTs (Host.RTTs stays nil), so
	// memory stays flat over any number of requests.
	DropRTTs bool
	// OnReply, when set, is called with each outcome as it happens (see probe.PingOptions).
	OnReply func(probe.Outcome)
	// OnSend, when set, is called as each request goes out (see probe.PingOptions).
	OnSend func(seq int, sentAt time.Time)
	// OnWait, when set, is called once, the first time Ping has to wait (see
	// probe.PingOptions).
	OnWait func()
}

// edge holds what the convenience functions need before probing: how to resolve and what to
// open.
type edge struct {
	family    Family
	mode      Mode
	source    netip.Addr
	iface     string
	broadcast bool
	id        int
	transport transport.Transport
	prober    *probe.Prober
}

func (o *PingOptions) edge() edge {
	return edge{o.Family, o.Mode, o.Source, o.Interface, o.Broadcast, o.ID, o.Transport, o.Prober}
}

// Validate checks the options and returns an error matching errors.ErrInvalidArgument that
// names the first bad one. With a valid dst it also checks that the payload fits dst's family.
func (o *PingOptions) Validate(dst netip.Addr) error {
	return firstError(
		checkCount(o.Count),
		checkInterval(o.Interval),
		checkTimeout(o.Timeout),
		checkPayload(o.Payload, o.PayloadSize, dst),
		checkTTL(o.TTL),
		checkTrafficClass(o.TrafficClass),
		o.edge().validate(dst),
	)
}

func (o *PingOptions) probe() *probe.PingOptions {
	return &probe.PingOptions{
		Count: o.Count, Interval: o.Interval, Timeout: o.Timeout, ID: o.ID,
		Payload: o.Payload, PayloadSize: o.PayloadSize, TTL: o.TTL, TrafficClass: o.TrafficClass,
		DropRTTs: o.DropRTTs, OnReply: o.OnReply, OnSend: o.OnSend, OnWait: o.OnWait,
	}
}

// Ping resolves address, sends it echo requests and summarizes the replies: icmplib's ping.
// Cancelling ctx stops it early; the Host then covers what was sent so far, and the error is
// ctx's.
func Ping(ctx context.Context, address string, opts *PingOptions) (*result.Host, error) {
	var o PingOptions
	if opts != nil {
		o = *opts
	}
	if err := o.Validate(netip.Addr{}); err != nil {
		return nil, err
	}
	dst, err := Resolve(ctx, address, o.Family)
	if err != nil {
		return nil, err
	}
	if err := o.Validate(dst); err != nil {
		return nil, err
	}
	p, done, err := o.edge().open(dst)
	if err != nil {
		return nil, err
	}
	defer done()
	return p.Ping(ctx, dst, o.probe())
}

// MultipingOptions configures Multiping and MultipingSeq: icmplib's multiping parameters. The
// zero value (or nil) gives icmplib's defaults: 2 requests per host 1 s apart, 2 s timeout.
type MultipingOptions struct {
	// Count is the number of echo requests per host. Zero means 2; negative is invalid.
	Count int
	// Interval is the time from one request to the next to the same host. Zero means 1 s;
	// BackToBack sends a host's next request as soon as its previous one is answered or timed
	// out; other negative values are invalid.
	Interval time.Duration
	// Timeout is how long each request waits for its reply. Zero means 2 s.
	Timeout time.Duration
	// ID, Payload, PayloadSize, TTL, TrafficClass, Family, Mode, Source, Interface, Broadcast,
	// Transport and Prober are as in PingOptions.
	ID           int
	Payload      []byte
	PayloadSize  int
	TTL          int
	TrafficClass int
	Family       Family
	Mode         Mode
	Source       netip.Addr
	Interface    string
	Broadcast    bool
	Transport    transport.Transport
	Prober       *probe.Prober
	// Concurrency is the most hosts in progress at once (icmplib's concurrent_tasks). Zero
	// means 65,536.
	Concurrency int
	// Rate caps the requests sent per second over all hosts. Zero means as fast as the
	// transport takes them.
	Rate float64
	// DropRTTs keeps each Host's statistics but not its list of RTTs.
	DropRTTs bool
	// Unordered lets MultipingSeq yield each Host as soon as it completes, rather than in
	// input order. Multiping returns its Hosts in input order either way.
	Unordered bool
	// OnProgress, when set, is called after hosts complete with the number done so far.
	OnProgress func(done int)
	// OnReply, when set, is called with each outcome of every host as it happens (see
	// probe.MultipingOptions).
	OnReply func(probe.Outcome)
	// OnIdle, when set, is called each time the run is about to wait (see
	// probe.MultipingOptions).
	OnIdle func()
}

func (o *MultipingOptions) edge() edge {
	return edge{o.Family, o.Mode, o.Source, o.Interface, o.Broadcast, o.ID, o.Transport, o.Prober}
}

// Validate is as PingOptions.Validate.
func (o *MultipingOptions) Validate(dst netip.Addr) error {
	var rate error
	if o.Rate < 0 || math.IsNaN(o.Rate) || math.IsInf(o.Rate, 0) {
		rate = errors.Invalid("rate", "must be a finite number of packets per second, 0 or more, got %v", o.Rate)
	}
	var conc error
	if o.Concurrency < 0 {
		conc = errors.Invalid("concurrency", "must not be negative, got %d", o.Concurrency)
	}
	return firstError(
		checkCount(o.Count),
		checkInterval(o.Interval),
		checkTimeout(o.Timeout),
		checkPayload(o.Payload, o.PayloadSize, dst),
		checkTTL(o.TTL),
		checkTrafficClass(o.TrafficClass),
		rate, conc,
		o.edge().validate(dst),
	)
}

// checkTarget checks what depends on a target, once Validate has checked the rest: that the
// payload fits its family and the source is of its family.
func (o *MultipingOptions) checkTarget(dst netip.Addr) error {
	return firstError(checkPayload(o.Payload, o.PayloadSize, dst), o.edge().validate(dst))
}

func (o *MultipingOptions) probe() *probe.MultipingOptions {
	return &probe.MultipingOptions{
		Count: o.Count, Interval: o.Interval, Timeout: o.Timeout, ID: o.ID,
		Payload: o.Payload, PayloadSize: o.PayloadSize, TTL: o.TTL, TrafficClass: o.TrafficClass,
		Rate: o.Rate, Window: o.Concurrency, DropRTTs: o.DropRTTs, Unordered: o.Unordered, OnProgress: o.OnProgress,
		OnReply: o.OnReply, OnIdle: o.OnIdle,
	}
}

// resolveWorkers bounds the lookups Multiping runs at once.
const resolveWorkers = 16

// Multiping resolves every address, pings them all at once over one transport and returns
// the Hosts in the order of addresses: icmplib's multiping. A name that does not resolve fails
// the call before anything is sent.
func Multiping(ctx context.Context, addresses []string, opts *MultipingOptions) ([]*result.Host, error) {
	var o MultipingOptions
	if opts != nil {
		o = *opts
	}
	if err := o.Validate(netip.Addr{}); err != nil {
		return nil, err
	}
	if len(addresses) == 0 {
		return nil, errors.Invalid("addresses", "the list of targets is empty")
	}
	dsts, err := resolveAll(ctx, addresses, o.Family)
	if err != nil {
		return nil, err
	}
	for _, dst := range dsts {
		if err := o.checkTarget(dst); err != nil {
			return nil, err
		}
	}
	p, done, err := o.edge().open(netip.Addr{})
	if err != nil {
		return nil, err
	}
	defer done()
	return p.Multiping(ctx, dsts, o.probe())
}

// resolveAll resolves hosts, several names at a time, and returns the first error in input
// order.
func resolveAll(ctx context.Context, hosts []string, family Family) ([]netip.Addr, error) {
	dsts := make([]netip.Addr, len(hosts))
	errs := make([]error, len(hosts))
	var names []int
	for i, h := range hosts {
		if _, err := netip.ParseAddr(h); err == nil {
			dsts[i], errs[i] = Resolve(ctx, h, family)
		} else {
			names = append(names, i)
		}
	}
	var wg sync.WaitGroup
	next := make(chan int)
	for range min(resolveWorkers, len(names)) {
		wg.Go(func() {
			for i := range next {
				dsts[i], errs[i] = Resolve(ctx, hosts[i], family)
			}
		})
	}
	for _, i := range names {
		next <- i
	}
	close(next)
	wg.Wait()
	if err := firstError(errs...); err != nil {
		return nil, err
	}
	return dsts, nil
}

// MultipingSeq is Multiping's streaming form: it pulls targets from the iterator as room
// opens, resolves each as it comes, and yields each Host when it completes, in input order.
// Memory stays bounded whatever the number of targets. A target that does not resolve, or
// whose payload does not fit its family, is yielded as an error and ends the sequence; so does
// a failure to open the transport.
func MultipingSeq(ctx context.Context, targets iter.Seq[string], opts *MultipingOptions) iter.Seq2[*result.Host, error] {
	var o MultipingOptions
	if opts != nil {
		o = *opts
	}
	return func(yield func(*result.Host, error) bool) {
		if err := o.Validate(netip.Addr{}); err != nil {
			yield(nil, err)
			return
		}
		p, done, err := o.edge().open(netip.Addr{})
		if err != nil {
			yield(nil, err)
			return
		}
		defer done()
		// A bad target stops the pull; the hosts already started still complete and are
		// yielded before the error.
		var bad error
		addrs := func(yieldAddr func(netip.Addr) bool) {
			for host := range targets {
				dst, err := Resolve(ctx, host, o.Family)
				if err == nil {
					err = o.checkTarget(dst)
				}
				if err != nil {
					bad = err
					return
				}
				if !yieldAddr(dst) {
					return
				}
			}
		}
		for h, err := range p.MultipingSeq(ctx, addrs, o.probe()) {
			if !yield(h, err) || err != nil {
				return
			}
		}
		if bad != nil {
			yield(nil, bad)
		}
	}
}

// TraceOptions configures Traceroute: icmplib's traceroute parameters. The zero value (or
// nil) gives icmplib's defaults: 3 probes per distance 50 ms apart, 2 s timeout, distances 1
// to 30.
type TraceOptions struct {
	// Count is the number of probes per distance. Zero means 3; negative is invalid.
	Count int
	// Interval is the time between two probes. Zero means 50 ms; BackToBack means no wait;
	// other negative values are invalid.
	Interval time.Duration
	// Timeout is how long each probe waits. Zero means 2 s.
	Timeout time.Duration
	// FirstHop is the first distance probed, 1..255. Zero means 1.
	FirstHop int
	// MaxHops is the last distance probed, 1..255. Zero means 30.
	MaxHops int
	// Fast is icmplib's fast mode: once a distance has answered, its remaining probes are not
	// sent.
	Fast bool
	// ID, Payload, PayloadSize, TrafficClass, Family, Mode, Source, Interface, Transport and
	// Prober are as in PingOptions.
	ID           int
	Payload      []byte
	PayloadSize  int
	TrafficClass int
	Family       Family
	Mode         Mode
	Source       netip.Addr
	Interface    string
	Transport    transport.Transport
	Prober       *probe.Prober
	// Window is the most probes in flight at once. Zero means 16; 1 traces hop by hop as
	// icmplib does.
	Window int
	// Paris keeps every probe's flow identity the same, so that per-flow load balancers keep
	// the trace on one path.
	Paris bool
	// PathMTU discovers the path MTU as tracepath does (see probe.TraceOptions.PathMTU):
	// Hop.MTU and Trace.PathMTU report it.
	PathMTU bool
	// OnHop, when set, is called with each hop that answered as soon as it is final, in
	// ascending distance.
	OnHop func(result.Hop)
	// OnProbe, when set, is called with each probe's outcome as soon as it is known (see
	// probe.TraceOptions.OnProbe).
	OnProbe func(probe.TraceOutcome)
}

func (o *TraceOptions) edge() edge {
	return edge{o.Family, o.Mode, o.Source, o.Interface, false, o.ID, o.Transport, o.Prober}
}

// Validate is as PingOptions.Validate.
func (o *TraceOptions) Validate(dst netip.Addr) error {
	var hops, win error
	if o.FirstHop < 0 || o.FirstHop > 255 {
		hops = errors.Invalid("first hop", "must be in 1..255, got %d", o.FirstHop)
	} else if o.MaxHops < 0 || o.MaxHops > 255 {
		hops = errors.Invalid("max hops", "must be in 1..255, got %d", o.MaxHops)
	} else if first, last := cmp.Or(o.FirstHop, 1), cmp.Or(o.MaxHops, probe.DefaultMaxHops); first > last {
		hops = errors.Invalid("first hop", "%d is beyond the last distance %d", first, last)
	}
	if o.Window < 0 {
		win = errors.Invalid("window", "must not be negative, got %d", o.Window)
	}
	return firstError(
		checkCount(o.Count),
		checkInterval(o.Interval),
		checkTimeout(o.Timeout),
		checkPayload(o.Payload, o.PayloadSize, dst),
		checkTrafficClass(o.TrafficClass),
		hops, win,
		o.edge().validate(dst),
	)
}

func (o *TraceOptions) probe() *probe.TraceOptions {
	return &probe.TraceOptions{
		Count: o.Count, Interval: o.Interval, Timeout: o.Timeout, ID: o.ID,
		Payload: o.Payload, PayloadSize: o.PayloadSize, TrafficClass: o.TrafficClass,
		MinHops: o.FirstHop, MaxHops: o.MaxHops, FastMode: o.Fast, Window: o.Window, Paris: o.Paris, PathMTU: o.PathMTU,
		OnHop: o.OnHop, OnProbe: o.OnProbe,
	}
}

// Traceroute resolves address and finds the routers on the path to it: icmplib's
// traceroute.
func Traceroute(ctx context.Context, address string, opts *TraceOptions) (*result.Trace, error) {
	var o TraceOptions
	if opts != nil {
		o = *opts
	}
	if err := o.Validate(netip.Addr{}); err != nil {
		return nil, err
	}
	dst, err := Resolve(ctx, address, o.Family)
	if err != nil {
		return nil, err
	}
	if err := o.Validate(dst); err != nil {
		return nil, err
	}
	p, done, err := o.edge().open(dst)
	if err != nil {
		return nil, err
	}
	defer done()
	return p.Traceroute(ctx, dst, o.probe())
}

// validate checks the transport-related options, and with a valid dst that the source's
// family matches.
func (e edge) validate(dst netip.Addr) error {
	switch {
	case !e.family.Valid():
		return errors.Invalid("family", "must be FamilyAny, IPv4 or IPv6, got %d", int(e.family))
	case e.mode < ModeAuto || e.mode > ModeUnprivileged:
		return errors.Invalid("mode", "unknown mode %d", int(e.mode))
	case e.id < 0 || e.id > 0xffff:
		return errors.Invalid("identifier", "must be in 0..65535, got %d", e.id)
	case e.source.Is4In6():
		return errors.Invalid("source", "%s is an IPv4-mapped IPv6 address; use %s", e.source, e.source.Unmap())
	case e.source.IsValid() && !e.family.Includes(e.source):
		return errors.Invalid("source", "%s is not an %s address", e.source, e.family)
	case e.source.IsValid() && dst.IsValid() && e.source.Is4() != dst.Is4():
		return errors.Invalid("source", "%s and the destination %s are of different families", e.source, dst)
	}
	return nil
}

// open gives the Prober a call runs on and the function that releases what open made: the
// caller's Prober; else a Prober over the caller's transport, or over a transport opened for
// the call. A valid dst restricts an opened transport to dst's family.
func (e edge) open(dst netip.Addr) (*probe.Prober, func(), error) {
	if e.prober != nil {
		return e.prober, func() {}, nil
	}
	if e.transport != nil {
		p := probe.New(e.transport, nil)
		return p, func() { p.Close() }, nil
	}
	family := e.family
	if dst.IsValid() {
		family = familyOf(dst.Is6())
	}
	t, err := Open(e.mode, Config{Source: e.source, Interface: e.iface, ID: e.id, Family: family, Broadcast: e.broadcast})
	if err != nil {
		return nil, nil, err
	}
	p := probe.New(t, nil)
	return p, func() { p.Close(); t.Close() }, nil
}

func checkCount(n int) error {
	if n < 0 {
		return errors.Invalid("count", "must be at least 1, got %d", n)
	}
	return nil
}

func checkInterval(d time.Duration) error {
	if d < 0 && d != BackToBack {
		return errors.Invalid("interval", "must not be negative, got %v", d)
	}
	return nil
}

func checkTimeout(d time.Duration) error {
	if d < 0 {
		return errors.Invalid("timeout", "must not be negative, got %v", d)
	}
	return nil
}

// checkPayload checks the payload size, against dst's family when dst is valid and against
// the larger IPv6 limit otherwise.
func checkPayload(payload []byte, size int, dst netip.Addr) error {
	n := size
	if payload != nil {
		n = len(payload)
	}
	limit, fam := transport.MaxPayloadV6, "IPv6"
	if dst.IsValid() {
		limit = transport.MaxPayload(dst)
		if dst.Is4() {
			fam = "IPv4"
		}
	}
	switch {
	case n < 0:
		return errors.Invalid("payload size", "must not be negative, got %d", n)
	case n > limit:
		return errors.Invalid("payload size", "%d bytes is more than an %s echo request can carry (%d)", n, fam, limit)
	}
	return nil
}

func checkTTL(ttl int) error {
	if ttl < 0 || ttl > 255 {
		return errors.Invalid("ttl", "must be in 1..255, got %d", ttl)
	}
	return nil
}

func checkTrafficClass(tc int) error {
	if tc < 0 || tc > 255 {
		return errors.Invalid("traffic class", "must be in 0..255, got %d", tc)
	}
	return nil
}

func firstError(errs ...error) error {
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}
