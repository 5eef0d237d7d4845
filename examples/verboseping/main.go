// Verboseping prints every reply as it arrives, as iputils ping does, then the summary.
//
//	go run ./examples/verboseping [HOST]
//
// HOST defaults to 127.0.0.1.
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"time"

	"github.com/icmpkit/icmpkit"
	"github.com/icmpkit/icmpkit/probe"
	"github.com/icmpkit/icmpkit/transport"
)

func main() {
	host := "127.0.0.1"
	if len(os.Args) > 1 {
		host = os.Args[1]
	}
	// Ctrl-C ends the run early; Ping still returns what it measured.
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := run(ctx, os.Stdout, nil, host); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}

func run(ctx context.Context, w io.Writer, t transport.Transport, host string) error {
	opts := &icmpkit.PingOptions{
		Count:     5,
		Interval:  500 * time.Millisecond,
		Timeout:   time.Second,
		Transport: t,
		OnReply: func(o probe.Outcome) {
			switch {
			case o.TimedOut:
				fmt.Fprintf(w, "request %d to %s: timed out\n", o.Seq+1, o.Destination)
			case o.Reply.Err() != nil:
				// An ICMP error message: Reply.Err is icmplib's raise_for_status.
				fmt.Fprintf(w, "request %d: from %s: %v\n", o.Seq+1, o.Reply.Source, o.Reply.Err())
			default:
				fmt.Fprintf(w, "%d bytes from %s: seq=%d ttl=%d time=%v", o.Reply.Bytes, o.Reply.Source, o.Seq+1, o.Reply.TTL, o.RTT)
				if o.Duplicate {
					fmt.Fprint(w, " (duplicate)")
				}
				fmt.Fprintln(w)
			}
		},
	}
	h, err := icmpkit.Ping(ctx, host, opts)
	if h == nil {
		return err
	}
	fmt.Fprintf(w, "%d sent, %d received, %d errors, %.0f%% loss\n", h.PacketsSent, h.PacketsReceived(), h.Errors, h.PacketLoss()*100)
	if ctx.Err() != nil {
		return nil // interrupted: the summary covers what was sent
	}
	return err
}
