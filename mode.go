package icmpkit

import (
	"net/netip"
	"strconv"
	"strings"

	"github.com/icmpkit/icmpkit/errors"
	"github.com/icmpkit/icmpkit/transport"
)

// Mode chooses the transport that carries echo requests: icmplib's privileged parameter,
// with a third choice that tries both.
type Mode int

// Modes. The zero value is ModeAuto.
const (
	// ModeAuto uses a raw socket when the process may open one, else a datagram socket.
	ModeAuto Mode = iota
	// ModePrivileged uses raw ICMP sockets (transport/raw): root or CAP_NET_RAW on Linux.
	// Raw sockets are implemented on Linux only; on Windows, where they need Administrator
	// rights, the error says so.
	ModePrivileged
	// ModeUnprivileged uses datagram ICMP "ping" sockets (transport/dgram): on Linux the
	// process's group must be inside the sysctl net.ipv4.ping_group_range. On Windows it is
	// the ICMP API (IcmpSendEcho2Ex, Icmp6SendEcho2; transport/winicmp), which needs no privilege.
	ModeUnprivileged
)

// String gives the command-line spelling: "auto", "raw" or "dgram".
func (m Mode) String() string {
	switch m {
	case ModeAuto:
		return "auto"
	case ModePrivileged:
		return "raw"
	case ModeUnprivileged:
		return "dgram"
	}
	return "Mode(" + strconv.Itoa(int(m)) + ")"
}

// ParseMode reads a Mode: "auto", "raw" (or "privileged"), "dgram" (or "unprivileged").
func ParseMode(s string) (Mode, error) {
	switch strings.ToLower(s) {
	case "auto":
		return ModeAuto, nil
	case "raw", "privileged":
		return ModePrivileged, nil
	case "dgram", "unprivileged":
		return ModeUnprivileged, nil
	}
	return 0, errors.Invalid("mode", "must be auto, raw or dgram, got %q", s)
}

// ModeOf tells which kind of transport t is, from its name (transport.Namer): ModePrivileged
// for "raw", ModeUnprivileged for "dgram", and ModeAuto for anything else.
func ModeOf(t transport.Transport) Mode {
	if n, ok := t.(transport.Namer); ok {
		switch n.Name() {
		case "raw":
			return ModePrivileged
		case "dgram":
			return ModeUnprivileged
		}
	}
	return ModeAuto
}

// Config configures the transport Open opens. The zero value sends from the address the
// routing table picks.
type Config struct {
	// Source is the address requests are sent from. The zero value lets the system choose.
	// A valid Source restricts the transport to Source's family.
	Source netip.Addr
	// Interface is the name of the network interface to send through ("eth0"). Empty means
	// any.
	Interface string
	// ID is the echo identifier of a raw transport, 1..65535. Zero lets the transport choose.
	// A datagram transport's identifier is always chosen by the system.
	ID int
	// Family restricts the transport to one address family, IPv4 or IPv6, so that only the
	// sockets of that family are opened. The zero value, FamilyAny, serves both.
	Family Family
	// Broadcast allows broadcast destinations. False means a broadcast destination fails with
	// an error matching errors.ErrBroadcast.
	Broadcast bool
}

func (c *Config) validate() error {
	if c.ID < 0 || c.ID > 0xffff {
		return errors.Invalid("identifier", "must be in 0..65535, got %d", c.ID)
	}
	if c.Source.Is4In6() {
		return errors.Invalid("source", "%s is an IPv4-mapped IPv6 address; use %s", c.Source, c.Source.Unmap())
	}
	if !c.Family.Valid() {
		return errors.Invalid("family", "must be FamilyAny, IPv4 or IPv6, got %d", int(c.Family))
	}
	if c.Source.IsValid() && !c.Family.Includes(c.Source) {
		return errors.Invalid("source", "%s is not an %s address", c.Source, c.Family)
	}
	return nil
}

// Open opens the transport mode names. ModeAuto tries a raw transport and, when the process
// may not open one (an error matching errors.ErrPermission or errors.ErrNotSupported), a
// datagram transport; ModeOf tells which one came back. When neither can be opened the error
// matches errors.ErrPermission and names the remedies.
//
// The caller closes the transport.
func Open(mode Mode, cfg Config) (transport.Transport, error) {
	return open(mode, cfg, openRaw, openDgram)
}

type opener func(Config) (transport.Transport, error)

func open(mode Mode, cfg Config, raw, dgram opener) (transport.Transport, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	var t transport.Transport
	var err error
	switch mode {
	case ModePrivileged:
		t, err = raw(cfg)
	case ModeUnprivileged:
		t, err = dgram(cfg)
	case ModeAuto:
		t, err = raw(cfg)
		if err != nil && (errors.Is(err, errors.ErrPermission) || errors.Is(err, errors.ErrNotSupported)) {
			var derr error
			t, derr = dgram(cfg)
			if derr != nil {
				class := errors.ErrPermission
				if !errors.Is(derr, errors.ErrPermission) && !errors.Is(err, errors.ErrPermission) {
					class = errors.ErrNotSupported
				}
				return nil, &errors.Error{Op: "open ICMP transport", Class: class, Err: bothFailed{err, derr}, Hint: permissionHint}
			}
			err = nil
		}
	default:
		return nil, errors.Invalid("mode", "unknown mode %d", int(mode))
	}
	if err != nil {
		return nil, err
	}
	if cfg.Broadcast {
		if err := setBroadcast(t, true); err != nil {
			t.Close()
			return nil, err
		}
	}
	return t, nil
}

// setBroadcast switches broadcast on or off on a transport that can do it.
func setBroadcast(t transport.Transport, on bool) error {
	if b, ok := t.(transport.Broadcaster); ok {
		return b.SetBroadcast(on)
	}
	if !on {
		return nil
	}
	return &errors.Error{Op: "enable broadcast", Class: errors.ErrNotSupported, Err: errors.New("the transport cannot send to broadcast addresses")}
}

// bothFailed is why ModeAuto could open neither transport. It matches both errors, and says
// each one's cause without repeating their hints, which the error it is wrapped in gives once.
type bothFailed struct{ raw, dgram error }

func (b bothFailed) Error() string {
	return "raw socket: " + cause(b.raw) + "; datagram socket: " + cause(b.dgram)
}

func (b bothFailed) Unwrap() []error { return []error{b.raw, b.dgram} }

// cause gives the text of an *errors.Error's cause, or of err itself.
func cause(err error) string {
	var e *errors.Error
	if errors.As(err, &e) && e.Err != nil {
		return e.Err.Error()
	}
	return err.Error()
}
