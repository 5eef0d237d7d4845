//go:build windows

package winicmp

import (
	"context"
	"fmt"
	"net/netip"
	"os"
	"sync"
	"testing"
	"time"
	"unsafe"

	icmperrors "github.com/icmpkit/icmpkit/errors"
	"github.com/icmpkit/icmpkit/internal/lab"
	"github.com/icmpkit/icmpkit/probe"
	"github.com/icmpkit/icmpkit/transport"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/net/ipv4"
	"golang.org/x/net/ipv6"
	"golang.org/x/sys/windows"
)

// wineVersion gives the version of Wine the test runs under, "" on Windows itself.
func wineVersion() string {
	p := windows.NewLazySystemDLL("ntdll.dll").NewProc("wine_get_version")
	if p.Find() != nil {
		return ""
	}
	r, _, _ := p.Call()
	return windows.BytePtrToString(*(**byte)(unsafe.Pointer(&r)))
}

// open opens a transport of the families cfg asks for, closed at the end of the test.
func open(t *testing.T, cfg Config) *Transport {
	t.Helper()
	tr, err := New(cfg)
	require.NoError(t, err, "the ICMP API needs no privilege on Windows")
	t.Cleanup(func() { tr.Close() })
	return tr
}

// v6OrSkip gives a transport with IPv6, or skips the test under a Wine that has no ICMPv6 in
// its ICMP API, saying which calls it lacks. On Windows itself IPv6 must open.
func v6OrSkip(t *testing.T) *Transport {
	t.Helper()
	tr, err := New(Config{Family: transport.FamilyIPv6})
	if err != nil && wineVersion() != "" && icmperrors.Is(err, icmperrors.ErrNotSupported) {
		t.Skipf("Wine %s does not implement Icmp6CreateFile and Icmp6SendEcho2 (%v)", wineVersion(), err)
	}
	require.NoError(t, err)
	t.Cleanup(func() { tr.Close() })
	return tr
}

func TestWindowsPingLoopback(t *testing.T) {
	tr := open(t, Config{Family: transport.FamilyIPv4})
	assert.Equal(t, "dgram", tr.Name())
	id, fixed := tr.Identifier(lo4)
	assert.False(t, fixed, "the system pairs replies with requests: any identifier serves")
	assert.NotZero(t, id)

	for _, tc := range []struct {
		name    string
		id, seq int
		payload int
	}{
		{"default identifier", id, 1, 56},
		{"identifier and sequence of the caller's", 0x1234, 0xbeef, 56},
		{"no payload", 7, 0, 0},
		{"large payload", 8, 2, 1400},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req := transport.Request{Destination: lo4, ID: tc.id, Seq: tc.seq, Payload: make([]byte, tc.payload)}
			transport.FillPayload(req.Payload)
			before := time.Now()
			require.NoError(t, tr.Send(context.Background(), &req))
			assert.Equal(t, tc.id, req.ID, "Send keeps the caller's identifier")
			assert.False(t, req.SentAt.Before(before), "SentAt is stamped when sending")
			r := receiveMatching(t, tr, lo4, tc.seq)
			assert.Equal(t, lo4, r.Source)
			assert.Equal(t, lo4, r.Destination)
			assert.Equal(t, tc.id, r.ID)
			assert.Equal(t, ipv4.ICMPTypeEchoReply, r.Type)
			assert.Equal(t, 0, r.Code)
			assert.Equal(t, 8+tc.payload, r.Bytes)
			// The replier's initial TTL: Linux's 64 under Wine, Windows' own 128.
			assert.Contains(t, []int{64, 128}, r.TTL)
			assert.False(t, r.ReceivedAt.Before(req.SentAt))
			assert.Less(t, r.ReceivedAt.Sub(req.SentAt), time.Second)
		})
	}
}

func TestWindowsPingLoopbackV6(t *testing.T) {
	tr := v6OrSkip(t)
	v4, v6 := tr.Families()
	assert.False(t, v4)
	assert.True(t, v6)
	req := transport.Request{Destination: lo6, ID: 3, Seq: 9, PayloadSize: 56}
	require.NoError(t, tr.Send(context.Background(), &req))
	r := receiveMatching(t, tr, lo6, 9)
	assert.Equal(t, lo6, r.Source)
	assert.Equal(t, 3, r.ID)
	assert.Equal(t, ipv6.ICMPTypeEchoReply, r.Type)
	assert.Equal(t, 64, r.Bytes)
}

