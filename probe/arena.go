package probe

import (
	"net/netip"
	"time"

	"github.com/icmpkit/icmpkit/result"
)

// pool holds values of T in a slice and reuses the slots of freed ones, last freed first:
// the one free-list mechanism of a run's hosts and requests. Slots are named by index, so that
// the values hold no pointers to each other.
type pool[T any] struct {
	items []T
	free  []int32
}

// alloc gives a free slot, its value as it was left (or zero).
func (p *pool[T]) alloc() int32 {
	if n := len(p.free); n > 0 {
		i := p.free[n-1]
		p.free = p.free[:n-1]
		return i
	}
	var zero T
	p.items = append(p.items, zero)
	return int32(len(p.items) - 1)
}

// release puts slot i on the free list.
func (p *pool[T]) release(i int32) { p.free = append(p.free, i) }

func (p *pool[T]) at(i int32) *T { return &p.items[i] }

func (p *pool[T]) len() int { return len(p.items) }

// An arena holds a run's hosts in progress and their requests in flight: each host keeps its
// registered requests in a list through probeState.prev and next.
type arena struct {
	hosts  pool[hostState]
	probes pool[probeState]
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

func (a *arena) host(hs int32) *hostState    { return a.hosts.at(hs) }
func (a *arena) probe(tag int32) *probeState { return a.probes.at(tag) }

// addHost gives a slot for h.
func (a *arena) addHost(h hostState) int32 {
	hs := a.hosts.alloc()
	h.head = -1
	*a.hosts.at(hs) = h
	return hs
}

// removeHost frees a host's slot; its requests must be freed already.
func (a *arena) removeHost(hs int32) {
	*a.hosts.at(hs) = hostState{head: -1}
	a.hosts.release(hs)
}

// inProgress reports whether slot hs holds a host.
func (a *arena) inProgress(hs int32) bool { return a.hosts.at(hs).res != nil }

// newProbe gives a live request slot for host hs, under a new generation.
func (a *arena) newProbe(hs int32) int32 {
	tag := a.probes.alloc()
	p := a.probes.at(tag)
	*p = probeState{host: hs, gen: p.gen + 1, live: true, prev: -1, next: -1}
	return tag
}

// freeProbe frees a request's slot: replies naming its generation are no longer matched.
func (a *arena) freeProbe(tag int32) {
	p := a.probes.at(tag)
	p.live = false
	p.gen++
	a.probes.release(tag)
}

// matches gives the live request that tag and gen name, or nil.
func (a *arena) matches(tag int32, gen uint32) *probeState {
	if int(tag) >= a.probes.len() {
		return nil
	}
	p := a.probes.at(tag)
	if p.gen != gen || !p.live {
		return nil
	}
	return p
}

// link puts a registered request on its host's list.
func (a *arena) link(hs, tag int32) {
	h := a.hosts.at(hs)
	p := a.probes.at(tag)
	p.next = h.head
	if h.head >= 0 {
		a.probes.at(h.head).prev = tag
	}
	h.head = tag
}

// unlink takes a request off its host's list.
func (a *arena) unlink(tag int32) {
	p := a.probes.at(tag)
	h := a.hosts.at(p.host)
	if p.prev >= 0 {
		a.probes.at(p.prev).next = p.next
	} else {
		h.head = p.next
	}
	if p.next >= 0 {
		a.probes.at(p.next).prev = p.prev
	}
}
