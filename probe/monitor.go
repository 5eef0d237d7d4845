package probe

import (
	"context"
	"errors"
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
	// NoHopPings leaves out the echo requests each cycle sends to every router's own address
	// (PathHop.Pinged): the routers' loss figures then rest on the paced probes alone.
	NoHopPings bool
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
// would lose most probes to its limit at mtr's pace, so the monitor never asks a router faster
// than its pace (PathHop.Pace): at first routerPace, a quarter of a second, as fast as Linux
// answers over IPv6; once a router's latest probes lose more than the path does, or more of
// those sent soon after its last answer than of those sent later, a second, and twice that
// while it still loses more. The destination, whose echo replies are never limited, is probed
// every cycle. Only probes that reached a router at least its pace after its last answer, when
// its bucket had a token however full it was, count in the path's loss; the others are counted
// in Unpaced, and those of them lost in RateLimited.
//
// A router's limit leaves few paced probes: one a second, where mtr's pace sends ten. So each
// cycle also sends an echo request to every router's own address (the method of Windows'
// pathping; NoHopPings leaves them out). It crosses the path up to the router as the probes
// do, and Linux answers echo requests without limit; a router that filters or limits them
// loses more of them than the path beyond it and is no longer pinged (PathHop.PingRefused).
// Their outcomes come in as they happen, with no cycle waiting for them. Each hop's Loss then
// estimates the loss of the path up to it from both (see result.Path.EstimateLoss and
// result.PacedPathLoss), not its router's refusals.
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
	// paceSamples is the number of counted probes to a distance, the latest at least, whose
	// losses the monitor judges at once ...
	paceSamples = 8
	// maxPaceSamples: ... up to that many, after which a new judgement starts.
	maxPaceSamples = 64
	// limitedP: a responder is limited when its latest counted probes lost that many or more
	// with a chance below limitedP (shared by the judgements of up to maxPaceSamples probes)
	// at the path's loss rate.
	limitedP = 0.005
	// suffixTests divides limitedP for the judgement of the latest probes alone.
	suffixTests = 8
	// routerPace is the pace a router is first probed at, the fastest: Linux answers an IPv6
	// prober it reaches through a /33../96 route four times a second (net.ipv6.icmp.ratelimit,
	// 1 s, shortened for wider prefixes), and a router that answers faster is still asked
	// often enough for its losses to show.
	routerPace = firstPace / 4
	// firstPace is the pace kept with a router found limited: Linux's one answer a second
	// (net.ipv4.icmp_ratelimit, and net.ipv6.icmp.ratelimit over a /128 route or a narrow
	// one), with a margin for routers that count their tokens in jiffies.
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
	pinged []int            // echo requests out to each distance's responder
}

// pingOutcome is the outcome of one echo request to the responder addr of distance dist.
type pingOutcome struct {
	dist      int
	addr      netip.Addr
	lost, bad bool // bad: the monitor ended first, or the Prober failed
}

// hopPace is what the monitor knows of the rate limit of a distance's responder.
//
// A rate-limited router answers from a bucket of tokens that refills at its pace (Linux: one
// a second after a burst of 6), each answer taking one; a probe lost on the way never reaches
// it and takes none. So a probe that reaches the router at least a pace after the last one it
// answered finds a token however full the bucket was: its answer, or its silence, says what
// the path did to it. The monitor sends a router only such probes at the pace it believes,
// starting at routerPace, and counts them in the path's loss. When the latest probes lose
// more than the path does, the pace was too fast: it goes to firstPace, or doubles from there,
// and the probes since the last judgement are sorted again at the new pace, those that could
// have met an empty bucket counted Unpaced.
type hopPace struct {
	pace     time.Duration // time between probes to a router
	answered time.Time     // when the latest probe answered was sent
	pending  time.Time     // when the latest probe still out was sent; zero if none
	// window holds the probes since the last judgement, in the order sent; from is the
	// answered time before the first of them.
	window []paceProbe
	from   time.Time
}

// paceProbe is one probe of a judgement.
type paceProbe struct {
	sent          time.Time
	pace          time.Duration // the pace it was sent at
	lost, counted bool
}

func newHopPace() hopPace { return hopPace{pace: routerPace} }

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
	sent        time.Time
	pace        time.Duration // the pace of its router when sent
	hop         *result.Hop
	err         error
}

// due reports whether a probe sent at now to a router would find a token: no answered or
// pending probe less than the pace before.
func (p *hopPace) due(now time.Time) bool {
	last := p.answered
	if p.pending.After(last) {
		last = p.pending
	}
	return last.IsZero() || atPace(now.Sub(last), p.pace)
}

// eligible reports whether a probe sent at sent, after the answered probe sent at answered,
// found a token at pace.
func eligible(sent, answered time.Time, pace time.Duration) bool {
	return answered.IsZero() || atPace(sent.Sub(answered), pace)
}

// atPace reports whether a gap keeps a pace, within 2% (a cycle's start drifts by less; a
// router's tokens keep their margin in firstPace).
func atPace(gap, pace time.Duration) bool { return gap >= pace-pace/50 }

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
	m.pinged = make([]int, len(m.hops))
	for i := range m.hops {
		m.hops[i].Distance = p.MinHops + i
		m.pace[i] = newHopPace()
	}
	m.path.Destination = m.dst
	return m, nil
}

