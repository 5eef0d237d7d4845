package probe_test

import (
	"context"
	"fmt"
	"net/netip"
	"os"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/icmpkit/icmpkit/internal/lab"
	"github.com/icmpkit/icmpkit/probe"
	"github.com/icmpkit/icmpkit/transport"
	"github.com/icmpkit/icmpkit/transport/mock"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/net/ipv4"
	"golang.org/x/net/ipv6"
)

// TestMain runs the package's tests, as root, in a network namespace of their own with only
// loopback (lab.Isolate), and checks that they leave no goroutine behind.
func TestMain(m *testing.M) {
	lab.Isolate()
	before := runtime.NumGoroutine()
	code := m.Run()
	if code == 0 {
		deadline := time.Now().Add(5 * time.Second)
		for runtime.NumGoroutine() > before && time.Now().Before(deadline) {
			time.Sleep(10 * time.Millisecond)
		}
		if after := runtime.NumGoroutine(); after > before {
			buf := make([]byte, 1<<20)
			fmt.Fprintf(os.Stderr, "goroutines leaked: %d before, %d after\n%s\n", before, after, buf[:runtime.Stack(buf, true)])
			code = 1
		}
	}
	os.Exit(code)
}

// TestConcurrentCallsForAMinute runs Ping, Multiping and Traceroute calls side by side on one
// Prober for 60 s of simulated time; every call's counts must come out exact (run it with
// -race).
func TestConcurrentCallsForAMinute(t *testing.T) {
	bubble(t, mock.TransportConfig{}, func(t *testing.T, n *mock.Network, tr *mock.Transport) {
		dst := netip.MustParseAddr("198.18.200.1")
		dst6 := netip.MustParseAddr("2001:db8:ff::1")
		require.NoError(t, n.AddHost(dst, mock.Host{Latency: 5 * time.Millisecond}))
		require.NoError(t, n.AddHost(dst6, mock.Host{Latency: 7 * time.Millisecond}))
		chain(t, n, dst, 6, func(k int, r *mock.Router) { r.Silent = k == 3 })
		chain(t, n, dst6, 4, nil)
		var targets []netip.Addr
		for i := range 200 {
			a := addrN(1000 + i)
			targets = append(targets, a)
			require.NoError(t, n.AddHost(a, mock.Host{Latency: time.Duration(1+i%9) * time.Millisecond, Dead: i%4 == 0}))
		}
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		defer cancel()
		p := probe.New(tr, nil)
		defer p.Close()
		var wg sync.WaitGroup
		var mu sync.Mutex
		calls := map[string]int{}
		count := func(kind string) {
			mu.Lock()
			calls[kind]++
			mu.Unlock()
		}
		for w := range 4 {
			wg.Go(func() {
				for ctx.Err() == nil {
					h, err := p.Ping(ctx, []netip.Addr{dst, dst6}[w%2], &probe.PingOptions{Count: 10, Interval: 100 * time.Millisecond, Timeout: 500 * time.Millisecond})
					if err != nil {
						return
					}
					assert.Equal(t, 10, h.PacketsSent)
					assert.Equal(t, 10, h.PacketsReceived())
					count("ping")
				}
			})
		}
		for range 2 {
			wg.Go(func() {
				for ctx.Err() == nil {
					hosts, err := p.Multiping(ctx, targets, &probe.MultipingOptions{Count: 3, Interval: 200 * time.Millisecond, Timeout: 300 * time.Millisecond, Window: 50})
					if err != nil {
						return
					}
					for i, h := range hosts {
						want := 3
						if i%4 == 0 {
							want = 0
						}
						assert.Equal(t, 3, h.PacketsSent)
						assert.Equal(t, want, h.PacketsReceived(), "host %d", i)
					}
					count("multiping")
				}
			})
		}
		for w := range 2 {
			wg.Go(func() {
				for ctx.Err() == nil {
					target := []netip.Addr{dst, dst6}[w]
					trace, err := p.Traceroute(ctx, target, &probe.TraceOptions{Timeout: 500 * time.Millisecond})
					if err != nil {
						return
					}
					assert.True(t, trace.Reached)
					if w == 0 {
						assert.Equal(t, []int{1, 2, 4, 5, 6, 7}, distances(trace.Hops))
					} else {
						assert.Equal(t, []int{1, 2, 3, 4, 5}, distances(trace.Hops))
					}
					for _, h := range trace.Hops {
						assert.Equal(t, 3, h.PacketsReceived())
					}
					count("traceroute")
				}
			})
		}
		wg.Wait()
		t.Logf("calls completed in 60 s of simulated time: %v", calls)
		assert.Greater(t, calls["ping"], 4*40)
		assert.Greater(t, calls["multiping"], 2*15)
		assert.Greater(t, calls["traceroute"], 2*40)
	})
}

