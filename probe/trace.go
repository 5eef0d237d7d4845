package probe

import (
	"context"
	"encoding/binary"
	"net/netip"
	"slices"
	"time"

	icmperrors "github.com/icmpkit/icmpkit/errors"
	"github.com/icmpkit/icmpkit/result"
	"github.com/icmpkit/icmpkit/transport"
)

// Traceroute finds the routers on the path to dst: it sends opts.Count echo requests with
// each TTL from opts.MinHops to opts.MaxHops and records who answers (Time Exceeded from a
// router, an echo reply or Destination Unreachable at the end).
//
// Probes for many TTLs are in flight at once (opts.Window), so silent routers cost about one
// timeout in all rather than one each: a probe that stays unanswered well past the round-trip
// times seen so far gives its place in the window to the next one, while it still waits its
// full timeout for a late answer. Probes of one TTL go opts.Interval apart. The trace ends at
// the destination, or at the nearest distance that answered Destination Unreachable; probes
// beyond it are not sent, or are forgotten if already sent. A destination that answers before
// its TTL would let it (a router that does not decrement TTL) is placed at the smallest
// distance it answered from.
//
// Routers limit the ICMP errors they send (Linux: a burst of 6 to each source, then one a
// second). A probe unanswered while farther distances answer, with no answer from its distance
// just after it, is taken as lost to such a limit: it is sent again when the responder can
// answer, learnt from what the trace and the other calls over the Prober have seen (see pace.go), up to
// 4 sends in all, and later probes to that responder are spaced at that rate. Such a probe
// counts once in the hop's PacketsSent, and the sends the limit took in its RateLimited. A
// distance whose responder is not known yet is asked once more, a second after its first
// probe and within that probe's timeout; if that goes unanswered too, the distance is silent.
//
// The result lists only the distances that answered, ascending; opts.OnHop sees each hop as
// soon as it and every nearer distance are final. Cancelling ctx returns what is final so far
// with ctx's error.
func (pr *Prober) Traceroute(ctx context.Context, dst netip.Addr, opts *TraceOptions) (*result.Trace, error) {
	if err := pr.usable(); err != nil {
		return nil, err
	}
	if opts == nil {
		opts = &TraceOptions{}
	}
	tr, err := newTracer(dst, opts)
	if err != nil {
		return nil, err
	}
	tr.e = pr.e
	err = tr.loop(ctx)
	return tr.result(), err
}

const (
	// Before any answer, a probe keeps its place in the window this long at most.
	initialPatience = 250 * time.Millisecond
	// After answers, a probe keeps its place for this many times the median RTT seen (the
	// median, so that one slow first packet, e.g. behind neighbour discovery, does not stall
	// the window) ...
	patienceFactor = 8
	// ... but at least this long.
	minPatience = 20 * time.Millisecond
)

type tracer struct {
	e       *engine
	dst     netip.Addr
	id      int
	opts    TraceOptions
	payload []byte
	mailbox

	// probes are indexed by distance: those of distance ttl are at(ttl), in round order.
	probes     []traceProbe // (ttl - MinHops) * Count + round
	hops       []hopState   // ttl - MinHops
	unsentFrom int          // no probe before this index is left to send
	inWindow   int
	end        int // smallest TTL that ended the trace; MaxHops+1 while unknown
	reached    bool
	emitted    int             // hops final and handed to OnHop, from MinHops
	rtts       []time.Duration // every RTT seen, sorted
	mtu        pathMTU         // with PathMTU: the search for the path MTU
}

// A traceProbe is one of the Count probes of a distance. It is sent again when its send is
// taken as lost to the responder's rate limit (see resends).
type traceProbe struct {
	ttl, round int
	seq        int       // of the current attempt
	gen        uint32    // the same for every attempt of one probe
	sentAt     time.Time // of the current attempt
	deadline   time.Time // of the current attempt
	release    time.Time // when the current attempt gives up its place in the window
	sent       bool
	live       bool // the current attempt is registered
	resolved   bool // answered or expired
	inWindow   bool
	skipped    bool // never to be sent
	size       int  // with PathMTU: the probe's size, IP header included
	// lingerUntil, when set, is when an answered probe stops counting copies of its answer
	// (TraceOptions.dupWait) and is unregistered.
	lingerUntil time.Time
	resends
}

type hopState struct {
	hop       result.Hop
	answered  bool
	scouted   bool // a probe was sent again to learn the responder of this unanswered distance
	silent    bool // ... and went unanswered too: no more attempts
	lastSent  time.Time
	unresolve int // probes sent or to be sent and not yet resolved
}

