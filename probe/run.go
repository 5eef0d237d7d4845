package probe

import (
	"context"
	"net/netip"
	"slices"
	"sync"
	"time"

	icmperrors "github.com/icmpkit/icmpkit/errors"
	"github.com/icmpkit/icmpkit/result"
	"github.com/icmpkit/icmpkit/transport"
)

// runConfig is what a run needs, with defaults applied and values checked.
type runConfig struct {
	count        int
	interval     time.Duration // < 0: next request when the previous one is resolved
	timeout      time.Duration
	id           int
	payload      []byte
	ttl          int
	trafficClass int
	rate         float64
	window       int
	reorder      int
	dropRTTs     bool
	ordered      bool // emit hosts in input order
	single       bool // a Ping: any send error ends the run
	onOutcome    func(Outcome)
	onWait       func() // called before the run first waits
	onIdle       func() // called before the run waits, each time
	onSend       func(n int, sentAt time.Time)
	onProgress   func(int)
}

// A run drives echo requests to a stream of hosts over one engine: Ping is a run with one host,
// Multiping a run with many. It keeps a window of hosts in progress, paces sends, matches
// replies, expires requests, and hands each host on when it completes. Its parts: the arena
// of hosts in progress and their requests, the scheduler of sends, the allocation of the
// Hosts it hands on; drive runs its loop.
type run struct {
	e    *engine
	cfg  runConfig
	slot uint32 // the run's slot in the engine

	mailbox
	arena
	sched scheduler
	alloc hostAlloc

	batch      []transport.Request
	batchProbe []int32
	regs       []registration
	unreg      []key // retired requests, unregistered in one go before the run waits

	next      func() (netip.Addr, bool) // the next target; false when there are none left
	more      bool                      // next may give more targets
	anySource bool                      // a Ping over a transport with broadcast on: replies match from any source
	stopped   bool                      // the consumer wants no more hosts
	active    int                       // hosts in progress
	started   int64
	completed int

	sendFailed   int64 // requests that could not be sent, for their own destination
	firstSendErr error // the first of those failures

	emit    func(index int64, h *result.Host) bool // false stops the run
	yielded int64                                  // in ordered streaming, the hosts handed on
}

// arrival is a reply delivered whole, for callers that see every reply (OnReply, traces).
type arrival struct {
	tag   int32
	gen   uint32
	reply transport.Reply
}

// note is a reply reduced to what matching and statistics need.
type note struct {
	tag  int32
	gen  uint32
	at   time.Time // receive time
	kind transport.Kind
}

func newRun(e *engine, cfg runConfig, alloc hostAlloc) *run {
	r := &run{e: e, cfg: cfg, mailbox: newMailbox(), alloc: alloc}
	r.compact = cfg.onOutcome == nil
	r.sched.rate = cfg.rate
	return r
}

// A mailbox is where the engine's reader leaves the replies of one call: it never blocks the
// reader, and wakes the call. A compact mailbox keeps notes, else whole arrivals.
type mailbox struct {
	mu           sync.Mutex
	compact      bool
	inbox        []arrival
	drained      []arrival
	notes        []note
	drainedNotes []note
	notify       chan struct{}
}

func newMailbox() mailbox { return mailbox{notify: make(chan struct{}, 1)} }

func (m *mailbox) deliver(routes []route, replies []transport.Reply) {
	var now time.Time
	m.mu.Lock()
	for i := range routes {
		rt := &routes[i]
		if rt.sink == nil {
			continue
		}
		rep := &replies[i]
		at := rep.ReceivedAt
		if at.IsZero() {
			if now.IsZero() {
				now = time.Now()
			}
			at = now
		}
		if m.compact {
			m.notes = append(m.notes, note{tag: rt.tag, gen: rt.gen, at: at, kind: rep.Kind()})
			continue
		}
		m.inbox = append(m.inbox, arrival{tag: rt.tag, gen: rt.gen, reply: *rep})
		a := &m.inbox[len(m.inbox)-1]
		a.reply.ReceivedAt = at
		if len(rep.MPLS) > 0 {
			a.reply.MPLS = slices.Clone(rep.MPLS)
		}
	}
	m.mu.Unlock()
	select {
	case m.notify <- struct{}{}:
	default:
	}
}

// take hands each delivered whole reply to f, in arrival order.
func (m *mailbox) take(f func(*arrival)) {
	m.mu.Lock()
	m.drained, m.inbox = m.inbox, m.drained[:0]
	m.mu.Unlock()
	for i := range m.drained {
		f(&m.drained[i])
		m.drained[i] = arrival{}
	}
	m.drained = m.drained[:0]
}

