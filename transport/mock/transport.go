package mock

import (
	"context"
	"net/netip"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	icmperrors "github.com/icmpkit/icmpkit/errors"
	"github.com/icmpkit/icmpkit/transport"
)

// The capabilities a Transport has.
var (
	_ transport.Transport     = (*Transport)(nil)
	_ transport.BatchSender   = (*Transport)(nil)
	_ transport.BatchReceiver = (*Transport)(nil)
	_ transport.Broadcaster   = (*Transport)(nil)
	_ transport.Identifier    = (*Transport)(nil)
	_ transport.Namer         = (*Transport)(nil)
)

// TransportConfig configures a Transport. The zero value gives a transport that keeps the
// identifier of each request, records what it sends, and has broadcast off.
type TransportConfig struct {
	// ID is the transport's identifier, which Identifier reports. Zero picks one that no
	// other transport of the network picked before (1001, 1002 ...).
	ID uint16
	// FixedID makes the transport behave as a Linux ping socket: Send overwrites every
	// request's identifier with ID, and Identifier reports it as fixed.
	FixedID bool
	// NoRecord keeps the transport from recording the requests it sends (Sent then returns
	// nothing), so that memory stays flat over runs of very many requests. Counts still count.
	NoRecord bool
}

// Counts are a transport's running totals.
type Counts struct {
	// Sent counts the requests that Send and SendBatch accepted.
	Sent int
	// Delivered counts the replies that arrived for Receive, duplicates and injected ones
	// included.
	Delivered int
	// Received counts the replies that Receive and ReceiveBatch handed out.
	Received int
	// Pending counts the replies on their way, due to arrive later.
	Pending int
}

// Transport is an endpoint on a Network, as one process's ICMP socket would be. It gets
// the replies to what it sent, and nothing that other transports sent. It implements
// transport.Transport and the optional BatchSender, BatchReceiver, Broadcaster, Identifier and
// Namer. It runs no goroutine of its own: replies are brought by one timer, which Close stops.
type Transport struct {
	net    *Network
	id     int
	fixed  bool
	record bool
	epoch  time.Time
	bcast  atomic.Bool
	notify chan struct{} // a reply may be waiting; capacity 1
	done   chan struct{} // closed by Close

	mu      sync.Mutex
	closed  bool
	pending eventHeap
	queue   eventQueue
	order   uint64
	timer   *time.Timer
	armed   bool
	armedAt int64
	sent    []transport.Request
	counts  Counts
}

// Transport opens a transport on the network. Inside a testing/synctest bubble, create the
// network's transports inside the bubble, so that their timers follow the bubble's clock.
func (n *Network) Transport(cfg TransportConfig) *Transport {
	id := int(cfg.ID)
	if id == 0 {
		id = 1000 + int((n.nextID.Add(1)-1)%64000) + 1
	}
	return &Transport{
		net:    n,
		id:     id,
		fixed:  cfg.FixedID,
		record: !cfg.NoRecord,
		epoch:  time.Now(),
		notify: make(chan struct{}, 1),
		done:   make(chan struct{}),
	}
}

var errClosed error = &icmperrors.Error{Op: "mock transport", Class: icmperrors.ErrUnavailable, Err: icmperrors.New("closed")}

// Send carries req into the network; see transport.Transport.
func (t *Transport) Send(ctx context.Context, req *transport.Request) error {
	if err := t.checkSend(ctx, req); err != nil {
		return err
	}
	n := t.net
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.closed {
		return errClosed
	}
	n.mu.RLock()
	defer n.mu.RUnlock()
	dst := req.Destination
	members, bcast := n.bcasts[dst]
	bcast = bcast || dst == limitedBroadcast
	if bcast && !t.bcast.Load() {
		return &icmperrors.Error{Op: "send to " + dst.String(), Class: icmperrors.ErrBroadcast,
			Hint: "turn broadcast on first (SetBroadcast(true))"}
	}
	if t.fixed {
		req.ID = t.id
	}
	now := time.Now()
	req.SentAt = now
	t.counts.Sent++
	if t.record {
		r := *req
		if r.Payload != nil {
			r.Payload = slices.Clone(r.Payload)
		}
		t.sent = append(t.sent, r)
	}
	t.route(n, req, int64(now.Sub(t.epoch)), members, bcast)
	return nil
}