func newTracer(dst netip.Addr, o *TraceOptions) (*tracer, error) {
	tr := &tracer{dst: dst.Unmap(), opts: *o, mailbox: newMailbox()}
	p := &tr.opts
	p.Count = orDefault(p.Count, DefaultTraceCount)
	p.Interval = orDefault(p.Interval, DefaultTraceInterval)
	p.Timeout = orDefault(p.Timeout, DefaultTimeout)
	p.MinHops = orDefault(p.MinHops, 1)
	p.MaxHops = orDefault(p.MaxHops, DefaultMaxHops)
	p.Window = orDefault(p.Window, DefaultTraceWindow)
	switch {
	case o.Count < 0:
		return nil, icmperrors.Invalid("count", "must be at least 1, got %d", o.Count)
	case o.MinHops < 0 || p.MinHops > 255:
		return nil, icmperrors.Invalid("first hop", "must be in 1..255, got %d", o.MinHops)
	case o.MaxHops < 0 || p.MaxHops > 255:
		return nil, icmperrors.Invalid("max hops", "must be in 1..255, got %d", o.MaxHops)
	case p.MinHops > p.MaxHops:
		return nil, icmperrors.Invalid("first hop", "%d is beyond the last distance %d", p.MinHops, p.MaxHops)
	case o.Window < 0:
		return nil, icmperrors.Invalid("window", "must not be negative, got %d", o.Window)
	}
	if err := checkCommon(1, o.Timeout, o.ID, 1, o.TrafficClass); err != nil {
		return nil, err
	}
	size := o.PayloadSize
	if o.Paris && size < 2 && size != 0 {
		size = 2
	}
	payload := tracePayload(o)
	if o.PathMTU {
		tr.mtu = newPathMTU(tr.dst)
		size = startMTU - headerLen(dst.Unmap())
		payload = nil
	}
	var err error
	if tr.payload, err = makePayload(payload, size); err != nil {
		return nil, err
	}
	if err := checkTarget(dst, len(tr.payload)); err != nil {
		return nil, err
	}
	n := p.MaxHops - p.MinHops + 1
	tr.hops = make([]hopState, n)
	tr.probes = make([]traceProbe, n*p.Count)
	for i := range tr.probes {
		tr.probes[i].ttl = p.MinHops + i/p.Count
		tr.probes[i].round = i % p.Count
	}
	for i := range tr.hops {
		tr.hops[i].hop = result.Hop{Distance: p.MinHops + i}
		tr.hops[i].unresolve = p.Count
	}
	tr.end = p.MaxHops + 1
	return tr, nil
}

func (tr *tracer) loop(ctx context.Context) error {
	tr.id = tr.e.identifier(tr.dst, tr.opts.ID)
	defer tr.forget()
	return drive(ctx, tr.e, &tr.mailbox, tr)
}

func (tr *tracer) takeArrivals() { tr.take(tr.arrive) }

// step expires, sends again and sends what is due, and hands on the hops that are final.
func (tr *tracer) step(ctx context.Context) (done, again bool, err error) {
	now := time.Now()
	tr.expire(now)
	if err := tr.resend(ctx, now); err != nil {
		return false, false, err
	}
	if err := tr.send(ctx, time.Now()); err != nil {
		return false, false, err
	}
	tr.emit()
	if tr.done() {
		return true, false, nil
	}
	// The reader runs while the trace waits, even with no probe in the window: probes that
	// gave up their place still wait for their answers.
	tr.e.listen()
	return false, false, nil
}

func (tr *tracer) expecting() bool { return tr.inWindow > 0 }

func (tr *tracer) idle() {}

func (tr *tracer) hop(ttl int) *hopState { return &tr.hops[ttl-tr.opts.MinHops] }

// at gives the probes of distance ttl.
func (tr *tracer) at(ttl int) []traceProbe {
	i := (ttl - tr.opts.MinHops) * tr.opts.Count
	return tr.probes[i : i+tr.opts.Count]
}

// upToEnd gives how many probes lie at distances up to the trace's end: the only ones still
// sent, expired or waited for.
func (tr *tracer) upToEnd() int {
	return min(tr.end-tr.opts.MinHops+1, len(tr.hops)) * tr.opts.Count
}

