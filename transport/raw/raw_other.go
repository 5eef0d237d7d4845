//go:build !linux

package raw

import (
	"context"

	icmperrors "github.com/icmpkit/icmpkit/errors"
	"github.com/icmpkit/icmpkit/transport"
)

// system is empty where raw sockets are not implemented.
type system struct{}

func (t *Transport) open(cfg Config) error { return unsupported() }

// errNotImplemented is why a raw transport does not open on this system, privileges or not.
var errNotImplemented = &icmperrors.Error{Op: "open raw ICMP socket", Class: icmperrors.ErrNotSupported,
	Hint: "raw sockets are implemented on Linux only; use the unprivileged mode (dgram)"}

func (t *Transport) send(req *transport.Request) error { return errClosedSend }

func (t *Transport) sendBatch(ctx context.Context, reqs []transport.Request) (int, error) {
	return 0, errClosedSend
}

func (t *Transport) readers() []func() { return nil }

func (t *Transport) pollSockets(replies []transport.Reply) int { return 0 }

func (t *Transport) setBroadcast(on bool) error { t.broadcast.Store(on); return nil }

func (t *Transport) closeSockets() error { return nil }
