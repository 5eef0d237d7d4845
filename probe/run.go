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
	onProgress   func(int)
}

// A run drives echo requests to a stream of hosts over one engine: Ping is a run with one host,
// Multiping a run with many. It keeps a window of hosts in progress, paces sends, matches
// replies, expires requests, and hands each host on when it completes.
type run struct {
	e   *engine
	cfg runConfig

	mailbox

	hosts      []hostState
	freeHosts  []int32
	probes     []probeState
	freeProbes []int32
	expiry     ring    // probes in send order, to expire them in deadline order
	due        dueHeap // hosts waiting for the time of their next request
	ready      []int32 // hosts whose next request may go now
	batch      []transport.Request
	batchProbe []int32

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

type arrival struct {
	tag   int32
	gen   uint32
	reply transport.Reply
}

func newRun(e *engine, cfg runConfig) *run {
	return &run{e: e, cfg: cfg, mailbox: newMailbox()}
}

// A mailbox is where the engine's reader leaves the replies of one call: it never blocks the
// reader, and wakes the call.
type mailbox struct {
	mu      sync.Mutex
	inbox   []arrival
	drained []arrival
	notify  chan struct{}
}

func newMailbox() mailbox { return mailbox{notify: make(chan struct{}, 1)} }

func (m *mailbox) deliver(tag int32, gen uint32, rep *transport.Reply) {
	a := arrival{tag: tag, gen: gen, reply: *rep}
	if len(rep.MPLS) > 0 {
		a.reply.MPLS = slices.Clone(rep.MPLS)
	}
	if a.reply.ReceivedAt.IsZero() {
		a.reply.ReceivedAt = time.Now()
	}
	m.mu.Lock()
	m.inbox = append(m.inbox, a)
	m.mu.Unlock()
	select {
	case m.notify <- struct{}{}:
	default:
	}
}

// take hands each delivered reply to f, in arrival order.
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

const sendBatch = 64

// loop runs until every target has completed, or ctx ends, or the transport fails. next
// gives the next target; ok=false when there are no more.
func (r *run) loop(ctx context.Context, next func() (netip.Addr, bool)) error {
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	defer r.abandon()
	more := true
	room := func() bool {
		return more && !r.stopped && r.active < r.cfg.window &&
			(!r.cfg.ordered || r.started-r.yielded < int64(r.cfg.reorder))
	}
	r.rateStart = time.Now()
	for {
		// Admit new hosts while there is room.
		for room() {
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
		if room() {
			continue // hosts completed while sending: admit more first
		}
		wake, ok := r.nextWake()
		if ok {
			timer.Reset(time.Until(wake))
		} else {
			timer.Stop()
		}
		select {
		case <-r.notify:
		case <-timer.C:
		case <-ctx.Done():
			r.takeArrivals()
			return ctx.Err()
		case <-r.e.dead:
			r.takeArrivals()
			return r.e.failure()
		}
	}
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
	res := &result.Host{Address: addr}
	if !r.cfg.dropRTTs {
		res.RTTs = make([]time.Duration, 0, min(r.cfg.count, 64))
	}
	r.hosts[slot] = hostState{index: r.started, addr: addr, id: r.e.identifier(addr, r.cfg.id), res: res, head: -1}
	r.started++
	r.active++
	r.ready = append(r.ready, slot)
}

// takeArrivals matches the replies the reader delivered.
func (r *run) takeArrivals() { r.take(r.arrive) }

func (r *run) arrive(a *arrival) {
	if int(a.tag) >= len(r.probes) {
		return
	}
	p := &r.probes[a.tag]
	if p.gen != a.gen || !p.live {
		return
	}
	h := &r.hosts[p.host]
	rep := &a.reply
	rtt := max(rep.ReceivedAt.Sub(p.sentAt), 0)
	if rtt > r.cfg.timeout {
		return // late: the request counts as lost
	}
	out := Outcome{Seq: p.n, Destination: h.addr, Reply: *rep, RTT: rtt}
	if rep.Kind() == transport.KindEchoReply {
		if p.answered {
			h.res.Duplicates++
			out.Duplicate = true
			r.outcome(out)
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
	r.outcome(out)
	// In cadence mode an answered request stays registered until its deadline, to count
	// duplicates; in ping-pong mode its host goes on at once.
	host := p.host
	if r.cfg.interval < 0 {
		r.retire(a.tag)
	}
	r.resolved(host)
}

func (r *run) outcome(o Outcome) {
	if r.cfg.onOutcome != nil {
		r.cfg.onOutcome(o)
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
		if !answered {
			r.outcome(Outcome{Seq: p.n, Destination: r.hosts[host].addr, TimedOut: true})
		}
		r.retire(tag)
		if !answered {
			r.resolved(host)
		}
	}
}

// retire unregisters a request and frees its slot.
func (r *run) retire(tag int32) {
	p := &r.probes[tag]
	if !p.live {
		return
	}
	h := &r.hosts[p.host]
	r.e.unregister(h.addr, h.id, p.seq)
	if p.prev >= 0 {
		r.probes[p.prev].next = p.next
	} else {
		h.head = p.next
	}
	if p.next >= 0 {
		r.probes[p.next].prev = p.prev
	}
	p.live = false
	p.gen++
	r.freeProbes = append(r.freeProbes, tag)
}

// resolved notes that one of a host's requests was answered or expired: the host completes
// after its last, and in ping-pong mode its next request may go.
func (r *run) resolved(hs int32) {
	h := &r.hosts[hs]
	h.open--
	switch {
	case h.sent < r.cfg.count:
		if r.cfg.interval < 0 {
			r.ready = append(r.ready, hs)
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
		r.ready = append(r.ready, r.due.pop().host)
	}
}

// send sends what is ready, in batches, within the rate limit.
func (r *run) send(ctx context.Context, now time.Time) error {
	for len(r.ready) > 0 {
		n := min(len(r.ready), sendBatch)
		if r.cfg.rate > 0 {
			allowed := int64(now.Sub(r.rateStart).Seconds()*r.cfg.rate) + 1 - r.sentTotal
			if allowed <= 0 {
				return nil
			}
			n = int(min(int64(n), allowed))
		}
		if err := r.sendSome(ctx, r.ready[:n]); err != nil {
			return err
		}
		r.ready = r.ready[n:]
		now = time.Now()
	}
	r.ready = r.ready[:0]
	return nil
}

func (r *run) sendSome(ctx context.Context, hosts []int32) error {
	r.batch = r.batch[:0]
	r.batchProbe = r.batchProbe[:0]
	for _, hs := range hosts {
		h := &r.hosts[hs]
		tag := r.newProbe(hs)
		seq, err := r.e.register(h.addr, h.id, waiter{sink: r, tag: tag, gen: r.probes[tag].gen})
		if err != nil {
			r.probes[tag].live = false
			r.freeProbes = append(r.freeProbes, tag)
			return err
		}
		r.probes[tag].seq = seq
		r.link(hs, tag)
		r.batch = append(r.batch, transport.Request{
			Destination:  h.addr,
			ID:           h.id,
			Seq:          seq,
			Payload:      r.cfg.payload,
			TTL:          r.cfg.ttl,
			TrafficClass: r.cfg.trafficClass,
		})
		r.batchProbe = append(r.batchProbe, tag)
	}
	sent, err := r.transmit(ctx)
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
			req.SentAt = time.Now()
		}
		p.sentAt = req.SentAt
		p.deadline = time.Now().Add(r.cfg.timeout)
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
				r.ready = append(r.ready, hs)
			case h.open == 0:
				r.complete(hs)
			}
			continue
		}
		r.ready = append(r.ready, hs)
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

func (r *run) nextWake() (time.Time, bool) {
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
	if len(r.ready) > 0 && r.cfg.rate > 0 {
		consider(r.rateStart.Add(time.Duration(float64(r.sentTotal) / r.cfg.rate * float64(time.Second))))
	}
	return wake, ok
}

// abandon unregisters whatever is still registered when the run ends early, and hands on
// the hosts in progress with what they have.
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
