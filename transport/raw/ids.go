package raw

import (
	"slices"
	"sync"
	"sync/atomic"
)

// maxFilterIDs is the number of identifiers the kernel filter names one by one; beyond it
// the filter checks types only and user space alone checks identifiers.
const maxFilterIDs = 16

// idSet holds the echo identifiers the transport sends with: a lock-free bitmap for the
// per-packet check, and the list the kernel filter is built from.
type idSet struct {
	bits [65536 / 64]atomic.Uint64

	mu       sync.Mutex
	list     []uint16 // in the kernel filter, in order of first use
	typeOnly bool     // the list overflowed: the kernel filter checks types only
}

func (s *idSet) init(id uint16) {
	s.list = []uint16{id}
	s.set(id)
}

// has reports whether id is one of the transport's identifiers.
func (s *idSet) has(id int) bool {
	if id < 0 || id > 0xffff {
		return false
	}
	return s.bits[id>>6].Load()&(1<<(id&63)) != 0
}

func (s *idSet) set(id uint16) {
	s.bits[id>>6].Or(1 << (id & 63))
}

// filter gives the identifiers the kernel filter should name, nil for a types-only filter.
// The caller holds s.mu.
func (s *idSet) filter() []uint16 {
	if s.typeOnly {
		return nil
	}
	return slices.Clone(s.list)
}

// add records a new identifier in the list, turning to a types-only filter past
// maxFilterIDs. The caller holds s.mu and sets the bit once the kernel filter lets the
// identifier through.
func (s *idSet) add(id uint16) {
	if s.typeOnly || slices.Contains(s.list, id) {
		return
	}
	if len(s.list) == maxFilterIDs {
		s.typeOnly = true
		return
	}
	s.list = append(s.list, id)
}
