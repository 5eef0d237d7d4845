package icmpkit

import (
	"context"
	"net/netip"
	"slices"
	"sync"
	"time"

	"github.com/icmpkit/icmpkit/errors"
	"github.com/icmpkit/icmpkit/probe"
	"github.com/icmpkit/icmpkit/transport"
)

// SocketConfig configures a Socket. The zero value opens a raw transport when the process may,
// else a datagram one, sending from the address the routing table picks.
type SocketConfig struct {
	// Mode picks the transport to open (icmplib's privileged). Zero means ModeAuto.
	Mode Mode
	// Source is the address to send from (icmplib's address). The zero value lets the system
	// choose; a valid Source must be of the socket's family.
	Source netip.Addr
	// Interface is the network interface to send through. Empty means any.
	Interface string
	// ID is the identifier a raw transport filters on, as in Config. Zero lets it choose.
	ID int
	// Transport, when set, is used instead of opening one; Mode, Source, Interface and ID are
	// then ignored. The Socket takes it over: Close closes it. A Socket consumes every reply
	// the transport receives, so a transport should not be shared with other readers.
	Transport transport.Transport
}

// Socket is icmplib's ICMPv4Socket and ICMPv6Socket: it sends single echo requests and
// receives the replies to them, over any transport.Transport. A Socket is safe for use by
// many goroutines at once; each reply goes to the Receive call waiting for its request.
type Socket struct {
	t  transport.Transport
	v6 bool

	mu      sync.Mutex
	closed  bool
	reading bool              // a Receive call is reading from the transport
	wake    chan struct{}     // closed and replaced when pending, reading or closed change
	pending []transport.Reply // replies read but not yet asked for, oldest first
}

// maxPending bounds the replies a Socket keeps for Receive calls yet to come; beyond it the
// oldest are dropped.
const maxPending = 256

// NewICMPv4Socket opens a Socket for ICMPv4: icmplib's ICMPv4Socket.
func NewICMPv4Socket(cfg SocketConfig) (*Socket, error) { return newSocket(cfg, false) }

// NewICMPv6Socket opens a Socket for ICMPv6: icmplib's ICMPv6Socket.
func NewICMPv6Socket(cfg SocketConfig) (*Socket, error) { return newSocket(cfg, true) }

func newSocket(cfg SocketConfig, v6 bool) (*Socket, error) {
	t := cfg.Transport
	if t == nil {
		if cfg.Source.IsValid() && cfg.Source.Unmap().Is6() != v6 {
			return nil, errors.Invalid("source", "%s is not an %s address", cfg.Source, familyOf(v6))
		}
		var err error
		t, err = Open(cfg.Mode, Config{Source: cfg.Source, Interface: cfg.Interface, ID: cfg.ID})
		if err != nil {
			return nil, err
		}
	}
	return &Socket{t: t, v6: v6, wake: make(chan struct{})}, nil
}

func familyOf(v6 bool) Family {
	if v6 {
		return IPv6
	}
	return IPv4
}

// Family gives IPv4 or IPv6.
func (s *Socket) Family() Family { return familyOf(s.v6) }

// Transport gives the transport the socket sends through.
func (s *Socket) Transport() transport.Transport { return s.t }

// IsPrivileged reports whether the socket uses a raw transport (icmplib's is_privileged).
func (s *Socket) IsPrivileged() bool { return ModeOf(s.t) == ModePrivileged }

// Send transmits req and returns without waiting for a reply. It sets req.SentAt and, when the
// system decides the identifier, req.ID to the one that went out; Receive matches on them.
// The destination must be of the socket's family; a broadcast destination needs
// SetBroadcast(true).
func (s *Socket) Send(req *transport.Request) error {
	if req == nil {
		return errors.Invalid("request", "is nil")
	}
	if s.IsClosed() {
		return errClosed("send")
	}
	if req.Destination.IsValid() && !req.Destination.Is4In6() && req.Destination.Is6() != s.v6 {
		return errors.Invalid("destination", "%s is not an %s address", req.Destination, s.Family())
	}
	return s.t.Send(context.Background(), req)
}