// takeNotes hands each delivered note to f, in arrival order.
func (m *mailbox) takeNotes(f func(*note)) {
	m.mu.Lock()
	m.drainedNotes, m.notes = m.notes, m.drainedNotes[:0]
	m.mu.Unlock()
	for i := range m.drainedNotes {
		f(&m.drainedNotes[i])
	}
	m.drainedNotes = m.drainedNotes[:0]
}

// sendBatch is the most requests handed to the transport at once.
const sendBatch = 256

// rateTick is the shortest sleep between paced sends: above 1/rateTick requests a second,
// requests go in small bursts, at the rate asked for on average.
const rateTick = 250 * time.Microsecond

// admitChunk is the most hosts admitted between two rounds of matching and sending.
const admitChunk = 4 * sendBatch

// loop runs until every target has completed, or ctx ends, or the transport fails. next
// gives the next target; ok=false when there are no more. hint is how many targets there
// are, when known (else 0).
func (r *run) loop(ctx context.Context, next func() (netip.Addr, bool), hint int) error {
	// Requests in flight at once, at most: hosts in progress times the requests each may
	// have open, for sizing the engine's table (which caps it).
	inFlight := min(r.cfg.window, maxPresize)
	if hint > 0 {
		inFlight = min(inFlight, hint)
	}
	if r.cfg.interval >= 0 {
		open := min(int64(r.cfg.count), int64(r.cfg.timeout/max(r.cfg.interval, time.Nanosecond))+1)
		inFlight = int(min(int64(inFlight)*max(open, 1), maxPresize))
	}
	if b, ok := r.e.t.(transport.Broadcaster); ok && r.cfg.single && b.Broadcast() {
		// The destination may be a broadcast address, answered by hosts other than itself.
		r.anySource = true
	}
	r.slot = r.e.attach(r, inFlight)
	defer func() {
		r.flush()
		r.e.detach(r.slot)
	}()
	defer r.abandon()
	r.next, r.more = next, true
	r.sched.start = time.Now()
	if err := drive(ctx, r.e, &r.mailbox, r); err != nil {
		return err
	}
	if r.sendFailed > 0 && r.sendFailed == r.sched.sent {
		return r.firstSendErr // nothing could be sent at all
	}
	return nil
}

// room reports whether another host may start.
func (r *run) room() bool {
	return r.more && !r.stopped && r.active < r.cfg.window &&
		(!r.cfg.ordered || r.started-r.yielded < int64(r.cfg.reorder))
}

// step admits new hosts while there is room, a chunk at a time so that sending starts at once
// and replies are matched as they come, then expires, sends and hands on what is due.
func (r *run) step(ctx context.Context) (done, again bool, err error) {
	for admitted := 0; admitted < admitChunk && r.room(); admitted++ {
		addr, ok := r.next()
		if !ok {
			r.more = false
			break
		}
		r.admit(addr)
	}
	r.takeArrivals()
	now := time.Now()
	r.expire(now)
	r.sched.promote(now)
	if err := r.send(ctx, now); err != nil {
		return false, false, err
	}
	if r.stopped || (r.active == 0 && !r.more) {
		return true, false, nil
	}
	r.flush()
	// Hosts completed while sending: admit more before waiting.
	return false, r.room(), nil
}

func (r *run) expecting() bool { return r.active > 0 }

func (r *run) idle() {
	if wait := r.cfg.onWait; wait != nil {
		r.cfg.onWait = nil
		wait()
	}
	if r.cfg.onIdle != nil {
		r.cfg.onIdle()
	}
}

// matchAddr gives the destination a host's requests register under: the invalid address,
// which matches replies from any source, when the run takes broadcast answers, and for the
// unspecified address (0.0.0.0, ::), which the system delivers to a local address that
// answers from itself.
func (r *run) matchAddr(h *hostState) netip.Addr {
	if r.anySource || h.addr.IsUnspecified() {
		return netip.Addr{}
	}
	return h.addr
}

// flush unregisters the requests retired since the last flush.
func (r *run) flush() {
	r.e.unregisterBatch(r.unreg)
	r.unreg = r.unreg[:0]
}

func (r *run) admit(addr netip.Addr) {
	addr = addr.Unmap()
	res := r.alloc.take(r.started, addr)
	hs := r.addHost(hostState{index: r.started, addr: addr, id: r.e.identifier(addr, r.cfg.id), res: res})
	r.started++
	r.active++
	r.sched.ready.push(hs)
}

// takeArrivals matches the replies the reader delivered.
func (r *run) takeArrivals() {
	if r.compact {
		r.takeNotes(r.arriveNote)
	} else {
		r.take(r.arriveWhole)
	}
}

func (r *run) arriveNote(n *note) { r.arrive(n.tag, n.gen, n.at, n.kind, nil) }

func (r *run) arriveWhole(a *arrival) {
	r.arrive(a.tag, a.gen, a.reply.ReceivedAt, a.reply.Kind(), &a.reply)
}

