package raw

import (
	"context"
	"net/netip"
	"os"
	"runtime"
	"sync"
	"testing"
	"time"
	"unsafe"

	icmperrors "github.com/icmpkit/icmpkit/errors"
	"github.com/icmpkit/icmpkit/internal/transporttest"
	"github.com/icmpkit/icmpkit/transport"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/net/ipv4"
	"golang.org/x/net/ipv6"
	"golang.org/x/sys/unix"
)

func TestPingLoopback(t *testing.T) {
	tr := open(t, Config{})
	for _, dst := range []netip.Addr{lo4, lo6} {
		t.Run(dst.String(), func(t *testing.T) {
			id, fixed := tr.Identifier(dst)
			require.False(t, fixed)
			require.NotZero(t, id)
			reqs := make([]*transport.Request, 3)
			for i := range reqs {
				reqs[i] = &transport.Request{Destination: dst, ID: id, Seq: 100 + i, PayloadSize: 56}
				require.NoError(t, tr.Send(context.Background(), reqs[i]))
				require.False(t, reqs[i].SentAt.IsZero(), "SentAt stamped")
			}
			wantType := any(ipv4.ICMPTypeEchoReply)
			if dst.Is6() {
				wantType = ipv6.ICMPTypeEchoReply
			}
			got := receiveSeqs(t, tr, dst, id, 100, 101, 102)
			for _, req := range reqs {
				r := got[req.Seq]
				assert.Equal(t, dst, r.Source)
				assert.Equal(t, wantType, r.Type)
				assert.Equal(t, 0, r.Code)
				assert.Equal(t, 64, r.Bytes)
				assert.Equal(t, 64, r.TTL, "received TTL / hop limit")
				assert.Zero(t, r.MTU)
				assert.Empty(t, r.MPLS)
				assert.NoError(t, r.Err())
				rtt := r.ReceivedAt.Sub(req.SentAt)
				assert.Positive(t, rtt, "kernel receive time after the send")
				assert.Less(t, rtt, time.Second)
			}
		})
	}
}

func TestReceiveContext(t *testing.T) {
	tr := open(t, Config{})
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	var r transport.Reply
	var err error
	for err == nil { // a stray reply for our identifier may come first
		err = tr.Receive(ctx, &r)
	}
	require.ErrorIs(t, err, context.DeadlineExceeded)

	ctx, cancel = context.WithCancel(context.Background())
	go func() {
		time.Sleep(20 * time.Millisecond)
		cancel()
	}()
	for err = nil; err == nil; {
		err = tr.Receive(ctx, &r)
	}
	require.ErrorIs(t, err, context.Canceled)
	_, err = tr.ReceiveBatch(ctx, make([]transport.Reply, 4))
	require.ErrorIs(t, err, context.Canceled)
	_, err = tr.ReceiveBatch(context.Background(), nil)
	require.ErrorIs(t, err, icmperrors.ErrInvalidArgument)
}

