package mock

import (
	"net/netip"
	"time"

	"github.com/icmpkit/icmpkit/transport"
	"golang.org/x/net/icmp"
	"golang.org/x/net/ipv4"
	"golang.org/x/net/ipv6"
)

// event is one reply on its way to a transport, kept small: a run of 100,000 hosts holds
// hundreds of thousands of them.
type event struct {
	at    int64  // arrival, in nanoseconds since the transport's epoch
	order uint64 // scheduling order, to break ties in arrival
	src   netip.Addr
	dst   netip.Addr
	mpls  []icmp.MPLSLabel // the router's own stack, never modified
	inj   *transport.Reply // an injected reply, taken as it is; else the fields here
	id    uint16
	seq   uint16
	bytes int32
	mtu   int32
	ttl   uint8
	typ   uint8 // ICMP type number
	code  uint8
	v6    bool
}

func (a *event) before(b *event) bool {
	return a.at < b.at || a.at == b.at && a.order < b.order
}

// fill writes ev into r, reusing r.MPLS's storage.
func (ev *event) fill(r *transport.Reply, arrived time.Time) {
	labels := r.MPLS[:0]
	if ev.inj != nil {
		*r = *ev.inj
		if r.ReceivedAt.IsZero() {
			r.ReceivedAt = arrived
		}
		if ev.inj.MPLS != nil {
			r.MPLS = append(labels, ev.inj.MPLS...)
		}
		return
	}
	var typ icmp.Type
	if ev.v6 {
		typ = ipv6.ICMPType(ev.typ)
	} else {
		typ = ipv4.ICMPType(ev.typ)
	}
	*r = transport.Reply{
		Source:      ev.src,
		Destination: ev.dst,
		ID:          int(ev.id),
		Seq:         int(ev.seq),
		Type:        typ,
		Code:        int(ev.code),
		Bytes:       int(ev.bytes),
		TTL:         int(ev.ttl),
		ReceivedAt:  arrived,
		MTU:         int(ev.mtu),
	}
	if len(ev.mpls) > 0 {
		r.MPLS = append(labels, ev.mpls...)
	}
}

// eventHeap is a binary min-heap of events by arrival, without container/heap's boxing.
type eventHeap []event

func (h *eventHeap) push(ev event) {
	*h = append(*h, ev)
	s := *h
	i := len(s) - 1
	for i > 0 {
		p := (i - 1) / 2
		if !s[i].before(&s[p]) {
			break
		}
		s[i], s[p] = s[p], s[i]
		i = p
	}
}

func (h *eventHeap) pop() event {
	s := *h
	top := s[0]
	last := len(s) - 1
	s[0] = s[last]
	s[last] = event{} // drop references
	s = s[:last]
	i := 0
	for {
		l := 2*i + 1
		if l >= len(s) {
			break
		}
		m := l
		if r := l + 1; r < len(s) && s[r].before(&s[l]) {
			m = r
		}
		if !s[m].before(&s[i]) {
			break
		}
		s[i], s[m] = s[m], s[i]
		i = m
	}
	*h = s
	return top
}

// eventQueue is a FIFO of arrived events.
type eventQueue struct {
	buf  []event
	head int
}

func (q *eventQueue) len() int { return len(q.buf) - q.head }

func (q *eventQueue) push(ev event) {
	if q.head > 0 && q.head == len(q.buf) {
		q.buf, q.head = q.buf[:0], 0
	} else if q.head >= 1024 && q.head >= len(q.buf)/2 {
		n := copy(q.buf, q.buf[q.head:])
		clear(q.buf[n:])
		q.buf, q.head = q.buf[:n], 0
	}
	q.buf = append(q.buf, ev)
}

func (q *eventQueue) pop() event {
	ev := q.buf[q.head]
	q.buf[q.head] = event{}
	q.head++
	return ev
}
