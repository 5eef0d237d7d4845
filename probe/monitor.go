package probe

import (
	"context"
	"iter"
	"math"
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
	// Zero means 1 s; negative is invalid.
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
}

// Monitor is New(t, nil).Monitor(ctx, dst, opts), closing the Prober when the sequence ends.
func Monitor(ctx context.Context, t transport.Transport, dst netip.Addr, opts *MonitorOptions) iter.Seq2[*result.Path, error] {
	return func(yield func(*result.Path, error) bool) {
		p := New(t, nil)
		defer p.Close()
		p.Monitor(ctx, dst, opts)(yield)
	}
}

// Monitor watches the path to dst as mtr does: each cycle sends one probe to every distance
// up to the destination, Interval after the previous cycle began, and once every probe of a
// cycle is answered or timed out the sequence yields the Path with every hop's running
// statistics, cycle after cycle in order. Cycles overlap while their probes wait; the Path
// yielded is the caller's.
//
// A probe is sent once and never again: its answer, or its silence, is the sample. A router
// whose answers are limited (an ICMP rate limit, Linux's one a second after a burst of 6)
// would lose most probes to its limit at mtr's pace; the monitor learns such a router from
// its losses, beyond what the distances past it lose in the same cycles, and from then on
// asks it only as often as it answers: in the cycles between, its distance is not probed
// (its Sent grows more slowly than the cycles; PathHop.Pace tells the pace kept). Each hop's
// Loss then estimates the loss of the path up to it (see result.PathLoss), not its router's
// refusals, which are counted in RateLimited.
//
// Memory stays bounded however long it runs: each hop keeps running statistics, its last
// Window RTTs and at most result.MaxPathResponders responders.
//
// Bad options, a failed transport or a failed send yield (nil, err) and end the sequence; the
// end of ctx ends it quietly. Breaking out of the loop stops it; to reset the statistics, start
// a new Monitor on the same Prober.
func (pr *Prober) Monitor(ctx context.Context, dst netip.Addr, opts *MonitorOptions) iter.Seq2[*result.Path, error] {
	return func(yield func(*result.Path, error) bool) {
		if err := pr.usable(); err != nil {
			yield(nil, err)
			return
		}
		m, err := newMonitor(pr, dst, opts)
		if err != nil {
			yield(nil, err)
			return
		}
		m.run(ctx, yield)
	}
}

const (
	// forgetTarget is the number of cycles in a row without an answer from the destination
	// after which the monitor probes every distance up to MaxHops again: a path that loses
	// 20% loses that many in a row once in 10 million cycles. (A longer path shows sooner:
	// another responder answers where the destination did.)
	forgetTarget = 10
	// paceSamples is the number of probes to a distance after which the monitor judges
	// whether its responder limits its answers ...
	paceSamples = 8
	// maxPaceSamples: the probes are judged again, one more at a time, up to that many.
	maxPaceSamples = 32
	// ... which it does when they lost that many or more with a chance below limitedP at
	// the loss rate of the destination.
	limitedP = 0.005
	// firstPace is the pace kept with a limited responder: Linux's one answer a second, and
	// a margin for the clock of routers that count their tokens in jiffies.
	firstPace = time.Second + 15*time.Millisecond
	// maxPace bounds the pace: it doubles while the responder still loses more than the path.
	maxPace = 8 * time.Second
)

type monitor struct {
	pr     *Prober
	opts   MonitorOptions
	dst    netip.Addr
	trace  TraceOptions // of one probe; MinHops and MaxHops set per probe
	path   result.Path
	hops   []result.PathHop // MinHops..MaxHops
	pace   []hopPace        // the same
	end    int              // distance the destination (or an unreachable answer) ends the path at; 0 unknown
	missed int              // cycles in a row without the destination's answer
	done   int              // cycles applied
}

// hopPace is what the monitor knows of the rate limit of a distance's responder.
type hopPace struct {
	pace  time.Duration // time between probes; 0 while not limited
	next  time.Time     // no probe before this
	since time.Time     // when pace last changed
	// Since the last judgement: probes and losses at this distance.
	n, lost int
}

// cycle is one cycle in progress.
type cycle struct {
	n        int
	at       time.Time // when it started
	pending  int
	outcomes []monitorOutcome
}

// monitorOutcome is one probe's outcome: hop is nil when it went unanswered.
type monitorOutcome struct {
	cycle, dist int
	hop         *result.Hop
	err         error
}

