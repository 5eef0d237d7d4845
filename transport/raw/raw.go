package raw

import (
	"context"
	"math/rand/v2"
	"net/netip"
	"sync/atomic"

	icmperrors "github.com/icmpkit/icmpkit/errors"
	"github.com/icmpkit/icmpkit/internal/sockio"
	"github.com/icmpkit/icmpkit/transport"
)

// DefaultReceiveBuffer is the receive buffer of each socket when Config.ReceiveBuffer is
// zero; see sockio.DefaultReceiveBuffer.
const DefaultReceiveBuffer = sockio.DefaultReceiveBuffer

// Config configures a Transport. The zero value is ready to use.
type Config struct {
	// Source is the address requests leave from: the socket of its family is bound to it.
	// Zero: no binding, the kernel picks by route.
	Source netip.Addr
	// Interface is the network interface (e.g. "eth0") that every socket is bound to with
	// SO_BINDTODEVICE. Zero: no binding.
	Interface string
	// ID is the echo identifier the transport reports through Identifier (1..65535). Requests
	// may still use other identifiers; the transport listens for those too. Zero: a random
	// nonzero identifier.
	ID int
	// ReceiveBuffer is the size in bytes of each socket's receive buffer, set with
	// SO_RCVBUFFORCE (which may exceed net.core.rmem_max) and, failing that, SO_RCVBUF.
	// Zero: DefaultReceiveBuffer.
	ReceiveBuffer int
	// Family selects the sockets to open. Zero: transport.FamilyBoth.
	Family transport.Family
}

// Transport sends ICMP echo requests through raw sockets and receives the replies. It is safe
// for concurrent use. Create it with New and release it with Close.
type Transport struct {
	id        int
	family    transport.Family // the families actually open
	rx        sockio.Replies   // the readers and their queue
	broadcast atomic.Bool
	ids       idSet
	drops     atomic.Uint64 // packets that passed the kernel filters but not the parser's checks
	// maxPayload is the largest payload sent, so that the readers' buffers hold whole replies.
	maxPayload atomic.Int64
	sys        system // the operating system's part
}

// Compile-time checks of the interfaces Transport implements.
var (
	_ transport.Transport     = (*Transport)(nil)
	_ transport.Identifier    = (*Transport)(nil)
	_ transport.BatchSender   = (*Transport)(nil)
	_ transport.BatchReceiver = (*Transport)(nil)
	_ transport.Poller        = (*Transport)(nil)
	_ transport.Broadcaster   = (*Transport)(nil)
	_ transport.Namer         = (*Transport)(nil)
)

// Errors returned once the transport is closed; allocated once.
var (
	errClosedSend    = &icmperrors.Error{Op: "send", Class: icmperrors.ErrUnavailable, Hint: "the transport is closed"}
	errClosedReceive = &icmperrors.Error{Op: "receive", Class: icmperrors.ErrUnavailable, Hint: "the transport is closed"}
)

// New opens the raw sockets cfg asks for and starts reading from them. Without the privilege
// to open raw sockets it returns an *errors.Error of class errors.ErrPermission (also matching
// os.ErrPermission) whose hint names the remedies; a Source or Interface that cannot be used
// gives errors.ErrAddress; on systems without raw socket support, errors.ErrNotSupported.
func New(cfg Config) (*Transport, error) {
	if err := cfg.check(); err != nil {
		return nil, err
	}
	if cfg.Source.Is4In6() {
		cfg.Source = cfg.Source.Unmap()
	}
	id := cfg.ID
	if id == 0 {
		id = 1 + rand.IntN(0xffff)
	}
	if cfg.ReceiveBuffer == 0 {
		cfg.ReceiveBuffer = DefaultReceiveBuffer
	}
	t := &Transport{id: id}
	t.ids.init(uint16(id))
	if err := t.open(cfg); err != nil {
		return nil, err
	}
	t.rx.Init(errClosedReceive, t.readers()...)
	return t, nil
}

