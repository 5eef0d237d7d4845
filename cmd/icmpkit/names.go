package main

import (
	"context"
	"net/netip"
	"sync"
	"time"
)

// lookupTimeout bounds a reverse lookup of traceroute's: an address whose name takes longer
// is shown as it would be without a name.
const lookupTimeout = 2 * time.Second

// maxNames bounds how many addresses a run remembers the names of; past it, it starts over.
const maxNames = 4096

// names is the command's one cache of reverse names: it looks addresses up in the
// background, each address once (while it remembers fewer than maxNames), so that a line
// waits for the names it shows no longer than their lookups take from when they were first
// asked for. Once its context ends, lookups give up and addresses stand alone. It is safe
// for concurrent use.
type names struct {
	ctx    context.Context
	cancel context.CancelFunc
	lookup func(context.Context, netip.Addr) string // nil: no address has a name
	// timeout bounds each lookup: an address whose name takes longer is shown without. 0:
	// none, a lookup takes what the resolver takes.
	timeout time.Duration
	wg      sync.WaitGroup

	mu    sync.Mutex
	known map[netip.Addr]*name
}

// name is one address's lookup.
type name struct {
	done chan struct{} // closed once s is set
	s    string
}

// newNames gives a names that looks up with lookup, each lookup for at most timeout (0: no
// bound), until ctx ends. Call close.
func newNames(ctx context.Context, lookup func(context.Context, netip.Addr) string, timeout time.Duration) *names {
	ctx, cancel := context.WithCancel(ctx)
	return &names{ctx: ctx, cancel: cancel, lookup: lookup, timeout: timeout, known: make(map[netip.Addr]*name)}
}

// start begins looking a up, unless that has begun already.
func (n *names) start(a netip.Addr) *name {
	n.mu.Lock()
	defer n.mu.Unlock()
	if nm := n.known[a]; nm != nil {
		return nm
	}
	nm := &name{done: make(chan struct{})}
	if n.lookup == nil || n.ctx.Err() != nil {
		close(nm.done)
		return nm
	}
	if len(n.known) >= maxNames {
		clear(n.known) // lookups in progress still complete for those waiting on them
	}
	n.known[a] = nm
	n.wg.Add(1)
	go func() {
		defer n.wg.Done()
		ctx, cancel := n.ctx, context.CancelFunc(func() {})
		if n.timeout > 0 {
			ctx, cancel = context.WithTimeout(n.ctx, n.timeout)
		}
		defer cancel()
		if s := n.lookup(ctx, a); s != a.String() && ctx.Err() == nil {
			nm.s = s
		}
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

// appendHost appends "NAME (ADDRESS)", or the address alone when it has no name.
func (n *names) appendHost(b []byte, a netip.Addr) []byte {
	s := n.get(a)
	if s == "" {
		return a.AppendTo(b)
	}
	b = append(b, s...)
	b = append(b, " ("...)
	b = a.AppendTo(b)
	return append(b, ')')
}

// close gives up the lookups still running and waits for them to end.
func (n *names) close() {
	n.cancel()
	n.wg.Wait()
}