func newMonitor(pr *Prober, dst netip.Addr, o *MonitorOptions) (*monitor, error) {
	if o == nil {
		o = &MonitorOptions{}
	}
	m := &monitor{pr: pr, opts: *o, dst: dst.Unmap()}
	p := &m.opts
	switch {
	case !dst.IsValid():
		return nil, icmperrors.Invalid("address", "the zero netip.Addr is not an address")
	case o.Cycles < 0:
		return nil, icmperrors.Invalid("cycles", "must not be negative, got %d", o.Cycles)
	case o.Interval < 0:
		return nil, icmperrors.Invalid("interval", "must not be negative, got %v", o.Interval)
	}
	p.Interval = orDefault(p.Interval, DefaultMonitorInterval)
	p.Timeout = orDefault(p.Timeout, DefaultTimeout)
	p.MinHops = orDefault(p.MinHops, 1)
	p.MaxHops = orDefault(p.MaxHops, DefaultMaxHops)
	p.Window = orDefault(p.Window, DefaultMonitorWindow)
	if o.MinHops < 0 || o.MaxHops < 0 || p.MinHops > 255 || p.MaxHops > 255 || p.MinHops > p.MaxHops {
		return nil, icmperrors.Invalid("hops", "min %d and max %d must be in 1..255, min first", p.MinHops, p.MaxHops)
	}
	m.trace = TraceOptions{
		Count: 1, Timeout: p.Timeout, ID: p.ID, Payload: p.Payload, PayloadSize: p.PayloadSize,
		TrafficClass: p.TrafficClass, Paris: p.Paris, MinHops: p.MinHops, MaxHops: p.MinHops,
	}
	// The tracer checks the rest, as it would for each probe.
	if _, err := newTracer(m.dst, &m.trace); err != nil {
		return nil, err
	}
	m.hops = make([]result.PathHop, p.MaxHops-p.MinHops+1)
	m.pace = make([]hopPace, len(m.hops))
	for i := range m.hops {
		m.hops[i].Distance = p.MinHops + i
	}
	m.path.Destination = m.dst
	return m, nil
}

func (m *monitor) run(ctx context.Context, yield func(*result.Path, error) bool) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	results := make(chan monitorOutcome, 64)
	inFlight := 0 // probes whose goroutine has not reported
	defer func() {
		cancel()
		for ; inFlight > 0; inFlight-- {
			<-results
		}
	}()
	// Cycles overlap while their probes wait, up to one cycle per Interval of the timeout.
	maxCycles := int(m.opts.Timeout/m.opts.Interval) + 2
	var cycles []*cycle // started and not yet applied, oldest first
	started := 0
	var next time.Time // when the next cycle is due; zero: at once
	canStart := func() bool {
		return (m.opts.Cycles == 0 || started < m.opts.Cycles) && len(cycles) < maxCycles
	}
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for {
		if now := time.Now(); canStart() && !now.Before(next) {
			started++
			next = now.Add(m.opts.Interval)
			c := &cycle{n: started, at: now}
			cycles = append(cycles, c)
			for _, d := range m.plan(now) {
				c.pending++
				inFlight++
				go m.probe(ctx, started, d, results)
			}
		}
		// Apply the cycles whose probes are all in, oldest first.
		for len(cycles) > 0 && cycles[0].pending == 0 {
			c := cycles[0]
			cycles = cycles[1:]
			if err := m.apply(c); err != nil {
				if ctx.Err() == nil {
					yield(nil, err)
				}
				return
			}
			if !yield(m.snapshot(), nil) {
				return
			}
			if m.opts.Cycles != 0 && m.done >= m.opts.Cycles {
				return
			}
		}
		if canStart() && !time.Now().Before(next) {
			continue
		}
		var wake <-chan time.Time
		if canStart() {
			timer.Reset(time.Until(next))
			wake = timer.C
		}
		select {
		case o := <-results:
			inFlight--
			for _, c := range cycles {
				if c.n == o.cycle {
					c.pending--
					c.outcomes = append(c.outcomes, o)
				}
			}
		case <-wake:
		case <-ctx.Done():
			return
		}
	}
}

// plan gives the distances to probe in a cycle starting at now: up to the end of the path
// when it is known, else up to MaxHops, but for those whose responder's pace holds them back.
func (m *monitor) plan(now time.Time) []int {
	last := m.opts.MaxHops
	if m.end > 0 {
		last = m.end
	}
	var ds []int
	for d := m.opts.MinHops; d <= last; d++ {
		p := &m.pace[d-m.opts.MinHops]
		if p.pace > 0 {
			if now.Before(p.next) {
				continue
			}
			p.next = now.Add(p.pace)
		}
		ds = append(ds, d)
	}
	return ds
}

// probe sends one probe at distance d and reports its outcome.
func (m *monitor) probe(ctx context.Context, n, d int, results chan<- monitorOutcome) {
	o := m.trace
	o.MinHops, o.MaxHops = d, d
	tr, err := m.pr.Traceroute(ctx, m.dst, &o)
	out := monitorOutcome{cycle: n, dist: d}
	switch {
	case err != nil && ctx.Err() == nil:
		out.err = err
	case err == nil && len(tr.Hops) > 0:
		out.hop = &tr.Hops[0]
	}
	results <- out
}