func TestCloseUnblocksReceive(t *testing.T) {
	requireRaw(t)
	// A first transport lets the runtime start its lazy helpers (finalizers, cleanups).
	warm, err := New(Config{})
	require.NoError(t, err)
	require.NoError(t, warm.Close())
	runtime.GC()
	goroutines := runtime.NumGoroutine()
	fds := openFDs(t)
	tr, err := New(Config{})
	require.NoError(t, err)
	// The DF socket opens on first use; it must close too.
	require.NoError(t, tr.Send(context.Background(), &transport.Request{Destination: lo4, ID: tr.id, Seq: 1, DontFragment: true}))

	const waiters = 8
	errs := make(chan error, waiters)
	var started sync.WaitGroup
	for i := range waiters {
		started.Add(1)
		go func() {
			started.Done()
			var r transport.Reply
			var err error
			for err == nil {
				if i%2 == 0 {
					err = tr.Receive(context.Background(), &r)
				} else {
					_, err = tr.ReceiveBatch(context.Background(), make([]transport.Reply, 8))
				}
			}
			errs <- err
		}()
	}
	started.Wait()
	time.Sleep(20 * time.Millisecond)
	require.NoError(t, tr.Close())
	for range waiters {
		select {
		case err := <-errs:
			require.ErrorIs(t, err, icmperrors.ErrUnavailable)
			require.ErrorIs(t, err, icmperrors.ErrSocket)
		case <-time.After(5 * time.Second):
			t.Fatal("Receive still blocked after Close")
		}
	}

	var r transport.Reply
	require.ErrorIs(t, tr.Receive(context.Background(), &r), icmperrors.ErrUnavailable)
	require.ErrorIs(t, tr.Send(context.Background(), &transport.Request{Destination: lo4}), icmperrors.ErrUnavailable)
	n, err := tr.SendBatch(context.Background(), []transport.Request{{Destination: lo4}})
	require.Zero(t, n)
	require.ErrorIs(t, err, icmperrors.ErrUnavailable)
	require.ErrorIs(t, tr.SetBroadcast(true), icmperrors.ErrUnavailable)
	require.NoError(t, tr.Close(), "a second Close is harmless")

	assert.Equal(t, fds, openFDs(t), "file descriptors back to baseline")
	// Close waited for the readers; the waiters above may still be on their way out.
	for deadline := time.Now().Add(2 * time.Second); runtime.NumGoroutine() > goroutines && time.Now().Before(deadline); {
		time.Sleep(5 * time.Millisecond)
	}
	if !assert.LessOrEqual(t, runtime.NumGoroutine(), goroutines, "goroutines back to baseline") {
		buf := make([]byte, 1<<16)
		t.Logf("%s", buf[:runtime.Stack(buf, true)])
	}
}