func (t *Transport) checkSend(ctx context.Context, req *transport.Request) error {
	if ctx == nil {
		return icmperrors.Invalid("context", "must not be nil")
	}
	if req == nil {
		return icmperrors.Invalid("request", "must not be nil")
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	return req.Validate()
}

// SendBatch sends reqs in order as Send does; see transport.BatchSender.
func (t *Transport) SendBatch(ctx context.Context, reqs []transport.Request) (int, error) {
	for i := range reqs {
		if err := t.Send(ctx, &reqs[i]); err != nil {
			return i, err
		}
	}
	return len(reqs), nil
}

// Receive waits for the next reply; see transport.Transport.
func (t *Transport) Receive(ctx context.Context, reply *transport.Reply) error {
	if reply == nil {
		return icmperrors.Invalid("reply", "must not be nil")
	}
	_, err := t.receive(ctx, reply, nil)
	return err
}

// ReceiveBatch waits for at least one reply and returns as many as are there, up to
// len(replies); see transport.BatchReceiver.
func (t *Transport) ReceiveBatch(ctx context.Context, replies []transport.Reply) (int, error) {
	if len(replies) == 0 {
		return 0, icmperrors.Invalid("replies", "must have room for at least one reply")
	}
	return t.receive(ctx, nil, replies)
}

// receive fills one, or else many, with what is there once something is.
func (t *Transport) receive(ctx context.Context, one *transport.Reply, many []transport.Reply) (int, error) {
	if ctx == nil {
		return 0, icmperrors.Invalid("context", "must not be nil")
	}
	for {
		if err := ctx.Err(); err != nil {
			return 0, err
		}
		t.mu.Lock()
		if t.closed {
			t.mu.Unlock()
			return 0, errClosed
		}
		room := len(many)
		if one != nil {
			room = 1
		}
		if k := min(t.queue.len(), room); k > 0 {
			for i := range k {
				r := one
				if r == nil {
					r = &many[i]
				}
				ev := t.queue.pop()
				ev.fill(r, t.epoch.Add(time.Duration(ev.at)))
			}
			t.counts.Received += k
			more := t.queue.len() > 0
			t.mu.Unlock()
			if more {
				t.signal() // another receiver may be waiting
			}
			return k, nil
		}
		t.mu.Unlock()
		select {
		case <-t.notify:
		case <-t.done:
			return 0, errClosed
		case <-ctx.Done():
			return 0, ctx.Err()
		}
	}
}

// Close closes the transport: pending and later Receive calls return an error matching
// errors.ErrUnavailable, and replies still on their way are dropped. It is safe to call more
// than once; what was recorded stays readable.
func (t *Transport) Close() error {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.closed {
		return nil
	}
	t.closed = true
	if t.timer != nil {
		t.timer.Stop()
	}
	t.pending, t.queue = nil, eventQueue{}
	close(t.done)
	return nil
}

// Identifier gives the transport's identifier, and whether Send imposes it
// (TransportConfig.FixedID); see transport.Identifier.
func (t *Transport) Identifier(netip.Addr) (id int, fixed bool) { return t.id, t.fixed }

// SetBroadcast allows or forbids sending to broadcast addresses; see transport.Broadcaster.
func (t *Transport) SetBroadcast(on bool) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.closed {
		return errClosed
	}
	t.bcast.Store(on)
	return nil
}

// Broadcast reports whether sending to broadcast addresses is allowed.
func (t *Transport) Broadcast() bool { return t.bcast.Load() }

// Name gives "mock".
func (t *Transport) Name() string { return "mock" }

// Inject schedules an arbitrary reply to arrive after the given delay, as an unsolicited
// packet would: from a host never probed, for a sequence never sent, of any type. r is
// delivered as it is; a zero ReceivedAt is set to the arrival time. It fails with an error
// matching errors.ErrUnavailable after Close.
func (t *Transport) Inject(r transport.Reply, after time.Duration) error {
	if after < 0 {
		return icmperrors.Invalid("delay", "must not be negative, got %v", after)
	}
	r.MPLS = slices.Clone(r.MPLS)
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.closed {
		return errClosed
	}
	t.schedule(event{at: int64(time.Since(t.epoch) + after), inj: &r})
	return nil
}

// Sent returns a copy of the requests sent so far, in order, each as it went out (identifier
// imposed, SentAt set); nil with TransportConfig.NoRecord. Their payloads are shared with the
// transport and must not be modified.
func (t *Transport) Sent() []transport.Request {
	t.mu.Lock()
	defer t.mu.Unlock()
	return slices.Clone(t.sent)
}

// Counts gives the transport's running totals.
func (t *Transport) Counts() Counts {
	t.mu.Lock()
	defer t.mu.Unlock()
	c := t.counts
	c.Pending = len(t.pending)
	return c
}

// schedule queues ev for arrival at ev.at; t.mu is held.
func (t *Transport) schedule(ev event) {
	ev.order = t.order
	t.order++
	t.pending.push(ev)
	if !t.armed || ev.at < t.armedAt {
		t.arm(ev.at)
	}
}

// arm sets the timer for at; t.mu is held.
func (t *Transport) arm(at int64) {
	d := time.Duration(at) - time.Since(t.epoch)
	if t.timer == nil {
		t.timer = time.AfterFunc(d, t.fire)
	} else {
		t.timer.Reset(d)
	}
	t.armed, t.armedAt = true, at
}

// fire moves the replies that are due to the receive queue and sets the timer for the next.
func (t *Transport) fire() {
	t.mu.Lock()
	if t.closed {
		t.mu.Unlock()
		return
	}
	t.armed = false
	now := int64(time.Since(t.epoch))
	k := 0
	for len(t.pending) > 0 && t.pending[0].at <= now {
		t.queue.push(t.pending.pop())
		k++
	}
	t.counts.Delivered += k
	if len(t.pending) > 0 {
		t.arm(t.pending[0].at)
	}
	t.mu.Unlock()
	if k > 0 {
		t.signal()
	}
}

func (t *Transport) signal() {
	select {
	case t.notify <- struct{}{}:
	default:
	}
}
