package winicmp

import (
	"net"
	"net/netip"
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
//
// Its methods Send, SendBatch, Receive, ReceiveBatch, Poll, Close, Identifier, SetBroadcast,
// Broadcast, Families and ReadersStarted are those of the frame that icmpkit's transports of
// one socket per family share; they behave as the interfaces of package transport say.
// Identifier reports a random default with fixed=false: the system chooses the identifier on
// the wire and pairs each reply with its request, so any identifier serves. SetBroadcast(true)
// fails with an error matching errors.ErrNotSupported. Close does not wait for the requests
// still in flight.
type Transport struct {
	sockio.Frame
	cfg Config
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
	open := func(v6 bool, l sockio.Link) (*socket, error) { return openSocket(&t.cfg, v6, l) }
	if err := sockio.OpenFrame(&t.Frame, cfg.Family, errSendClosed, errReceiveClosed, open); err != nil {
		return nil, err
	}
	return t, nil
}

func familyName(v6 bool) string { return sockio.FamilyName(v6) }

// Name gives "dgram": the Transport is the unprivileged mode (icmpkit.ModeUnprivileged) of
// Windows, as datagram sockets are elsewhere.
func (t *Transport) Name() string { return "dgram" }