func (cfg *Config) check() error {
	switch {
	case cfg.ID < 0 || cfg.ID > 0xffff:
		return icmperrors.Invalid("raw: ID", "must be in 0..65535, got %d", cfg.ID)
	case cfg.ReceiveBuffer < 0:
		return icmperrors.Invalid("raw: ReceiveBuffer", "must not be negative, got %d", cfg.ReceiveBuffer)
	case !cfg.Family.Valid():
		return icmperrors.Invalid("raw: Family", "unknown family %d", int(cfg.Family))
	case len(cfg.Interface) > 15:
		return icmperrors.Invalid("raw: Interface", "%q is longer than an interface name can be", cfg.Interface)
	case cfg.Source.IsValid() && !cfg.Family.Includes(cfg.Source):
		return icmperrors.Invalid("raw: Source", "%s is not of family %s", cfg.Source, cfg.Family)
	}
	return nil
}

// Send transmits one echo request and stamps req.SentAt just before the system call. The
// request's TTL, TrafficClass and DontFragment apply to this packet alone. DontFragment sets
// DF (IPv4) and has the packet ignore the cached path MTU (IP_PMTUDISC_PROBE,
// IPV6_PMTUDISC_PROBE, switched on the socket for this send alone), so every probe reaches
// the wire and a router's Fragmentation Needed or Packet Too Big comes back as a Reply;
// requests without it leave DF clear. A broadcast destination while broadcast is off fails
// with errors.ErrBroadcast, a family the transport has no socket for with
// errors.ErrNotSupported, a bad request with errors.ErrInvalidArgument.
func (t *Transport) Send(ctx context.Context, req *transport.Request) error {
	if t.rx.Closed() {
		return errClosedSend
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := req.Validate(); err != nil {
		return err
	}
	return t.send(req)
}

// SendBatch sends reqs in order, as many as one sendmmsg(2) call takes at a time, and stamps
// each one's SentAt just before the call that sent it. It returns how many went out; the
// error describes the first request that did not.
func (t *Transport) SendBatch(ctx context.Context, reqs []transport.Request) (int, error) {
	return t.sendBatch(ctx, reqs)
}

// Receive waits for the next reply: an echo reply carrying one of the transport's
// identifiers, or an ICMP error quoting such a request. ReceivedAt is the kernel's receive
// timestamp; TTL the received TTL or hop limit. It returns ctx's error when ctx ends first and
// an error matching errors.ErrUnavailable once Close has been called.
func (t *Transport) Receive(ctx context.Context, reply *transport.Reply) error {
	return t.rx.Receive(ctx, reply)
}

// ReceiveBatch waits as Receive does for one reply, then adds those already waiting, up to
// len(replies), and returns how many it filled.
func (t *Transport) ReceiveBatch(ctx context.Context, replies []transport.Reply) (int, error) {
	return t.rx.ReceiveBatch(ctx, replies)
}

// Poll hands over, without waiting, the replies already queued for Receive, then those
// waiting in the sockets, up to len(replies); it returns how many it filled (see
// transport.Poller). When another Poll is reading a socket at the time, it leaves that
// socket to it.
func (t *Transport) Poll(replies []transport.Reply) (int, error) {
	return t.rx.Poll(replies, t.pollSockets)
}

// Close closes the sockets, unblocks every Receive with an error matching
// errors.ErrUnavailable and waits for the reader goroutines to end. It is safe to call more
// than once.
func (t *Transport) Close() error { return t.rx.Close(t.closeSockets) }

// Identifier gives the transport's configured identifier, for either family. It is not fixed:
// requests may carry others.
func (t *Transport) Identifier(dst netip.Addr) (id int, fixed bool) { return t.id, false }

// Name gives "raw".
func (t *Transport) Name() string { return "raw" }

// Family tells which sockets the transport has: transport.FamilyBoth, or the one family that opened.
func (t *Transport) Family() transport.Family { return t.family }

// SetBroadcast allows (SO_BROADCAST) or forbids sending to IPv4 broadcast addresses.
func (t *Transport) SetBroadcast(on bool) error {
	if t.rx.Closed() {
		return &icmperrors.Error{Op: "set broadcast", Class: icmperrors.ErrUnavailable, Hint: "the transport is closed"}
	}
	return t.setBroadcast(on)
}

// Broadcast reports whether sending to broadcast addresses is allowed.
func (t *Transport) Broadcast() bool { return t.broadcast.Load() }
