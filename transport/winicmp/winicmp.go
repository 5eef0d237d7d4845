package winicmp

import (
	"context"
	"net"
	"net/netip"
	"sync/atomic"
	"time"

	icmperrors "github.com/icmpkit/icmpkit/errors"
	"github.com/icmpkit/icmpkit/internal/sockio"
	"github.com/icmpkit/icmpkit/transport"
)

// Config configures a Transport. Its zero value is the default for every field.
type Config struct {
	// Source is the address requests of its family leave from. The zero value lets the
	// system choose. An IPv6 link-local address needs its zone. IPv4-mapped IPv6 addresses
	// are taken as the IPv4 address they map.
	Source netip.Addr
	// Interface is not available through the ICMP API: a non-empty name fails New with an
	// error matching errors.ErrNotSupported (bind a Source address instead).
	Interface string
	// Family restricts the families opened. The zero value, transport.FamilyBoth, opens both
	// and fails only if neither opens.
	Family transport.Family
	// ReplyTimeout is how long the system waits for each request's reply; a later reply is
	// lost. A request's own Timeout, when set, is used instead. Zero means
	// DefaultReplyTimeout.
	ReplyTimeout time.Duration
}

// DefaultReplyTimeout is the ReplyTimeout used when Config.ReplyTimeout is zero: longer than
// the 2 s that probe waits by default, as long as Windows' own Ping class waits.
const DefaultReplyTimeout = 5 * time.Second

func (cfg *Config) replyTimeout() time.Duration {
	if cfg.ReplyTimeout > 0 {
		return cfg.ReplyTimeout
	}
	return DefaultReplyTimeout
}

func (cfg *Config) validate() error {
	switch {
	case cfg.ReplyTimeout < 0:
		return icmperrors.Invalid("reply timeout", "must not be negative, got %v", cfg.ReplyTimeout)
	case !cfg.Family.Valid():
		return icmperrors.Invalid("family", "unknown family %d", int(cfg.Family))
	case cfg.Source.IsValid() && !cfg.Family.Includes(cfg.Source):
		return icmperrors.Invalid("source", "%s is not of family %s", cfg.Source, cfg.Family)
	}
	return nil
}

// Transport sends echo requests and receives replies through the ICMP API, one handle for
// each family, shared by any number of goroutines. See the package documentation.
type Transport struct {
	cfg       Config
	socks     sockio.Pair[socket]
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

// Errors returned after Close, allocated once.
var (
	errSendClosed    = &icmperrors.Error{Op: "send", Class: icmperrors.ErrUnavailable, Err: net.ErrClosed}
	errReceiveClosed = &icmperrors.Error{Op: "receive", Class: icmperrors.ErrUnavailable, Err: net.ErrClosed}
)

// New opens the ICMP API handles cfg asks for. It needs no privilege. Errors match
// errors.ErrNotSupported (not Windows, an Interface, a family the system lacks),
// errors.ErrAddress (Source unusable) or errors.ErrInvalidArgument.
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

// socketFor gives the open handle for the request's family, checking what every send checks.
func (t *Transport) socketFor(req *transport.Request) (*socket, error) {
	if t.rx.Closed() {
		return nil, errSendClosed
	}
	if err := req.Validate(); err != nil {
		return nil, err
	}
	return t.socks.For(req.Destination)
}

// Send issues one echo request; see transport.Transport. It waits only while the handle has
// the most requests in flight it allows.
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

// SendBatch issues reqs in order, stamping each as Send does, and returns how many went out;
// the error describes reqs[n].
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

// Poll hands over, without waiting, the replies already queued for Receive, then those the
// handles have completed, up to len(replies), and returns how many it filled; see
// transport.Poller.
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

// Close closes the handles, ends their readers and unblocks every pending Receive. It does
// not wait for the requests still in flight (see the package documentation). It is safe to
// call more than once; later calls return the first call's result.
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

// Identifier gives the default identifier of dst's family, with fixed=false: the system
// chooses what goes on the wire and pairs each reply with its request, so any identifier
// serves. For a family the transport has not opened it returns 0, false.
func (t *Transport) Identifier(dst netip.Addr) (id int, fixed bool) {
	s := t.socks.Get(dst.Is6())
	if s == nil {
		return 0, false
	}
	return s.identifier()
}

// SetBroadcast fails with an error matching errors.ErrNotSupported when asked to allow
// broadcast destinations on IPv4, which the ICMP API cannot ping; forbidding them succeeds.
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

// Name gives "dgram": the Transport is the unprivileged mode (icmpkit.ModeUnprivileged) of
// Windows, as datagram sockets are elsewhere.
func (t *Transport) Name() string { return "dgram" }

// Families reports which families the transport has open.
func (t *Transport) Families() (v4, v6 bool) {
	return t.socks.Get(false) != nil, t.socks.Get(true) != nil
}
