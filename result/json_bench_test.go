package result

import (
	"net/netip"
	"testing"
	"time"
)

// A multiping writes one JSON object a host: writing it into a reused buffer allocates
// nothing.
func BenchmarkHostAppendJSON(b *testing.B) {
	h := Host{Address: netip.MustParseAddr("127.0.12.34"), PacketsSent: 1}
	h.Add(42814 * time.Nanosecond)
	buf := h.AppendJSON(nil)
	b.ReportAllocs()
	for b.Loop() {
		buf = h.AppendJSON(buf[:0])
	}
}

func TestHostAppendJSONAllocatesNothing(t *testing.T) {
	h := Host{Address: netip.MustParseAddr("2001:db8::1"), PacketsSent: 4}
	for _, d := range []time.Duration{42814, 1234567, 3 * time.Second, 7} {
		h.Add(d)
	}
	buf := h.AppendJSON(nil)
	if n := testing.AllocsPerRun(100, func() { buf = h.AppendJSON(buf[:0]) }); n != 0 {
		t.Errorf("AppendJSON into a buffer large enough: %v allocations, want 0", n)
	}
}
