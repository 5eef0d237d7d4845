package main

import (
	"bufio"
	"io"
	"net/netip"
	"testing"
	"time"

	"github.com/icmpkit/icmpkit/result"
)

func allocHost() *result.Host {
	h := &result.Host{Address: netip.MustParseAddr("127.0.12.34"), PacketsSent: 1}
	h.Stats.Add(42814 * time.Nanosecond)
	return h
}

// A multiping writes a line a host into its buffered output: that allocates nothing, in text
// (fping -q's summary) as in JSON, also across the writer's flushes.
func TestHostLineAllocatesNothing(t *testing.T) {
	h := allocHost()
	w := bufio.NewWriterSize(io.Discard, 4096)
	out := &fpingOut{flags: fpingFlags{quiet: true}, stdout: w, stderr: w}
	if n := testing.AllocsPerRun(1000, func() { out.host(7, h) }); n != 0 {
		t.Errorf("a summary line (-q): %v allocations a host, want 0", n)
	}
	var buf []byte
	if n := testing.AllocsPerRun(1000, func() {
		buf = append(h.AppendJSON(buf[:0]), '\n')
		w.Write(buf)
	}); n != 0 {
		t.Errorf("a JSON line: %v allocations a host, want 0", n)
	}
}

func BenchmarkHostLineText(b *testing.B) {
	h := allocHost()
	w := bufio.NewWriterSize(io.Discard, 64<<10)
	out := &fpingOut{flags: fpingFlags{quiet: true}, stdout: w, stderr: w}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		out.host(i, h)
		i++
	}
}

func BenchmarkHostLineJSON(b *testing.B) {
	h := allocHost()
	w := bufio.NewWriterSize(io.Discard, 64<<10)
	var buf []byte
	b.ReportAllocs()
	for b.Loop() {
		buf = append(h.AppendJSON(buf[:0]), '\n')
		w.Write(buf)
	}
}
