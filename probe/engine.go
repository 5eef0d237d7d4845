package probe

import (
	"context"
	"math/rand/v2"
	"net/netip"
	"sync"
	"sync/atomic"

	icmperrors "github.com/icmpkit/icmpkit/errors"
	"github.com/icmpkit/icmpkit/transport"
)

// An engine owns the single reader of one transport and dispatches what it reads to the
// calls (Ping, Multiping, Traceroute) waiting on that transport. It is the heart of a Prober
// and lives as long as it: the first call to wait starts the reader (see listen), Close stops
// it.
//
// Requests in flight are kept in one table keyed by what a reply names (destination,
// identifier, sequence). The table holds no pointers, so that a million entries cost the
// garbage collector nothing: each entry names its call by a slot number in sinks.
type engine struct {
	t         transport.Transport
	defaultID int
	batch     transport.BatchReceiver // nil when the transport reads one reply at a time
	poller    transport.Poller        // nil when the transport cannot be polled

	mu        sync.Mutex
	pending   table
	nextSeq   uint16
	sinks     []sinkSlot
	freeSinks []uint32
	sinkOf    map[sink]uint32 // slots of sinks that registered through register
	pace      pacer           // what calls learnt of the responders' ICMP rate limits

	life      sync.Mutex         // guards starting and stopping the reader
	listening atomic.Bool        // the reader runs; set under life
	closed    bool               // Close was called; guarded by life
	stop      context.CancelFunc // ends the reader; set with listening
	exited    chan struct{}      // closed when the reader has returned
	dead      chan struct{}      // closed when the transport failed or the Prober closed; err says why
	deadOnce  sync.Once
	err       error
}

// key names a request on the wire. Broadcast requests register with an invalid destination
// (fam 0) and match replies from any source. Zones are not part of the key.
type key struct {
	addr    [16]byte
	id, seq uint16
	fam     uint8 // 0: any source; 4 or 6
}

func makeKey(dst netip.Addr, id, seq uint16) key {
	k := key{id: id, seq: seq}
	switch {
	case dst.Is4():
		k.fam = 4
		k.addr = dst.As16()
	case dst.Is6():
		k.fam = 6
		k.addr = dst.As16()
	}
	return k
}

// entry is what the table holds for a request: the call's slot and the request's place in it.
type entry struct {
	sink uint32
	tag  int32
	gen  uint32
}

// sinkSlot is a call known to the engine. regs counts its entries in the table; a slot is
// free once the call has detached and has no entries left.
type sinkSlot struct {
	s        sink
	regs     int
	attached bool
}

// A sink receives the replies matching the requests a call registered. deliver gets a batch
// of replies and, for each, where it goes; a nil route.sink marks a reply for another call.
// It must not block: it runs on the engine's reader.
type sink interface {
	deliver(routes []route, replies []transport.Reply)
}

// route is where one reply goes.
type route struct {
	sink sink
	tag  int32
	gen  uint32
}

// waiter names a single registration (see register).
type waiter struct {
	sink sink
	tag  int32
	gen  uint32
}

func newEngine(t transport.Transport, paceMemory int) *engine {
	e := &engine{
		t:         t,
		defaultID: 1 + rand.IntN(0xffff),
		pending:   newTable(0),
		nextSeq:   uint16(rand.Uint32()),
		sinkOf:    make(map[sink]uint32),
		exited:    make(chan struct{}),
		dead:      make(chan struct{}),
		pace:      pacer{maxResponders: paceMemory},
	}
	e.batch, _ = t.(transport.BatchReceiver)
	e.poller, _ = t.(transport.Poller)
	return e
}

// listen starts the engine's reader unless it runs already. A call listens before it first
// waits; until then replies stay with the transport, and a Prober whose replies all came by
// polling (pings on loopback) never starts the reader.
func (e *engine) listen() {
	if e.listening.Load() {
		return
	}
	e.life.Lock()
	defer e.life.Unlock()
	if e.listening.Load() || e.closed {
		return
	}
	ctx, cancel := context.WithCancel(context.Background())
	e.stop = cancel
	e.listening.Store(true)
	go e.read(ctx)
}

// close stops the reader, if it runs, waits for it to end, and ends the calls in progress.
func (e *engine) close() {
	e.life.Lock()
	if e.closed {
		e.life.Unlock()
		return
	}
	e.closed = true
	listening := e.listening.Load()
	e.life.Unlock()
	if listening {
		e.stop()
		<-e.exited
	}
	e.fail(errProberClosed)
}

