//go:build linux

package dgram

import (
	"context"
	"net/netip"
	"sync/atomic"
	"testing"
	"time"

	"github.com/icmpkit/icmpkit/internal/lab"
	"github.com/icmpkit/icmpkit/transport"
)

// BenchmarkLoopbackThroughput sends batches of echo requests to loopback while another
// goroutine reads the replies in batches, keeping a window of requests in flight; one
// operation is one reply received.
func BenchmarkLoopbackThroughput(b *testing.B) {
	for _, dst := range []netip.Addr{lo4, lo6} {
		b.Run(dst.String(), func(b *testing.B) {
			c := lab.NewChain(b, lab.ChainConfig{})
			if err := c.SetPingGroupRange(c.Client.NS, 0, 2147483647); err != nil {
				b.Fatal(err)
			}
			var tr *Transport
			if err := lab.Do(c.Client.NS, func() error {
				var err error
				tr, err = New(Config{})
				return err
			}); err != nil {
				b.Fatal(err)
			}
			defer tr.Close()
			const window = 2048
			var received atomic.Int64
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			done := make(chan error, 1)
			b.ResetTimer()
			start := time.Now()
			go func() {
				replies := make([]transport.Reply, 64)
				for received.Load() < int64(b.N) {
					n, err := tr.ReceiveBatch(ctx, replies)
					if err != nil {
						done <- err
						return
					}
					received.Add(int64(n))
				}
				done <- nil
			}()
			reqs := make([]transport.Request, 64)
			sent := 0
			for sent < b.N {
				if int64(sent)-received.Load() >= window {
					time.Sleep(20 * time.Microsecond)
					continue
				}
				k := min(len(reqs), b.N-sent)
				for i := range reqs[:k] {
					reqs[i] = transport.Request{Destination: dst, Seq: (sent + i) & 0xffff, PayloadSize: 56}
				}
				n, err := tr.SendBatch(ctx, reqs[:k])
				if err != nil {
					b.Fatal(err)
				}
				sent += n
			}
			if err := <-done; err != nil {
				b.Fatal(err)
			}
			b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "replies/s")
		})
	}
}