func (tr *tracer) arrive(a *arrival) {
	if int(a.tag) >= len(tr.probes) {
		return
	}
	p := &tr.probes[a.tag]
	if p.gen != a.gen {
		return
	}
	rep := &a.reply
	sentAt, n, ok := p.attemptOf(rep.Seq)
	if !ok {
		return
	}
	late := p.waiting || n < p.attempts-1
	if p.ttl > tr.end {
		// A probe past the end, kept for path MTU discovery (see stopAt): a too-big answer
		// it drew tells how large a probe reached the router that sent it.
		if tr.opts.PathMTU && tooBig(rep) {
			tr.mtu.notePassed(rep.Source, p.size)
		}
		tr.retire(a.tag)
		return
	}
	if p.resolved {
		if !p.lingerUntil.IsZero() && sentAt.Equal(p.answerSent) {
			tr.hop(p.ttl).hop.Duplicates++
		}
		return
	}
	rtt := max(rep.ReceivedAt.Sub(sentAt), 0)
	if rtt > tr.opts.Timeout {
		return
	}
	if tr.opts.PathMTU && tooBig(rep) {
		tr.shrink(a.tag, rep.Source, rep.MTU)
		if p.resolved {
			tr.report(p, rep, rtt, n)
		}
		return
	}
	tr.resolve(p)
	if tr.lingers() {
		p.lingerUntil = time.Now().Add(tr.opts.dupWait)
	} else {
		tr.retire(a.tag)
	}
	p.answerSent = sentAt
	tr.report(p, rep, rtt, n)
	if rep.Source != tr.dst {
		tr.e.paceAnswer(rep.Source, tr.dst, p.ttl, rep.ReceivedAt)
		switch {
		case late:
			// An attempt taken as lost was answered after all: slow, not limited.
			tr.e.paceLate(rep.Source)
		case n > 0:
			// It answered only when asked again: its limit took the earlier attempts.
			tr.e.paceLost(rep.Source, time.Now(), false)
		}
	}
	i, _ := slices.BinarySearch(tr.rtts, rtt)
	tr.rtts = slices.Insert(tr.rtts, i, rtt)
	h := tr.hop(p.ttl)
	h.answered = true
	hop := &h.hop
	if !hop.Address.IsValid() {
		hop.Address = rep.Source
	}
	if !slices.Contains(hop.Responders, rep.Source) {
		hop.Responders = append(hop.Responders, rep.Source)
	}
	hop.Add(rtt)
	hop.RateLimited += n
	if mark := rep.Unreachable(); mark != "" {
		hop.Unreachable = mark
	}
	if len(rep.MPLS) > 0 {
		hop.MPLS = rep.MPLS
	}
	if tr.opts.PathMTU {
		hop.MTU = max(hop.MTU, p.size)
	}
	kind := rep.Kind()
	if rep.Source == tr.dst {
		tr.reached = true
	}
	if rep.Source == tr.dst || kind == transport.KindDestinationUnreachable {
		tr.stopAt(p.ttl)
	}
	if tr.opts.FastMode {
		for i := range tr.at(p.ttl) {
			if q := &tr.at(p.ttl)[i]; !q.sent && !q.skipped {
				tr.skip(q)
			}
		}
	}
}

// stopAt ends the trace at ttl: farther probes are not sent, and those in flight forgotten.
// With PathMTU those in flight stay registered until they are answered or the trace ends,
// though the trace no longer waits for them: a too-big answer from a router before the end
// may still come, later than the end's own answer, and it tells how large a probe passed the
// hops up to that router.
func (tr *tracer) stopAt(ttl int) {
	if ttl >= tr.end {
		return
	}
	tr.end = ttl
	for i := (ttl - tr.opts.MinHops + 1) * tr.opts.Count; i < len(tr.probes); i++ {
		q := &tr.probes[i]
		switch {
		case !q.sent && !q.skipped:
			tr.skip(q)
		case q.sent:
			if !tr.opts.PathMTU {
				tr.retire(int32(i))
			}
			if !q.resolved {
				tr.resolve(q)
			}
		}
	}
}

func (tr *tracer) skip(q *traceProbe) {
	q.skipped = true
	tr.hop(q.ttl).unresolve--
}

func (tr *tracer) resolve(p *traceProbe) {
	p.resolved = true
	p.waiting = false
	tr.hop(p.ttl).unresolve--
	if p.inWindow {
		p.inWindow = false
		tr.inWindow--
	}
}

// retire unregisters every attempt of probe tag.
func (tr *tracer) retire(tag int32) {
	p := &tr.probes[tag]
	if !p.live && len(p.earlier) == 0 {
		return
	}
	if p.live {
		p.live = false
		tr.e.unregister(tr.dst, tr.id, p.seq)
	}
	for _, a := range p.earlier {
		tr.e.unregister(tr.dst, tr.id, a.seq)
	}
	p.earlier = p.earlier[:0]
	p.lingerUntil = time.Time{}
	p.gen++
}

