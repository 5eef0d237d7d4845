package mock_test

import (
	"context"
	"net/netip"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/icmpkit/icmpkit/transport"
	"github.com/icmpkit/icmpkit/transport/mock"
)

// TestScale sends 200,000 requests to 100,000 hosts of 198.18.0.0/15, two rounds a second
// apart, and receives every reply. Under the race detector it runs a tenth of that.
func TestScale(t *testing.T) {
	if testing.Short() {
		t.Skip("large")
	}
	synctest.Test(t, func(t *testing.T) {
		hosts := 100_000
		if raceDetector {
			hosts = 10_000
		}
		n := mock.NewNetwork(mock.Config{Seed: 1})
		addrs := make([]netip.Addr, hosts)
		for i := range addrs {
			addrs[i] = netip.AddrFrom4([4]byte{198, 18 + byte(i>>16), byte(i >> 8), byte(i)})
			h := mock.Host{Latency: time.Duration(1+i%200) * time.Millisecond}
			if i%10 == 0 {
				h.Dead = true
			}
			require.NoError(t, n.AddHost(addrs[i], h))
		}
		tr := n.Transport(mock.TransportConfig{NoRecord: true})
		defer tr.Close()

		done := make(chan int)
		go func() {
			got := 0
			batch := make([]transport.Reply, 64)
			for {
				k, err := tr.ReceiveBatch(context.Background(), batch)
				if err != nil {
					done <- got
					return
				}
				got += k
			}
		}()
		ctx := context.Background()
		for round := range 2 {
			for i, a := range addrs {
				req := transport.Request{Destination: a, ID: 1, Seq: round, PayloadSize: 56}
				if err := tr.Send(ctx, &req); err != nil {
					require.NoError(t, err, "host %d", i)
				}
			}
			time.Sleep(time.Second)
		}
		synctest.Wait()
		want := 2 * (hosts - hosts/10)
		assert.Equal(t, mock.Counts{Sent: 2 * hosts, Delivered: want, Received: want}, tr.Counts())
		require.NoError(t, tr.Close())
		assert.Equal(t, want, <-done)
	})
}

// TestSendReceiveAllocs pins the per-packet cost: a request sent and its reply received
// allocate nothing once the transport's buffers have grown.
func TestSendReceiveAllocs(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n := mock.NewNetwork(mock.Config{})
		require.NoError(t, n.AddHost(host4, mock.Host{}))
		tr := n.Transport(mock.TransportConfig{NoRecord: true})
		defer tr.Close()
		ctx := context.Background()
		req := transport.Request{Destination: host4, PayloadSize: 56}
		var r transport.Reply
		round := func() {
			req.Seq = (req.Seq + 1) & 0xffff
			if err := tr.Send(ctx, &req); err != nil {
				t.Fatal(err)
			}
			if err := tr.Receive(ctx, &r); err != nil {
				t.Fatal(err)
			}
		}
		round()
		allocs := testing.AllocsPerRun(1000, round)
		assert.LessOrEqual(t, allocs, 0.0, "allocations per request and reply")
	})
}
