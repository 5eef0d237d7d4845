package probe

import (
	"time"

	"github.com/icmpkit/icmpkit/result"
)

// ring is a FIFO of (probe slot, generation) pairs.
type ring struct {
	buf        []ringEntry
	head, size int
}

type ringEntry struct {
	tag int32
	gen uint32
}

func (q *ring) len() int { return q.size }

func (q *ring) push(tag int32, gen uint32) {
	if q.size == len(q.buf) {
		grown := make([]ringEntry, max(16, 2*len(q.buf)))
		n := copy(grown, q.buf[q.head:])
		copy(grown[n:], q.buf[:q.head])
		q.buf, q.head = grown, 0
	}
	q.buf[(q.head+q.size)%len(q.buf)] = ringEntry{tag, gen}
	q.size++
}

func (q *ring) front() (int32, uint32) {
	e := q.buf[q.head]
	return e.tag, e.gen
}

func (q *ring) pop() {
	q.head = (q.head + 1) % len(q.buf)
	q.size--
}

// dueHeap is a min-heap of hosts by the time their next request is due.
type dueHeap struct{ items []dueEntry }

type dueEntry struct {
	at   time.Time
	host int32
}

func (e dueEntry) after(t time.Time) bool { return e.at.After(t) }

func (h *dueHeap) len() int      { return len(h.items) }
func (h *dueHeap) min() dueEntry { return h.items[0] }

func (h *dueHeap) push(e dueEntry) {
	h.items = append(h.items, e)
	i := len(h.items) - 1
	for i > 0 {
		parent := (i - 1) / 2
		if !h.items[i].at.Before(h.items[parent].at) {
			break
		}
		h.items[i], h.items[parent] = h.items[parent], h.items[i]
		i = parent
	}
}

func (h *dueHeap) pop() dueEntry {
	top := h.items[0]
	last := len(h.items) - 1
	h.items[0] = h.items[last]
	h.items = h.items[:last]
	i := 0
	for {
		l, r, smallest := 2*i+1, 2*i+2, i
		if l < last && h.items[l].at.Before(h.items[smallest].at) {
			smallest = l
		}
		if r < last && h.items[r].at.Before(h.items[smallest].at) {
			smallest = r
		}
		if smallest == i {
			return top
		}
		h.items[i], h.items[smallest] = h.items[smallest], h.items[i]
		i = smallest
	}
}

// fifo is a queue of host slots. Slices handed out by take stay valid while more are pushed;
// the queue reclaims its room only in reset.
type fifo struct {
	buf  []int32
	head int
}

func (q *fifo) len() int { return len(q.buf) - q.head }

func (q *fifo) push(v int32) { q.buf = append(q.buf, v) }

// take removes the next n entries and gives them.
func (q *fifo) take(n int) []int32 {
	s := q.buf[q.head : q.head+n : q.head+n]
	q.head += n
	return s
}

// reset reclaims the room of the entries taken; no slice from take may be in use.
func (q *fifo) reset() {
	switch {
	case q.head == len(q.buf):
		q.buf, q.head = q.buf[:0], 0
	case q.head > len(q.buf)/2:
		n := copy(q.buf, q.buf[q.head:])
		q.buf, q.head = q.buf[:n], 0
	}
}

// reorderBuf holds the hosts completed ahead of the next one to yield in input order, by
// their distance from it.
type reorderBuf struct {
	buf  []*result.Host // a power of two long, or empty
	head int
}

// put stores h, off places after the next host to yield.
func (b *reorderBuf) put(off int64, h *result.Host) {
	if off >= int64(len(b.buf)) {
		n := max(64, len(b.buf))
		for int64(n) <= off {
			n *= 2
		}
		grown := make([]*result.Host, n)
		for i := range b.buf {
			grown[i] = b.buf[(b.head+i)&(len(b.buf)-1)]
		}
		b.buf, b.head = grown, 0
	}
	b.buf[(b.head+int(off))&(len(b.buf)-1)] = h
}

// pop removes and gives the next host to yield, or nil while it has not completed.
func (b *reorderBuf) pop() *result.Host {
	if len(b.buf) == 0 {
		return nil
	}
	h := b.buf[b.head]
	if h != nil {
		b.buf[b.head] = nil
		b.head = (b.head + 1) & (len(b.buf) - 1)
	}
	return h
}

// table is the engine's set of requests in flight, a hash table chained by sequence number.
// Sequences are handed out in turn, so requests registered together sit in neighbouring
// buckets, and their replies, which come back in about the order they went, find them there
// while they are still in the cache. Free slots are reused last freed first, for the same
// reason. The table holds no pointers, so the garbage collector never scans it.
type table struct {
	heads []int32 // by sequence modulo its length (a power of two): first slot + 1, 0 none
	slots []slot
	free  int32 // first free slot + 1, a list through slot.next; 0 none
	n     int
}

type slot struct {
	k    key
	e    entry
	next int32 // next slot + 1 in the chain or the free list; 0 none
}

// Bucket counts: at least minHeads, and one bucket an entry up to one a sequence number.
const (
	minHeads = 64
	maxHeads = 1 << 16
)

// freeSlot marks a slot on the free list (in key.fam, which is otherwise 0, 4 or 6).
const freeSlot = 0xff

// newTable gives a table ready for hint entries.
func newTable(hint int) table {
	return table{heads: make([]int32, headsFor(hint)), slots: make([]slot, 0, max(hint, 0))}
}

func headsFor(n int) int {
	size := minHeads
	for size < n && size < maxHeads {
		size *= 2
	}
	return size
}

func (t *table) len() int { return t.n }

func (t *table) get(k key) (entry, bool) {
	for i := t.heads[int(k.seq)&(len(t.heads)-1)]; i != 0; i = t.slots[i-1].next {
		if s := &t.slots[i-1]; s.k == k {
			return s.e, true
		}
	}
	return entry{}, false
}

// insert adds k unless it is there already, and reports whether it did.
func (t *table) insert(k key, e entry) bool {
	if t.n >= len(t.heads) && len(t.heads) < maxHeads {
		t.rehash(2 * len(t.heads))
	}
	h := &t.heads[int(k.seq)&(len(t.heads)-1)]
	for i := *h; i != 0; i = t.slots[i-1].next {
		if t.slots[i-1].k == k {
			return false
		}
	}
	i := t.free
	if i != 0 {
		t.free = t.slots[i-1].next
	} else {
		t.slots = append(t.slots, slot{})
		i = int32(len(t.slots))
	}
	t.slots[i-1] = slot{k: k, e: e, next: *h}
	*h = i
	t.n++
	return true
}

// remove deletes k and gives its entry.
func (t *table) remove(k key) (entry, bool) {
	link := &t.heads[int(k.seq)&(len(t.heads)-1)]
	for i := *link; i != 0; i = *link {
		s := &t.slots[i-1]
		if s.k != k {
			link = &s.next
			continue
		}
		*link = s.next
		e := s.e
		*s = slot{k: key{fam: freeSlot}, next: t.free}
		t.free = i
		t.n--
		return e, true
	}
	return entry{}, false
}

// rehash spreads the entries over size buckets.
func (t *table) rehash(size int) {
	t.heads = make([]int32, size)
	for i := range t.slots {
		s := &t.slots[i]
		if s.k.fam == freeSlot {
			continue
		}
		h := &t.heads[int(s.k.seq)&(size-1)]
		s.next = *h
		*h = int32(i + 1)
	}
}