// lingers reports whether answered probes stay registered for copies of their answers.
func (tr *tracer) lingers() bool { return tr.opts.dupWait > 0 && !tr.opts.PathMTU }

func (tr *tracer) patience() time.Duration {
	if len(tr.rtts) == 0 {
		return min(tr.opts.Timeout, initialPatience)
	}
	return min(tr.opts.Timeout, max(minPatience, patienceFactor*tr.rtts[len(tr.rtts)/2]))
}

func (tr *tracer) expire(now time.Time) {
	for i := range tr.upToEnd() {
		p := &tr.probes[i]
		if !p.lingerUntil.IsZero() && !p.lingerUntil.After(now) {
			tr.retire(int32(i))
		}
		if !p.sent || p.resolved {
			continue
		}
		tr.pruneEarlier(p, now)
		if p.waiting {
			if p.live && !p.deadline.After(now) {
				p.live = false
				tr.e.unregister(tr.dst, tr.id, p.seq)
			}
			continue
		}
		if !p.deadline.After(now) {
			tr.resolve(p)
			tr.retire(int32(i))
			tr.report(p, nil, 0, 0)
			if h := tr.hop(p.ttl); p.scout && !h.answered {
				tr.giveUp(h)
			}
			continue
		}
		if p.inWindow && !p.release.After(now) {
			p.inWindow = false
			tr.inWindow--
		}
		if !p.sentAt.Add(tr.judgeAfter()).After(now) {
			tr.judge(int32(i), now)
		}
	}
}

// send sends the next eligible probes, nearest distance first, while the window has room.
func (tr *tracer) send(ctx context.Context, now time.Time) error {
	for tr.unsentFrom < len(tr.probes) && (tr.probes[tr.unsentFrom].sent || tr.probes[tr.unsentFrom].skipped) {
		tr.unsentFrom++
	}
	for i := tr.unsentFrom; i < tr.upToEnd(); i++ {
		if tr.inWindow >= tr.opts.Window {
			return nil
		}
		p := &tr.probes[i]
		if p.sent || p.skipped || now.Before(p.notBefore) {
			continue
		}
		h := tr.hop(p.ttl)
		if p.round > 0 && tr.opts.Interval > 0 && now.Before(h.lastSent.Add(tr.opts.Interval)) {
			continue
		}
		if p.round > 0 && !tr.probes[i-1].sent && !tr.probes[i-1].skipped {
			continue // rounds of one distance go in order
		}
		paced := false
		if x, ok := tr.responderAt(p.ttl); ok {
			var turn bool
			if turn, paced, p.notBefore = tr.e.paceTake(x, now); !turn {
				continue // the responder's turn comes later
			}
		}
		if err := tr.sendProbe(ctx, int32(i)); err != nil {
			return err
		}
		p.paced = paced
		now = time.Now()
	}
	return nil
}

// sendProbe sends probe tag's first attempt.
func (tr *tracer) sendProbe(ctx context.Context, tag int32) error {
	p := &tr.probes[tag]
	p.gen++
	p.attempts = 0
	if err := tr.sendAttempt(ctx, tag); err != nil {
		return err
	}
	p.firstSent = p.sentAt
	h := tr.hop(p.ttl)
	h.hop.PacketsSent++
	h.lastSent = p.sentAt
	return nil
}

// sendAttempt sends an attempt of probe tag, registered under the probe's generation.
func (tr *tracer) sendAttempt(ctx context.Context, tag int32) error {
	p := &tr.probes[tag]
	seq, err := tr.e.register(tr.dst, tr.id, waiter{sink: tr, tag: tag, gen: p.gen})
	if err != nil {
		return err
	}
	p.seq, p.live = seq, true
	req := transport.Request{
		Destination:  tr.dst,
		ID:           tr.id,
		Seq:          seq,
		TTL:          p.ttl,
		TrafficClass: tr.opts.TrafficClass,
		DontFragment: tr.opts.PathMTU,
	}
	for {
		req.Payload = tr.payload
		if tr.opts.PathMTU {
			p.size = tr.mtu.probeSize()
			req.Payload = req.Payload[:p.size-headerLen(tr.dst)]
		}
		if tr.opts.Paris {
			req.Payload = parisPayload(req.Payload, seq)
		}
		err := tr.e.t.Send(ctx, &req)
		if err == nil {
			tr.mtu.fits(p.size)
			break
		}
		if !tr.opts.PathMTU || !icmperrors.Is(err, icmperrors.ErrMessageSize) || !tr.mtu.tooLong(p.size) {
			p.live = false
			tr.e.unregister(tr.dst, tr.id, seq)
			return err
		}
	}
	if req.SentAt.IsZero() {
		req.SentAt = time.Now()
	}
	now := time.Now()
	p.sent = true
	p.sentAt = req.SentAt
	p.deadline = now.Add(tr.opts.Timeout)
	p.release = now.Add(tr.patience())
	p.inWindow = true
	p.attempts++
	p.paced, p.scout = false, false
	tr.inWindow++
	return nil
}