// arrive matches one reply, received at the given time, of the given kind; rep is the whole
// reply when the run reports outcomes.
func (r *run) arrive(tag int32, gen uint32, at time.Time, kind transport.Kind, rep *transport.Reply) {
	p := r.matches(tag, gen)
	if p == nil {
		return
	}
	h := r.host(p.host)
	rtt := max(at.Sub(p.sentAt), 0)
	if rtt > r.cfg.timeout {
		return // late: the request counts as lost
	}
	if kind == transport.KindEchoReply {
		if p.answered {
			h.res.Duplicates++
			r.outcome(p, rep, rtt, true)
			return
		}
		p.answered = true
		if r.cfg.dropRTTs {
			h.res.Stats.Add(rtt)
		} else {
			h.res.Add(rtt)
		}
	} else {
		if p.answered {
			return
		}
		p.answered = true
		h.res.Errors++
	}
	r.outcome(p, rep, rtt, false)
	// In cadence mode an answered request stays registered until its deadline, to count
	// duplicates; in ping-pong mode its host goes on at once.
	host := p.host
	if r.cfg.interval < 0 {
		r.retire(tag)
	}
	r.resolved(host)
}

func (r *run) outcome(p *probeState, rep *transport.Reply, rtt time.Duration, dup bool) {
	if r.cfg.onOutcome != nil && rep != nil {
		h := r.host(p.host)
		r.cfg.onOutcome(Outcome{Seq: p.n, Destination: h.addr, Reply: *rep, RTT: rtt, Duplicate: dup, Index: h.index, Host: h.res})
	}
}

// expire retires the requests whose deadline has passed, in send order.
func (r *run) expire(now time.Time) {
	q := &r.sched.expiry
	for q.len() > 0 {
		tag, gen := q.front()
		p := r.matches(tag, gen)
		if p == nil {
			q.pop()
			continue
		}
		if p.deadline.After(now) {
			return
		}
		q.pop()
		host, answered := p.host, p.answered
		if !answered && r.cfg.onOutcome != nil {
			h := r.host(host)
			r.cfg.onOutcome(Outcome{Seq: p.n, Destination: h.addr, TimedOut: true, Index: h.index, Host: h.res})
		}
		r.retire(tag)
		if !answered {
			r.resolved(host)
		}
	}
}

// retire frees a request's slot; its registration goes at the next flush.
func (r *run) retire(tag int32) {
	p := r.probe(tag)
	if !p.live {
		return
	}
	h := r.host(p.host)
	r.unreg = append(r.unreg, makeKey(r.matchAddr(h), uint16(h.id), uint16(p.seq)))
	r.unlink(tag)
	r.freeProbe(tag)
}

// resolved notes that one of a host's requests was answered or expired: the host completes
// after its last, and in ping-pong mode its next request may go.
func (r *run) resolved(hs int32) {
	h := r.host(hs)
	h.open--
	switch {
	case h.sent < r.cfg.count:
		if r.cfg.interval < 0 {
			r.sched.ready.push(hs)
		}
	case h.open == 0:
		r.complete(hs)
	}
}

func (r *run) complete(hs int32) {
	h := r.host(hs)
	for h.head >= 0 {
		r.retire(h.head)
	}
	index, res := h.index, h.res
	r.removeHost(hs)
	r.active--
	r.completed++
	if !r.stopped && !r.emit(index, res) {
		r.stopped = true
	}
	if r.cfg.onProgress != nil {
		r.cfg.onProgress(r.completed)
	}
}

// send sends what is ready, in batches, within the rate limit.
func (r *run) send(ctx context.Context, now time.Time) error {
	ready := &r.sched.ready
	ready.reset()
	for ready.len() > 0 {
		n := r.sched.allowed(now, min(ready.len(), sendBatch))
		if n == 0 {
			break
		}
		// sendSome may put hosts back on the ready queue, behind this batch.
		if err := r.sendSome(ctx, ready.take(n)); err != nil {
			return err
		}
		now = time.Now()
	}
	ready.reset()
	return nil
}