func TestSendAfterCloseRace(t *testing.T) {
	// Sends racing Close end with nil or ErrUnavailable, nothing else, and never hang.
	tr := open(t, Config{})
	var wg sync.WaitGroup
	errs := make(chan error, 1000)
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for seq := range 200 {
				err := tr.Send(context.Background(), &transport.Request{Destination: lo4, ID: tr.id, Seq: seq})
				if err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	time.Sleep(time.Millisecond)
	require.NoError(t, tr.Close())
	wg.Wait()
	close(errs)
	for err := range errs {
		require.ErrorIs(t, err, icmperrors.ErrUnavailable)
	}
}

func TestBadRequests(t *testing.T) {
	tr := open(t, Config{})
	tests := []struct {
		name string
		req  transport.Request
	}{
		{"no destination", transport.Request{}},
		{"mapped destination", transport.Request{Destination: netip.MustParseAddr("::ffff:127.0.0.1")}},
		{"identifier", transport.Request{Destination: lo4, ID: 70000}},
		{"sequence", transport.Request{Destination: lo4, Seq: -1}},
		{"ttl", transport.Request{Destination: lo4, TTL: 256}},
		{"traffic class", transport.Request{Destination: lo6, TrafficClass: 300}},
		{"payload", transport.Request{Destination: lo4, PayloadSize: transport.MaxPayloadV4 + 1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := tt.req
			require.ErrorIs(t, tr.Send(context.Background(), &req), icmperrors.ErrInvalidArgument)
			require.True(t, req.SentAt.IsZero())
			n, err := tr.SendBatch(context.Background(), []transport.Request{req})
			require.Zero(t, n)
			require.ErrorIs(t, err, icmperrors.ErrInvalidArgument)
		})
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	require.ErrorIs(t, tr.Send(ctx, &transport.Request{Destination: lo4}), context.Canceled)
}

// Replies to another program's echo requests (another identifier) never reach Receive,
// although the kernel answers them and a plain raw socket sees them. The first one the
// reader sees makes it attach the socket's BPF program; the kernel drops the rest.
func TestForeignIdentifierDropped(t *testing.T) {
	tr := open(t, Config{})
	tr.rx.Start() // as Receive does
	for _, dst := range []netip.Addr{lo4, lo6} {
		t.Run(dst.String(), func(t *testing.T) {
			s := tr.sys.v4
			if dst.Is6() {
				s = tr.sys.v6
			}
			require.Zero(t, filterLen(t, s), "no BPF program before foreign traffic")
			foreign := tr.id ^ 0x8000
			plain := newCapture(t, dst.Is6())
			before := tr.drops.Load()
			sendPlain(t, dst, foreign, 1)
			plain.request(t, foreign, 1) // the request went out on loopback
			require.Eventually(t, func() bool { return filterLen(t, s) > 0 }, 5*time.Second, time.Millisecond,
				"the first foreign reply brings the BPF program")
			// Other programs pinging at the same time may add to the drops until then.
			dropped := tr.drops.Load()
			assert.Greater(t, dropped, before, "the first foreign reply was dropped in user space")

			sendPlain(t, dst, foreign, 2)
			plain.request(t, foreign, 2)
			require.NoError(t, tr.Send(context.Background(), &transport.Request{Destination: dst, ID: tr.id, Seq: 3}))
			r, err := receive(tr, 5*time.Second)
			require.NoError(t, err)
			require.Equal(t, tr.id, r.ID)
			require.Equal(t, 3, r.Seq, "the foreign replies, which came first, were dropped")
			for {
				r, err := receive(tr, 100*time.Millisecond)
				if err != nil {
					break
				}
				require.NotEqual(t, foreign, r.ID, "foreign reply delivered")
			}
			assert.Equal(t, dropped, tr.drops.Load(), "the kernel filter dropped the second foreign reply")

			// A new identifier of ours gets through the program in place.
			other := tr.id ^ 0x2000
			if dst.Is6() {
				other = tr.id ^ 0x1000
			}
			require.NoError(t, tr.Send(context.Background(), &transport.Request{Destination: dst, ID: other, Seq: 4}))
			receiveSeqs(t, tr, dst, other, 4)
		})
	}
}

// filterLen gives the number of instructions of the BPF program attached to s, 0 for none.
func filterLen(t testing.TB, s *sock) int {
	t.Helper()
	var n uint32 // optlen: 0 asks for the length alone
	var errno unix.Errno
	require.NoError(t, s.fd.Control(func(fd uintptr) {
		_, _, errno = unix.Syscall6(unix.SYS_GETSOCKOPT, fd, unix.SOL_SOCKET, unix.SO_GET_FILTER, 0, uintptr(unsafe.Pointer(&n)), 0)
	}))
	require.Zero(t, errno, "getsockopt SO_GET_FILTER")
	return int(n)
}

// Requests may use identifiers other than the configured one, more than the kernel filter
// names one by one.
func TestOtherIdentifiers(t *testing.T) {
	tr := open(t, Config{ID: 1000})
	id, _ := tr.Identifier(lo4)
	require.Equal(t, 1000, id)
	const n = maxFilterIDs + 4
	for i := range n {
		for _, dst := range []netip.Addr{lo4, lo6} {
			require.NoError(t, tr.Send(context.Background(), &transport.Request{Destination: dst, ID: 2000 + i, Seq: i}))
		}
	}
	got := map[netip.Addr]map[int]bool{lo4: {}, lo6: {}}
	deadline := time.Now().Add(5 * time.Second)
	for len(got[lo4])+len(got[lo6]) < 2*n {
		r, err := receive(tr, time.Until(deadline))
		require.NoError(t, err, "have %v", got)
		if r.ID == 2000+r.Seq {
			got[r.Destination][r.Seq] = true
		}
	}
	tr.ids.mu.Lock()
	assert.True(t, tr.ids.typeOnly, "past %d identifiers the kernel filter checks types only", maxFilterIDs)
	tr.ids.mu.Unlock()
}

func TestPerPacketOptions(t *testing.T) {
	tr := open(t, Config{})
	type opt struct {
		ttl, tos int
		df       bool
	}
	opts := []opt{{7, 0x20, false}, {200, 0xb8, false}, {0, 0, false}, {33, 0x48, true}, {1, 0x04, true}}
	for _, dst := range []netip.Addr{lo4, lo6} {
		t.Run(dst.String(), func(t *testing.T) {
			cap := newCapture(t, dst.Is6())
			// Concurrent senders with different options: each packet keeps its own.
			var wg sync.WaitGroup
			errs := make([]error, len(opts))
			for i, o := range opts {
				wg.Add(1)
				go func() {
					defer wg.Done()
					errs[i] = tr.Send(context.Background(), &transport.Request{Destination: dst, ID: tr.id, Seq: 500 + i,
						TTL: o.ttl, TrafficClass: o.tos, DontFragment: o.df, PayloadSize: 24})
				}()
			}
			wg.Wait()
			for i, o := range opts {
				require.NoError(t, errs[i])
				got := cap.request(t, tr.id, 500+i)
				wantTTL := o.ttl
				if wantTTL == 0 {
					wantTTL = transport.DefaultTTL
				}
				assert.Equal(t, wantTTL, got.ttl, "ttl of request %d", i)
				assert.Equal(t, o.tos, got.tos, "traffic class of request %d", i)
				if dst.Is4() {
					assert.Equal(t, o.df, got.df, "DF of request %d", i)
				}
				assert.Equal(t, 32, got.ipPayload)
			}
			receiveSeqs(t, tr, dst, tr.id, 500, 501, 502, 503, 504)
		})
	}
}

func TestBroadcastOff(t *testing.T) {
	tr := open(t, Config{})
	require.False(t, tr.Broadcast())
	for _, dst := range []string{"255.255.255.255", "127.255.255.255"} {
		err := tr.Send(context.Background(), &transport.Request{Destination: netip.MustParseAddr(dst), ID: tr.id})
		require.ErrorIs(t, err, icmperrors.ErrBroadcast, dst)
		var e *icmperrors.Error
		require.ErrorAs(t, err, &e)
		require.Contains(t, e.Hint, "SetBroadcast")
	}
	err := tr.Send(context.Background(), &transport.Request{Destination: netip.MustParseAddr("127.255.255.255"), ID: tr.id})
	require.ErrorIs(t, err, unix.EACCES, "the kernel's refusal is kept")

	require.NoError(t, tr.SetBroadcast(true))
	require.True(t, tr.Broadcast())
	require.NoError(t, tr.Send(context.Background(), &transport.Request{Destination: netip.MustParseAddr("127.255.255.255"), ID: tr.id}))
	require.NoError(t, tr.Send(context.Background(), &transport.Request{Destination: netip.MustParseAddr("127.255.255.255"), ID: tr.id, DontFragment: true}))
	require.NoError(t, tr.SetBroadcast(false))
	err = tr.Send(context.Background(), &transport.Request{Destination: netip.MustParseAddr("127.255.255.255"), ID: tr.id, DontFragment: true})
	require.ErrorIs(t, err, icmperrors.ErrBroadcast, "the DF socket follows the setting")
}

func TestPermissionDenied(t *testing.T) {
	requireRaw(t)
	type outcome struct {
		tr  *Transport
		err error
	}
	done := make(chan outcome, 1)
	go func() {
		// This thread loses CAP_NET_RAW and is never unlocked, so it ends with the goroutine.
		runtime.LockOSThread()
		hdr := unix.CapUserHeader{Version: unix.LINUX_CAPABILITY_VERSION_3}
		var data [2]unix.CapUserData
		if err := unix.Capget(&hdr, &data[0]); err != nil {
			done <- outcome{err: err}
			return
		}
		data[0].Effective &^= 1 << unix.CAP_NET_RAW
		if err := unix.Capset(&hdr, &data[0]); err != nil {
			done <- outcome{err: err}
			return
		}
		tr, err := New(Config{})
		done <- outcome{tr, err}
	}()
	o := <-done
	if o.tr != nil {
		o.tr.Close()
	}
	require.Error(t, o.err)
	require.ErrorIs(t, o.err, icmperrors.ErrPermission)
	require.ErrorIs(t, o.err, os.ErrPermission)
	require.ErrorIs(t, o.err, unix.EPERM)
	var e *icmperrors.Error
	require.ErrorAs(t, o.err, &e)
	for _, remedy := range []string{"root", "CAP_NET_RAW", "setcap cap_net_raw+ep", "dgram"} {
		assert.Contains(t, e.Hint, remedy)
	}
}

func TestSourceAndInterface(t *testing.T) {
	requireRaw(t)
	good := []Config{
		{Source: lo4},
		{Source: lo6},
		{Source: netip.MustParseAddr("::ffff:127.0.0.1")},
		{Interface: "lo"},
		{Source: lo4, Interface: "lo", Family: transport.FamilyIPv4},
	}
	for _, cfg := range good {
		tr := open(t, cfg)
		for _, dst := range []netip.Addr{lo4, lo6} {
			if dst.Is6() && tr.Family() == transport.FamilyIPv4 {
				continue
			}
			require.NoError(t, tr.Send(context.Background(), &transport.Request{Destination: dst, ID: tr.id, Seq: 9}), "%+v", cfg)
			receiveMatching(t, tr, bySeq(dst, tr.id, 9))
		}
	}
	bad := []Config{
		{Source: netip.MustParseAddr("198.18.0.1")},
		{Source: netip.MustParseAddr("2001:db8::1")},
		{Interface: "nosuchif0"},
	}
	for _, cfg := range bad {
		tr, err := New(cfg)
		require.Nil(t, tr)
		require.ErrorIs(t, err, icmperrors.ErrAddress, "%+v", cfg)
	}
}

func TestFamilies(t *testing.T) {
	both := open(t, Config{})
	assert.Equal(t, transport.FamilyBoth, both.Family())
	assert.Equal(t, "raw", both.Name())

	v4 := open(t, Config{Family: transport.FamilyIPv4})
	assert.Equal(t, transport.FamilyIPv4, v4.Family())
	require.ErrorIs(t, v4.Send(context.Background(), &transport.Request{Destination: lo6}), icmperrors.ErrNotSupported)
	require.NoError(t, v4.Send(context.Background(), &transport.Request{Destination: lo4, ID: v4.id}))

	v6 := open(t, Config{Family: transport.FamilyIPv6})
	assert.Equal(t, transport.FamilyIPv6, v6.Family())
	require.ErrorIs(t, v6.Send(context.Background(), &transport.Request{Destination: lo4}), icmperrors.ErrNotSupported)
	require.NoError(t, v6.Send(context.Background(), &transport.Request{Destination: lo6, ID: v6.id}))
}

func TestBatch(t *testing.T) {
	tr := open(t, Config{})
	const n = 300
	reqs := make([]transport.Request, n)
	for i := range reqs {
		dst := lo4
		if i%3 == 0 {
			dst = lo6
		}
		reqs[i] = transport.Request{Destination: dst, ID: tr.id, Seq: i, PayloadSize: 16, TTL: 1 + i%255}
	}
	reqs[77].DontFragment = true
	sent, err := tr.SendBatch(context.Background(), reqs)
	require.NoError(t, err)
	require.Equal(t, n, sent)
	for i := range reqs {
		require.False(t, reqs[i].SentAt.IsZero(), "request %d stamped", i)
	}
	got := make(map[int]bool)
	replies := make([]transport.Reply, 64)
	deadline := time.Now().Add(5 * time.Second)
	for len(got) < n {
		ctx, cancel := context.WithDeadline(context.Background(), deadline)
		k, err := tr.ReceiveBatch(ctx, replies)
		cancel()
		require.NoError(t, err, "%d of %d replies", len(got), n)
		require.Positive(t, k)
		for _, r := range replies[:k] {
			if r.ID == tr.id && r.Seq < n && r.Destination == reqs[r.Seq].Destination {
				got[r.Seq] = true
				assert.True(t, r.ReceivedAt.After(reqs[r.Seq].SentAt), "seq %d", r.Seq)
			}
		}
	}

	// A bad request in the middle: those before it go, the error names it.
	bad := []transport.Request{{Destination: lo4, ID: tr.id, Seq: 1}, {Destination: lo6, ID: tr.id, Seq: 2}, {Destination: lo4, TTL: 999}, {Destination: lo4}}
	sent, err = tr.SendBatch(context.Background(), bad)
	require.Equal(t, 2, sent)
	require.ErrorIs(t, err, icmperrors.ErrInvalidArgument)
	require.True(t, bad[2].SentAt.IsZero())
}

func TestLargePayload(t *testing.T) {
	tr := open(t, Config{})
	for _, dst := range []netip.Addr{lo4, lo6} {
		size := transport.MaxPayload(dst)
		require.NoError(t, tr.Send(context.Background(), &transport.Request{Destination: dst, ID: tr.id, Seq: 4242, PayloadSize: size}))
		r := receiveMatching(t, tr, bySeq(dst, tr.id, 4242))
		assert.Equal(t, size+8, r.Bytes, "%s", dst)
	}
}

func TestExplicitPayload(t *testing.T) {
	tr := open(t, Config{})
	cap := newCapture(t, false)
	require.NoError(t, tr.Send(context.Background(), &transport.Request{Destination: lo4, ID: tr.id, Seq: 77, Payload: []byte("icmpkit"), PayloadSize: 1000}))
	assert.Equal(t, 15, cap.request(t, tr.id, 77).ipPayload)
	r := receiveMatching(t, tr, bySeq(lo4, tr.id, 77))
	assert.Equal(t, 15, r.Bytes)
}

func TestReceiveBuffer(t *testing.T) {
	tr := open(t, Config{ReceiveBuffer: 1 << 16})
	var size int
	require.NoError(t, tr.sys.v4.fd.Control(func(fd uintptr) {
		size, _ = unix.GetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_RCVBUF)
	}))
	assert.Equal(t, 2<<16, size, "the kernel doubles what was set")
	def := open(t, Config{})
	require.NoError(t, def.sys.v6.fd.Control(func(fd uintptr) {
		size, _ = unix.GetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_RCVBUF)
	}))
	assert.Equal(t, 2*DefaultReceiveBuffer, size)
}