// Under Wine 8.0 a transport of both families opens IPv4 alone, and a request to an IPv6
// address names the missing call; on Windows both open.
func TestWindowsFamilies(t *testing.T) {
	tr := open(t, Config{})
	v4, v6 := tr.Families()
	assert.True(t, v4)
	if v6 {
		return
	}
	require.NotEmpty(t, wineVersion(), "Windows itself has Icmp6CreateFile")
	req := transport.Request{Destination: lo6}
	err := tr.Send(context.Background(), &req)
	require.ErrorIs(t, err, icmperrors.ErrNotSupported)
	assert.Contains(t, err.Error(), "Icmp6CreateFile")
}

// More requests than maxInFlight, sent at once from several goroutines, each answered once.
func TestWindowsManyInFlight(t *testing.T) {
	tr := open(t, Config{Family: transport.FamilyIPv4})
	const senders = 4
	perSender := (maxInFlight + 1000) / senders
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	got := map[[2]int]int{}
	var mu sync.Mutex
	recvDone := make(chan struct{})
	go func() {
		defer close(recvDone)
		buf := make([]transport.Reply, 64)
		for {
			n, err := tr.ReceiveBatch(ctx, buf)
			if err != nil {
				return
			}
			mu.Lock()
			for _, r := range buf[:n] {
				got[[2]int{r.ID, r.Seq}]++
			}
			total := len(got)
			mu.Unlock()
			if total == senders*perSender {
				return
			}
		}
	}()
	var wg sync.WaitGroup
	for g := range senders {
		wg.Go(func() {
			reqs := make([]transport.Request, perSender)
			for i := range reqs {
				reqs[i] = transport.Request{Destination: lo4, ID: 100 + g, Seq: i, PayloadSize: 16}
			}
			for sent := 0; sent < len(reqs); {
				n, err := tr.SendBatch(ctx, reqs[sent:])
				if !assert.NoError(t, err) {
					return
				}
				sent += n
			}
		})
	}
	wg.Wait()
	<-recvDone
	mu.Lock()
	defer mu.Unlock()
	require.Len(t, got, senders*perSender, "every request answered")
	for k, n := range got {
		require.Equal(t, 1, n, "request %v answered once", k)
	}
}

// Poll hands over the replies that have come in without waiting for more; until Receive is
// first called they wait for Poll alone, and each comes out once.
func TestWindowsPoll(t *testing.T) {
	tr := open(t, Config{Family: transport.FamilyIPv4})
	buf := make([]transport.Reply, 8)
	start := time.Now()
	n, err := tr.Poll(buf)
	require.NoError(t, err)
	assert.Zero(t, n, "nothing has arrived")
	assert.Less(t, time.Since(start), 100*time.Millisecond, "Poll does not wait")

	const count = 20
	for seq := range count {
		req := transport.Request{Destination: lo4, ID: 77, Seq: seq, PayloadSize: 56}
		require.NoError(t, tr.Send(context.Background(), &req))
	}
	seen := map[int]int{}
	deadline := time.Now().Add(5 * time.Second)
	for len(seen) < count && time.Now().Before(deadline) {
		n, err := tr.Poll(buf)
		require.NoError(t, err)
		for _, r := range buf[:n] {
			seen[r.Seq]++
		}
		if n == 0 {
			time.Sleep(time.Millisecond)
		}
	}
	require.Len(t, seen, count, "every reply through Poll")
	for seq, k := range seen {
		assert.Equal(t, 1, k, "seq %d once", seq)
	}
	require.NoError(t, tr.Close())
	_, err = tr.Poll(buf)
	require.ErrorIs(t, err, icmperrors.ErrUnavailable)
}

