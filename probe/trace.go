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

	probes   []traceProbe // (ttl - MinHops) * Count + round
	hops     []hopState   // ttl - MinHops
	inWindow int
	end      int // smallest TTL that ended the trace; MaxHops+1 while unknown
	reached  bool
	emitted  int                // hops final and handed to OnHop, from MinHops
	rtts     []time.Duration    // every RTT seen, sorted
	pmtu     int                // with PathMTU: the largest size that may pass, IP header included
	localOK  int                // with PathMTU, after the local link refused a size: the largest it took
	passed   map[netip.Addr]int // with PathMTU: the largest probe each too-big answerer got
	polls    pollBuffers
}

// A traceProbe is one of the Count probes of a distance. It is sent again when its send is
// taken as lost to the responder's rate limit (see pace.go): each send is an attempt, and the
// probe is answered by the first answer to any of them.
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

	attempts   int       // sends so far
	earlier    []attempt // earlier attempts, still registered: a late answer still counts
	waiting    bool      // the current attempt is taken as lost to a rate limit: another is due
	notBefore  time.Time // the next attempt goes no sooner (a scout, or a limited responder's turn)
	paced      bool      // the current attempt took its turn at a limited responder
	scout      bool      // the current attempt asks a distance whose responder is not known
	firstSent  time.Time // the first attempt's
	answerSent time.Time // when the attempt that was answered went out; zero until answered
}

// attempt is an earlier send of a probe.
type attempt struct {
	seq      int
	n        int // its number among the probe's attempts, from 0
	sentAt   time.Time
	deadline time.Time
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
		return nil, icmperrors.Invalid("min hops", "must be in 1..255, got %d", o.MinHops)
	case o.MaxHops < 0 || p.MaxHops > 255:
		return nil, icmperrors.Invalid("max hops", "must be in 1..255, got %d", o.MaxHops)
	case p.MinHops > p.MaxHops:
		return nil, icmperrors.Invalid("min hops", "%d is beyond max hops %d", p.MinHops, p.MaxHops)
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
		tr.pmtu = startMTU
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
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	defer tr.forget()
	for {
		tr.take(tr.arrive)
		now := time.Now()
		tr.expire(now)
		if err := tr.resend(ctx, now); err != nil {
			return err
		}
		if err := tr.send(ctx, time.Now()); err != nil {
			return err
		}
		tr.emit()
		if tr.done() {
			return nil
		}
		if tr.inWindow > 0 && tr.polls.poll(tr.e) {
			continue // answers that came while the tracer was busy: take them before waiting
		}
		tr.e.listen()
		if wake, ok := tr.nextWake(time.Now()); ok {
			timer.Reset(time.Until(wake))
		} else {
			timer.Stop()
		}
		select {
		case <-tr.notify:
		case <-timer.C:
		case <-ctx.Done():
			tr.take(tr.arrive)
			return ctx.Err()
		case <-tr.e.dead:
			tr.take(tr.arrive)
			return tr.e.failure()
		}
	}
}

