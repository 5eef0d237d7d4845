package integration

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"runtime"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/icmpkit/icmpkit/internal/lab"
	"github.com/icmpkit/icmpkit/probe"
	"github.com/icmpkit/icmpkit/transport"
	"github.com/icmpkit/icmpkit/transport/dgram"
	"github.com/icmpkit/icmpkit/transport/raw"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// hardModes are the transports the hostile and fault tests run through. Both are opened as
// root in the client's namespace: ping sockets after net.ipv4.ping_group_range there admits
// group 0.
var hardModes = []string{"raw", "dgram"}

// hardOpen opens a transport of the mode in the client's namespace, closed at the end of the
// test.
func hardOpen(t *testing.T, c *lab.Chain, mode string) transport.Transport {
	t.Helper()
	if mode == "dgram" {
		require.NoError(t, c.SetPingGroupRange(c.Client.NS, 0, 0))
	}
	var tr transport.Transport
	require.NoError(t, lab.Do(c.Client.NS, func() error {
		var err error
		switch mode {
		case "raw":
			tr, err = raw.New(raw.Config{})
		case "dgram":
			tr, err = dgram.New(dgram.Config{})
		default:
			err = fmt.Errorf("unknown mode %q", mode)
		}
		return err
	}), "open %s transport in %s", mode, c.Client.NS)
	t.Cleanup(func() { tr.Close() })
	return tr
}

// hardID gives the identifier tr's requests to dst carry.
func hardID(t *testing.T, tr transport.Transport, dst netip.Addr) int {
	t.Helper()
	idr, ok := tr.(transport.Identifier)
	require.True(t, ok, "%T does not say its identifier", tr)
	id, _ := idr.Identifier(dst)
	require.NotZero(t, id, "no identifier for %s", dst)
	return id
}

// hardCounting passes everything to the transport it wraps and counts the replies that the
// transport hands up, so a test can tell how much of a flood got past the kernel and the
// transport's own filters to the prober.
type hardCounting struct {
	tr      transport.Transport
	replies atomic.Int64
}

var (
	_ transport.Transport     = (*hardCounting)(nil)
	_ transport.Identifier    = (*hardCounting)(nil)
	_ transport.BatchReceiver = (*hardCounting)(nil)
	_ transport.BatchSender   = (*hardCounting)(nil)
	_ transport.Namer         = (*hardCounting)(nil)
)

func (c *hardCounting) Send(ctx context.Context, req *transport.Request) error {
	return c.tr.Send(ctx, req)
}

func (c *hardCounting) SendBatch(ctx context.Context, reqs []transport.Request) (int, error) {
	return c.tr.(transport.BatchSender).SendBatch(ctx, reqs)
}

func (c *hardCounting) Receive(ctx context.Context, reply *transport.Reply) error {
	err := c.tr.Receive(ctx, reply)
	if err == nil {
		c.replies.Add(1)
	}
	return err
}

func (c *hardCounting) ReceiveBatch(ctx context.Context, replies []transport.Reply) (int, error) {
	n, err := c.tr.(transport.BatchReceiver).ReceiveBatch(ctx, replies)
	c.replies.Add(int64(n))
	return n, err
}

func (c *hardCounting) Close() error { return c.tr.Close() }

func (c *hardCounting) Identifier(dst netip.Addr) (int, bool) {
	return c.tr.(transport.Identifier).Identifier(dst)
}

func (c *hardCounting) Name() string { return c.tr.(transport.Namer).Name() }

// hardHeap gives HeapInuse after two collections.
func hardHeap() uint64 {
	runtime.GC()
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapInuse
}

// hardFloodStats is what one flooded multiping measured.
type hardFloodStats struct {
	count         int
	flooded       int // forged packets sent
	handedUp      int // replies the transport handed to the prober, real ones included
	took          time.Duration
	before, after uint64 // HeapInuse
	kinds         map[string]int
}

func (s hardFloodStats) growth() int64 { return int64(s.after) - int64(s.before) }

// hardHeapBound is the most the heap may grow over one flooded multiping, short or long. The
// long flood gets tens of thousands of forged packets past the kernel and the transport to the
// prober (the test checks it), so keeping as little as 64 bytes of each would exceed it.
const hardHeapBound = 512 << 10

// hardMinHandedUp is the fewest replies the long flood must get handed up to the prober for
// the heap bound to mean something: 64 bytes kept of each would exceed hardHeapBound.
const hardMinHandedUp = 10000