func (r *run) sendSome(ctx context.Context, hosts []int32) error {
	r.batch = r.batch[:0]
	r.batchProbe = r.batchProbe[:0]
	r.regs = r.regs[:0]
	for _, hs := range hosts {
		h := r.host(hs)
		tag := r.newProbe(hs)
		r.regs = append(r.regs, registration{dst: r.matchAddr(h), id: uint16(h.id), tag: tag, gen: r.probe(tag).gen})
	}
	registered, err := r.e.registerBatch(r.slot, r.regs)
	for i, reg := range r.regs {
		p := r.probe(reg.tag)
		if i >= registered || err != nil {
			// Not registered, or not to be sent: give back the slot (and the sequence).
			if i < registered {
				h := r.host(p.host)
				r.unreg = append(r.unreg, makeKey(r.matchAddr(h), uint16(h.id), reg.seq))
			}
			r.freeProbe(reg.tag)
			continue
		}
		h := r.host(p.host)
		p.seq = int(reg.seq)
		r.link(p.host, reg.tag)
		r.batch = append(r.batch, transport.Request{
			Destination:  h.addr,
			ID:           h.id,
			Seq:          p.seq,
			Payload:      r.cfg.payload,
			TTL:          r.cfg.ttl,
			TrafficClass: r.cfg.trafficClass,
		})
		r.batchProbe = append(r.batchProbe, reg.tag)
	}
	if err != nil {
		return err
	}
	sent, err := r.transmit(ctx)
	now := time.Now()
	deadline := now.Add(r.cfg.timeout)
	for i, tag := range r.batchProbe {
		p := r.probe(tag)
		h := r.host(p.host)
		if i >= sent {
			// Not sent: give back the sequence and the slot.
			r.retire(tag)
			continue
		}
		req := &r.batch[i]
		if req.SentAt.IsZero() {
			req.SentAt = now
		}
		p.sentAt = req.SentAt
		p.deadline = deadline
		r.sched.expiry.push(tag, p.gen)
		p.n = h.sent
		if h.sent == 0 {
			h.first = p.sentAt
		}
		h.sent++
		h.open++
		h.res.PacketsSent++
		r.sched.sent++
		if h.sent < r.cfg.count && r.cfg.interval >= 0 {
			r.sched.due.push(dueEntry{at: h.first.Add(time.Duration(h.sent) * r.cfg.interval), host: p.host})
		}
		if r.cfg.onSend != nil {
			r.cfg.onSend(p.n, p.sentAt)
		}
	}
	if err == nil {
		return nil
	}
	if r.cfg.single || fatalSendError(ctx, err) {
		return err
	}
	// The request at index sent failed for its own destination: count it as sent, lost and
	// failed, and go on with the rest of the batch.
	failed := r.batch[sent].Destination
	if r.firstSendErr == nil {
		r.firstSendErr = err
	}
	for _, hs := range hosts[sent:] {
		h := r.host(hs)
		if h.addr == failed && h.sent < r.cfg.count {
			if h.sent == 0 {
				h.first = time.Now()
			}
			n := h.sent
			h.sent++
			h.res.PacketsSent++
			h.res.SendErrors++
			r.sched.sent++
			r.sendFailed++
			if r.cfg.onOutcome != nil {
				r.cfg.onOutcome(Outcome{Seq: n, Destination: h.addr, SendError: err, Index: h.index, Host: h.res})
			}
			switch {
			case h.sent < r.cfg.count && r.cfg.interval >= 0:
				r.sched.due.push(dueEntry{at: h.first.Add(time.Duration(h.sent) * r.cfg.interval), host: hs})
			case h.sent < r.cfg.count:
				r.sched.ready.push(hs)
			case h.open == 0:
				r.complete(hs)
			}
			continue
		}
		r.sched.ready.push(hs)
	}
	return nil
}

func (r *run) transmit(ctx context.Context) (int, error) {
	if bs, ok := r.e.t.(transport.BatchSender); ok && len(r.batch) > 1 {
		return bs.SendBatch(ctx, r.batch)
	}
	for i := range r.batch {
		if err := r.e.t.Send(ctx, &r.batch[i]); err != nil {
			return i, err
		}
	}
	return len(r.batch), nil
}

// fatalSendError tells a failure of the whole run from one destination's trouble.
func fatalSendError(ctx context.Context, err error) bool {
	return ctx.Err() != nil ||
		icmperrors.Is(err, icmperrors.ErrUnavailable) ||
		icmperrors.Is(err, icmperrors.ErrPermission) ||
		icmperrors.Is(err, icmperrors.ErrInvalidArgument) ||
		icmperrors.Is(err, context.Canceled) ||
		icmperrors.Is(err, context.DeadlineExceeded)
}

func (r *run) nextWake(now time.Time) (time.Time, bool) {
	var expiry time.Time
	q := &r.sched.expiry
	if q.len() > 0 {
		tag, _ := q.front()
		expiry = r.probe(tag).deadline
	}
	return r.sched.nextWake(now, expiry, q.len() > 0)
}

// abandon hands on the hosts in progress with what they have when the run ends early; their
// requests are unregistered by the flush that follows.
func (r *run) abandon() {
	for hs := range r.hosts.len() {
		if r.inProgress(int32(hs)) {
			r.complete(int32(hs))
		}
	}
}

// sliceTargets iterates over a slice.
func sliceTargets(targets []netip.Addr) func() (netip.Addr, bool) {
	i := 0
	return func() (netip.Addr, bool) {
		if i >= len(targets) {
			return netip.Addr{}, false
		}
		i++
		return targets[i-1], true
	}
}
