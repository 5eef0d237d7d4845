// Traceroute lists the routers on the path to a host, each as soon as it is known.
//
//	go run ./examples/traceroute [HOST]
//
// HOST defaults to 127.0.0.1 (one hop: the host itself).
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/icmpkit/icmpkit"
	"github.com/icmpkit/icmpkit/result"
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

func run(ctx context.Context, w io.Writer, t transport.Transport, host string) error {
	trace, err := icmpkit.Traceroute(ctx, host, &icmpkit.TraceOptions{
		MaxHops:   16,
		Timeout:   time.Second,
		Transport: t,
		// Hops come in ascending distance as soon as they are final; silent distances are
		// left out.
		OnHop: func(h result.Hop) {
			fmt.Fprintf(w, "%2d  %-15s avg %v  loss %.0f%%%s\n", h.Distance, h.Address, h.AvgRTT(), h.PacketLoss()*100, h.Unreachable)
		},
	})
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "reached %s: %t\n", trace.Destination, trace.Reached)
	return nil
}
