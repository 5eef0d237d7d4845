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
// replies, expires requests, and hands each host on when it completes.
type run struct {
	e    *engine
	cfg  runConfig
	slot uint32 // the run's slot in the engine

	mailbox

	hosts       []hostState
	freeHosts   []int32
	probes      []probeState
	freeProbes  []int32
	expiry      ring    // probes in send order, to expire them in deadline order
	due         dueHeap // hosts waiting for the time of their next request
	ready       fifo    // hosts whose next request may go now
	batch       []transport.Request
	batchProbe  []int32
	regs        []registration
	unreg       []key // retired requests, unregistered in one go before the run waits
	polls       pollBuffers
	polledFirst bool // the replies to the first sends were polled for

	// results, when set, holds the Host of every input index (non-streaming Multiping);
	// rtts is a slab the Hosts' RTTs start in.
	results []result.Host
	rtts    []time.Duration
	// hostBlock and rttBlock are where a streaming run takes the Hosts it hands on, and their
	// first RTTs: allocated hostBlockSize Hosts at a time, not one by one.
	hostBlock []result.Host
	rttBlock  []time.Duration

	anySource bool // a Ping over a transport with broadcast on: replies match from any source
	stopped   bool // the consumer wants no more hosts
	active    int  // hosts in progress
	started   int64
	completed int
	sentTotal int64
	rateStart time.Time

	emit    func(index int64, h *result.Host) bool // false stops the run
	yielded int64                                  // in ordered streaming, the hosts handed on
}

type hostState struct {
	index int64
	addr  netip.Addr
	id    int
	res   *result.Host
	sent  int       // requests sent
	open  int       // requests sent and neither answered nor expired
	first time.Time // when the first request went, the base of the cadence
	head  int32     // first of its registered requests, a list through probeState.next; -1 none
}

