package dgram_test

import (
	"context"
	"fmt"
	"net/netip"
	"time"

	"github.com/icmpkit/icmpkit/transport"
	"github.com/icmpkit/icmpkit/transport/dgram"
)

// Ping the local host once without privileges. On Linux the caller's group must be inside
// net.ipv4.ping_group_range.
func Example() {
	tr, err := dgram.New(dgram.Config{})
	if err != nil {
		fmt.Println(err) // e.g. permission denied, naming the sysctl to change
		return
	}
	defer tr.Close()

	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	dst := netip.MustParseAddr("127.0.0.1")
	req := transport.Request{Destination: dst, Seq: 1, PayloadSize: 56}
	if err := tr.Send(ctx, &req); err != nil {
		fmt.Println(err)
		return
	}
	// On Linux the kernel chose the identifier, and Send wrote it into req.ID.
	replies := make([]transport.Reply, 8)
	for {
		n, err := tr.ReceiveBatch(ctx, replies)
		if err != nil {
			fmt.Println(err)
			return
		}
		for _, r := range replies[:n] {
			if r.Destination == dst && r.ID == req.ID && r.Seq == req.Seq {
				fmt.Printf("%d bytes from %s: icmp_seq=%d ttl=%d time=%v\n",
					r.Bytes, r.Source, r.Seq, r.TTL, r.ReceivedAt.Sub(req.SentAt))
				return
			}
		}
	}
}