func TestWindowsCloseAndContext(t *testing.T) {
	tr, err := New(Config{Family: transport.FamilyIPv4})
	require.NoError(t, err)

	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	var r transport.Reply
	require.ErrorIs(t, tr.Receive(ctx, &r), context.DeadlineExceeded)

	cancelled, stop := context.WithCancel(context.Background())
	stop()
	req := transport.Request{Destination: lo4}
	require.ErrorIs(t, tr.Send(cancelled, &req), context.Canceled)

	errc := make(chan error, 1)
	go func() { errc <- tr.Receive(context.Background(), &r) }()
	time.Sleep(50 * time.Millisecond)
	start := time.Now()
	require.NoError(t, tr.Close())
	select {
	case err := <-errc:
		require.ErrorIs(t, err, icmperrors.ErrUnavailable)
	case <-time.After(5 * time.Second):
		t.Fatal("Close did not unblock Receive")
	}
	assert.Less(t, time.Since(start), 2*time.Second)
	require.NoError(t, tr.Close(), "a second Close")
	require.ErrorIs(t, tr.Send(context.Background(), &req), icmperrors.ErrUnavailable)
	require.ErrorIs(t, tr.Receive(context.Background(), &r), icmperrors.ErrUnavailable)
	_, err = tr.Poll(make([]transport.Reply, 1))
	require.ErrorIs(t, err, icmperrors.ErrUnavailable)
}

func TestWindowsBadInput(t *testing.T) {
	_, err := New(Config{Interface: "eth0"})
	require.ErrorIs(t, err, icmperrors.ErrNotSupported)
	assert.Contains(t, err.Error(), "source")
	_, err = New(Config{ReplyTimeout: -time.Second})
	require.ErrorIs(t, err, icmperrors.ErrInvalidArgument)

	tr := open(t, Config{Family: transport.FamilyIPv4})
	require.ErrorIs(t, tr.SetBroadcast(true), icmperrors.ErrNotSupported)
	require.NoError(t, tr.SetBroadcast(false))
	for _, req := range []transport.Request{
		{Destination: lo4, TTL: 300},
		{Destination: lo4, Seq: -1},
		{},
		{Destination: netip.MustParseAddr("::ffff:127.0.0.1")},
		{Destination: lo4, PayloadSize: transport.MaxPayloadV4 + 1},
	} {
		require.ErrorIs(t, tr.Send(context.Background(), &req), icmperrors.ErrInvalidArgument, "%+v", req)
	}
}

func TestWindowsProbePingAndMultiping(t *testing.T) {
	tr := open(t, Config{Family: transport.FamilyIPv4})
	h, err := probe.Ping(context.Background(), tr, lo4, &probe.PingOptions{Count: 3, Interval: 10 * time.Millisecond})
	require.NoError(t, err)
	assert.Equal(t, 3, h.PacketsSent)
	assert.Equal(t, 3, h.PacketsReceived())

	var targets []netip.Addr
	for i := 1; i <= 50; i++ {
		targets = append(targets, netip.AddrFrom4([4]byte{127, 0, 0, byte(i)}))
	}
	hosts, err := probe.Multiping(context.Background(), tr, targets, &probe.MultipingOptions{Count: 2, Interval: 10 * time.Millisecond})
	require.NoError(t, err)
	require.Len(t, hosts, len(targets))
	for i, h := range hosts {
		assert.Equal(t, targets[i], h.Address)
		assert.Equal(t, 2, h.PacketsReceived(), "%s", h.Address)
	}
}

// labChain gives the chain of namespaces the Linux side built around this process (see
// integration/wine_linux_test.go), or skips (fails with ICMPKIT_REQUIRE_PRIV=1) without one.
func labChain(t *testing.T) lab.ChainInfo {
	t.Helper()
	if _, ok := os.LookupEnv(lab.EnvInfo); !ok {
		lab.SkipOrFail(t, "no lab: %s is set by the Linux test that runs this binary under wine64 in a chain of namespaces", lab.EnvInfo)
	}
	return lab.ChildChain(t)
}