// parisPayload gives a copy of base whose first two bytes cancel seq in the ICMP checksum, so
// every probe of a trace has the same checksum, and so the same flow identity.
func parisPayload(base []byte, seq int) []byte {
	b := slices.Clone(base)
	binary.BigEndian.PutUint16(b, ^uint16(seq))
	return b
}

// emit hands on the hops that are final: resolved, with every nearer distance resolved.
func (tr *tracer) emit() {
	for tr.emitted < len(tr.hops) {
		h := &tr.hops[tr.emitted]
		if h.hop.Distance > tr.end {
			tr.emitted = len(tr.hops)
			return
		}
		if h.unresolve > 0 {
			return
		}
		tr.emitted++
		if h.answered && tr.opts.OnHop != nil {
			tr.opts.OnHop(tr.final(tr.emitted - 1))
		}
	}
}

func (tr *tracer) done() bool {
	for i := range tr.hops {
		if tr.hops[i].hop.Distance <= tr.end && tr.hops[i].unresolve > 0 {
			return false
		}
	}
	if tr.lingers() {
		for i := range tr.upToEnd() {
			if !tr.probes[i].lingerUntil.IsZero() {
				return false
			}
		}
	}
	return true
}

func (tr *tracer) nextWake(now time.Time) (time.Time, bool) {
	var w wake
	consider := w.consider
	for i := range tr.upToEnd() {
		p := &tr.probes[i]
		switch {
		case p.sent && !p.resolved && !p.waiting:
			consider(p.deadline)
			if at := p.sentAt.Add(tr.judgeAfter()); at.After(now) {
				consider(at)
			}
			if p.inWindow {
				consider(p.release)
			}
		case !p.sent && !p.skipped && p.ttl <= tr.end && tr.inWindow < tr.opts.Window:
			if q := &tr.probes[max(i-1, 0)]; p.round > 0 && !q.sent && !q.skipped {
				break // it goes after the round before it, whose own time is considered
			}
			at := p.notBefore
			if last := tr.hop(p.ttl).lastSent; p.round > 0 && !last.IsZero() && last.Add(tr.opts.Interval).After(at) {
				at = last.Add(tr.opts.Interval)
			}
			if !at.IsZero() {
				consider(at)
			}
		}
		if p.waiting && p.ttl <= tr.end && tr.inWindow < tr.opts.Window && (p.notBefore.After(now) || !tr.hop(p.ttl).scouted) {
			consider(p.notBefore)
		}
		if p.sent && !p.resolved {
			for _, a := range p.earlier {
				consider(a.deadline)
			}
		}
		if !p.lingerUntil.IsZero() {
			consider(p.lingerUntil)
		}
	}
	return w.at, w.ok
}

// forget unregisters every probe still registered.
func (tr *tracer) forget() {
	for i := range tr.probes {
		tr.retire(int32(i))
	}
}

func (tr *tracer) result() *result.Trace {
	out := &result.Trace{Destination: tr.dst, Reached: tr.reached, PathMTU: tr.mtu.pmtu}
	for i := range tr.hops {
		h := &tr.hops[i]
		if h.hop.Distance > tr.end {
			break
		}
		if h.answered {
			out.Hops = append(out.Hops, tr.final(i))
		}
	}
	out.EstimateLoss()
	return out
}

// final gives hop i as reported. With PathMTU its MTU is the largest size known to have
// reached it: its own answered probes, the probes that drew a Packet Too Big from it, and any
// probe that reached a farther hop, since that one passed through it.
func (tr *tracer) final(i int) result.Hop {
	hop := tr.hops[i].hop
	if tr.opts.PathMTU {
		for j := i; j < len(tr.hops) && tr.hops[j].hop.Distance <= tr.end; j++ {
			h := &tr.hops[j].hop
			hop.MTU = max(hop.MTU, tr.mtu.reached(h.MTU, h.Responders))
		}
	}
	return hop
}
