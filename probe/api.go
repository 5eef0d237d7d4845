package probe

import (
	"context"
	"iter"
	"math"
	"net/netip"
	"time"

	icmperrors "github.com/icmpkit/icmpkit/errors"
	"github.com/icmpkit/icmpkit/result"
	"github.com/icmpkit/icmpkit/transport"
)

// Ping sends opts.Count echo requests to dst over t and summarizes the replies.
//
// Requests go out every opts.Interval whether or not the previous one was answered; each
// waits opts.Timeout for its reply, and Ping returns as soon as the last request is answered
// or has timed out. A reply that arrives after its timeout is not counted, a duplicate is
// counted once (and in Host.Duplicates), and replies from hosts or for sequences that were
// not probed are ignored. ICMP error messages quoting a request (TTL exceeded, unreachable)
// resolve it as lost and count in Host.Errors; opts.OnReply sees each of them.
//
// Cancelling ctx stops Ping early; the Host then covers what was sent so far, and the error is
// ctx's. Many Ping, Multiping and Traceroute calls may share one Prober at once.
func (pr *Prober) Ping(ctx context.Context, dst netip.Addr, opts *PingOptions) (*result.Host, error) {
	if err := pr.usable(); err != nil {
		return nil, err
	}
	if opts == nil {
		opts = &PingOptions{}
	}
	cfg, err := pingConfig(opts)
	if err != nil {
		return nil, err
	}
	if err := checkTarget(dst, len(cfg.payload)); err != nil {
		return nil, err
	}
	r := newRun(pr.e, cfg, singleAlloc(&cfg))
	host := &result.Host{Address: dst.Unmap()}
	r.emit = func(_ int64, h *result.Host) bool { host = h; return true }
	err = r.loop(ctx, sliceTargets([]netip.Addr{dst}), 1)
	return host, err
}

func pingConfig(o *PingOptions) (runConfig, error) {
	cfg := runConfig{
		count:        orDefault(o.Count, DefaultPingCount),
		interval:     orDefault(o.Interval, DefaultPingInterval),
		timeout:      orDefault(o.Timeout, DefaultTimeout),
		id:           o.ID,
		ttl:          o.TTL,
		trafficClass: o.TrafficClass,
		window:       1,
		reorder:      1,
		dropRTTs:     o.DropRTTs,
		single:       true,
	}
	if o.OnReply != nil {
		cfg.onOutcome = o.OnReply
	}
	cfg.onWait = o.OnWait
	cfg.onSend = o.OnSend
	var err error
	cfg.payload, err = makePayload(o.Payload, o.PayloadSize)
	if err != nil {
		return cfg, err
	}
	return cfg, checkCommon(o.Count, o.Timeout, o.ID, o.TTL, o.TrafficClass)
}

// Multiping pings every target, IPv4 and IPv6 mixed, through one transport and returns the
// Hosts in input order. Each host gets opts.Count requests, opts.Interval apart; up to
// opts.Window hosts are in progress at once, and opts.Rate caps the requests per second.
// Multiping returns as soon as every host has been answered or has timed out.
//
// A request that cannot be sent for its destination (a broadcast address without broadcast
// on, no route) counts in its Host's PacketsSent and SendErrors, and opts.OnReply sees it as
// an Outcome with SendError set; the other hosts go on. When no request at all could be sent,
// Multiping returns the hosts with the first send error.
//
// Cancelling ctx stops it early: the hosts then hold what was measured so far (hosts not yet
// started have PacketsSent 0), and the error is ctx's.
func (pr *Prober) Multiping(ctx context.Context, targets []netip.Addr, opts *MultipingOptions) ([]*result.Host, error) {
	if err := pr.usable(); err != nil {
		return nil, err
	}
	if len(targets) == 0 {
		return nil, icmperrors.Invalid("targets", "the target list is empty")
	}
	if opts == nil {
		opts = &MultipingOptions{}
	}
	cfg, err := multipingConfig(opts)
	if err != nil {
		return nil, err
	}
	for _, a := range targets {
		if err := checkTarget(a, len(cfg.payload)); err != nil {
			return nil, err
		}
	}
	// Every Host lives in one slice, and the RTTs of the first requests in one slab.
	r := newRun(pr.e, cfg, slabAlloc(&cfg, len(targets)))
	r.emit = func(int64, *result.Host) bool { return true }
	err = r.loop(ctx, sliceTargets(targets), len(targets))
	hosts := make([]*result.Host, len(targets))
	for i := range hosts {
		h := &r.alloc.slab[i]
		if !h.Address.IsValid() {
			// Never started.
			h.Address = targets[i].Unmap()
		}
		hosts[i] = h
	}
	return hosts, err
}