// apply adds a cycle's outcomes to the path.
func (m *monitor) apply(c *cycle) error {
	m.done++
	for i := range c.outcomes {
		if err := c.outcomes[i].err; err != nil {
			return err
		}
	}
	slices.SortFunc(c.outcomes, func(a, b monitorOutcome) int { return a.dist - b.dist })
	reached := false
	for i := range c.outcomes {
		o := &c.outcomes[i]
		if o.hop == nil || o.hop.Distance != o.dist {
			continue
		}
		if o.hop.Address == m.dst {
			reached = true
		}
		if o.hop.Address == m.dst || o.hop.Unreachable != "" {
			if m.end == 0 || o.dist < m.end {
				m.setEnd(o.dist)
			}
		} else if o.dist == m.end {
			// Another responder where the path ended: it is longer now.
			m.setEnd(0)
		}
	}
	for i := range c.outcomes {
		o := &c.outcomes[i]
		if m.end > 0 && o.dist > m.end {
			continue // beyond the end: asked before it was known
		}
		m.count(o, c.n)
	}
	m.judge(c.outcomes, c.at)
	if reached {
		m.missed = 0
	} else if m.missed++; m.missed >= forgetTarget && m.end > 0 {
		m.setEnd(0)
	}
	m.path.Cycles = m.done
	m.path.Reached = reached
	return nil
}

// setEnd notes that the path ends at distance d (0: not known); the distances beyond it are
// forgotten.
func (m *monitor) setEnd(d int) {
	m.end = d
	for i := range m.hops {
		h := &m.hops[i]
		h.Target = false
		if d > 0 && h.Distance > d {
			*h = result.PathHop{Distance: h.Distance}
			m.pace[i] = hopPace{}
		}
	}
}

// count adds one probe's outcome to its hop.
func (m *monitor) count(o *monitorOutcome, cycle int) {
	i := o.dist - m.opts.MinHops
	h := &m.hops[i]
	h.Sent++
	if o.hop == nil {
		h.FirstLost++
		return
	}
	x := o.hop
	h.Received++
	h.AddRTT(x.Stats.Min(), max(m.opts.Window, 0))
	if h.Heard(x.Address, cycle) {
		m.pace[i] = hopPace{} // a new responder: its limit is not known
	}
	h.Target = x.Address == m.dst && o.dist == m.end
	if x.Unreachable != "" {
		h.Unreachable = x.Unreachable
	}
	if len(x.MPLS) > 0 {
		h.MPLS = slices.Clone(x.MPLS)
	}
}

// judge updates what the monitor knows of each probed responder's limit from a cycle's
// outcomes: a distance that lost more than the destination loses, by more than chance
// explains, is limited, and its pace set or doubled. (The destination's echo replies are
// never limited, and whatever the path loses before it, it loses too.) The probes of the
// judgement that found the limit, and those sent at the old pace before the monitor slowed
// down, say nothing of the path: they are counted in Unpaced, not in the path's loss, and
// those lost, most of them to the limit, in RateLimited.
func (m *monitor) judge(outs []monitorOutcome, at time.Time) {
	if m.end == 0 {
		return
	}
	end := &m.hops[m.end-m.opts.MinHops]
	if end.Sent == 0 {
		return
	}
	// The destination's loss rate, at the top of its one-sigma (Wilson) interval: early on,
	// a few probes lost or not by chance must not make a lossy path look limited.
	rate := max(wilsonUpper(end.FirstLost, end.Sent, 1), 0.01)
	for i := range outs {
		o := &outs[i]
		if o.dist >= m.end {
			continue
		}
		p := &m.pace[o.dist-m.opts.MinHops]
		h := &m.hops[o.dist-m.opts.MinHops]
		if at.Before(p.since) {
			h.Unpaced++
			if o.hop == nil {
				h.RateLimited++
			}
			continue
		}
		p.n++
		if o.hop == nil {
			p.lost++
		}
		if p.n < paceSamples {
			continue
		}
		limited := result.LossTail(p.lost, p.n, rate) < limitedP
		if !limited && p.n < maxPaceSamples {
			continue // judge again over more probes
		}
		if limited {
			if p.pace == 0 {
				p.pace = firstPace
			} else {
				p.pace = min(2*p.pace, maxPace)
			}
			p.since = time.Now()
			p.next = p.since.Add(p.pace)
			h.Pace = p.pace
			h.Unpaced += p.n
			h.RateLimited += p.lost
		}
		p.n, p.lost = 0, 0
	}
}

// snapshot gives the caller's copy of the path: distances up to the end, or to the farthest
// that answered.
func (m *monitor) snapshot() *result.Path {
	last := -1
	for i := range m.hops {
		h := &m.hops[i]
		if h.Answered() {
			last = i
		}
		if m.end > 0 && h.Distance == m.end {
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

// wilsonUpper gives the upper end of the Wilson score interval, z standard deviations wide,
// of a proportion of lost in n.
func wilsonUpper(lost, n int, z float64) float64 {
	p, fn := float64(lost)/float64(n), float64(n)
	z2 := z * z
	return (p + z2/(2*fn) + z*math.Sqrt(p*(1-p)/fn+z2/(4*fn*fn))) / (1 + z2/fn)
}