// TestForeignFlood sends a flood of foreign ICMP during a multiping: echo replies with our
// identifier but unknown sequences, replies from hosts never probed, errors quoting other
// programs' probes. The counts stay exact, and the flood leaves nothing behind.
func TestForeignFlood(t *testing.T) {
	bubble(t, mock.TransportConfig{ID: 4000}, func(t *testing.T, n *mock.Network, tr *mock.Transport) {
		var targets []netip.Addr
		for i := range 300 {
			a := addrN(i)
			if i%3 == 0 {
				a = v6N(i)
			}
			targets = append(targets, a)
			require.NoError(t, n.AddHost(a, mock.Host{Latency: time.Duration(1+i%5) * time.Millisecond, Dead: i%7 == 0}))
		}
		stranger := netip.MustParseAddr("198.18.250.250")
		flood := func(i int) transport.Reply {
			dst := targets[i%len(targets)]
			echo, exceeded := icmpTypes(dst)
			switch i % 4 {
			case 0: // our identifier, a sequence never sent
				return transport.Reply{Source: dst, Destination: dst, ID: 4000, Seq: 40000 + i%20000, Type: echo}
			case 1: // a host never probed
				return transport.Reply{Source: stranger, Destination: stranger, ID: 4000, Seq: i % 65536, Type: ipv4.ICMPTypeEchoReply}
			case 2: // an error quoting another program's probe
				return transport.Reply{Source: stranger, Destination: dst, ID: 4001, Seq: i % 65536, Type: exceeded}
			default: // another program's echo reply
				return transport.Reply{Source: dst, Destination: dst, ID: 123, Seq: i % 65536, Type: echo}
			}
		}
		start := time.Now()
		type forged struct {
			at  time.Time
			seq int
		}
		guesses := map[netip.Addr][]forged{} // our identifier, a sequence chosen blindly
		for i := range 50_000 {
			at := time.Duration(i) * 100 * time.Microsecond
			r := flood(i)
			if i%4 == 0 {
				guesses[r.Destination] = append(guesses[r.Destination], forged{start.Add(at), r.Seq})
			}
			require.NoError(t, tr.Inject(r, at))
		}
		const timeout = time.Second
		hosts, err := probe.Multiping(context.Background(), tr, targets, &probe.MultipingOptions{Count: 10, Interval: 500 * time.Millisecond, Timeout: timeout})
		require.NoError(t, err)

		// A blind guess may hit a request in flight: the sequences are the engine's, from a
		// random start. Such a hit is a forged reply that no one can tell from a real one; it
		// may take the real reply's place (which then counts as a duplicate). Count the hits
		// from what was sent, and allow exactly those.
		inFlight := map[netip.Addr][]transport.Request{}
		for _, req := range tr.Sent() {
			inFlight[req.Destination] = append(inFlight[req.Destination], req)
		}
		hits := func(dst netip.Addr) int {
			n := 0
			for _, g := range guesses[dst] {
				for _, req := range inFlight[dst] {
					if req.Seq == g.seq && !g.at.Before(req.SentAt) && g.at.Sub(req.SentAt) <= timeout {
						n++
					}
				}
			}
			return n
		}
		total := 0
		for i, h := range hosts {
			assert.Equal(t, 10, h.PacketsSent)
			want := 10
			if i%7 == 0 {
				want = 0
			}
			hit := hits(h.Address)
			total += hit
			assert.GreaterOrEqual(t, h.PacketsReceived(), want, "host %d", i)
			assert.LessOrEqual(t, h.PacketsReceived(), min(want+hit, 10), "host %d: only a lucky guess may count", i)
			assert.LessOrEqual(t, h.Duplicates, hit, "host %d", i)
			assert.Zero(t, h.Errors)
		}
		t.Logf("blind guesses that hit a request in flight: %d", total)
	})
}

func icmpTypes(dst netip.Addr) (echo, exceeded transportType) {
	if dst.Is6() {
		return ipv6.ICMPTypeEchoReply, ipv6.ICMPTypeTimeExceeded
	}
	return ipv4.ICMPTypeEchoReply, ipv4.ICMPTypeTimeExceeded
}

type transportType = interface{ Protocol() int }
