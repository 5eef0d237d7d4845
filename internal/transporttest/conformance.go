package transporttest

import (
	"context"
	"net/netip"
	"sync"
	"testing"
	"time"

	icmperrors "github.com/icmpkit/icmpkit/errors"
	"github.com/icmpkit/icmpkit/internal/lab"
	"github.com/icmpkit/icmpkit/internal/sockio"
	"github.com/icmpkit/icmpkit/transport"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Subject is a transport under the conformance suite (Conformance), with the addresses it
// reaches.
type Subject struct {
	// Open opens a fresh transport; the suite closes it.
	Open func(t *testing.T) transport.Transport
	// Live4 and Live6 answer every echo request at once (loopback, or mock hosts).
	Live4, Live6 netip.Addr
	// Refused draws a Destination Unreachable from RefusedBy for every echo request.
	Refused, RefusedBy netip.Addr
	// OpenMappedSource, when not nil, opens a transport configured with the IPv4-mapped form
	// of an IPv4 source address that reaches Live4 (raw and dgram take it unmapped).
	OpenMappedSource func(t *testing.T) transport.Transport
	// Wrap runs each test of the suite, for instance inside a testing/synctest bubble (the
	// mock); nil runs them as they are.
	Wrap func(t *testing.T, test func(t *testing.T))
}

// Conformance runs the behaviour every icmpkit transport shares against s: replies in the
// order of their requests, Close while Receive waits, ICMP errors that name the request they
// quote, IPv4-mapped addresses, and more replies than the reply queue holds.
func Conformance(t *testing.T, s Subject) {
	for _, tc := range []struct {
		name string
		test func(t *testing.T, s Subject)
	}{
		{"Ordering", testOrdering},
		{"CloseWhileReceiving", testCloseWhileReceiving},
		{"ErrorQuotesRequest", testErrorQuotesRequest},
		{"IPv4Mapped", testIPv4Mapped},
		{"BadRequests", testBadRequests},
		{"QueueOverflow", testQueueOverflow},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if s.Wrap == nil {
				tc.test(t, s)
				return
			}
			s.Wrap(t, func(t *testing.T) { tc.test(t, s) })
		})
	}
}

// open opens the subject's transport, closed when the test ends.
func (s Subject) open(t *testing.T) transport.Transport {
	t.Helper()
	tr := s.Open(t)
	t.Cleanup(func() { tr.Close() })
	return tr
}

// request gives the echo request seq to dst, with the transport's identifier.
func request(tr transport.Transport, dst netip.Addr, seq int) transport.Request {
	req := transport.Request{Destination: dst, Seq: seq, PayloadSize: 16}
	if id, ok := tr.(transport.Identifier); ok {
		req.ID, _ = id.Identifier(dst)
	}
	return req
}

// receive takes the next reply that concerns (dst, id), skipping any other, or fails after
// the wait.
func receive(t *testing.T, tr transport.Transport, dst netip.Addr, id int) transport.Reply {
	t.Helper()
	return ReceiveWhere(t, tr, func(r *transport.Reply) bool { return r.Destination == dst && r.ID == id })
}

// ReceiveWhere receives until a reply that keep accepts comes, skipping any other, or fails
// the test after 10 s.
func ReceiveWhere(t testing.TB, tr transport.Transport, keep func(*transport.Reply) bool) transport.Reply {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for {
		var r transport.Reply
		require.NoError(t, tr.Receive(ctx, &r), "no matching reply")
		if keep(&r) {
			return r
		}
	}
}

// testOrdering: replies to requests sent one after the other to one host come back in the
// order of the requests, each once, whichever family.
func testOrdering(t *testing.T, s Subject) {
	tr := s.open(t)
	const n = 200
	for _, dst := range []netip.Addr{s.Live4, s.Live6} {
		var id int
		for seq := range n {
			req := request(tr, dst, seq)
			require.NoError(t, tr.Send(context.Background(), &req))
			id = req.ID
		}
		for seq := range n {
			r := receive(t, tr, dst, id)
			require.Equal(t, transport.KindEchoReply, r.Kind(), "%+v", r)
			require.Equal(t, seq, r.Seq, "the replies from %s come in the order of the requests", dst)
			assert.Equal(t, dst, r.Source)
			assert.False(t, r.ReceivedAt.IsZero())
		}
	}
}

