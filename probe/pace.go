package probe

import (
	"cmp"
	"net/netip"
	"time"

	"github.com/icmpkit/icmpkit/transport"
)

// Routers limit the ICMP errors they send. Linux, at its defaults, gives each destination of
// its errors a bucket of 6 that refills one error a second (net.ipv4.icmp_ratelimit=1000 ms;
// IPv6: net.ipv6.icmp.ratelimit, shortened for wide prefixes), under a global 1000 a second
// (net.ipv4.icmp_msgs_per_sec): a traceroute that probes a router faster than that gets a
// burst of answers and then silence, which reads as loss.
//
// The pacer learns which responders limit their answers and spaces the probes that go to
// them. Every call over one Prober shares it: concurrent
// traces of the same path take turns at each router instead of spending its budget against
// each other, and the Time Exceeded or Destination Unreachable answers that a Ping or
// Multiping draws (a low TTL, an unreachable network) count against the budget too.
//
// A responder is learnt as limited when a probe it should have answered goes unanswered while
// the path beyond it works (a farther distance answered), and no probe sent to it just after
// was answered (which would show it had answers to give, and that the probe was lost
// otherwise). From then on a probe to it goes no sooner than its interval after the last
// answer heard from it or the last probe paced to it, whichever is later; the interval starts
// at Linux's default, one second, and doubles, up to maxPaceInterval, when a probe paced so is
// lost again. A responder that loses nothing for limitMemory is forgotten, and gets its burst
// at full speed again. Responders that never lose anything are never slowed.
//
// Ping and Multiping keep the schedule they were given: each of their requests is a sample,
// and neither delays nor repeats them. Only traces are paced.
//
// The pacer belongs to a Prober and lives as long as it: traces one after another pace from
// the start what the first learnt. Its memory is bounded: at most Options.PaceMemory
// responders (those not limited are dropped first) and maxPaths distances.
//
// The pacer's state is guarded by the engine's mutex. The reader touches it only for ICMP
// errors from responders it already tracks: an echo reply costs one length check.
type pacer struct {
	maxResponders int // zero: defaultPaceMemory
	resp          map[netip.Addr]*responder
	path          map[pathKey]netip.Addr // the responder last seen at a distance toward a destination
}

type pathKey struct {
	dst netip.Addr
	ttl int
}

// responder is what the pacer knows of one address that answers with ICMP errors.
type responder struct {
	interval time.Duration // time from one paced probe to the next
	limited  time.Time     // when it last lost a probe to its limit; zero while not limited
	next     time.Time     // no paced probe before this
	heard    time.Time     // when an answer from it last arrived
}

const (
	// firstPaceInterval is the interval of a responder found limited: Linux's default.
	firstPaceInterval = time.Second
	// maxPaceInterval bounds the interval learnt from paced probes that were lost.
	maxPaceInterval = 8 * time.Second
	// paceMargin is added to each interval, for the clock granularity of routers (Linux
	// counts its tokens in jiffies, 1 to 10 ms) and differences in delay.
	paceMargin = 15 * time.Millisecond
	// limitMemory is how long a responder stays known as limited after its last loss.
	limitMemory = 30 * time.Second
	// defaultPaceMemory bounds the responders tracked unless Options.PaceMemory says
	// otherwise; beyond it, those not limited are dropped.
	defaultPaceMemory = 4096
	// maxPaths bounds the distances whose responder is remembered.
	maxPaths = 1 << 14
)

// isLimited reports whether r is known as limited at now.
func (r *responder) isLimited(now time.Time) bool {
	return !r.limited.IsZero() && now.Sub(r.limited) < limitMemory
}

// heardError notes, from the reader, an ICMP error from a tracked responder. e.mu is held.
func (p *pacer) heardError(r *transport.Reply) {
	if r.Source == r.Destination {
		return // the destination's own answers
	}
	switch r.Kind() {
	case transport.KindTimeExceeded, transport.KindDestinationUnreachable, transport.KindParameterProblem:
		if x := p.resp[r.Source]; x != nil && r.ReceivedAt.After(x.heard) {
			x.heard = r.ReceivedAt
		}
	}
}

// responder gives the state of addr, made if need be. e.mu is held.
func (p *pacer) responder(addr netip.Addr) *responder {
	if x := p.resp[addr]; x != nil {
		return x
	}
	if p.resp == nil {
		p.resp = make(map[netip.Addr]*responder)
		p.path = make(map[pathKey]netip.Addr)
	}
	if limit := cmp.Or(p.maxResponders, defaultPaceMemory); len(p.resp) >= limit {
		now := time.Now()
		for a, x := range p.resp {
			if !x.isLimited(now) {
				delete(p.resp, a)
			}
		}
		for a := range p.resp {
			if len(p.resp) < limit {
				break
			}
			delete(p.resp, a) // every one is limited: the bound holds all the same
		}
	}
	x := &responder{interval: firstPaceInterval}
	p.resp[addr] = x
	return x
}

// paceAnswer records that from answered, at, a probe to dst with the given TTL.
func (e *engine) paceAnswer(from, dst netip.Addr, ttl int, at time.Time) {
	e.mu.Lock()
	defer e.mu.Unlock()
	x := e.pace.responder(from)
	if at.After(x.heard) {
		x.heard = at
	}
	if len(e.pace.path) >= maxPaths {
		clear(e.pace.path) // a trace that finds none learns its path again
	}
	e.pace.path[pathKey{dst, ttl}] = from
}

// paceResponder gives the responder last seen at distance ttl toward dst, if any.
func (e *engine) paceResponder(dst netip.Addr, ttl int) (netip.Addr, bool) {
	e.mu.Lock()
	defer e.mu.Unlock()
	a, ok := e.pace.path[pathKey{dst, ttl}]
	return a, ok
}

// paceLost records that a probe to addr was lost to its limit; paced tells that the probe
// went at the pace the responder was thought to allow, which was then too fast.
func (e *engine) paceLost(addr netip.Addr, now time.Time, paced bool) {
	e.mu.Lock()
	defer e.mu.Unlock()
	x := e.pace.responder(addr)
	if paced && x.isLimited(now) {
		x.interval = min(2*x.interval, maxPaceInterval)
	}
	if !x.isLimited(now) {
		x.interval = firstPaceInterval
		x.next = time.Time{}
	}
	x.limited = now
}

// paceLate records that addr answered a probe taken as lost to its limit: it was slow, and
// is not taken as limited any more until it loses a probe again.
func (e *engine) paceLate(addr netip.Addr) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if x := e.pace.resp[addr]; x != nil {
		x.limited = time.Time{}
	}
}

// paceTake asks whether a probe to addr may go at now. It may when addr is not known as
// limited, or when its turn has come, which then passes (paced is then true); otherwise at
// tells when to ask again.
func (e *engine) paceTake(addr netip.Addr, now time.Time) (ok, paced bool, at time.Time) {
	e.mu.Lock()
	defer e.mu.Unlock()
	x := e.pace.resp[addr]
	if x == nil || !x.isLimited(now) {
		return true, false, now
	}
	step := x.interval + paceMargin
	ready := x.next
	if h := x.heard.Add(step); h.After(ready) {
		ready = h
	}
	if now.Before(ready) {
		return false, false, ready
	}
	x.next = now.Add(step)
	return true, true, now
}