// MultipingSeq is Multiping's streaming form: it pulls targets from the iterator as room
// opens in the window and yields each Host when it completes, in input order unless
// opts.Unordered. Memory stays bounded whatever the number of targets: at most opts.Window
// hosts are in progress, and in input order at most opts.Reorder hosts wait to be yielded.
//
// An invalid target, a failed transport or the end of ctx yields the hosts in progress with
// what they have, then the error, and ends the sequence. Breaking out of the loop stops
// probing at once.
func (pr *Prober) MultipingSeq(ctx context.Context, targets iter.Seq[netip.Addr], opts *MultipingOptions) iter.Seq2[*result.Host, error] {
	return func(body func(*result.Host, error) bool) {
		// yield calls the loop's body, and never again once the body has panicked: the run
		// ends then through its deferred cleanup, which must not go on yielding, so that the
		// body's panic reaches the caller as it was.
		panicked := false
		yield := func(h *result.Host, err error) bool {
			if panicked {
				return false
			}
			panicked = true
			more := body(h, err)
			panicked = false
			return more
		}
		if opts == nil {
			opts = &MultipingOptions{}
		}
		err := pr.usable()
		var cfg runConfig
		if err == nil {
			cfg, err = multipingConfig(opts)
		}
		if err == nil && targets == nil {
			err = icmperrors.Invalid("targets", "the target sequence is nil")
		}
		if err != nil {
			yield(nil, err)
			return
		}
		cfg.ordered = !opts.Unordered
		r := newRun(pr.e, cfg, blockAlloc(&cfg))
		var waiting reorderBuf
		r.emit = func(i int64, h *result.Host) bool {
			if !cfg.ordered {
				return yield(h, nil)
			}
			waiting.put(i-r.yielded, h)
			for {
				h := waiting.pop()
				if h == nil {
					return true
				}
				r.yielded++
				if !yield(h, nil) {
					return false
				}
			}
		}
		pull, stop := iter.Pull(targets)
		defer stop()
		var badTarget error
		err = r.loop(ctx, func() (netip.Addr, bool) {
			a, ok := pull()
			if !ok {
				return a, false
			}
			if err := checkTarget(a, len(cfg.payload)); err != nil {
				badTarget = err
				return a, false
			}
			return a, true
		}, 0)
		if err == nil {
			err = badTarget
		}
		if err != nil && !r.stopped {
			yield(nil, err)
		}
	}
}

func multipingConfig(o *MultipingOptions) (runConfig, error) {
	cfg := runConfig{
		count:        orDefault(o.Count, DefaultMultipingCount),
		interval:     orDefault(o.Interval, DefaultPingInterval),
		timeout:      orDefault(o.Timeout, DefaultTimeout),
		id:           o.ID,
		ttl:          o.TTL,
		trafficClass: o.TrafficClass,
		rate:         min(o.Rate, MaxRate),
		window:       orDefault(o.Window, DefaultMultipingWindow),
		reorder:      orDefault(o.Reorder, DefaultMultipingReorder),
		dropRTTs:     o.DropRTTs,
		onProgress:   o.OnProgress,
		onOutcome:    o.OnReply,
		onIdle:       o.OnIdle,
	}
	var err error
	cfg.payload, err = makePayload(o.Payload, o.PayloadSize)
	if err != nil {
		return cfg, err
	}
	switch {
	case math.IsNaN(o.Rate) || o.Rate < 0:
		return cfg, icmperrors.Invalid("rate", "must be 0 (no limit) or a number of requests a second, got %g", o.Rate)
	case o.Rate > 0 && o.Rate < MinRate:
		return cfg, icmperrors.Invalid("rate", "%g requests a second is below the least rate, one an hour (%g)", o.Rate, MinRate)
	case o.Window < 0:
		return cfg, icmperrors.Invalid("window", "must not be negative, got %d", o.Window)
	case o.Reorder < 0:
		return cfg, icmperrors.Invalid("reorder", "must not be negative, got %d", o.Reorder)
	}
	return cfg, checkCommon(o.Count, o.Timeout, o.ID, o.TTL, o.TrafficClass)
}

func orDefault[T int | time.Duration](v, def T) T {
	if v == 0 {
		return def
	}
	return v
}

func checkCommon(count int, timeout time.Duration, id, ttl, tc int) error {
	switch {
	case count < 0:
		return icmperrors.Invalid("count", "must be at least 1, got %d", count)
	case timeout < 0:
		return icmperrors.Invalid("timeout", "must not be negative, got %v", timeout)
	case id < 0 || id > 0xffff:
		return icmperrors.Invalid("identifier", "must be in 0..65535, got %d", id)
	case ttl < 0 || ttl > 255:
		return icmperrors.Invalid("ttl", "must be in 1..255, got %d", ttl)
	case tc < 0 || tc > 255:
		return icmperrors.Invalid("traffic class", "must be in 0..255, got %d", tc)
	}
	return nil
}

// makePayload gives the payload every request of a call carries.
func makePayload(payload []byte, size int) ([]byte, error) {
	if payload != nil {
		if len(payload) > transport.MaxPayloadV6 {
			return nil, icmperrors.Invalid("payload size", "%d bytes is more than an echo request can carry", len(payload))
		}
		return payload, nil
	}
	switch {
	case size < 0:
		return nil, icmperrors.Invalid("payload size", "must not be negative, got %d", size)
	case size > transport.MaxPayloadV6:
		return nil, icmperrors.Invalid("payload size", "%d bytes is more than an echo request can carry (%d)", size, transport.MaxPayloadV6)
	case size == 0:
		size = DefaultPayloadSize
	}
	b := make([]byte, size)
	transport.FillPayload(b)
	return b, nil
}

// checkTarget checks an address to probe and that the payload fits its family.
func checkTarget(a netip.Addr, payload int) error {
	if !a.IsValid() {
		return icmperrors.Invalid("address", "the zero netip.Addr is not an address")
	}
	a = a.Unmap()
	if payload > transport.MaxPayload(a) {
		return icmperrors.Invalid("payload size", "%d bytes is more than an echo request to %s can carry (%d)", payload, a, transport.MaxPayload(a))
	}
	return nil
}
