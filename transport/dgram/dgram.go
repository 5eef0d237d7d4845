package dgram

import (
	"context"
	"net"
	"net/netip"
	"sync/atomic"

	icmperrors "github.com/icmpkit/icmpkit/errors"
	"github.com/icmpkit/icmpkit/internal/sockio"
	"github.com/icmpkit/icmpkit/transport"
)

// DefaultReceiveBuffer is the socket receive buffer asked for when Config.ReceiveBuffer is
// zero (see sockio.DefaultReceiveBuffer). Without CAP_NET_ADMIN the system caps it at
// net.core.rmem_max.
const DefaultReceiveBuffer = sockio.DefaultReceiveBuffer

// Config configures a Transport. Its zero value is the default for every field.
type Config struct {
	// Source is the address the socket of its family is bound to, so requests leave from it.
	// The zero value binds no address. An IPv6 link-local address needs its zone.
	Source netip.Addr
	// Interface is the name of the network interface both sockets are bound to
	// (SO_BINDTODEVICE on Linux, IP_BOUND_IF on macOS). The zero value binds none.
	Interface string
	// ReceiveBuffer is the size in bytes of each socket's receive buffer. Zero means
	// DefaultReceiveBuffer; where the system caps it (net.core.rmem_max) without the privilege
	// to exceed the cap, the cap applies.
	ReceiveBuffer int
	// Family restricts the families opened. The zero value, transport.FamilyBoth, opens both and
	// fails only if neither opens.
	Family transport.Family
}

func (cfg *Config) validate() error {
	switch {
	case cfg.ReceiveBuffer < 0:
		return icmperrors.Invalid("receive buffer", "must not be negative, got %d", cfg.ReceiveBuffer)
	case !cfg.Family.Valid():
		return icmperrors.Invalid("family", "unknown family %d", int(cfg.Family))
	case len(cfg.Interface) >= 16:
		return icmperrors.Invalid("interface", "name %q is longer than 15 bytes", cfg.Interface)
	case cfg.Source.IsValid() && !cfg.Family.Includes(cfg.Source):
		return icmperrors.Invalid("source", "%s is not of family %s", cfg.Source, cfg.Family)
	}
	return nil
}

// Transport sends echo requests and receives replies over datagram ICMP sockets, one for each
// family, shared by any number of goroutines. See the package documentation for what each
// system allows.
type Transport struct {
	cfg   Config
	socks sockio.Pair[socket]

	rx        sockio.Replies // the readers and their queue
	broadcast atomic.Bool
}

// Interfaces a Transport implements.
var (
	_ transport.Transport     = (*Transport)(nil)
	_ transport.Identifier    = (*Transport)(nil)
	_ transport.BatchSender   = (*Transport)(nil)
	_ transport.BatchReceiver = (*Transport)(nil)
	_ transport.Poller        = (*Transport)(nil)
	_ transport.Broadcaster   = (*Transport)(nil)
	_ transport.Namer         = (*Transport)(nil)
)

// New opens the sockets cfg asks for. The goroutines that read them start with the first
// Receive; until then replies wait in the sockets, where Poll finds them. Errors match
// errors.ErrPermission (the system forbids ping sockets to this process: on Linux the message
// names the sysctl to change), errors.ErrAddress (Source or Interface unusable),
// errors.ErrNotSupported (no ping sockets on this system) or errors.ErrInvalidArgument.
func New(cfg Config) (*Transport, error) {
	cfg.Source = cfg.Source.Unmap()
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	t := &Transport{cfg: cfg}
	if err := t.socks.Open(cfg.Family, func(v6 bool) (*socket, error) { return openSocket(&t.cfg, v6) }); err != nil {
		return nil, err
	}
	var readers []func()
	for _, s := range t.socks.Opened() {
		readers = append(readers, func() { s.run(t) })
	}
	t.rx.Init(errReceiveClosed, readers...)
	return t, nil
}

func familyName(v6 bool) string { return sockio.FamilyName(v6) }

// Errors returned after Close, allocated once.
var (
	errSendClosed    = &icmperrors.Error{Op: "send", Class: icmperrors.ErrUnavailable, Err: net.ErrClosed}
	errReceiveClosed = &icmperrors.Error{Op: "receive", Class: icmperrors.ErrUnavailable, Err: net.ErrClosed}
)

var limitedBroadcast = netip.AddrFrom4([4]byte{255, 255, 255, 255})