// The steady-state send and receive paths allocate nothing per packet.
func TestAllocations(t *testing.T) {
	tr := open(t, Config{})
	for _, dst := range []netip.Addr{lo4, lo6} {
		req := &transport.Request{Destination: dst, ID: tr.id, PayloadSize: 56}
		var r transport.Reply
		ctx := context.Background()
		roundTrip := func() {
			req.Seq++
			if err := tr.Send(ctx, req); err != nil {
				panic(err)
			}
			for {
				if err := tr.Receive(ctx, &r); err != nil {
					panic(err)
				}
				if r.Seq == req.Seq && r.Destination == dst {
					return
				}
			}
		}
		for range 10 {
			roundTrip()
		}
		allocs := testing.AllocsPerRun(200, roundTrip)
		assert.Zero(t, allocs, "allocations per round trip to %s", dst)
	}
}

// A request that may not be fragmented switches its socket's path MTU discovery mode for its
// own send only: the requests after it leave as before, and the mode is back.
func TestDontFragmentSwitchesBack(t *testing.T) {
	tr := open(t, Config{})
	for _, dst := range []netip.Addr{lo4, lo6} {
		s, level, opt := tr.sys.v4, unix.IPPROTO_IP, unix.IP_MTU_DISCOVER
		if dst.Is6() {
			s, level, opt = tr.sys.v6, unix.IPPROTO_IPV6, unix.IPV6_MTU_DISCOVER
		}
		mode := func() int {
			var v int
			var err error
			require.NoError(t, s.fd.Control(func(fd uintptr) { v, err = unix.GetsockoptInt(int(fd), level, opt) }))
			require.NoError(t, err)
			return v
		}
		before := mode()
		cap := newCapture(t, dst.Is6())
		for i, df := range []bool{false, true, false, true, true, false} {
			require.NoError(t, tr.Send(context.Background(), &transport.Request{Destination: dst, ID: tr.id, Seq: 900 + i, DontFragment: df}))
			assert.Equal(t, before, mode(), "%s: the mode is back after request %d", dst, i)
			if dst.Is4() {
				assert.Equal(t, df, cap.request(t, tr.id, 900+i).df, "DF of request %d", i)
			}
		}
		reqs := []transport.Request{{Destination: dst, ID: tr.id, Seq: 910}, {Destination: dst, ID: tr.id, Seq: 911, DontFragment: true},
			{Destination: dst, ID: tr.id, Seq: 912, DontFragment: true}, {Destination: dst, ID: tr.id, Seq: 913}}
		n, err := tr.SendBatch(context.Background(), reqs)
		require.NoError(t, err)
		require.Equal(t, len(reqs), n)
		assert.Equal(t, before, mode())
		if dst.Is4() {
			for _, r := range reqs {
				assert.Equal(t, r.DontFragment, cap.request(t, tr.id, r.Seq).df, "DF of batched request %d", r.Seq)
			}
		}
		receiveSeqs(t, tr, dst, tr.id, 900, 901, 902, 903, 904, 905, 910, 911, 912, 913)
	}
}