type probeState struct {
	host     int32
	gen      uint32
	n        int // the request's number within its host
	seq      int
	deadline time.Time
	sentAt   time.Time
	live     bool // registered; replies are matched
	answered bool // an echo reply or ICMP error came in time
	prev     int32
	next     int32
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

func newRun(e *engine, cfg runConfig) *run {
	r := &run{e: e, cfg: cfg, mailbox: newMailbox()}
	r.compact = cfg.onOutcome == nil
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

// hostBlockSize is how many Hosts a streaming run allocates at once. A block stays in memory
// while any of its Hosts is referenced.
const hostBlockSize = 64

// admitChunk is the most hosts admitted between two rounds of matching and sending.
const admitChunk = 4 * sendBatch

// loop runs until every target has completed, or ctx ends, or the transport fails. next
// gives the next target; ok=false when there are no more. hint is how many targets there
// are, when known (else 0).
func (r *run) loop(ctx context.Context, next func() (netip.Addr, bool), hint int) error {
	var timer *time.Timer // made when the run first waits for a time
	defer func() {
		if timer != nil {
			timer.Stop()
		}
	}()
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
	more := true
	room := func() bool {
		return more && !r.stopped && r.active < r.cfg.window &&
			(!r.cfg.ordered || r.started-r.yielded < int64(r.cfg.reorder))
	}
	r.rateStart = time.Now()
	for {
		// Admit new hosts while there is room, a chunk at a time so that sending starts at
		// once and replies are matched as they come.
		for admitted := 0; admitted < admitChunk && room(); admitted++ {
			addr, ok := next()
			if !ok {
				more = false
				break
			}
			r.admit(addr)
		}
		r.takeArrivals()
		now := time.Now()
		r.expire(now)
		r.promote(now)
		if err := r.send(ctx, now); err != nil {
			return err
		}
		if r.stopped || (r.active == 0 && !more) {
			return nil
		}
		r.flush()
		if r.active > 0 && !r.e.listening.Load() {
			// Requests are out and nobody reads the transport yet. The replies that came during
			// the sends are taken once (a ping on loopback may be done with that); whatever is
			// still outstanding then has the engine's reader started, so that replies are
			// taken as they come while the run goes on sending.
			if !r.polledFirst {
				r.polledFirst = true
				if r.polls.poll(r.e) {
					continue
				}
			}
			r.e.listen()
		}
		if room() {
			continue // hosts completed while sending: admit more first
		}
		if r.active > 0 && r.polls.poll(r.e) {
			continue // replies that came while the run was busy: take them before waiting
		}
		if wait := r.cfg.onWait; wait != nil {
			r.cfg.onWait = nil
			wait()
		}
		if r.cfg.onIdle != nil {
			r.cfg.onIdle()
		}
		var fire <-chan time.Time // nil: no time to wake at
		if wake, ok := r.nextWake(time.Now()); ok {
			if timer == nil {
				timer = time.NewTimer(time.Until(wake))
			} else {
				timer.Reset(time.Until(wake))
			}
			fire = timer.C
		}
		select {
		case <-r.notify:
		case <-fire:
		case <-ctx.Done():
			r.takeArrivals()
			return ctx.Err()
		case <-r.e.dead:
			r.takeArrivals()
			return r.e.failure()
		}
	}
}

// matchAddr gives the destination a host's requests register under: the invalid address,
// which matches replies from any source, when the run takes broadcast answers.
func (r *run) matchAddr(h *hostState) netip.Addr {
	if r.anySource {
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
	var slot int32
	if n := len(r.freeHosts); n > 0 {
		slot = r.freeHosts[n-1]
		r.freeHosts = r.freeHosts[:n-1]
	} else {
		r.hosts = append(r.hosts, hostState{})
		slot = int32(len(r.hosts) - 1)
	}
	var res *result.Host
	switch {
	case r.results != nil:
		res = &r.results[r.started]
	case r.cfg.single:
		res = new(result.Host)
	default:
		if len(r.hostBlock) == 0 {
			r.hostBlock = make([]result.Host, hostBlockSize)
		}
		res, r.hostBlock = &r.hostBlock[0], r.hostBlock[1:]
	}
	*res = result.Host{Address: addr}
	if !r.cfg.dropRTTs {
		k := min(r.cfg.count, 64)
		switch {
		case r.rtts != nil:
			i := int(r.started) * k
			res.RTTs = r.rtts[i : i : i+k]
		case r.cfg.single:
			res.RTTs = make([]time.Duration, 0, k)
		default:
			if len(r.rttBlock) < k {
				r.rttBlock = make([]time.Duration, hostBlockSize*k)
			}
			res.RTTs, r.rttBlock = r.rttBlock[:0:k], r.rttBlock[k:]
		}
	}
	r.hosts[slot] = hostState{index: r.started, addr: addr, id: r.e.identifier(addr, r.cfg.id), res: res, head: -1}
	r.started++
	r.active++
	r.ready.push(slot)
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
	if int(tag) >= len(r.probes) {
		return
	}
	p := &r.probes[tag]
	if p.gen != gen || !p.live {
		return
	}
	h := &r.hosts[p.host]
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
		h := &r.hosts[p.host]
		r.cfg.onOutcome(Outcome{Seq: p.n, Destination: h.addr, Reply: *rep, RTT: rtt, Duplicate: dup, Index: h.index, Host: h.res})
	}
}

// expire retires the requests whose deadline has passed, in send order.
func (r *run) expire(now time.Time) {
	for r.expiry.len() > 0 {
		tag, gen := r.expiry.front()
		p := &r.probes[tag]
		if p.gen != gen || !p.live {
			r.expiry.pop()
			continue
		}
		if p.deadline.After(now) {
			return
		}
		r.expiry.pop()
		host, answered := p.host, p.answered
		if !answered && r.cfg.onOutcome != nil {
			h := &r.hosts[host]
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
	p := &r.probes[tag]
	if !p.live {
		return
	}
	h := &r.hosts[p.host]
	r.unreg = append(r.unreg, makeKey(r.matchAddr(h), uint16(h.id), uint16(p.seq)))
	r.unlink(tag)
	p.live = false
	p.gen++
	r.freeProbes = append(r.freeProbes, tag)
}

// unlink takes a request off its host's list.
func (r *run) unlink(tag int32) {
	p := &r.probes[tag]
	h := &r.hosts[p.host]
	if p.prev >= 0 {
		r.probes[p.prev].next = p.next
	} else {
		h.head = p.next
	}
	if p.next >= 0 {
		r.probes[p.next].prev = p.prev
	}
}

// resolved notes that one of a host's requests was answered or expired: the host completes
// after its last, and in ping-pong mode its next request may go.
func (r *run) resolved(hs int32) {
	h := &r.hosts[hs]
	h.open--
	switch {
	case h.sent < r.cfg.count:
		if r.cfg.interval < 0 {
			r.ready.push(hs)
		}
	case h.open == 0:
		r.complete(hs)
	}
}

func (r *run) complete(hs int32) {
	h := &r.hosts[hs]
	for h.head >= 0 {
		r.retire(h.head)
	}
	index, res := h.index, h.res
	*h = hostState{head: -1}
	r.freeHosts = append(r.freeHosts, hs)
	r.active--
	r.completed++
	if !r.stopped && !r.emit(index, res) {
		r.stopped = true
	}
	if r.cfg.onProgress != nil {
		r.cfg.onProgress(r.completed)
	}
}

// promote moves hosts whose next request is due to the ready list.
func (r *run) promote(now time.Time) {
	for r.due.len() > 0 && !r.due.min().after(now) {
		r.ready.push(r.due.pop().host)
	}
}

// send sends what is ready, in batches, within the rate limit.
func (r *run) send(ctx context.Context, now time.Time) error {
	r.ready.reset()
	for r.ready.len() > 0 {
		n := min(r.ready.len(), sendBatch)
		if r.cfg.rate > 0 {
			allowed := int64(now.Sub(r.rateStart).Seconds()*r.cfg.rate) + 1 - r.sentTotal
			if allowed <= 0 {
				break
			}
			n = int(min(int64(n), allowed))
		}
		// sendSome may put hosts back on the ready list, behind this batch.
		if err := r.sendSome(ctx, r.ready.take(n)); err != nil {
			return err
		}
		now = time.Now()
	}
	r.ready.reset()
	return nil
}

func (r *run) sendSome(ctx context.Context, hosts []int32) error {
	r.batch = r.batch[:0]
	r.batchProbe = r.batchProbe[:0]
	r.regs = r.regs[:0]
	for _, hs := range hosts {
		h := &r.hosts[hs]
		tag := r.newProbe(hs)
		r.regs = append(r.regs, registration{dst: r.matchAddr(h), id: uint16(h.id), tag: tag, gen: r.probes[tag].gen})
	}
	registered, err := r.e.registerBatch(r.slot, r.regs)
	for i, reg := range r.regs {
		p := &r.probes[reg.tag]
		if i >= registered || err != nil {
			// Not registered, or not to be sent: give back the slot (and the sequence).
			if i < registered {
				h := &r.hosts[p.host]
				r.unreg = append(r.unreg, makeKey(r.matchAddr(h), uint16(h.id), reg.seq))
			}
			p.live = false
			p.gen++
			r.freeProbes = append(r.freeProbes, reg.tag)
			continue
		}
		h := &r.hosts[p.host]
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
		p := &r.probes[tag]
		h := &r.hosts[p.host]
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
		r.expiry.push(tag, p.gen)
		p.n = h.sent
		if h.sent == 0 {
			h.first = p.sentAt
		}
		h.sent++
		h.open++
		h.res.PacketsSent++
		r.sentTotal++
		if h.sent < r.cfg.count && r.cfg.interval >= 0 {
			r.due.push(dueEntry{at: h.first.Add(time.Duration(h.sent) * r.cfg.interval), host: p.host})
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
	// The request at index sent failed for its own destination: count it as sent and lost,
	// and go on with the rest of the batch.
	failed := r.batch[sent].Destination
	for _, hs := range hosts[sent:] {
		h := &r.hosts[hs]
		if h.addr == failed && h.sent < r.cfg.count {
			if h.sent == 0 {
				h.first = time.Now()
			}
			h.sent++
			h.res.PacketsSent++
			r.sentTotal++
			switch {
			case h.sent < r.cfg.count && r.cfg.interval >= 0:
				r.due.push(dueEntry{at: h.first.Add(time.Duration(h.sent) * r.cfg.interval), host: hs})
			case h.sent < r.cfg.count:
				r.ready.push(hs)
			case h.open == 0:
				r.complete(hs)
			}
			continue
		}
		r.ready.push(hs)
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

func (r *run) newProbe(hs int32) int32 {
	var tag int32
	if n := len(r.freeProbes); n > 0 {
		tag = r.freeProbes[n-1]
		r.freeProbes = r.freeProbes[:n-1]
	} else {
		r.probes = append(r.probes, probeState{})
		tag = int32(len(r.probes) - 1)
	}
	p := &r.probes[tag]
	*p = probeState{host: hs, gen: p.gen + 1, live: true, prev: -1, next: -1}
	return tag
}

// link puts a registered request on its host's list.
func (r *run) link(hs, tag int32) {
	h := &r.hosts[hs]
	p := &r.probes[tag]
	p.next = h.head
	if h.head >= 0 {
		r.probes[h.head].prev = tag
	}
	h.head = tag
}

func (r *run) nextWake(now time.Time) (time.Time, bool) {
	var wake time.Time
	ok := false
	consider := func(t time.Time) {
		if !ok || t.Before(wake) {
			wake, ok = t, true
		}
	}
	if r.expiry.len() > 0 {
		tag, _ := r.expiry.front()
		consider(r.probes[tag].deadline)
	}
	if r.due.len() > 0 {
		consider(r.due.min().at)
	}
	if r.ready.len() > 0 && r.cfg.rate > 0 {
		// The next request is due at its place in the cadence; at high rates the run wakes
		// once a rateTick and sends the few then due together.
		at := r.rateStart.Add(time.Duration(float64(r.sentTotal) / r.cfg.rate * float64(time.Second)))
		if tick := now.Add(rateTick); at.Before(tick) {
			at = tick
		}
		consider(at)
	}
	return wake, ok
}

// abandon hands on the hosts in progress with what they have when the run ends early; their
// requests are unregistered by the flush that follows.
func (r *run) abandon() {
	for hs := range r.hosts {
		if r.hosts[hs].res != nil {
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
