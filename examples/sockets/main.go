// Sockets sends single echo requests with icmpkit's socket surface (icmplib's ICMPv4Socket
// and ICMPv6Socket), receives the replies, and turns ICMP errors into Go errors with
// Reply.Err (icmplib's raise_for_status).
//
//	go run ./examples/sockets [HOST]
//
// HOST defaults to 127.0.0.1.
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/icmpkit/icmpkit"
	"github.com/icmpkit/icmpkit/errors"
	"github.com/icmpkit/icmpkit/transport"
)

func main() {
	host := "127.0.0.1"
	if len(os.Args) > 1 {
		host = os.Args[1]
	}
	if err := run(context.Background(), os.Stdout, icmpkit.SocketConfig{}, host); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}

// run sends three requests to host through a socket made with cfg and reports each outcome.
func run(ctx context.Context, w io.Writer, cfg icmpkit.SocketConfig, host string) error {
	dst, err := icmpkit.Resolve(ctx, host, icmpkit.FamilyAny)
	if err != nil {
		return err
	}
	newSocket := icmpkit.NewICMPv4Socket
	if dst.Is6() {
		newSocket = icmpkit.NewICMPv6Socket
	}
	sock, err := newSocket(cfg)
	if err != nil {
		return err
	}
	defer sock.Close()

	for seq := range 3 {
		req := &transport.Request{
			Destination: dst,
			ID:          0x1234,
			Seq:         seq,
			PayloadSize: 56,
			TTL:         64,
			Timeout:     time.Second,
		}
		if err := sock.Send(req); err != nil {
			return err
		}
		reply, err := sock.Receive(ctx, req)
		switch {
		case errors.Is(err, errors.ErrTimeout):
			fmt.Fprintf(w, "seq %d: no reply within %v\n", seq, req.Timeout)
			continue
		case err != nil:
			return err
		}
		if err := reply.Err(); err != nil {
			// An ICMP error message: match its class, or read its fields.
			var icmpErr *errors.ICMPError
			errors.As(err, &icmpErr)
			fmt.Fprintf(w, "seq %d: %s says %v (type %d code %d, unreachable: %t)\n",
				seq, reply.Source, err, icmpErr.Type, icmpErr.Code, errors.Is(err, errors.ErrDestinationUnreachable))
			continue
		}
		fmt.Fprintf(w, "seq %d: %d bytes from %s in %v\n", seq, reply.Bytes, reply.Source, reply.ReceivedAt.Sub(req.SentAt))
	}
	return nil
}
