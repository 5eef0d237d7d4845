// Package sockio holds the receive side that icmpkit's socket transports (transport/raw,
// transport/dgram and the Windows ICMP API transport) share: the queue between the goroutines
// that read the sockets and Receive, ReceiveBatch and Poll, the start and end of those
// goroutines, and, on Linux, the recvmmsg batch, the control messages, the socket addresses
// and the zones of IPv6 link-local addresses.
package sockio

import (
	"context"
	"sync"
	"sync/atomic"

	icmperrors "github.com/icmpkit/icmpkit/errors"
	"github.com/icmpkit/icmpkit/transport"
)

// QueueLen is the number of parsed replies waiting for Receive before the readers stop
// reading (then the sockets' receive buffers take the excess). 2048 replies (about 320 KB)
// keep multipings of 65,534 and 1,048,574 hosts as fast as 8192 do; the queue is made by the
// first Receive, so a transport whose replies are all polled never pays for it.
const QueueLen = 2048

// DefaultReceiveBuffer is the receive buffer the socket transports ask for each socket by
// default. The kernel doubles it and charges about 830 bytes for a small reply, so it holds
// some 80,000 replies: at 150,000 replies a second, half a second in which the reader gets no
// CPU loses none. The memory is only taken while replies wait.
const DefaultReceiveBuffer = 32 << 20

// Replies is the queue between a transport's socket readers and its callers, with the
// readers' lifetime: Start starts them with the first Receive, Close ends them. Its zero value
// is not usable: call Init. Its methods are safe for concurrent use.
type Replies struct {
	queue     atomic.Pointer[chan transport.Reply] // made when the readers start
	done      chan struct{}
	closed    atomic.Bool
	closeOnce sync.Once
	closeErr  error
	errClosed error // what Receive and Poll return once closed

	mu      sync.Mutex // orders Start against Close
	started atomic.Bool
	readers []func() // run by Start, each in a goroutine of its own
	wg      sync.WaitGroup
}

// Init readies q. errClosed is the error Receive, ReceiveBatch and Poll return once the
// transport is closed (it must match errors.ErrUnavailable); readers are the functions Start
// runs, each in a goroutine of its own, and that return once Done is closed or their socket
// is.
func (q *Replies) Init(errClosed error, readers ...func()) {
	q.done = make(chan struct{})
	q.errClosed = errClosed
	q.readers = readers
}

// Closed reports whether Close has begun.
func (q *Replies) Closed() bool { return q.closed.Load() }

// Done is closed when Close begins.
func (q *Replies) Done() <-chan struct{} { return q.done }

// Start starts the readers unless they run already or q is closed. Receive calls it: until
// then replies wait in the sockets, where Poll finds them, and a transport whose replies are
// all polled never starts a goroutine.
func (q *Replies) Start() {
	if q.started.Load() {
		return
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.started.Load() || q.closed.Load() {
		return
	}
	queue := make(chan transport.Reply, QueueLen)
	q.queue.Store(&queue)
	q.started.Store(true)
	for _, read := range q.readers {
		q.wg.Add(1)
		go func() {
			defer q.wg.Done()
			read()
		}()
	}
}

// replies gives the queue, nil before the readers start.
func (q *Replies) replies() chan transport.Reply {
	if p := q.queue.Load(); p != nil {
		return *p
	}
	return nil
}

// Receive starts the readers if need be and waits for the next reply, as
// transport.Transport's Receive does.
func (q *Replies) Receive(ctx context.Context, reply *transport.Reply) error {
	if q.closed.Load() {
		return q.errClosed
	}
	q.Start()
	queue := q.replies()
	if queue == nil {
		return q.errClosed // closed before the readers started
	}
	select {
	case r := <-queue:
		return q.take(reply, &r)
	default:
	}
	select {
	case r := <-queue:
		return q.take(reply, &r)
	case <-ctx.Done():
		return ctx.Err()
	case <-q.done:
		return q.errClosed
	}
}

func (q *Replies) take(reply, r *transport.Reply) error {
	if q.closed.Load() {
		return q.errClosed
	}
	Copy(reply, r)
	return nil
}

// ReceiveBatch waits as Receive does for one reply, then adds those already queued, up to
// len(replies), and returns how many it filled.
func (q *Replies) ReceiveBatch(ctx context.Context, replies []transport.Reply) (int, error) {
	if len(replies) == 0 {
		return 0, icmperrors.Invalid("replies", "ReceiveBatch needs room for at least one reply")
	}
	if err := q.Receive(ctx, &replies[0]); err != nil {
		return 0, err
	}
	return 1 + Take(q.replies(), replies[1:]), nil
}

// Poll hands over, without waiting, the replies already queued, then what fromSockets finds
// in the sockets (nil: nothing), up to len(replies), as transport.Poller's Poll does.
func (q *Replies) Poll(replies []transport.Reply, fromSockets func([]transport.Reply) int) (int, error) {
	if q.closed.Load() {
		return 0, q.errClosed
	}
	n := Take(q.replies(), replies) // nil (no reader has run) is empty
	if n < len(replies) && fromSockets != nil {
		n += fromSockets(replies[n:])
	}
	if q.closed.Load() {
		return 0, q.errClosed
	}
	return n, nil
}

// Deliver queues a reply for Receive, waiting while the queue is full. It reports false once
// q is closed: the reader then returns. Only readers started by Start call it.
func (q *Replies) Deliver(r *transport.Reply) bool {
	queue := *q.queue.Load() // readers start after the queue is made
	select {
	case queue <- *r:
		return true
	default:
	}
	select {
	case queue <- *r:
		return true
	case <-q.done:
		return false
	}
}

// Close marks q closed, which unblocks every Receive, runs closeSockets (which must make the
// readers return) and waits for the readers to end. Later calls return the first call's
// result.
func (q *Replies) Close(closeSockets func() error) error {
	q.closeOnce.Do(func() {
		q.closed.Store(true)
		close(q.done)
		q.closeErr = closeSockets()
		q.mu.Lock() // closed is set: no reader starts after this
		q.mu.Unlock()
		q.wg.Wait()
	})
	return q.closeErr
}

// PollSlot is the reader a Poll of one socket uses, made on first use, and the lock that
// keeps two Polls from reading the socket at once.
type PollSlot[R any] struct {
	mu sync.Mutex
	r  *R
}

// Use runs f with the slot's reader, making it with newR first if need be, and gives f's
// result; when another Poll holds the slot it gives 0 at once, leaving the socket to it.
func (p *PollSlot[R]) Use(newR func() *R, f func(*R) int) int {
	if !p.mu.TryLock() {
		return 0
	}
	defer p.mu.Unlock()
	if p.r == nil {
		p.r = newR()
	}
	return f(p.r)
}

// RaiseTo raises v to n if n is larger, so that v holds the largest n ever given.
func RaiseTo(v *atomic.Int64, n int64) {
	for {
		cur := v.Load()
		if n <= cur || v.CompareAndSwap(cur, n) {
			return
		}
	}
}

// Started reports whether the readers have started.
func (q *Replies) Started() bool { return q.started.Load() }