// Poll takes without waiting what has arrived, sharing the sockets with the readers that feed
// Receive: every reply comes out once, through one or the other.
func TestPoll(t *testing.T) {
	tr := open(t, Config{})
	transporttest.PollBesideReceive(t, tr, []netip.Addr{lo4, lo6}, 200,
		func(dst netip.Addr, seq int) transport.Request {
			return transport.Request{Destination: dst, ID: tr.id, Seq: seq}
		},
		func(r *transport.Reply) bool { return r.ID == tr.id })
}

// The sockets' readers start with the first Receive: a transport whose replies are all
// polled runs no goroutine of its own, and Close after either is clean.
func TestReadersStartWithReceive(t *testing.T) {
	tr := open(t, Config{})
	require.NoError(t, tr.Send(context.Background(), &transport.Request{Destination: lo4, ID: tr.id, Seq: 1}))
	buf := make([]transport.Reply, 1)
	require.Eventually(t, func() bool {
		n, err := tr.Poll(buf)
		require.NoError(t, err)
		return n == 1
	}, 5*time.Second, time.Millisecond)
	assert.Equal(t, 1, buf[0].Seq)
	assert.False(t, tr.rx.Started(), "Poll starts no reader, and makes no queue")
	assert.False(t, tr.sys.v4.fd.Registered(), "sends and polls leave the socket out of the poller")
	assert.False(t, tr.sys.v6.fd.Registered())

	require.NoError(t, tr.Send(context.Background(), &transport.Request{Destination: lo6, ID: tr.id, Seq: 2}))
	r := receiveMatching(t, tr, bySeq(lo6, tr.id, 2))
	assert.Equal(t, transport.KindEchoReply, r.Kind())
	assert.True(t, tr.rx.Started(), "Receive starts the readers")
	assert.Eventually(t, func() bool { return tr.sys.v4.fd.Registered() && tr.sys.v6.fd.Registered() },
		5*time.Second, time.Millisecond, "the readers wait in the poller")

	idle := open(t, Config{})
	require.NoError(t, idle.Close(), "closing a transport whose readers never started")
	var rep transport.Reply
	assert.ErrorIs(t, idle.Receive(context.Background(), &rep), icmperrors.ErrUnavailable)
	assert.False(t, idle.rx.Started(), "no reader starts once closed")
}

