// Customtransport plugs a transport of its own into icmpkit: a wrapper that counts and logs
// every packet, delegating the work to another transport. Anything that implements the three
// methods of transport.Transport can carry probe's Ping, Multiping and Traceroute: a remote
// agent, a recorder, a replayer.
//
//	go run ./examples/customtransport [HOST]
//
// HOST defaults to 127.0.0.1.
package main

import (
	"context"
	"fmt"
	"io"
	"net/netip"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/icmpkit/icmpkit"
	"github.com/icmpkit/icmpkit/probe"
	"github.com/icmpkit/icmpkit/transport"
)

// countingTransport logs each request and reply and counts them. Only Send, Receive and Close
// are needed; the capabilities of the inner transport (batches, broadcast ...) are not passed
// on, and probe works without them. Like every transport it is used by several goroutines at
// once (probe sends from one and reads from another), so the log is guarded.
type countingTransport struct {
	inner          transport.Transport
	sent, received atomic.Int64

	mu  sync.Mutex
	log io.Writer
}

func (c *countingTransport) logf(format string, a ...any) {
	c.mu.Lock()
	defer c.mu.Unlock()
	fmt.Fprintf(c.log, format, a...)
}

var _ transport.Transport = (*countingTransport)(nil)

func (c *countingTransport) Send(ctx context.Context, req *transport.Request) error {
	err := c.inner.Send(ctx, req)
	if err == nil {
		c.sent.Add(1)
		c.logf("-> %s id=%d seq=%d ttl=%d\n", req.Destination, req.ID, req.Seq, req.TTL)
	}
	return err
}

func (c *countingTransport) Receive(ctx context.Context, reply *transport.Reply) error {
	err := c.inner.Receive(ctx, reply)
	if err == nil {
		c.received.Add(1)
		c.logf("<- %s %s id=%d seq=%d\n", reply.Source, reply.Kind(), reply.ID, reply.Seq)
	}
	return err
}

func (c *countingTransport) Close() error { return c.inner.Close() }

// Identifier passes on the inner transport's identifier, if it has one, so that probe knows
// when the system imposes it (Linux ping sockets).
func (c *countingTransport) Identifier(dst netip.Addr) (int, bool) {
	if id, ok := c.inner.(transport.Identifier); ok {
		return id.Identifier(dst)
	}
	return 0, false
}

func main() {
	host := "127.0.0.1"
	if len(os.Args) > 1 {
		host = os.Args[1]
	}
	dst, err := icmpkit.Resolve(context.Background(), host, icmpkit.FamilyAny)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	inner, err := icmpkit.Open(icmpkit.ModeAuto, icmpkit.Config{})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	if err := run(context.Background(), os.Stdout, inner, dst); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}

// run pings dst three times through a counting wrapper around inner, and closes it.
func run(ctx context.Context, w io.Writer, inner transport.Transport, dst netip.Addr) error {
	ct := &countingTransport{inner: inner, log: w}
	defer ct.Close()
	h, err := probe.Ping(ctx, ct, dst, &probe.PingOptions{Count: 3, Interval: 100 * time.Millisecond, Timeout: time.Second})
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "%d requests sent, %d packets received, %d echo replies\n", ct.sent.Load(), ct.received.Load(), h.PacketsReceived())
	return nil
}
