package transport

import (
	"context"
	"net/netip"
	"time"
)

// Transport carries ICMP echo requests out and brings replies (echo replies and the ICMP
// errors that quote our requests) back. A Transport is safe for use by many goroutines at
// once; each received reply goes to exactly one Receive call.
//
// A Transport filters what it can: it returns echo replies carrying the identifier it sends
// with, and the ICMP errors that quote such a request. Whatever else slips through (a reply
// to a sequence nobody sent, from a host nobody probed) is for the caller to ignore; probe
// does so.
type Transport interface {
	// Send transmits one echo request. It sets req.SentAt to the moment of sending (as close
	// to the wire as the transport can tell) and, when the transport decides the identifier
	// (Linux ping sockets), req.ID to the identifier that went out. Send does not wait for a
	// reply. It fails with an error matching errors.ErrUnavailable after Close.
	Send(ctx context.Context, req *Request) error

	// Receive blocks until a reply arrives, ctx is done, or the transport is closed, and fills
	// *reply. It returns ctx's error when ctx ends first, and an error matching
	// errors.ErrUnavailable once Close has been called, at once even if Receive was blocked.
	// Reply fields that hold slices (MPLS) may be reused by the next call on the same *Reply.
	// Receive absorbs transient conditions; any error other than ctx's means the transport can
	// no longer receive.
	Receive(ctx context.Context, reply *Reply) error

	// Close releases the transport and unblocks every pending Receive. It is safe to call
	// more than once.
	Close() error
}

// Request is one ICMP echo request.
type Request struct {
	// Destination is the address probed. IPv4-mapped IPv6 addresses are not accepted:
	// unmap them first.
	Destination netip.Addr
	// ID is the echo identifier, 0..65535. Transports whose identifier is decided by the
	// system (see Identifier) overwrite it when sending.
	ID int
	// Seq is the echo sequence number, 0..65535.
	Seq int
	// Payload is the echo data. If nil, PayloadSize bytes made by FillPayload are sent; a
	// non-nil empty slice sends no data.
	Payload []byte
	// PayloadSize is the size of the generated payload when Payload is nil.
	PayloadSize int
	// TTL is the IPv4 time to live or IPv6 hop limit, 1..255. Zero means DefaultTTL.
	TTL int
	// TrafficClass is the IPv4 TOS byte or IPv6 traffic class, 0..255.
	TrafficClass int
	// DontFragment sets DF on IPv4 and forbids local fragmentation on IPv6, for path MTU
	// discovery. Transports that cannot honour it per packet return ErrNotSupported.
	DontFragment bool
	// Timeout is how long a socket-style receive waits for this request's reply (the icmplib
	// socket surface); Transport.Send ignores it.
	Timeout time.Duration
	// SentAt is set by Send.
	SentAt time.Time
}

// DefaultTTL is the TTL / hop limit used when Request.TTL is zero.
const DefaultTTL = 64

// Identifier is implemented by transports that have an identifier of their own. Identifier
// gives the identifier that requests to dst's family carry when they do not ask for one, and
// fixed=true when the system overwrites whatever a request asks (a Linux ping socket uses its
// bound port); then replies match only that identifier.
type Identifier interface {
	Identifier(dst netip.Addr) (id int, fixed bool)
}

// BatchSender is implemented by transports that can send many requests with one system
// call (sendmmsg). SendBatch sends reqs in order, stamping each as Send does, and returns how
// many went out; an error describes the first that did not.
type BatchSender interface {
	SendBatch(ctx context.Context, reqs []Request) (int, error)
}

// BatchReceiver is implemented by transports that can read many replies with one system call
// (recvmmsg). ReceiveBatch blocks as Receive does until at least one reply is available, fills
// replies[:n] and returns n.
type BatchReceiver interface {
	ReceiveBatch(ctx context.Context, replies []Reply) (int, error)
}

// Poller is implemented by transports that can hand over, without waiting, the replies that
// have already arrived: those they hold and those waiting in their sockets. Poll fills
// replies[:n] and returns n, 0 when nothing is there; it never blocks, and it returns an
// error matching errors.ErrUnavailable once the transport is closed. A reply goes either to
// Poll or to Receive, never to both.
//
// On a fast path (loopback, a LAN) the reply is often queued before the request's send
// returns; a caller that polls before it waits takes it at once, instead of waiting for the
// goroutine that reads the socket to be scheduled and to hand the reply on.
type Poller interface {
	Poll(replies []Reply) (int, error)
}

// Broadcaster is implemented by transports that can send to broadcast addresses. Broadcast is
// off by default; a broadcast destination without it fails with errors.ErrBroadcast.
type Broadcaster interface {
	SetBroadcast(on bool) error
	Broadcast() bool
}

// Namer is implemented by transports that can say what they are ("raw", "dgram", "mock"),
// so that an application can report the mode it ended up with.
type Namer interface {
	Name() string
}