// socketFor gives the open socket for dst's family, checking what every send checks.
func (t *Transport) socketFor(req *transport.Request) (*socket, error) {
	if t.rx.Closed() {
		return nil, errSendClosed
	}
	if err := req.Validate(); err != nil {
		return nil, err
	}
	s, err := t.socks.For(req.Destination)
	if err != nil {
		return nil, err
	}
	if req.Destination == limitedBroadcast && !t.broadcast.Load() {
		return nil, errBroadcastOff(req.Destination)
	}
	return s, nil
}

func errBroadcastOff(dst netip.Addr) error {
	return &icmperrors.Error{Op: "send to " + dst.String(), Class: icmperrors.ErrBroadcast,
		Hint: "enable broadcast (SetBroadcast(true), the -b flag) to ping a broadcast address"}
}

// Send transmits one echo request; see transport.Transport. On Linux req.ID is overwritten
// with the socket's identifier. Send checks ctx before sending but does not wait for it: a
// send blocks only while the socket's send buffer is full.
func (t *Transport) Send(ctx context.Context, req *transport.Request) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	s, err := t.socketFor(req)
	if err != nil {
		return err
	}
	return s.send(t, req)
}

// SendBatch sends reqs in order with as few system calls as the system allows (sendmmsg on
// Linux), stamping each as Send does, and returns how many went out; the error describes
// reqs[n].
func (t *Transport) SendBatch(ctx context.Context, reqs []transport.Request) (int, error) {
	return sockio.SendRuns(ctx, reqs, t.socketFor, func(s *socket, run []transport.Request) (int, error) {
		return s.sendBatch(t, run)
	})
}

// Receive blocks until a reply arrives, ctx is done or the transport is closed; see
// transport.Transport.
func (t *Transport) Receive(ctx context.Context, reply *transport.Reply) error {
	return t.rx.Receive(ctx, reply)
}

// ReceiveBatch blocks as Receive does until at least one reply is available, then fills as
// many of replies as are waiting and returns how many it filled.
func (t *Transport) ReceiveBatch(ctx context.Context, replies []transport.Reply) (int, error) {
	return t.rx.ReceiveBatch(ctx, replies)
}

// Poll hands over, without waiting, the replies already queued for Receive, then those
// waiting in the sockets (on Linux), up to len(replies), and returns how many it filled; see
// transport.Poller. When another Poll is reading a socket at the time, it leaves that socket
// to it.
func (t *Transport) Poll(replies []transport.Reply) (int, error) {
	return t.rx.Poll(replies, t.pollSockets)
}

func (t *Transport) pollSockets(replies []transport.Reply) int {
	n := 0
	for _, v6 := range [2]bool{false, true} {
		if s := t.socks.Get(v6); s != nil && n < len(replies) {
			n += s.poll(t, replies[n:])
		}
	}
	return n
}

// Close closes the sockets, ends their readers and unblocks every pending Receive. It is
// safe to call more than once; later calls return the first call's result.
func (t *Transport) Close() error { return t.rx.Close(t.closeSockets) }

func (t *Transport) closeSockets() error {
	var errs []error
	for _, s := range t.socks.Opened() {
		if err := s.close(); err != nil {
			errs = append(errs, err)
		}
	}
	if len(errs) > 0 {
		return icmperrors.Wrap(icmperrors.ErrSocket, "close", icmperrors.Join(errs...))
	}
	return nil
}

// Identifier gives the identifier requests to dst's family carry. On Linux it is the
// socket's bound port, which the kernel writes into every request: fixed is true. On macOS
// it is the transport's random default and requests may ask for another: fixed is false. For
// a family the transport has not opened it returns 0, false.
func (t *Transport) Identifier(dst netip.Addr) (id int, fixed bool) {
	s := t.socks.Get(dst.Is6())
	if s == nil {
		return 0, false
	}
	return s.identifier()
}

// SetBroadcast allows or forbids IPv4 broadcast destinations (SO_BROADCAST). It is off by
// default.
func (t *Transport) SetBroadcast(on bool) error {
	if t.rx.Closed() {
		return &icmperrors.Error{Op: "set broadcast", Class: icmperrors.ErrUnavailable, Err: net.ErrClosed}
	}
	if s := t.socks.Get(false); s != nil {
		if err := s.setBroadcast(on); err != nil {
			return err
		}
	}
	t.broadcast.Store(on)
	return nil
}

// Broadcast reports whether broadcast destinations are allowed.
func (t *Transport) Broadcast() bool { return t.broadcast.Load() }

// Name gives "dgram".
func (t *Transport) Name() string { return "dgram" }

// Families reports which families the transport has open.
func (t *Transport) Families() (v4, v6 bool) {
	return t.socks.Get(false) != nil, t.socks.Get(true) != nil
}
