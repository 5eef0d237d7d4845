package mock_test

import (
	"context"
	"fmt"
	"net/netip"
	"time"

	"github.com/icmpkit/icmpkit/errors"
	"github.com/icmpkit/icmpkit/probe"
	"github.com/icmpkit/icmpkit/transport"
	"github.com/icmpkit/icmpkit/transport/mock"
	"golang.org/x/net/icmp"
)

// A host 10 ms away answers an echo request. The RTT is exact: the reply's ReceivedAt is
// when the network delivered it.
func Example() {
	n := mock.NewNetwork(mock.Config{Seed: 1})
	dst := netip.MustParseAddr("198.18.0.1")
	if err := n.AddHost(dst, mock.Host{Latency: 10 * time.Millisecond}); err != nil {
		panic(err)
	}
	tr := n.Transport(mock.TransportConfig{})
	defer tr.Close()

	ctx := context.Background()
	req := transport.Request{Destination: dst, ID: 7, Seq: 1, PayloadSize: 56}
	if err := tr.Send(ctx, &req); err != nil {
		panic(err)
	}
	var r transport.Reply
	if err := tr.Receive(ctx, &r); err != nil {
		panic(err)
	}
	fmt.Printf("%d bytes from %s: icmp_seq=%d ttl=%d time=%v\n", r.Bytes, r.Source, r.Seq, r.TTL, r.ReceivedAt.Sub(req.SentAt))
	// Output: 64 bytes from 198.18.0.1: icmp_seq=1 ttl=64 time=10ms
}

// alive is application code: it pings dst once over any transport and reports whether an
// echo reply came back within the timeout.
func alive(ctx context.Context, t transport.Transport, dst netip.Addr, timeout time.Duration) (bool, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	req := transport.Request{Destination: dst, ID: 1, Seq: 1}
	if err := t.Send(ctx, &req); err != nil {
		return false, err
	}
	for {
		var r transport.Reply
		if err := t.Receive(ctx, &r); err != nil {
			if errors.Is(err, context.DeadlineExceeded) {
				return false, nil
			}
			return false, err
		}
		if r.Kind() == transport.KindEchoReply && r.Source == dst && r.Seq == req.Seq {
			return true, nil
		}
	}
}

// An application's own test injects the mock where production code passes a raw or dgram
// transport. Inside a testing/synctest bubble the timeouts would cost no real time.
func Example_applicationTest() {
	n := mock.NewNetwork(mock.Config{})
	up, down := netip.MustParseAddr("198.18.0.1"), netip.MustParseAddr("198.18.0.2")
	_ = n.AddHost(up, mock.Host{Latency: time.Millisecond})
	_ = n.AddHost(down, mock.Host{Dead: true})
	tr := n.Transport(mock.TransportConfig{})
	defer tr.Close()

	for _, dst := range []netip.Addr{up, down, netip.MustParseAddr("2001:db8::1")} {
		ok, err := alive(context.Background(), tr, dst, 200*time.Millisecond)
		fmt.Println(dst, ok, err)
	}
	// What the application sent, for the test to check.
	for _, req := range tr.Sent() {
		fmt.Println("sent", req.Destination, "seq", req.Seq, "ttl", req.TTL)
	}
	// Output:
	// 198.18.0.1 true <nil>
	// 198.18.0.2 false <nil>
	// 2001:db8::1 false <nil>
	// sent 198.18.0.1 seq 1 ttl 0
	// sent 198.18.0.2 seq 1 ttl 0
	// sent 2001:db8::1 seq 1 ttl 0
}

// A path of routers: each request whose TTL ends on a router gets Time Exceeded from it,
// a silent router answers nothing, and a large enough TTL reaches the destination.
func ExampleNetwork_AddPath() {
	n := mock.NewNetwork(mock.Config{})
	dst := netip.MustParseAddr("198.18.4.2")
	_ = n.AddHost(dst, mock.Host{Latency: 4 * time.Millisecond})
	_ = n.AddPath(dst,
		mock.Router{Addr: netip.MustParseAddr("198.18.1.1"), Latency: time.Millisecond},
		mock.Router{Addr: netip.MustParseAddr("198.18.2.1"), Silent: true},
		mock.Router{Addr: netip.MustParseAddr("198.18.3.1"), Latency: 3 * time.Millisecond,
			MPLS: []icmp.MPLSLabel{{Label: 24005, S: true, TTL: 1}}},
	)
	tr := n.Transport(mock.TransportConfig{})
	defer tr.Close()

	for ttl := 1; ttl <= 4; ttl++ {
		ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
		req := transport.Request{Destination: dst, ID: 1, Seq: ttl, TTL: ttl}
		_ = tr.Send(ctx, &req)
		var r transport.Reply
		if err := tr.Receive(ctx, &r); err != nil {
			fmt.Printf("%2d  *\n", ttl)
		} else {
			fmt.Printf("%2d  %s  %v  %s %v\n", ttl, r.Source, r.ReceivedAt.Sub(req.SentAt), r.Kind(), r.MPLS)
		}
		cancel()
	}
	// Output:
	//  1  198.18.1.1  1ms  time exceeded []
	//  2  *
	//  3  198.18.3.1  3ms  time exceeded [{24005 0 true 1}]
	//  4  198.18.4.2  4ms  echo reply []
}

