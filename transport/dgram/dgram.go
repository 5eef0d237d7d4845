package dgram

import (
	"net"
	"net/netip"

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
//
// Its methods Send, SendBatch, Receive, ReceiveBatch, Poll, Close, Identifier, SetBroadcast,
// Broadcast, Families and ReadersStarted are those of the frame that icmpkit's transports of
// one socket per family share; they behave as the interfaces of package transport say. On
// Linux Send overwrites req.ID with the socket's identifier, which Identifier reports as
// fixed; on macOS Identifier reports the transport's random default, not fixed.
type Transport struct {
	sockio.Frame
	cfg   Config
	sock4 *socket // the open sockets, nil for a family not open
	sock6 *socket
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
	err := sockio.OpenFrame(&t.Frame, cfg.Family, errSendClosed, errReceiveClosed, func(v6 bool, l sockio.Link) (*socket, error) {
		s, err := openSocket(&t.cfg, v6, l)
		if err != nil {
			return nil, err
		}
		if v6 {
			t.sock6 = s
		} else {
			t.sock4 = s
		}
		return s, nil
	})
	if err != nil {
		return nil, err
	}
	return t, nil
}

func familyName(v6 bool) string { return sockio.FamilyName(v6) }

// Errors returned after Close, allocated once.
var (
	errSendClosed    = &icmperrors.Error{Op: "send", Class: icmperrors.ErrUnavailable, Err: net.ErrClosed}
	errReceiveClosed = &icmperrors.Error{Op: "receive", Class: icmperrors.ErrUnavailable, Err: net.ErrClosed}
)

// Name gives "dgram".
func (t *Transport) Name() string { return "dgram" }
