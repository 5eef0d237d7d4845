package probe

import (
	"encoding/binary"
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

// table is the engine's set of requests in flight: an open-addressing hash table with linear
// probing and backward-shift deletion (so no tombstones pile up however long a stream runs).
// It holds no pointers, so the garbage collector never scans it.
type table struct {
	slots []slot // a power of two long
	n     int
	seed  uint64
}

type slot struct {
	k    key
	used bool
	hash uint32
	e    entry
}

const minTable = 64

func newTable(seed uint64, hint int) table {
	t := table{seed: seed}
	t.slots = make([]slot, tableSize(hint))
	return t
}

// tableSize gives the number of slots that holds n entries at most half full.
func tableSize(n int) int {
	size := minTable
	for size < 2*n {
		size *= 2
	}
	return size
}

func (t *table) len() int { return t.n }

func (t *table) hash(k *key) uint32 {
	a := binary.LittleEndian.Uint64(k.addr[:8])
	b := binary.LittleEndian.Uint64(k.addr[8:])
	c := uint64(k.id)<<24 | uint64(k.seq)<<8 | uint64(k.fam)
	h := (a ^ t.seed) * 0x9e3779b97f4a7c15
	h = (h ^ b ^ h>>29) * 0xbf58476d1ce4e5b9
	h = (h ^ c ^ h>>32) * 0x94d049bb133111eb
	return uint32(h>>32) ^ uint32(h)
}

// find gives the slot holding k, or the empty slot where it would go, and whether k is there.
func (t *table) find(k *key, h uint32) (int, bool) {
	mask := len(t.slots) - 1
	i := int(h) & mask
	for {
		s := &t.slots[i]
		if !s.used {
			return i, false
		}
		if s.hash == h && s.k == *k {
			return i, true
		}
		i = (i + 1) & mask
	}
}

func (t *table) get(k key) (entry, bool) {
	i, ok := t.find(&k, t.hash(&k))
	if !ok {
		return entry{}, false
	}
	return t.slots[i].e, true
}

// insert adds k unless it is there already, and reports whether it did.
func (t *table) insert(k key, e entry) bool {
	h := t.hash(&k)
	i, ok := t.find(&k, h)
	if ok {
		return false
	}
	if 2*(t.n+1) > len(t.slots) {
		t.grow()
		i, _ = t.find(&k, h)
	}
	t.slots[i] = slot{k: k, used: true, hash: h, e: e}
	t.n++
	return true
}

// remove deletes k and gives its entry.
func (t *table) remove(k key) (entry, bool) {
	i, ok := t.find(&k, t.hash(&k))
	if !ok {
		return entry{}, false
	}
	e := t.slots[i].e
	t.n--
	// Shift later entries of the run back over the hole, so that every entry stays reachable
	// from its home slot without crossing an empty one.
	mask := len(t.slots) - 1
	for {
		t.slots[i] = slot{}
		j := i
		for {
			j = (j + 1) & mask
			s := &t.slots[j]
			if !s.used {
				return e, true
			}
			home := int(s.hash) & mask
			// s may move to i when its home is not cyclically within (i, j].
			if (i < j && (home <= i || home > j)) || (i > j && home <= i && home > j) {
				t.slots[i] = *s
				i = j
				break
			}
		}
	}
}

func (t *table) grow() {
	old := t.slots
	t.slots = make([]slot, 2*len(old))
	mask := len(t.slots) - 1
	for _, s := range old {
		if !s.used {
			continue
		}
		i := int(s.hash) & mask
		for t.slots[i].used {
			i = (i + 1) & mask
		}
		t.slots[i] = s
	}
}
