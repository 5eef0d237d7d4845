// Multiping pings several hosts at once over one socket and prints which are alive.
//
//	go run ./examples/multiping [HOST...]
//
// The hosts default to 127.0.0.1, 127.0.0.2, 127.0.0.3 and ::1.
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
	hosts := os.Args[1:]
	if len(hosts) == 0 {
		hosts = []string{"127.0.0.1", "127.0.0.2", "127.0.0.3", "::1"}
	}
	if err := run(context.Background(), os.Stdout, nil, hosts); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}

func run(ctx context.Context, w io.Writer, t transport.Transport, hosts []string) error {
	results, err := icmpkit.Multiping(ctx, hosts, &icmpkit.MultipingOptions{
		Count:     3,
		Interval:  100 * time.Millisecond,
		Timeout:   time.Second,
		Transport: t,
	})
	if err != nil {
		return err
	}
	// Hosts come back in the order they were given.
	for _, h := range results {
		if h.IsAlive() {
			fmt.Fprintf(w, "%-12s alive, avg %v over %d replies\n", h.Address, h.AvgRTT(), h.PacketsReceived())
		} else {
			fmt.Fprintf(w, "%-12s not alive\n", h.Address)
		}
	}
	return nil
}
