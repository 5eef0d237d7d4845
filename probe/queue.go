package probe

import "time"

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
