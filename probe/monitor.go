package probe

import (
	"context"
	"iter"
	"net/netip"
	"slices"
	"time"

	icmperrors "github.com/icmpkit/icmpkit/errors"
	"github.com/icmpkit/icmpkit/result"
	"github.com/icmpkit/icmpkit/transport"
)

// Defaults of MonitorOptions.
const (
	DefaultMonitorInterval = time.Second
	DefaultMonitorWindow   = 32
)

// MonitorOptions configures Monitor. The zero value (or nil) gives mtr's defaults.
type MonitorOptions struct {
	// Cycles is the number of cycles; zero runs until ctx ends.
	Cycles int
	// Interval is the time from the start of one cycle to the start of the next (mtr's -i).
	// A cycle that takes longer, because its answers are slow or because rate-limited routers
	// are only asked at the pace they can answer, is followed at once by the next. Zero means
	// 1 s; negative is invalid.
	Interval time.Duration
	// Timeout is how long each probe waits. Zero means 2 s.
	Timeout time.Duration
	// MinHops and MaxHops bound the distances probed. Zero means 1 and 30.
	MinHops, MaxHops int
	// ID, Payload, PayloadSize, TrafficClass and Paris are as in TraceOptions.
	ID           int
	Payload      []byte
	PayloadSize  int
	TrafficClass int
	Paris        bool
	// Window is the number of recent RTTs each hop keeps (PathHop.Recent). Zero means 32;
	// negative keeps none.
	Window int
	// OnProbe, when set, sees every probe's outcome as Traceroute reports it.
	OnProbe func(TraceOutcome)
}

// Monitor watches the path to dst as mtr does, over t: each cycle sends one probe to every
// distance up to the destination (a Traceroute with Count 1), and after each the sequence
// yields the Path with every hop's running statistics. The Path yielded is the caller's: the
// monitor keeps its own.
//
// Memory stays bounded however long it runs: each hop keeps running statistics, its last
// Window RTTs and at most result.MaxPathResponders responders.
//
// Each hop's Loss estimates the loss of the path up to it, not the share of its probes left
// unanswered (see result.PathLoss): a probe counts as lost there when its first send went
// unanswered, and the pacer that spaces the probes to rate-limited routers (shared by every
// call over t) keeps the limits from being provoked cycle after cycle.
//
// Bad options, a failed transport or a failed send yield (nil, err) and end the sequence; the
// end of ctx ends it quietly. Breaking out of the loop stops it; to reset the statistics, start
// a new Monitor over the same transport: what the pacer learnt stays.
func Monitor(ctx context.Context, t transport.Transport, dst netip.Addr, opts *MonitorOptions) iter.Seq2[*result.Path, error] {
	return monitorSeq(ctx, t, dst, opts, func(ctx context.Context, o *TraceOptions) (*result.Trace, error) {
		return Traceroute(ctx, t, dst, o)
	})
}

type traceFunc func(context.Context, *TraceOptions) (*result.Trace, error)

func monitorSeq(ctx context.Context, t transport.Transport, dst netip.Addr, opts *MonitorOptions, trace traceFunc) iter.Seq2[*result.Path, error] {
	return func(yield func(*result.Path, error) bool) {
		m, err := newMonitor(t, dst, opts)
		if err != nil {
			yield(nil, err)
			return
		}
		m.run(ctx, trace, yield)
	}
}

// forgetTarget is the number of cycles in a row without an answer from the destination after
// which the monitor probes every distance up to MaxHops again.
const forgetTarget = 3

type monitor struct {
	opts   MonitorOptions
	dst    netip.Addr
	path   result.Path
	hops   []result.PathHop // MinHops..MaxHops
	target int              // distance the destination answers at, 0 while unknown
	missed int              // cycles in a row without the destination's answer
	cycle  int
}

func newMonitor(t transport.Transport, dst netip.Addr, o *MonitorOptions) (*monitor, error) {
	if o == nil {
		o = &MonitorOptions{}
	}
	m := &monitor{opts: *o, dst: dst.Unmap()}
	p := &m.opts
	switch {
	case t == nil:
		return nil, icmperrors.Invalid("transport", "is nil")
	case !dst.IsValid():
		return nil, icmperrors.Invalid("address", "the zero netip.Addr is not an address")
	case o.Cycles < 0:
		return nil, icmperrors.Invalid("cycles", "must not be negative, got %d", o.Cycles)
	case o.Interval < 0:
		return nil, icmperrors.Invalid("interval", "must not be negative, got %v", o.Interval)
	}
	p.Interval = orDefault(p.Interval, DefaultMonitorInterval)
	p.MinHops = orDefault(p.MinHops, 1)
	p.MaxHops = orDefault(p.MaxHops, DefaultMaxHops)
	p.Window = orDefault(p.Window, DefaultMonitorWindow)
	if o.MinHops < 0 || o.MaxHops < 0 || p.MinHops > 255 || p.MaxHops > 255 || p.MinHops > p.MaxHops {
		return nil, icmperrors.Invalid("hops", "min %d and max %d must be in 1..255, min first", p.MinHops, p.MaxHops)
	}
	// Traceroute checks the rest, before it sends anything.
	m.hops = make([]result.PathHop, p.MaxHops-p.MinHops+1)
	for i := range m.hops {
		m.hops[i].Distance = p.MinHops + i
	}
	m.path.Destination = m.dst
	return m, nil
}