// testCloseWhileReceiving: Close unblocks every Receive and ReceiveBatch waiting, with
// errors.ErrUnavailable; later calls fail alike at once, and Close may be called again.
func testCloseWhileReceiving(t *testing.T, s Subject) {
	tr := s.Open(t)
	const waiters = 4
	errs := make(chan error, waiters)
	var started sync.WaitGroup
	for i := range waiters {
		started.Add(1)
		go func() {
			started.Done()
			if b, ok := tr.(transport.BatchReceiver); ok && i%2 == 1 {
				_, err := b.ReceiveBatch(context.Background(), make([]transport.Reply, 4))
				errs <- err
				return
			}
			var r transport.Reply
			errs <- tr.Receive(context.Background(), &r)
		}()
	}
	started.Wait()
	time.Sleep(50 * time.Millisecond) // let them wait
	require.NoError(t, tr.Close())
	for range waiters {
		select {
		case err := <-errs:
			assert.ErrorIs(t, err, icmperrors.ErrUnavailable)
		case <-time.After(5 * time.Second):
			t.Fatal("a Receive still waits after Close")
		}
	}
	assert.NoError(t, tr.Close(), "a second Close")
	var r transport.Reply
	assert.ErrorIs(t, tr.Receive(context.Background(), &r), icmperrors.ErrUnavailable)
	req := request(tr, s.Live4, 1)
	assert.ErrorIs(t, tr.Send(context.Background(), &req), icmperrors.ErrUnavailable)
	if b, ok := tr.(transport.BatchSender); ok {
		_, err := b.SendBatch(context.Background(), []transport.Request{req})
		assert.ErrorIs(t, err, icmperrors.ErrUnavailable)
	}
	if p, ok := tr.(transport.Poller); ok {
		_, err := p.Poll(make([]transport.Reply, 1))
		assert.ErrorIs(t, err, icmperrors.ErrUnavailable)
	}
}

// testErrorQuotesRequest: an ICMP error comes back as a Reply that names the request it
// quotes (destination, identifier, sequence) and the router that sent it.
func testErrorQuotesRequest(t *testing.T, s Subject) {
	tr := s.open(t)
	req := request(tr, s.Refused, 7)
	require.NoError(t, tr.Send(context.Background(), &req))
	r := receive(t, tr, s.Refused, req.ID)
	assert.Equal(t, transport.KindDestinationUnreachable, r.Kind(), "%+v", r)
	assert.Equal(t, s.RefusedBy, r.Source)
	assert.Equal(t, 7, r.Seq)
	assert.Positive(t, r.Bytes)
	assert.False(t, r.ReceivedAt.IsZero())
}

// testIPv4Mapped: an IPv4-mapped destination is refused as invalid, alone or in a batch,
// and a source given in that form is taken as the IPv4 address it maps.
func testIPv4Mapped(t *testing.T, s Subject) {
	tr := s.open(t)
	mapped := netip.AddrFrom16(s.Live4.As16())
	req := request(tr, mapped, 1)
	assert.ErrorIs(t, tr.Send(context.Background(), &req), icmperrors.ErrInvalidArgument)
	if b, ok := tr.(transport.BatchSender); ok {
		reqs := []transport.Request{request(tr, s.Live4, 2), request(tr, mapped, 3)}
		n, err := b.SendBatch(context.Background(), reqs)
		assert.ErrorIs(t, err, icmperrors.ErrInvalidArgument)
		assert.Equal(t, 1, n, "the valid request before the mapped one went out")
		r := receive(t, tr, s.Live4, reqs[0].ID)
		assert.Equal(t, 2, r.Seq)
	}
	if s.OpenMappedSource == nil {
		return
	}
	m := s.OpenMappedSource(t)
	t.Cleanup(func() { m.Close() })
	req = request(m, s.Live4, 4)
	require.NoError(t, m.Send(context.Background(), &req))
	r := receive(t, m, s.Live4, req.ID)
	assert.Equal(t, transport.KindEchoReply, r.Kind())
	assert.True(t, r.Source.Is4(), "replies name IPv4 addresses unmapped: %s", r.Source)
}