func (m *monitor) run(ctx context.Context, yield func(*result.Path, error) bool) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	results := make(chan monitorOutcome, 64)
	pings := make(chan pingOutcome, 64)
	inFlight := 0 // probes whose goroutine has not reported
	pingsOut := 0 // echo requests whose goroutine has not reported
	defer func() {
		cancel()
		for ; inFlight > 0; inFlight-- {
			<-results
		}
		for ; pingsOut > 0; pingsOut-- {
			<-pings
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
				go m.probe(ctx, monitorOutcome{cycle: started, dist: d, sent: now, pace: m.pace[d-m.opts.MinHops].pace}, results)
			}
			for _, x := range m.pingPlan() {
				pingsOut++
				go m.ping(ctx, x, pings)
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
		case x := <-pings:
			pingsOut--
			m.pinged[x.dist-m.opts.MinHops]--
			m.countPing(x)
		case <-wake:
		case <-ctx.Done():
			return
		}
	}
}

// maxPingsOut bounds the echo requests out to one responder at once (each out for Timeout,
// see ping).
const maxPingsOut = 64

// pingPlan gives the echo requests a cycle sends to the routers' own addresses: one to the
// responder of every distance before the end, unless it refuses them (PathHop.PingRefused),
// answered Destination Unreachable, or has maxPingsOut out already.
func (m *monitor) pingPlan() []pingOutcome {
	if m.opts.NoHopPings {
		return nil
	}
	var out []pingOutcome
	for i := range m.hops {
		h := &m.hops[i]
		if m.end > 0 && h.Distance >= m.end {
			break
		}
		if !h.Address.IsValid() || h.Address == m.dst || h.PingRefused || h.Unreachable != "" || m.pinged[i] >= maxPingsOut {
			continue
		}
		m.pinged[i]++
		out = append(out, pingOutcome{dist: h.Distance, addr: h.Address})
	}
	return out
}

// ping sends one echo request to x.addr and reports its outcome.
//
// An answer is reported only once the timeout has passed, as a silence is: otherwise the
// echo requests still out when the monitor ends, or when a Path is yielded, would hold back
// the lost ones alone, and the loss would read low.
func (m *monitor) ping(ctx context.Context, x pingOutcome, pings chan<- pingOutcome) {
	settled := time.NewTimer(m.opts.Timeout)
	defer settled.Stop()
	h, err := m.pr.Ping(ctx, x.addr, &PingOptions{
		Count: 1, Timeout: m.opts.Timeout, ID: m.opts.ID, Payload: m.opts.Payload,
		PayloadSize: m.opts.PayloadSize, TrafficClass: m.opts.TrafficClass,
	})
	switch {
	case ctx.Err() != nil, errors.Is(err, icmperrors.ErrUnavailable):
		x.bad = true // the monitor ended, or the Prober failed: the probes report it
	case err != nil || h.SendErrors > 0:
		// Not sent (no route to the router's address ...): lost, so that a responder
		// that cannot be pinged is soon refusing and no longer tried.
		x.lost = true
	default:
		x.lost = h.PacketsReceived() == 0
	}
	if !x.bad {
		select {
		case <-settled.C:
		case <-ctx.Done():
			x.bad = true
		}
	}
	pings <- x
}

// countPing adds an echo request's outcome to its distance, if the responder it went to
// still answers there.
func (m *monitor) countPing(x pingOutcome) {
	h := &m.hops[x.dist-m.opts.MinHops]
	if x.bad || h.Address != x.addr {
		return
	}
	h.Pinged++
	if x.lost {
		h.PingLost++
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
		if m.end > 0 && d != m.end && !p.due(now) {
			continue
		}
		p.pending = now
		ds = append(ds, d)
	}
	return ds
}

// probe sends one probe at distance d and reports its outcome.
func (m *monitor) probe(ctx context.Context, out monitorOutcome, results chan<- monitorOutcome) {
	o := m.trace
	o.MinHops, o.MaxHops = out.dist, out.dist
	if m.opts.Cycles == 0 || out.cycle < m.opts.Cycles {
		// Copies of an answer come within moments of it; the last cycle does not wait for
		// them, so that the final figures come as soon as its answers are in.
		o.dupWait = min(m.opts.Interval, m.opts.Timeout, maxDupWait)
	}
	tr, err := m.pr.Traceroute(ctx, m.dst, &o)
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
	m.judge()
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
			m.pace[i] = newHopPace()
		}
	}
}