// Faults are seeded: the same seed loses the same requests on every run.
func ExampleHost_faults() {
	n := mock.NewNetwork(mock.Config{Seed: 42})
	dst := netip.MustParseAddr("198.18.0.1")
	_ = n.AddHost(dst, mock.Host{Latency: time.Millisecond, Loss: 0.5, Duplicates: 1})
	tr := n.Transport(mock.TransportConfig{})
	defer tr.Close()

	ctx := context.Background()
	for seq := range 8 {
		_ = tr.Send(ctx, &transport.Request{Destination: dst, Seq: seq})
	}
	for tr.Counts().Pending > 0 {
		time.Sleep(time.Millisecond)
	}
	c := tr.Counts()
	fmt.Println("sent", c.Sent, "replies", c.Delivered)
	replies := make([]transport.Reply, 16)
	k, _ := tr.ReceiveBatch(ctx, replies)
	for _, r := range replies[:k] {
		fmt.Print(r.Seq, " ")
	}
	fmt.Println()
	// Output:
	// sent 8 replies 6
	// 1 1 3 3 7 7
}

// Unsolicited replies, as from a host that was never probed, test what the code under test
// does with packets it did not ask for.
func ExampleTransport_Inject() {
	n := mock.NewNetwork(mock.Config{})
	tr := n.Transport(mock.TransportConfig{})
	defer tr.Close()

	stranger := netip.MustParseAddr("198.18.9.9")
	_ = tr.Inject(transport.Reply{Source: stranger, Destination: stranger, ID: 1, Seq: 999, Bytes: 64}, time.Millisecond)
	var r transport.Reply
	_ = tr.Receive(context.Background(), &r)
	fmt.Println(r.Source, r.Seq)
	// Output: 198.18.9.9 999
}

// Sending to a broadcast address needs broadcast on, as with ping -b.
func ExampleNetwork_AddBroadcast() {
	n := mock.NewNetwork(mock.Config{})
	bcast := netip.MustParseAddr("198.18.0.255")
	a, b := netip.MustParseAddr("198.18.0.1"), netip.MustParseAddr("198.18.0.2")
	_ = n.AddHost(a, mock.Host{Latency: time.Millisecond})
	_ = n.AddHost(b, mock.Host{Latency: 2 * time.Millisecond})
	_ = n.AddBroadcast(bcast, a, b)
	tr := n.Transport(mock.TransportConfig{})
	defer tr.Close()

	ctx := context.Background()
	err := tr.Send(ctx, &transport.Request{Destination: bcast})
	fmt.Println(errors.Is(err, errors.ErrBroadcast))

	_ = tr.SetBroadcast(true)
	_ = tr.Send(ctx, &transport.Request{Destination: bcast})
	for range 2 {
		var r transport.Reply
		_ = tr.Receive(ctx, &r)
		fmt.Println(r.Source, "for", r.Destination)
	}
	// Output:
	// true
	// 198.18.0.1 for 198.18.0.255
	// 198.18.0.2 for 198.18.0.255
}

// A Linux ping socket decides the identifier; FixedID models it.
func ExampleTransportConfig_fixedID() {
	n := mock.NewNetwork(mock.Config{})
	tr := n.Transport(mock.TransportConfig{ID: 4000, FixedID: true})
	defer tr.Close()

	id, fixed := tr.Identifier(netip.MustParseAddr("198.18.0.1"))
	fmt.Println(id, fixed)
	req := transport.Request{Destination: netip.MustParseAddr("198.18.0.1"), ID: 1}
	_ = tr.Send(context.Background(), &req)
	fmt.Println(req.ID)
	// Output:
	// 4000 true
	// 4000
}

// probe.Ping runs over the mock as over a real socket.
func Example_ping() {
	n := mock.NewNetwork(mock.Config{Seed: 1})
	dst := netip.MustParseAddr("198.18.0.1")
	_ = n.AddHost(dst, mock.Host{Latency: 3 * time.Millisecond})
	tr := n.Transport(mock.TransportConfig{})
	defer tr.Close()

	h, err := probe.Ping(context.Background(), tr, dst, &probe.PingOptions{Count: 3, Interval: 5 * time.Millisecond})
	if err != nil {
		panic(err)
	}
	fmt.Println(h.Address, h.PacketsSent, h.PacketsReceived(), h.Stats.Min(), h.Stats.Max())
	// Output: 198.18.0.1 3 3 3ms 3ms
}
