// Ping sends four echo requests to a host and prints icmplib's summary of the replies.
//
//	go run ./examples/ping [HOST]
//
// HOST defaults to 127.0.0.1. icmpkit uses a raw socket when the process may open one
// (root, CAP_NET_RAW), else an unprivileged datagram socket.
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/icmpkit/icmpkit"
	"github.com/icmpkit/icmpkit/transport"
)

func main() {
	host := "127.0.0.1"
	if len(os.Args) > 1 {
		host = os.Args[1]
	}
	if err := run(context.Background(), os.Stdout, nil, host); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}

// run pings host over t, or over a transport icmpkit opens when t is nil.
func run(ctx context.Context, w io.Writer, t transport.Transport, host string) error {
	h, err := icmpkit.Ping(ctx, host, &icmpkit.PingOptions{
		Count:     4,
		Interval:  200 * time.Millisecond,
		Timeout:   time.Second,
		Transport: t,
	})
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "%s: alive=%t sent=%d received=%d loss=%.0f%% min/avg/max=%v/%v/%v jitter=%v\n",
		h.Address, h.IsAlive(), h.PacketsSent, h.PacketsReceived(), h.PacketLoss()*100,
		h.MinRTT(), h.AvgRTT(), h.MaxRTT(), h.Jitter())
	return nil
}
