package main

import (
	"context"
	"net/netip"
	"sync"
	"time"
)

// lookupTimeout bounds a reverse lookup: an address whose name takes longer is shown as it
// would be without a name.
const lookupTimeout = 2 * time.Second

// names looks addresses up in the background, each address once, so that a line waits for
// the names it shows no longer than their lookups take from when they were first asked for.
type names struct {
	ctx    context.Context
	cancel context.CancelFunc
	lookup func(context.Context, netip.Addr) string // nil: no address has a name
	wg     sync.WaitGroup

	mu    sync.Mutex
	known map[netip.Addr]*name
}

// name is one address's lookup.
type name struct {
	done chan struct{} // closed once s is set
	s    string
}

// newNames gives a names that looks up with lookup, until ctx ends. Call close.
func newNames(ctx context.Context, lookup func(context.Context, netip.Addr) string) *names {
	ctx, cancel := context.WithCancel(ctx)
	return &names{ctx: ctx, cancel: cancel, lookup: lookup, known: make(map[netip.Addr]*name)}
}

// start begins looking a up, unless that has begun already.
func (n *names) start(a netip.Addr) *name {
	n.mu.Lock()
	defer n.mu.Unlock()
	if nm := n.known[a]; nm != nil {
		return nm
	}
	nm := &name{done: make(chan struct{})}
	n.known[a] = nm
	if n.lookup == nil {
		close(nm.done)
		return nm
	}
	n.wg.Add(1)
	go func() {
		defer n.wg.Done()
		ctx, cancel := context.WithTimeout(n.ctx, lookupTimeout)
		defer cancel()
		nm.s = n.lookup(ctx, a)
		close(nm.done)
	}()
	return nm
}

// get gives a's name, or "" when it has none, once its lookup (started now if need be) is
// done.
func (n *names) get(a netip.Addr) string {
	nm := n.start(a)
	<-nm.done
	return nm.s
}

// close gives up the lookups still running and waits for them to end.
func (n *names) close() {
	n.cancel()
	n.wg.Wait()
}