// isClosed reports whether close was called.
func (e *engine) isClosed() bool {
	e.life.Lock()
	defer e.life.Unlock()
	return e.closed
}

// fail records why the engine can serve no more calls and wakes every call waiting on it.
// The first reason stands.
func (e *engine) fail(err error) {
	e.deadOnce.Do(func() {
		e.err = err
		close(e.dead)
	})
}

var errProberClosed = icmperrors.Wrap(icmperrors.ErrUnavailable, "probe", icmperrors.New("the prober is closed"))

// readBatch is the most replies one ReceiveBatch hands over.
const readBatch = 256

// read is the engine's reader loop: it never blocks on a consumer.
func (e *engine) read(ctx context.Context) {
	defer close(e.exited)
	n := 1
	if e.batch != nil {
		n = readBatch
	}
	replies := make([]transport.Reply, n)
	routes := make([]route, n)
	for {
		var err error
		if e.batch != nil {
			n, err = e.batch.ReceiveBatch(ctx, replies)
		} else {
			n = 0
			if err = e.t.Receive(ctx, &replies[0]); err == nil {
				n = 1
			}
		}
		if n > 0 {
			e.dispatch(replies[:n], routes[:n])
		}
		if err != nil {
			if ctx.Err() == nil {
				e.fail(err)
			}
			return
		}
	}
}

// pollBatch is the most replies a call takes with one poll.
const pollBatch = 8

// pollBuffers are a call's buffers for polling its engine, made on first use.
type pollBuffers struct {
	replies []transport.Reply
	routes  []route
}

// poll has e dispatch the replies its transport holds now, without waiting, and reports
// whether there were any (see transport.Poller). A call polls before it waits: on a fast path
// the reply to what it just sent is often there already, and it need not wait for the reader
// to be scheduled.
func (b *pollBuffers) poll(e *engine) bool {
	if e.poller == nil {
		return false
	}
	if b.replies == nil {
		b.replies = make([]transport.Reply, pollBatch)
		b.routes = make([]route, pollBatch)
	}
	n, err := e.poller.Poll(b.replies)
	if err != nil || n == 0 {
		return false // a closed transport is the reader's to report
	}
	e.dispatch(b.replies[:n], b.routes[:n])
	return true
}

// dispatch routes a batch of replies: it looks them all up under one lock, then hands each
// run of replies for the same call to that call in one delivery.
func (e *engine) dispatch(replies []transport.Reply, routes []route) {
	e.mu.Lock()
	for i := range replies {
		r := &replies[i]
		routes[i] = route{}
		if r.ID < 0 || r.ID > 0xffff || r.Seq < 0 || r.Seq > 0xffff {
			continue
		}
		k := makeKey(r.Destination, uint16(r.ID), uint16(r.Seq))
		en, ok := e.pending.get(k)
		if !ok {
			k.addr, k.fam = [16]byte{}, 0
			en, ok = e.pending.get(k)
		}
		if ok {
			routes[i] = route{sink: e.sinks[en.sink].s, tag: en.tag, gen: en.gen}
			if len(e.pace.resp) > 0 {
				e.pace.heardError(r)
			}
		}
	}
	e.mu.Unlock()
	for i := 0; i < len(routes); {
		s := routes[i].sink
		if s == nil {
			i++
			continue
		}
		j := i + 1
		for j < len(routes) && (routes[j].sink == s || routes[j].sink == nil) {
			j++
		}
		s.deliver(routes[i:j], replies[i:j])
		i = j
	}
	clear(routes)
}

// attach gives a call a slot of its own for registerBatch; hint is how many requests it may
// have in flight at once. Pair with detach, after the call's requests are all unregistered.
func (e *engine) attach(s sink, hint int) uint32 {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.pending.len() == 0 {
		// Sized once for the call rather than grown step by step under the lock, and shrunk
		// back after a large call.
		h := min(hint, maxPresize)
		if len(e.pending.heads) != headsFor(h) || cap(e.pending.slots) > 2*max(h, minHeads) {
			e.pending = newTable(h)
		}
	}
	slot := e.newSlot(s)
	e.sinks[slot].attached = true
	return slot
}

// detach gives a call's slot back once its last entry is gone.
func (e *engine) detach(slot uint32) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.sinks[slot].attached = false
	e.maybeFree(slot)
}

