// Broadcast pings an IPv4 broadcast address and lists every host that answers: one request,
// several replies, gathered with repeated Receive calls on a socket with broadcast on.
//
//	go run ./examples/broadcast [BROADCAST-ADDRESS]
//
// The address defaults to 127.255.255.255, the broadcast address of the loopback network.
package main

import (
	"context"
	"fmt"
	"io"
	"net/netip"
	"os"
	"time"

	"github.com/icmpkit/icmpkit"
	"github.com/icmpkit/icmpkit/errors"
	"github.com/icmpkit/icmpkit/transport"
)

func main() {
	dst := "127.255.255.255"
	if len(os.Args) > 1 {
		dst = os.Args[1]
	}
	addr, err := netip.ParseAddr(dst)
	if err == nil {
		err = run(context.Background(), os.Stdout, icmpkit.SocketConfig{}, addr)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}

// run sends one echo request to the broadcast address dst and prints each responder.
func run(ctx context.Context, w io.Writer, cfg icmpkit.SocketConfig, dst netip.Addr) error {
	sock, err := icmpkit.NewICMPv4Socket(cfg)
	if err != nil {
		return err
	}
	defer sock.Close()
	// Without this, sending to a broadcast address fails with errors.ErrBroadcast.
	if err := sock.SetBroadcast(true); err != nil {
		return err
	}
	req := &transport.Request{Destination: dst, ID: 7, Seq: 1, PayloadSize: 56, Timeout: 500 * time.Millisecond}
	if err := sock.Send(req); err != nil {
		return err
	}
	for {
		reply, err := sock.Receive(ctx, req)
		if errors.Is(err, errors.ErrTimeout) {
			return nil // every responder had half a second
		}
		if err != nil {
			return err
		}
		fmt.Fprintf(w, "%s answered in %v\n", reply.Source, reply.ReceivedAt.Sub(req.SentAt))
	}
}
