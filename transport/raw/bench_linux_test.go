package raw

import (
	"context"
	"net/netip"
	"testing"
	"time"

	"github.com/icmpkit/icmpkit/transport"
)

// benchmarkFlood keeps window requests in flight to dst and reports replies per second.
func benchmarkFlood(b *testing.B, dsts []netip.Addr, batch bool) {
	requireRaw(b)
	tr, err := New(Config{})
	if err != nil {
		b.Fatal(err)
	}
	defer tr.Close()
	const window = 2048
	const chunk = 64
	ctx := context.Background()
	credits := make(chan int, window/chunk)
	for range window / chunk {
		credits <- chunk
	}
	done := make(chan struct{})
	total := b.N
	go func() {
		defer close(done)
		replies := make([]transport.Reply, chunk)
		got := 0
		pending := 0
		for got < total {
			rctx, cancel := context.WithTimeout(ctx, 2*time.Second)
			n, err := tr.ReceiveBatch(rctx, replies)
			cancel()
			if err != nil {
				b.Errorf("receive after %d of %d: %v", got, total, err)
				return
			}
			got += n
			pending += n
			for pending >= chunk {
				pending -= chunk
				credits <- chunk
			}
		}
	}()
	reqs := make([]transport.Request, chunk)
	b.ResetTimer()
	start := time.Now()
	seq := 0
	for sent := 0; sent < total; {
		k := min(<-credits, total-sent)
		if batch {
			for i := range k {
				reqs[i] = transport.Request{Destination: dsts[seq%len(dsts)], ID: tr.id, Seq: seq & 0xffff, PayloadSize: 56}
				seq++
			}
			if _, err := tr.SendBatch(ctx, reqs[:k]); err != nil {
				b.Fatal(err)
			}
		} else {
			for range k {
				req := transport.Request{Destination: dsts[seq%len(dsts)], ID: tr.id, Seq: seq & 0xffff, PayloadSize: 56}
				seq++
				if err := tr.Send(ctx, &req); err != nil {
					b.Fatal(err)
				}
			}
		}
		sent += k
	}
	<-done
	b.ReportMetric(float64(total)/time.Since(start).Seconds(), "replies/s")
}

func BenchmarkFloodV4Batch(b *testing.B)    { benchmarkFlood(b, []netip.Addr{lo4}, true) }
func BenchmarkFloodV4Single(b *testing.B)   { benchmarkFlood(b, []netip.Addr{lo4}, false) }
func BenchmarkFloodV6Batch(b *testing.B)    { benchmarkFlood(b, []netip.Addr{lo6}, true) }
func BenchmarkFloodMixedBatch(b *testing.B) { benchmarkFlood(b, []netip.Addr{lo4, lo6}, true) }