// Receive waits for a reply to req, sent with Send: an echo reply or an ICMP error quoting it,
// from any source (so the replies of a broadcast ping all qualify), matched on the identifier
// and sequence. It waits until req.SentAt + req.Timeout (2 s when Timeout is zero), then fails
// with an error matching errors.ErrTimeout; ctx can end the wait sooner, with ctx's error.
// Call it again for further replies to the same request (one per responder of a broadcast).
// Reply.Err turns an ICMP error into a Go error (icmplib's raise_for_status).
//
// A nil req takes the next reply of the socket's family, waiting at most 2 s.
// After Close, Receive fails with an error matching errors.ErrUnavailable.
func (s *Socket) Receive(ctx context.Context, req *transport.Request) (*transport.Reply, error) {
	start, timeout := time.Now(), probe.DefaultTimeout
	if req != nil {
		if req.SentAt.IsZero() {
			return nil, errors.Invalid("request", "was not sent")
		}
		start = req.SentAt
		if req.Timeout > 0 {
			timeout = req.Timeout
		}
	}
	wctx, cancel := context.WithDeadline(ctx, start.Add(timeout))
	defer cancel()
	for {
		s.mu.Lock()
		if s.closed {
			s.mu.Unlock()
			return nil, errClosed("receive")
		}
		if i := slices.IndexFunc(s.pending, func(r transport.Reply) bool { return s.matches(&r, req) }); i >= 0 {
			r := s.pending[i]
			s.pending = slices.Delete(s.pending, i, i+1)
			s.mu.Unlock()
			return &r, nil
		}
		if s.reading {
			// Another call is reading: wait until it hands over a reply or its turn.
			wake := s.wake
			s.mu.Unlock()
			select {
			case <-wake:
				continue
			case <-wctx.Done():
				return nil, s.waitError(ctx)
			}
		}
		s.reading = true
		s.mu.Unlock()

		var r transport.Reply
		err := s.t.Receive(wctx, &r)
		r.MPLS = slices.Clone(r.MPLS)

		s.mu.Lock()
		s.reading = false
		s.notifyLocked()
		if err != nil {
			closed := s.closed
			s.mu.Unlock()
			if closed || wctx.Err() != nil {
				return nil, s.waitError(ctx)
			}
			return nil, err // the transport failed
		}
		if s.matches(&r, req) {
			s.mu.Unlock()
			return &r, nil
		}
		if r.IsV6() == s.v6 {
			if len(s.pending) == maxPending {
				s.pending = slices.Delete(s.pending, 0, 1)
			}
			s.pending = append(s.pending, r)
		}
		s.mu.Unlock()
	}
}

// matches reports whether r answers req (any reply of the family when req is nil).
func (s *Socket) matches(r *transport.Reply, req *transport.Request) bool {
	if r.IsV6() != s.v6 {
		return false
	}
	return req == nil || (r.ID == req.ID && r.Seq == req.Seq)
}

// waitError tells why a wait ended: the socket closed, the caller's ctx ended, or the
// request's time ran out.
func (s *Socket) waitError(ctx context.Context) error {
	switch {
	case s.IsClosed():
		return errClosed("receive")
	case ctx.Err() != nil:
		return ctx.Err()
	}
	return &errors.Error{Op: "receive", Class: errors.ErrTimeout, Err: context.DeadlineExceeded}
}

func (s *Socket) notifyLocked() {
	close(s.wake)
	s.wake = make(chan struct{})
}

// SetBroadcast allows (or forbids) broadcast destinations. It fails with an error matching
// errors.ErrNotSupported when the transport cannot send to them.
func (s *Socket) SetBroadcast(on bool) error {
	if s.IsClosed() {
		return errClosed("set broadcast")
	}
	return setBroadcast(s.t, on)
}

// Broadcast reports whether broadcast destinations are allowed.
func (s *Socket) Broadcast() bool {
	b, ok := s.t.(transport.Broadcaster)
	return ok && b.Broadcast()
}

// Close closes the socket and its transport, and unblocks every Receive. It is safe to call
// more than once.
func (s *Socket) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	s.pending = nil
	s.notifyLocked()
	s.mu.Unlock()
	return s.t.Close()
}

// IsClosed reports whether Close has been called.
func (s *Socket) IsClosed() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.closed
}

func errClosed(op string) error {
	return &errors.Error{Op: op, Class: errors.ErrUnavailable, Err: errors.New("socket is closed")}
}
