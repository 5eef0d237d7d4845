package raw_test

import (
	"context"
	"fmt"
	"net/netip"
	"time"

	"github.com/icmpkit/icmpkit/errors"
	"github.com/icmpkit/icmpkit/transport"
	"github.com/icmpkit/icmpkit/transport/raw"
)

// Ping the loopback address once through raw sockets (needs root or CAP_NET_RAW).
func ExampleNew() {
	t, err := raw.New(raw.Config{})
	if errors.Is(err, errors.ErrPermission) {
		fmt.Println(err) // names the remedies: root, CAP_NET_RAW, or the dgram mode
		return
	}
	if err != nil {
		fmt.Println(err)
		return
	}
	defer t.Close()

	dst := netip.MustParseAddr("127.0.0.1")
	id, _ := t.Identifier(dst)
	req := &transport.Request{Destination: dst, ID: id, Seq: 1, PayloadSize: 56, TTL: 64}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if err := t.Send(ctx, req); err != nil {
		fmt.Println(err)
		return
	}
	var r transport.Reply
	for {
		if err := t.Receive(ctx, &r); err != nil {
			fmt.Println(err)
			return
		}
		if r.ID == req.ID && r.Seq == req.Seq && r.Destination == dst {
			break
		}
	}
	fmt.Printf("%d bytes from %s: icmp_seq=%d ttl=%d time=%v\n", r.Bytes, r.Source, r.Seq, r.TTL, r.ReceivedAt.Sub(req.SentAt))
}