func (m *monitor) traceOptions(onProbe func(TraceOutcome)) *TraceOptions {
	maxHops := m.opts.MaxHops
	if m.target > 0 {
		// Probes beyond the destination are only asked for when its own probe is lost; two
		// more distances are enough for the trace to end there.
		maxHops = min(maxHops, m.target+2)
	}
	return &TraceOptions{
		Count:        1,
		Timeout:      m.opts.Timeout,
		ID:           m.opts.ID,
		Payload:      m.opts.Payload,
		PayloadSize:  m.opts.PayloadSize,
		TrafficClass: m.opts.TrafficClass,
		MinHops:      m.opts.MinHops,
		MaxHops:      maxHops,
		Paris:        m.opts.Paris,
		OnProbe:      onProbe,
	}
}

func (m *monitor) run(ctx context.Context, trace traceFunc, yield func(*result.Path, error) bool) {
	timer := time.NewTimer(0)
	defer timer.Stop()
	<-timer.C
	for m.opts.Cycles == 0 || m.cycle < m.opts.Cycles {
		start := time.Now()
		m.cycle++
		reached := false
		var outcomes []TraceOutcome
		_, err := trace(ctx, m.traceOptions(func(o TraceOutcome) {
			outcomes = append(outcomes, o)
			if m.opts.OnProbe != nil {
				m.opts.OnProbe(o)
			}
		}))
		if ctx.Err() != nil {
			return
		}
		if err != nil {
			yield(nil, err)
			return
		}
		for i := range outcomes {
			if o := &outcomes[i]; !o.TimedOut && o.Reply.Source == m.dst {
				reached = true
				if m.target == 0 || o.Distance < m.target {
					m.setTarget(o.Distance)
				}
			}
		}
		for i := range outcomes {
			m.count(&outcomes[i])
		}
		if reached {
			m.missed = 0
		} else if m.missed++; m.missed >= forgetTarget && m.target > 0 {
			m.target = 0
			for i := range m.hops {
				m.hops[i].Target = false
			}
		}
		m.path.Cycles = m.cycle
		m.path.Reached = reached
		if !yield(m.snapshot(), nil) {
			return
		}
		if m.opts.Cycles != 0 && m.cycle >= m.opts.Cycles {
			return
		}
		if wait := time.Until(start.Add(m.opts.Interval)); wait > 0 {
			timer.Reset(wait)
			select {
			case <-timer.C:
			case <-ctx.Done():
				return
			}
		}
	}
}

// setTarget notes that the destination answers at distance d; the distances beyond it are
// forgotten.
func (m *monitor) setTarget(d int) {
	m.target = d
	for i := range m.hops {
		h := &m.hops[i]
		h.Target = h.Distance == d
		if h.Distance > d {
			*h = result.PathHop{Distance: h.Distance}
		}
	}
}

// count adds one probe's outcome to its hop.
func (m *monitor) count(o *TraceOutcome) {
	if o.Distance < m.opts.MinHops || o.Distance > m.opts.MaxHops {
		return
	}
	if m.target > 0 && o.Distance > m.target {
		return // beyond the destination: asked only because its own probe was lost
	}
	h := &m.hops[o.Distance-m.opts.MinHops]
	h.Sent++
	if o.TimedOut {
		h.FirstLost++
		return
	}
	if o.RateLimited > 0 {
		h.FirstLost++
		h.RateLimited += o.RateLimited
	}
	h.Received++
	h.AddRTT(o.RTT, max(m.opts.Window, 0))
	h.Heard(o.Reply.Source, m.cycle)
	if mark := o.Reply.Unreachable(); mark != "" {
		h.Unreachable = mark
	}
	if len(o.Reply.MPLS) > 0 {
		h.MPLS = slices.Clone(o.Reply.MPLS)
	}
}

// snapshot gives the caller's copy of the path: distances up to the destination, or to the
// farthest that answered.
func (m *monitor) snapshot() *result.Path {
	last := -1
	for i := range m.hops {
		h := &m.hops[i]
		if h.Answered() {
			last = i
		}
		if h.Target {
			last = i
			break
		}
	}
	m.path.Hops = m.hops[:last+1]
	m.path.EstimateLoss()
	p := m.path.Clone()
	m.path.Hops = nil
	return p
}