// TestSendWaitsForRoom: a send that finds the socket's buffer full has the socket join the
// poller and wait there for room; the transport goes on working through the poller, and a
// transport closed before its sockets joined it refuses sends.
func TestSendWaitsForRoom(t *testing.T) {
	tr := open(t, Config{Family: transport.FamilyIPv4})
	s := tr.sys.v4
	calls := 0
	require.NoError(t, s.fd.Write(func(fd uintptr) bool {
		calls++
		return calls > 1 // the first attempt finds no room, as sendmsg's EAGAIN
	}))
	assert.Equal(t, 2, calls)
	assert.True(t, s.fd.Registered(), "registered to wait")
	require.NoError(t, tr.Send(context.Background(), &transport.Request{Destination: lo4, ID: tr.id, Seq: 1}))
	receiveMatching(t, tr, bySeq(lo4, tr.id, 1))

	direct := open(t, Config{Family: transport.FamilyIPv4})
	require.NoError(t, direct.Close())
	assert.False(t, direct.sys.v4.fd.Registered())
	assert.ErrorIs(t, direct.Send(context.Background(), &transport.Request{Destination: lo4, ID: direct.id, Seq: 1}), icmperrors.ErrUnavailable)
}

// TestRegisterWhileSending: sends made directly while the readers start and register the
// sockets, and a Close in the middle, neither lose replies nor touch a closed descriptor (run
// with -race).
func TestRegisterWhileSending(t *testing.T) {
	for round := range 20 {
		tr := open(t, Config{Family: transport.FamilyIPv4})
		var wg sync.WaitGroup
		for g := range 4 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := range 50 {
					err := tr.Send(context.Background(), &transport.Request{Destination: lo4, ID: tr.id, Seq: g*100 + i})
					if err != nil {
						assert.ErrorIs(t, err, icmperrors.ErrUnavailable, "round %d", round)
						return
					}
				}
			}()
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			var rep transport.Reply
			ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
			defer cancel()
			tr.Receive(ctx, &rep) // starts the readers, registering the socket mid-send
		}()
		if round%2 == 1 {
			tr.Close()
		}
		wg.Wait()
		tr.Close()
	}
}