// TestWindowsLabTTL sends with per-request TTLs through the chain: each router answers the
// TTL that expires there, and the target's reply comes back with the routers' decrements.
func TestWindowsLabTTL(t *testing.T) {
	c := labChain(t)
	tr := open(t, Config{Family: transport.FamilyIPv4})
	dst := c.Target.V4
	for ttl, hop := range c.Hops() {
		ttl++
		if ttl == len(c.Routers)+1 {
			break
		}
		if isSilent(c, ttl) {
			continue
		}
		req := transport.Request{Destination: dst, ID: 5, Seq: ttl, PayloadSize: 56, TTL: ttl}
		require.NoError(t, tr.Send(context.Background(), &req))
		r := receiveMatching(t, tr, dst, ttl)
		assert.Equal(t, hop.V4, r.Source, "TTL %d", ttl)
		assert.Equal(t, ipv4.ICMPTypeTimeExceeded, r.Type)
		assert.Equal(t, transport.KindTimeExceeded, r.Kind())
		assert.Equal(t, 5, r.ID)
	}
	req := transport.Request{Destination: dst, ID: 5, Seq: 100, PayloadSize: 56, TTL: 64}
	require.NoError(t, tr.Send(context.Background(), &req))
	r := receiveMatching(t, tr, dst, 100)
	assert.Equal(t, dst, r.Source)
	assert.Equal(t, transport.KindEchoReply, r.Kind())
	assert.Equal(t, 64-len(c.Routers), r.TTL, "the target's 64, less one for each router")
}

func isSilent(c lab.ChainInfo, router int) bool {
	for _, s := range c.Config.Silent {
		if s == router {
			return true
		}
	}
	return false
}

// TestWindowsLabTraceroute traces the chain with probe.Traceroute, many probes in flight: the
// hops are exactly the chain's, the silent router absent.
func TestWindowsLabTraceroute(t *testing.T) {
	c := labChain(t)
	tr := open(t, Config{Family: transport.FamilyIPv4})
	trace, err := probe.Traceroute(context.Background(), tr, c.Target.V4,
		&probe.TraceOptions{Timeout: time.Second, MaxHops: 10})
	require.NoError(t, err)
	assert.True(t, trace.Reached)
	var want, got []string
	for i, n := range c.Hops() {
		if !isSilent(c, i+1) {
			want = append(want, fmtHop(i+1, n.V4))
		}
	}
	for _, h := range trace.Hops {
		got = append(got, fmtHop(h.Distance, h.Address))
		assert.Equal(t, 3, h.PacketsReceived(), "distance %d", h.Distance)
	}
	assert.Equal(t, want, got)
}

func fmtHop(d int, a netip.Addr) string { return fmt.Sprintf("%d %s", d, a) }

// TestWindowsLabDeadHost pings a host that never answers: every request times out, after
// the timeout and not much later, and Close does not wait for the system's own time-out.
func TestWindowsLabDeadHost(t *testing.T) {
	c := labChain(t)
	require.NotEmpty(t, c.DeadV4)
	tr, err := New(Config{Family: transport.FamilyIPv4, ReplyTimeout: 10 * time.Second})
	require.NoError(t, err)
	start := time.Now()
	h, err := probe.Ping(context.Background(), tr, c.DeadV4[0],
		&probe.PingOptions{Count: 2, Interval: 100 * time.Millisecond, Timeout: 500 * time.Millisecond})
	require.NoError(t, err)
	elapsed := time.Since(start)
	assert.Equal(t, 2, h.PacketsSent)
	assert.Zero(t, h.PacketsReceived())
	assert.False(t, h.IsAlive())
	assert.GreaterOrEqual(t, elapsed, 600*time.Millisecond)
	assert.Less(t, elapsed, 3*time.Second)

	start = time.Now()
	require.NoError(t, tr.Close(), "with two requests still in the system's hands")
	assert.Less(t, time.Since(start), 2*time.Second)
}

// TestWindowsLabUnreachable: a router that refuses a destination answers Destination
// Unreachable, host unreachable, from its address.
func TestWindowsLabUnreachable(t *testing.T) {
	c := labChain(t)
	require.NotEmpty(t, c.UnreachableV4)
	tr := open(t, Config{Family: transport.FamilyIPv4})
	dst := c.UnreachableV4[0]
	req := transport.Request{Destination: dst, ID: 9, Seq: 1, PayloadSize: 56}
	require.NoError(t, tr.Send(context.Background(), &req))
	r := receiveMatching(t, tr, dst, 1)
	assert.Equal(t, c.UnreachableFrom().V4, r.Source)
	assert.Equal(t, ipv4.ICMPTypeDestinationUnreachable, r.Type)
	assert.Equal(t, 1, r.Code)
	assert.Equal(t, "!H", r.Unreachable())
}