// count adds one probe's outcome to its hop.
func (m *monitor) count(o *monitorOutcome, cycle int) {
	i := o.dist - m.opts.MinHops
	h, p := &m.hops[i], &m.pace[i]
	if p.pending.Equal(o.sent) {
		p.pending = time.Time{}
	}
	lost := o.hop == nil
	counted := o.dist == m.end || eligible(o.sent, p.answered, max(o.pace, p.pace))
	h.Pace = 0
	if o.dist != m.end {
		h.Pace = p.pace
	}
	p.window = append(p.window, paceProbe{sent: o.sent, pace: o.pace, lost: lost, counted: counted})
	h.Sent++
	if !counted {
		h.Unpaced++
	}
	if lost {
		h.FirstLost++
		if !counted {
			h.RateLimited++
		}
		return
	}
	if o.sent.After(p.answered) {
		p.answered = o.sent
	}
	x := o.hop
	h.Received++
	h.Duplicates += x.Duplicates
	h.AddRTT(x.Stats.Min(), max(m.opts.Window, 0))
	if h.Heard(x.Address, cycle) {
		// A new responder: its limit is not known.
		m.pace[i] = newHopPace()
		m.pace[i].answered, m.pace[i].from = o.sent, o.sent
	}
	h.Target = x.Address == m.dst && o.dist == m.end
	if x.Unreachable != "" {
		h.Unreachable = x.Unreachable
	}
	if len(x.MPLS) > 0 {
		h.MPLS = slices.Clone(x.MPLS)
	}
}

// maxDupWait bounds how long an answered probe waits for copies of its answer.
const maxDupWait = 100 * time.Millisecond

// maxWindow bounds the probes a judgement holds, counted or not.
const maxWindow = 4 * maxPaceSamples

// judge updates what the monitor knows of each router's limit: a distance whose latest
// counted probes lost more than the path loses, by more than chance explains, is limited at
// that pace. (The destination's echo replies are never limited, and whatever the path loses before it, it
// loses too.) When a pace is found too fast, the probes since the last judgement are sorted
// again at the new pace: those that could have met an empty bucket leave the path's loss for
// Unpaced, and those of them lost count in RateLimited.
func (m *monitor) judge() {
	var dest float64
	if m.end > 0 {
		end := &m.hops[m.end-m.opts.MinHops]
		if end.Sent > 0 {
			// The destination's loss rate, at the top of its one-sigma (Wilson) interval: early
			// on, a few probes lost or not by chance must not make a lossy path look limited.
			dest = max(wilsonUpper(end.FirstLost, end.Sent, 1), 0.01)
		}
	}
	for i := range m.pace {
		p, h := &m.pace[i], &m.hops[i]
		if dest == 0 || h.Distance >= m.end {
			if len(p.window) >= maxWindow || h.Distance >= m.end {
				p.commit()
			}
			continue
		}
		n, limited := p.limited(p.reference(h, dest))
		switch {
		case limited:
			p.pace = min(max(2*p.pace, firstPace), maxPace)
			h.Pace = p.pace
			p.resort(h)
		case n >= maxPaceSamples || len(p.window) >= maxWindow:
			p.commit()
		}
	}
}

// reference gives the loss rate a router's latest probes are judged at: the destination's, or
// the router's own before this judgement when it is lower and rests on paceSamples probes.
func (p *hopPace) reference(h *result.PathHop, dest float64) float64 {
	n, lost := h.Sent-h.Unpaced, h.FirstLost-h.RateLimited
	for _, x := range p.window {
		if x.counted {
			n--
			if x.lost {
				lost--
			}
		}
	}
	if n < paceSamples {
		return dest
	}
	return min(dest, max(wilsonUpper(lost, n, 1), 0.01))
}

// limited judges the counted probes since the last judgement: did they, or the latest of
// them, lose more often than chance explains at the loss rate? (A bucket that starts full
// answers a burst before it refuses.) Or did those sent less than twice their pace after the
// router's last answer lose more than those sent later? (A router slower than the pace
// refuses the first and answers the second; the path loses both alike.) n is the number
// counted.
func (p *hopPace) limited(rate float64) (n int, limited bool) {
	lost := 0
	for i := len(p.window) - 1; i >= 0; i-- {
		x := p.window[i]
		if !x.counted {
			continue
		}
		n++
		if x.lost {
			lost++
		}
		if n >= paceSamples && result.LossTail(lost, n, rate) < limitedP/suffixTests {
			return n, true
		}
	}
	var soon, later [2]int // probes, lost
	answered := p.from
	for _, x := range p.window {
		if x.counted {
			g := &later
			if !answered.IsZero() && x.sent.Sub(answered) < 2*x.pace {
				g = &soon
			}
			g[0]++
			if x.lost {
				g[1]++
			}
		}
		if !x.lost && x.sent.After(answered) {
			answered = x.sent
		}
	}
	return n, soon[0] >= 3 && later[0] >= 3 && result.LossExcess(soon[1], soon[0], later[1], later[0]) < limitedP
}

// resort sorts the probes of the judgement again at the pace now kept, and ends it.
func (p *hopPace) resort(h *result.PathHop) {
	answered := p.from
	for _, x := range p.window {
		if x.counted && !eligible(x.sent, answered, p.pace) {
			h.Unpaced++
			if x.lost {
				h.RateLimited++
			}
		}
		if !x.lost && x.sent.After(answered) {
			answered = x.sent
		}
	}
	p.commit()
}

// commit ends a judgement: its probes stay counted as they are.
func (p *hopPace) commit() {
	p.window = p.window[:0]
	p.from = p.answered
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