func (tr *tracer) hop(ttl int) *hopState { return &tr.hops[ttl-tr.opts.MinHops] }

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
			tr.notePassed(rep.Source, p.size)
		}
		tr.retire(a.tag)
		return
	}
	if p.resolved {
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
	tr.retire(a.tag)
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
		for i := range tr.probes {
			if q := &tr.probes[i]; q.ttl == p.ttl && !q.sent && !q.skipped {
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
	for i := range tr.probes {
		q := &tr.probes[i]
		if q.ttl <= ttl {
			continue
		}
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
	p.gen++
}

// attemptOf finds the registered attempt of p with sequence seq: when it was sent, and its
// number among p's attempts.
func (p *traceProbe) attemptOf(seq int) (sentAt time.Time, n int, ok bool) {
	if p.live && seq == p.seq {
		return p.sentAt, p.attempts - 1, true
	}
	for _, a := range p.earlier {
		if a.seq == seq {
			return a.sentAt, a.n, true
		}
	}
	return sentAt, 0, false
}

func (tr *tracer) patience() time.Duration {
	if len(tr.rtts) == 0 {
		return min(tr.opts.Timeout, initialPatience)
	}
	return min(tr.opts.Timeout, max(minPatience, patienceFactor*tr.rtts[len(tr.rtts)/2]))
}

func (tr *tracer) expire(now time.Time) {
	for i := range tr.probes {
		p := &tr.probes[i]
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

// pruneEarlier unregisters p's earlier attempts whose time is up.
func (tr *tracer) pruneEarlier(p *traceProbe, now time.Time) {
	kept := p.earlier[:0]
	for _, a := range p.earlier {
		if a.deadline.After(now) {
			kept = append(kept, a)
		} else {
			tr.e.unregister(tr.dst, tr.id, a.seq)
		}
	}
	clear(p.earlier[len(kept):])
	p.earlier = kept
}

// send sends the next eligible probes, nearest distance first, while the window has room.
func (tr *tracer) send(ctx context.Context, now time.Time) error {
	for i := range tr.probes {
		if tr.inWindow >= tr.opts.Window {
			return nil
		}
		p := &tr.probes[i]
		if p.sent || p.skipped || p.ttl > tr.end || now.Before(p.notBefore) {
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
			p.size = tr.probeSize()
			req.Payload = req.Payload[:p.size-headerLen(tr.dst)]
		}
		if tr.opts.Paris {
			req.Payload = parisPayload(req.Payload, seq)
		}
		err := tr.e.t.Send(ctx, &req)
		if err == nil {
			tr.fits(p.size)
			break
		}
		if !tr.opts.PathMTU || !icmperrors.Is(err, icmperrors.ErrMessageSize) || !tr.tooLong(p.size) {
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

// Rate limits (see pace.go).

// maxAttempts bounds the sends of one probe.
const maxAttempts = 4

// retryAfter is how long after its first send a probe lost to the limit of a responder not
// yet known goes again. It gives a Linux router, which refills one answer a second, time for
// one; the attempt waits no longer than the probe's first send would have.
const retryAfter = time.Second

// soonAfter is how soon after a lost attempt an answer from the same distance shows that the
// responder had answers to give: that attempt was lost otherwise, not to the limit. A bucket
// that refills one answer a second gains one in 10 ms about once in a hundred times.
const soonAfter = 10 * time.Millisecond

// judgeAfter is how long an attempt waits unanswered before it may be taken as lost to a
// rate limit: longer than its place in the window, so that an answer merely slow is not taken
// for one lost. It costs nothing: the next attempt waits for the responder's next answer.
func (tr *tracer) judgeAfter() time.Duration {
	return min(tr.opts.Timeout/2, max(tr.patience(), minJudge))
}

// minJudge is the least judgeAfter.
const minJudge = 500 * time.Millisecond

// responderAt gives the responder known at distance ttl: the one that answered this trace
// there, or the one any call over the transport saw there.
func (tr *tracer) responderAt(ttl int) (netip.Addr, bool) {
	if a := tr.hop(ttl).hop.Address; a.IsValid() {
		return a, true
	}
	return tr.e.paceResponder(tr.dst, ttl)
}

// judge decides, once probe tag's current attempt has waited judgeAfter unanswered, whether
// it was lost to its responder's rate limit, and if so plans another attempt. It was when the
// path beyond works (a farther distance answered) and no attempt sent to the same distance
// just after was answered; another goes when the probe has attempts left, and its responder
// is known, or has not been asked again yet (a scout, a second after the first send).
func (tr *tracer) judge(tag int32, now time.Time) {
	p := &tr.probes[tag]
	h := tr.hop(p.ttl)
	if p.attempts >= maxAttempts || h.silent || tr.opts.FastMode && h.answered || !tr.fartherAnswered(p.ttl) {
		return
	}
	for i := (p.ttl - tr.opts.MinHops) * tr.opts.Count; i < (p.ttl-tr.opts.MinHops+1)*tr.opts.Count; i++ {
		q := &tr.probes[i]
		after := q.answerSent.After(p.sentAt) || q.answerSent.Equal(p.sentAt) && q.round > p.round
		if q != p && after && !q.answerSent.After(p.sentAt.Add(soonAfter)) {
			return // the responder answered just after: this one was lost otherwise
		}
	}
	if x, ok := tr.responderAt(p.ttl); ok {
		tr.e.paceLost(x, now, p.paced)
		p.waiting = true
		p.notBefore = now
		return
	}
	if h.scouted {
		// The distance was asked again and stayed silent: a silent router, not a limited one.
		tr.giveUp(h)
		return
	}
	at := p.firstSent.Add(retryAfter)
	if !at.Before(p.firstSent.Add(tr.opts.Timeout)) {
		return
	}
	p.waiting = true
	p.notBefore = at
}

// giveUp stops the attempts at distance h: its probes wait out their current attempt.
func (tr *tracer) giveUp(h *hopState) {
	h.silent = true
	d := h.hop.Distance - tr.opts.MinHops
	for i := d * tr.opts.Count; i < (d+1)*tr.opts.Count; i++ {
		tr.probes[i].waiting = false
	}
}

// fartherAnswered reports whether a distance beyond ttl answered.
func (tr *tracer) fartherAnswered(ttl int) bool {
	for j := ttl - tr.opts.MinHops + 1; j < len(tr.hops); j++ {
		if tr.hops[j].answered {
			return true
		}
	}
	return false
}

// resend sends the attempts that are due, while the window has room: at a limited
// responder's turn, or, for a distance whose responder is not known, one scout at a time.
func (tr *tracer) resend(ctx context.Context, now time.Time) error {
	for i := range tr.probes {
		if tr.inWindow >= tr.opts.Window {
			return nil
		}
		p := &tr.probes[i]
		if !p.waiting || p.ttl > tr.end || now.Before(p.notBefore) {
			continue
		}
		h := tr.hop(p.ttl)
		x, known := tr.responderAt(p.ttl)
		paced, scout := false, false
		if known {
			var turn bool
			if turn, paced, p.notBefore = tr.e.paceTake(x, now); !turn {
				continue
			}
		} else {
			if h.scouted {
				continue // one scout at a time; the others wait for what it learns
			}
			scout = true
		}
		if p.live {
			p.earlier = append(p.earlier, attempt{seq: p.seq, n: p.attempts - 1, sentAt: p.sentAt, deadline: p.deadline})
			p.live = false
		}
		if err := tr.sendAttempt(ctx, int32(i)); err != nil {
			return err
		}
		p.waiting = false
		p.paced, p.scout = paced, scout
		if scout {
			h.scouted = true
			// A scout waits no longer than the probe's first send would have.
			if first := p.firstSent.Add(tr.opts.Timeout); p.deadline.After(first) {
				p.deadline = first
			}
			if p.release.After(p.deadline) {
				p.release = p.deadline
			}
		}
		now = time.Now()
	}
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
	return true
}

func (tr *tracer) nextWake(now time.Time) (time.Time, bool) {
	var wake time.Time
	ok := false
	consider := func(t time.Time) {
		if !ok || t.Before(wake) {
			wake, ok = t, true
		}
	}
	for i := range tr.probes {
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
	}
	return wake, ok
}

// forget unregisters every probe still registered.
func (tr *tracer) forget() {
	for i := range tr.probes {
		tr.retire(int32(i))
	}
}

func (tr *tracer) result() *result.Trace {
	out := &result.Trace{Destination: tr.dst, Reached: tr.reached, PathMTU: tr.pmtu}
	for i := range tr.hops {
		h := &tr.hops[i]
		if h.hop.Distance > tr.end {
			break
		}
		if h.answered {
			out.Hops = append(out.Hops, tr.final(i))
		}
	}
	return out
}

// final gives hop i as reported. With PathMTU its MTU is the largest size known to have
// reached it: its own answered probes, the probes that drew a Packet Too Big from it, and any
// probe that reached a farther hop, since that one passed through it.
func (tr *tracer) final(i int) result.Hop {
	hop := tr.hops[i].hop
	if tr.opts.PathMTU {
		for j := i; j < len(tr.hops) && tr.hops[j].hop.Distance <= tr.end; j++ {
			hop.MTU = max(hop.MTU, tr.seen(j))
		}
	}
	return hop
}

// seen gives the largest probe that hop i answered, or that drew a Packet Too Big from it.
func (tr *tracer) seen(i int) int {
	h := &tr.hops[i].hop
	size := h.MTU
	for _, a := range h.Responders {
		size = max(size, tr.passed[a])
	}
	return size
}

// Path MTU discovery.

// startMTU is the size of the first probes of a path MTU discovery: Ethernet's MTU.
const startMTU = 1500

// minMTU gives the smallest MTU of dst's family (RFC 791, RFC 8200).
func minMTU(dst netip.Addr) int {
	if dst.Is6() {
		return 1280
	}
	return 68
}

// headerLen gives the bytes of IP and ICMP header in an echo request to dst.
func headerLen(dst netip.Addr) int {
	if dst.Is6() {
		return 40 + 8
	}
	return 20 + 8
}

// tooBig reports a Packet Too Big, or a Fragmentation Needed, answer.
func tooBig(r *transport.Reply) bool {
	switch r.Kind() {
	case transport.KindPacketTooBig:
		return true
	case transport.KindDestinationUnreachable:
		return !r.IsV6() && r.Code == 4
	}
	return false
}

// plateaus are RFC 1191's MTU plateaus, for routers that do not report the next-hop MTU.
var plateaus = []int{65535, 32000, 17914, 8166, 4352, 2002, 1492, 1006, 508, 296, 68}

// shrink lowers the probe size after a too-big answer to probe tag, and sends the probe again.
func (tr *tracer) shrink(tag int32, from netip.Addr, mtu int) {
	p := &tr.probes[tag]
	if mtu <= 0 || mtu >= p.size {
		// No usable MTU in the answer: step down to the next plateau.
		mtu = minMTU(tr.dst)
		for _, v := range plateaus {
			if v < p.size {
				mtu = v
				break
			}
		}
	}
	mtu = max(mtu, minMTU(tr.dst), headerLen(tr.dst))
	if mtu < tr.pmtu {
		tr.pmtu = mtu
		tr.localOK = min(tr.localOK, mtu)
	}
	tr.notePassed(from, p.size)
	tr.retire(tag)
	if p.size <= tr.pmtu {
		// Already as small as it gets: the answer stands as the hop's.
		tr.resolve(p)
		return
	}
	p.sent = false
	if p.inWindow {
		p.inWindow = false
		tr.inWindow--
	}
	tr.hop(p.ttl).hop.PacketsSent--
	p.waiting = false
}

// notePassed records that a probe of size bytes reached from, which answered it too big.
func (tr *tracer) notePassed(from netip.Addr, size int) {
	if tr.passed == nil {
		tr.passed = map[netip.Addr]int{}
	}
	tr.passed[from] = max(tr.passed[from], size)
}

// The local link's MTU is found by bisection: a size it refuses fails at once, with no packet
// sent, so each refusal narrows the range between the largest size it took (localOK) and the
// smallest it refused (pmtu+1), until they meet.

// probeSize gives the size of the next probe.
func (tr *tracer) probeSize() int {
	if tr.localOK > 0 && tr.localOK < tr.pmtu {
		return (tr.localOK + tr.pmtu + 1) / 2
	}
	return tr.pmtu
}

// fits notes that the local link took a probe of this size.
func (tr *tracer) fits(size int) {
	if tr.localOK > 0 {
		tr.localOK = max(tr.localOK, size)
	}
}

// tooLong notes that the local link refused a probe of this size, and reports whether a
// smaller one may still go.
func (tr *tracer) tooLong(size int) bool {
	floor := max(minMTU(tr.dst), headerLen(tr.dst))
	if size <= floor {
		return false
	}
	tr.pmtu = min(tr.pmtu, size-1)
	if tr.localOK == 0 || tr.localOK > tr.pmtu {
		tr.localOK = floor
	}
	return true
}
