package probe

import (
	"context"
	"net/netip"
	"time"
)

// Resends. Routers limit the ICMP errors they send; a probe taken as lost to such a limit is
// sent again when the responder can answer (see pace.go and Traceroute). Each send is an
// attempt; the probe is answered by the first answer to any of them.

// resends is a probe's state of attempts.
type resends struct {
	attempts   int       // sends so far
	earlier    []attempt // earlier attempts, still registered: a late answer still counts
	waiting    bool      // the current attempt is taken as lost to a rate limit: another is due
	notBefore  time.Time // the next attempt goes no sooner (a scout, or a limited responder's turn)
	paced      bool      // the current attempt took its turn at a limited responder
	scout      bool      // the current attempt asks a distance whose responder is not known
	firstSent  time.Time // the first attempt's
	answerSent time.Time // when the attempt that was answered went out; zero until answered
}

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
	for i := range tr.at(p.ttl) {
		q := &tr.at(p.ttl)[i]
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
	for i := range tr.at(h.hop.Distance) {
		tr.at(h.hop.Distance)[i].waiting = false
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
	for i := range tr.upToEnd() {
		if tr.inWindow >= tr.opts.Window {
			return nil
		}
		p := &tr.probes[i]
		if !p.waiting || now.Before(p.notBefore) {
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

// attempt is an earlier send of a probe.
type attempt struct {
	seq      int
	n        int // its number among the probe's attempts, from 0
	sentAt   time.Time
	deadline time.Time
}