// testBadRequests: an invalid request fails with errors.ErrInvalidArgument and goes nowhere,
// alone or after a valid one in a batch; so does a batch receive without room; a send whose
// context has ended fails with the context's error.
func testBadRequests(t *testing.T, s Subject) {
	tr := s.open(t)
	for _, tc := range []struct {
		name string
		req  transport.Request
	}{
		{"no destination", transport.Request{}},
		{"identifier", transport.Request{Destination: s.Live4, ID: 70000}},
		{"sequence", transport.Request{Destination: s.Live4, Seq: -1}},
		{"payload size", transport.Request{Destination: s.Live4, PayloadSize: -1}},
		{"payload too large", transport.Request{Destination: s.Live4, PayloadSize: transport.MaxPayloadV4 + 1}},
		{"ttl", transport.Request{Destination: s.Live6, TTL: 256}},
		{"traffic class v4", transport.Request{Destination: s.Live4, TrafficClass: 256}},
		{"traffic class v6", transport.Request{Destination: s.Live6, TrafficClass: 300}},
	} {
		// No subtests: the mock runs the suite inside a synctest bubble, where t.Run may not.
		req := tc.req
		require.ErrorIs(t, tr.Send(context.Background(), &req), icmperrors.ErrInvalidArgument, tc.name)
		assert.True(t, req.SentAt.IsZero(), "%s: not sent", tc.name)
		b, ok := tr.(transport.BatchSender)
		if !ok {
			continue
		}
		n, err := b.SendBatch(context.Background(), []transport.Request{tc.req})
		require.ErrorIs(t, err, icmperrors.ErrInvalidArgument, tc.name)
		require.Zero(t, n, tc.name)
		n, err = b.SendBatch(context.Background(), []transport.Request{request(tr, s.Live4, 1), tc.req})
		require.ErrorIs(t, err, icmperrors.ErrInvalidArgument, tc.name)
		require.Equal(t, 1, n, "%s: the valid request before the bad one went out", tc.name)
	}
	if b, ok := tr.(transport.BatchReceiver); ok {
		_, err := b.ReceiveBatch(context.Background(), nil)
		assert.ErrorIs(t, err, icmperrors.ErrInvalidArgument, "no room for a reply")
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	req := request(tr, s.Live4, 2)
	assert.ErrorIs(t, tr.Send(ctx, &req), context.Canceled)
}

// testQueueOverflow: more replies than the transport's queue holds arrive while nobody
// receives; none is lost, none comes twice.
func testQueueOverflow(t *testing.T, s Subject) {
	tr := s.open(t)
	n := sockio.QueueLen + 1000
	var id int
	for seq := range n {
		req := request(tr, s.Live4, seq%0x10000)
		require.NoError(t, tr.Send(context.Background(), &req))
		id = req.ID
	}
	time.Sleep(200 * time.Millisecond) // the readers fill the queue, the sockets the rest
	seen := make([]int, n)
	for range n {
		r := receive(t, tr, s.Live4, id)
		require.Equal(t, transport.KindEchoReply, r.Kind())
		require.Less(t, r.Seq, n)
		seen[r.Seq]++
	}
	for seq, c := range seen {
		require.Equal(t, 1, c, "reply %d arrived %d times", seq, c)
	}
}

// LabSubject is the Subject of a socket transport opened by open in the client namespace of
// chain c (at least one router and one Unreachable address): loopback answers, the router
// refuses the first Unreachable address. open binds source unless it is the zero Addr.
func LabSubject[T transport.Transport](c *lab.Chain, open func(source netip.Addr) (T, error)) Subject {
	lo4, lo6 := Loopback4, Loopback6
	opener := func(source netip.Addr) func(t *testing.T) transport.Transport {
		return func(t *testing.T) transport.Transport {
			return OpenIn(t, c.Client.NS, func() (T, error) { return open(source) })
		}
	}
	return Subject{
		Open:             opener(netip.Addr{}),
		Live4:            lo4,
		Live6:            lo6,
		Refused:          c.UnreachableV4[0],
		RefusedBy:        c.UnreachableFrom().V4,
		OpenMappedSource: opener(netip.AddrFrom16(lo4.As16())),
	}
}

// OpenIn opens a transport with open inside network namespace ns (see lab.Do), closed when
// the test ends.
func OpenIn[T transport.Transport](t testing.TB, ns string, open func() (T, error)) T {
	t.Helper()
	var tr T
	require.NoError(t, lab.Do(ns, func() error {
		var err error
		tr, err = open()
		return err
	}))
	t.Cleanup(func() { tr.Close() })
	return tr
}