// maxPresize bounds the table size attach sets up front.
const maxPresize = 1 << 17

func (e *engine) newSlot(s sink) uint32 {
	var slot uint32
	if n := len(e.freeSinks); n > 0 {
		slot = e.freeSinks[n-1]
		e.freeSinks = e.freeSinks[:n-1]
	} else {
		e.sinks = append(e.sinks, sinkSlot{})
		slot = uint32(len(e.sinks) - 1)
	}
	e.sinks[slot] = sinkSlot{s: s}
	return slot
}

func (e *engine) maybeFree(slot uint32) {
	sl := &e.sinks[slot]
	if sl.attached || sl.regs > 0 {
		return
	}
	if e.sinkOf[sl.s] == slot {
		delete(e.sinkOf, sl.s)
	}
	*sl = sinkSlot{}
	e.freeSinks = append(e.freeSinks, slot)
}

// identifier gives the identifier requests to dst carry: the system's when it decides, else
// the caller's, else the transport's preference, else the engine's own.
func (e *engine) identifier(dst netip.Addr, requested int) int {
	if idr, ok := e.t.(transport.Identifier); ok {
		id, fixed := idr.Identifier(dst)
		if fixed || requested == 0 {
			return id
		}
	}
	if requested != 0 {
		return requested
	}
	return e.defaultID
}

// register reserves a sequence number for a request to dst with identifier id and routes its
// replies to w. An invalid dst matches replies from any source (broadcast).
func (e *engine) register(dst netip.Addr, id int, w waiter) (seq int, err error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	slot, ok := e.sinkOf[w.sink]
	if !ok {
		slot = e.newSlot(w.sink)
		e.sinkOf[w.sink] = slot
	}
	s, ok := e.reserve(makeKey(dst, uint16(id), 0), entry{sink: slot, tag: w.tag, gen: w.gen})
	if !ok {
		e.maybeFree(slot)
		return 0, icmperrors.Wrap(icmperrors.ErrInvalidArgument, "register probe", errTooManyInFlight)
	}
	return int(s), nil
}

// registration is one request of a batch: filled in with its sequence by registerBatch.
type registration struct {
	dst netip.Addr
	id  uint16
	tag int32
	gen uint32
	seq uint16
}

// registerBatch registers regs for the call in slot under one lock, giving each its
// sequence. It returns how many it registered; fewer than len(regs) only when 65,536
// requests to one destination and identifier are in flight already.
func (e *engine) registerBatch(slot uint32, regs []registration) (int, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	for i := range regs {
		r := &regs[i]
		s, ok := e.reserve(makeKey(r.dst, r.id, 0), entry{sink: slot, tag: r.tag, gen: r.gen})
		if !ok {
			return i, icmperrors.Wrap(icmperrors.ErrInvalidArgument, "register probe", errTooManyInFlight)
		}
		r.seq = s
	}
	return len(regs), nil
}

// reserve enters en under the first free sequence for k's destination and identifier.
// e.mu is held.
func (e *engine) reserve(k key, en entry) (uint16, bool) {
	for range 1 << 16 {
		k.seq = e.nextSeq
		e.nextSeq++
		if e.pending.insert(k, en) {
			e.sinks[en.sink].regs++
			return k.seq, true
		}
	}
	return 0, false
}

var errTooManyInFlight = icmperrors.New("65,536 requests to one destination are already in flight")

// unregister forgets a request; its late replies are dropped.
func (e *engine) unregister(dst netip.Addr, id, seq int) {
	e.mu.Lock()
	e.forget(makeKey(dst, uint16(id), uint16(seq)))
	e.mu.Unlock()
}

// unregisterBatch forgets many requests under one lock.
func (e *engine) unregisterBatch(keys []key) {
	if len(keys) == 0 {
		return
	}
	e.mu.Lock()
	for _, k := range keys {
		e.forget(k)
	}
	e.mu.Unlock()
}

// forget removes k from the table. e.mu is held.
func (e *engine) forget(k key) {
	en, ok := e.pending.remove(k)
	if !ok {
		return
	}
	e.sinks[en.sink].regs--
	e.maybeFree(en.sink)
}

// failure gives the error that stopped the reader, as an ErrUnavailable error.
func (e *engine) failure() error {
	if icmperrors.Is(e.err, icmperrors.ErrLibrary) {
		return e.err
	}
	return icmperrors.Wrap(icmperrors.ErrUnavailable, "receive", e.err)
}