// TestHardHostileFlood runs a Multiping (the target and two dead hosts, IPv4 and IPv6) while
// the target's namespace and the router forge ICMP at the client: echo replies with our
// identifier and sequences never sent, replies naming requests in flight but from the wrong
// host, another program's replies, errors quoting our identifier with sequences never sent,
// errors quoting another identifier, truncated and corrupted errors, bad checksums. Counts
// must stay exact, nothing may be received that was not sent, and the heap after the flood
// must be within a fixed bound, the same for a flood twice as long.
func TestHardHostileFlood(t *testing.T) {
	for _, mode := range hardModes {
		t.Run(mode, func(t *testing.T) {
			c := lab.NewChain(t, lab.ChainConfig{Routers: 1, DeadHosts: 2})
			tr := &hardCounting{tr: hardOpen(t, c, mode)}
			// The transport starts its readers, with their buffers and reply queue, when a run
			// first waits for replies. A run without a flood does so before the heap is first
			// measured, so that the bound speaks of the floods alone.
			hosts, err := probe.Multiping(context.Background(), tr, []netip.Addr{c.Target.V4, c.Target.V6},
				&probe.MultipingOptions{Count: 1, Timeout: 2 * time.Second})
			require.NoError(t, err, "multiping before the floods")
			for _, h := range hosts {
				require.True(t, h.IsAlive(), "%s before the floods", h.Address)
			}
			short := hardFloodRun(t, c, tr, 20)
			long := hardFloodRun(t, c, tr, 40)
			for _, s := range []hardFloodStats{short, long} {
				t.Logf("%s: count %d, %v, %d forged packets (%.0f/s), %d replies handed up by the transport: HeapInuse %d -> %d KiB (%+d KiB, bound %d KiB)",
					mode, s.count, s.took.Round(time.Millisecond), s.flooded, float64(s.flooded)/s.took.Seconds(), s.handedUp,
					s.before>>10, s.after>>10, s.growth()/1024, hardHeapBound>>10)
			}
			var kinds []string
			for k, n := range long.kinds {
				kinds = append(kinds, fmt.Sprintf("%6d %s", n, k))
			}
			slices.Sort(kinds)
			t.Logf("forged in the long run, by kind:\n%s", strings.Join(kinds, "\n"))
			assert.Greater(t, long.flooded, short.flooded, "the second flood is longer")
			assert.GreaterOrEqual(t, long.handedUp, hardMinHandedUp, "forged packets that reached the prober in the long run")
			for _, s := range []hardFloodStats{short, long} {
				assert.LessOrEqual(t, s.growth(), int64(hardHeapBound),
					"heap grew by %d bytes over a flood of %d packets", s.growth(), s.flooded)
			}
		})
	}
}

// hardFloodRun runs one flooded multiping with count requests a host and checks its counts.
func hardFloodRun(t *testing.T, c *lab.Chain, tr *hardCounting, count int) hardFloodStats {
	t.Helper()
	targets := []netip.Addr{c.Target.V4, c.DeadV4[0], c.DeadV4[1], c.Target.V6, c.DeadV6[0], c.DeadV6[1]}
	ids := [2]int{hardID(t, tr, c.Target.V4), hardID(t, tr, c.Target.V6)}
	sent, forged := newHardSeqSet(targets), newHardSeqSet(targets)
	sniffer := hardSniff(t, c.Target.NS, c.Client, ids, sent)
	r1 := c.Router(1)
	var flooders []*hardFlooder
	for fam, v6 := range []bool{false, true} {
		pick := func(n lab.Node) netip.Addr { return rawPick(n, v6) }
		other := 1
		for other == ids[0] || other == ids[1] {
			other++
		}
		f := &hardFlooder{
			v6: v6, client: pick(c.Client), id: ids[fam], otherID: other,
			target: hardListen(t, c.Target.NS, pick(c.Target)), router: hardListen(t, r1.NS, pick(r1)),
			sniffer: sniffer, forged: forged, window: len(targets) * count,
			targetIx: forged.index(pick(c.Target)), kinds: map[string]int{},
			quoteSeen: tr.Name() == "raw",
			rng:       rand.New(rand.NewPCG(uint64(count), uint64(fam))),
		}
		for _, d := range [][]netip.Addr{c.DeadV4, c.DeadV6}[fam] {
			f.dead = append(f.dead, hardListen(t, c.Target.NS, d))
			f.deadIx = append(f.deadIx, forged.index(d))
		}
		flooders = append(flooders, f)
	}

	stats := hardFloodStats{count: count, kinds: map[string]int{}}
	stats.before = hardHeap()
	handedUp := tr.replies.Load()
	stop := make(chan struct{})
	flood := make(chan error, 1)
	go func() { flood <- hardFlood(flooders, stop, 1) }()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	start := time.Now()
	hosts, err := probe.Multiping(ctx, tr, targets, &probe.MultipingOptions{
		Count: count, Interval: 50 * time.Millisecond, Timeout: 500 * time.Millisecond,
	})
	stats.took = time.Since(start)
	close(stop)
	require.NoError(t, <-flood, "flood")
	sniffer.stop()
	stats.handedUp = int(tr.replies.Load() - handedUp)
	stats.after = hardHeap()
	require.NoError(t, err, "multiping under a flood")
	for _, f := range flooders {
		stats.flooded += f.total
		for k, n := range f.kinds {
			stats.kinds[fmt.Sprintf("v%d %s", map[bool]int{false: 4, true: 6}[f.v6], k)] += n
		}
	}

	require.Len(t, hosts, len(targets))
	for i, h := range hosts {
		alive := i%3 == 0
		want := 0
		if alive {
			want = count
		}
		assert.Equal(t, targets[i], h.Address, "host %d", i)
		assert.Equal(t, count, h.PacketsSent, "%s: sent", targets[i])
		assert.Equal(t, want, h.PacketsReceived(), "%s: received", targets[i])
		assert.Zero(t, h.Duplicates, "%s: duplicates", targets[i])
		assert.Zero(t, h.Errors, "%s: ICMP errors", targets[i])
		assert.Equal(t, count, sent.count(i), "%s: requests seen arriving", targets[i])
		assert.Empty(t, forged.common(sent, i), "%s: sequences both forged and sent: the flood should have avoided them", targets[i])
	}
	assert.Zero(t, sniffer.foreign.Load(), "requests with an identifier other than the transport's")
	assert.Greater(t, stats.flooded, 100*count, "the flood ran")
	// Only 2*count replies are real; the rest of what came up is forged and had to be
	// recognized as such by the prober.

	return stats
}
