package probe

import (
	"context"
	"math/rand/v2"
	"net/netip"
	"reflect"
	"sync"

	icmperrors "github.com/icmpkit/icmpkit/errors"
	"github.com/icmpkit/icmpkit/transport"
)

// An engine owns the single reader of one transport and dispatches what it reads to the
// calls (Ping, Multiping, Traceroute) waiting on that transport. Calls on the same transport
// share one engine, found in the registry; the last call to leave stops the reader.
type engine struct {
	t         transport.Transport
	defaultID int
	batch     transport.BatchReceiver // nil when the transport reads one reply at a time

	mu      sync.Mutex
	pending map[key]waiter
	nextSeq uint16

	stop   context.CancelFunc
	exited chan struct{} // closed when the reader has returned
	dead   chan struct{} // closed when the transport failed; err says why
	err    error
	refs   int // guarded by registryMu
	shared bool
}

// key names a request on the wire. Broadcast requests register with an invalid dst and match
// replies from any source.
type key struct {
	dst     netip.Addr
	id, seq uint16
}

// A sink receives the replies matching the requests a call registered.
type sink interface {
	deliver(tag int32, gen uint32, r *transport.Reply)
}

type waiter struct {
	sink sink
	tag  int32
	gen  uint32
}

var (
	registryMu sync.Mutex
	registry   = map[transport.Transport]*engine{}
)

// acquire gives the engine of t, starting it when t has none. Pair with release.
func acquire(t transport.Transport) *engine {
	shareable := reflect.TypeOf(t).Comparable()
	registryMu.Lock()
	defer registryMu.Unlock()
	if shareable {
		if e := registry[t]; e != nil {
			e.refs++
			return e
		}
	}
	e := &engine{
		t:         t,
		defaultID: 1 + rand.IntN(0xffff),
		pending:   make(map[key]waiter),
		nextSeq:   uint16(rand.Uint32()),
		exited:    make(chan struct{}),
		dead:      make(chan struct{}),
		refs:      1,
		shared:    shareable,
	}
	e.batch, _ = t.(transport.BatchReceiver)
	ctx, cancel := context.WithCancel(context.Background())
	e.stop = cancel
	if shareable {
		registry[t] = e
	}
	go e.read(ctx)
	return e
}

// release drops a reference; the last one stops the reader and waits for it to end.
func (e *engine) release() {
	registryMu.Lock()
	e.refs--
	last := e.refs == 0
	if last && e.shared {
		delete(registry, e.t)
	}
	registryMu.Unlock()
	if last {
		e.stop()
		<-e.exited
	}
}

const readBatch = 64

// read is the engine's reader loop: it never blocks on a consumer.
func (e *engine) read(ctx context.Context) {
	defer close(e.exited)
	var one transport.Reply
	var many []transport.Reply
	if e.batch != nil {
		many = make([]transport.Reply, readBatch)
	}
	for {
		var err error
		if e.batch != nil {
			var n int
			n, err = e.batch.ReceiveBatch(ctx, many)
			for i := range n {
				e.dispatch(&many[i])
			}
		} else {
			err = e.t.Receive(ctx, &one)
			if err == nil {
				e.dispatch(&one)
			}
		}
		if err != nil {
			if ctx.Err() == nil {
				e.err = err
				close(e.dead)
			}
			return
		}
	}
}

func (e *engine) dispatch(r *transport.Reply) {
	if r.ID < 0 || r.ID > 0xffff || r.Seq < 0 || r.Seq > 0xffff {
		return
	}
	k := key{dst: r.Destination, id: uint16(r.ID), seq: uint16(r.Seq)}
	e.mu.Lock()
	w, ok := e.pending[k]
	if !ok {
		k.dst = netip.Addr{}
		w, ok = e.pending[k]
	}
	e.mu.Unlock()
	if ok {
		w.sink.deliver(w.tag, w.gen, r)
	}
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
	k := key{dst: dst, id: uint16(id)}
	for range 1 << 16 {
		k.seq = e.nextSeq
		e.nextSeq++
		if _, busy := e.pending[k]; !busy {
			e.pending[k] = w
			return int(k.seq), nil
		}
	}
	return 0, icmperrors.Wrap(icmperrors.ErrInvalidArgument, "register probe", errTooManyInFlight)
}

var errTooManyInFlight = icmperrors.New("65,536 requests to one destination are already in flight")

// unregister forgets a request; its late replies are dropped.
func (e *engine) unregister(dst netip.Addr, id, seq int) {
	e.mu.Lock()
	delete(e.pending, key{dst: dst, id: uint16(id), seq: uint16(seq)})
	e.mu.Unlock()
}

// failure gives the error that stopped the reader, as an ErrUnavailable error.
func (e *engine) failure() error {
	if icmperrors.Is(e.err, icmperrors.ErrLibrary) {
		return e.err
	}
	return icmperrors.Wrap(icmperrors.ErrUnavailable, "receive", e.err)
}
