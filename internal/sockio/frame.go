package sockio

import (
	"context"
	"net"
	"net/netip"
	"sync/atomic"

	icmperrors "github.com/icmpkit/icmpkit/errors"
	"github.com/icmpkit/icmpkit/transport"
)

// Socket is the socket (or handle) of one family in a Frame.
type Socket interface {
	// Send sends one request, valid and of the socket's family.
	Send(req *transport.Request) error
	// SendBatch sends requests of the socket's family in order and gives how many went out.
	SendBatch(reqs []transport.Request) (int, error)
	// Read reads replies and hands them to Link.Deliver until the socket closes or Deliver
	// reports false.
	Read()
	// Poll fills replies with what has arrived, without waiting, and gives how many.
	Poll(replies []transport.Reply) int
	// Identifier is transport.Identifier's answer for the socket's family.
	Identifier() (id int, fixed bool)
	// SetBroadcast allows or forbids broadcast destinations (IPv4 only).
	SetBroadcast(on bool) error
	// Close closes the socket; Read then returns.
	Close() error
}

// Link is what a Frame's sockets see of it.
type Link struct{ f *Frame }

// Closed reports whether the transport's Close has begun.
func (l Link) Closed() bool { return l.f.rx.Closed() }

// Deliver queues a reply for Receive; see Replies.Deliver.
func (l Link) Deliver(r *transport.Reply) bool { return l.f.rx.Deliver(r) }

// Broadcast reports whether broadcast destinations are allowed.
func (l Link) Broadcast() bool { return l.f.broadcast.Load() }

// Frame is a transport made of one socket (or handle) per family, each with its own
// reader: the whole of transport/dgram's and the Windows ICMP API transport's Transport but
// what their sockets do. A transport embeds a Frame, which gives it the methods of
// transport.Transport, Identifier, BatchSender, BatchReceiver, Poller and Broadcaster, and
// opens it with OpenFrame.
type Frame struct {
	rx        Replies
	socks     [2]Socket // IPv4, IPv6; nil when the family is not open
	errs      [2]error  // why a family is not open
	broadcast atomic.Bool
	errSend   error // what Send returns once closed
}

// errFamilyNotOpened is why a family left out by the configuration has no socket.
var errFamilyNotOpened = icmperrors.New("the transport was configured without this family")

// FamilyName gives "IPv6" or "IPv4".
func FamilyName(v6 bool) string {
	if v6 {
		return "IPv6"
	}
	return "IPv4"
}

// OpenFrame opens with open the socket of each family that fam asks for. A family that does
// not open is left out as long as the other one opens; when none opens, OpenFrame gives the
// first error. errSend and errReceive are what sends and receives return once the transport
// is closed (matching errors.ErrUnavailable).
func OpenFrame[S Socket](f *Frame, fam transport.Family, errSend, errReceive error, open func(v6 bool, l Link) (S, error)) error {
	var first error
	for i, v6 := range [2]bool{false, true} {
		if !fam.Wants(v6) {
			f.errs[i] = icmperrors.Wrap(icmperrors.ErrNotSupported, "send "+FamilyName(v6), errFamilyNotOpened)
			continue
		}
		s, err := open(v6, Link{f})
		if err != nil {
			f.errs[i] = err
			if first == nil {
				first = err
			}
			continue
		}
		f.socks[i] = s
	}
	if f.socks[0] == nil && f.socks[1] == nil {
		return first
	}
	var readers []func()
	for _, s := range f.socks {
		if s != nil {
			readers = append(readers, s.Read)
		}
	}
	f.errSend = errSend
	f.rx.Init(errReceive, readers...)
	return nil
}

// socket gives the socket of the family (v6 or not), nil when it is not open.
func (f *Frame) socket(v6 bool) Socket {
	if v6 {
		return f.socks[1]
	}
	return f.socks[0]
}

var limitedBroadcast = netip.AddrFrom4([4]byte{255, 255, 255, 255})

// socketFor gives the open socket for the request's family, checking what every send checks.
func (f *Frame) socketFor(req *transport.Request) (Socket, error) {
	if f.rx.Closed() {
		return nil, f.errSend
	}
	if err := req.Validate(); err != nil {
		return nil, err
	}
	i := 0
	if req.Destination.Is6() {
		i = 1
	}
	s := f.socks[i]
	if s == nil {
		return nil, f.errs[i]
	}
	if req.Destination == limitedBroadcast && !f.broadcast.Load() {
		return nil, ErrBroadcastOff(req.Destination)
	}
	return s, nil
}

// ErrBroadcastOff is the error of a send to the broadcast address dst while broadcast is off.
func ErrBroadcastOff(dst netip.Addr) error {
	return &icmperrors.Error{Op: "send to " + dst.String(), Class: icmperrors.ErrBroadcast,
		Hint: "enable broadcast (SetBroadcast(true), the -b flag) to ping a broadcast address"}
}

// Send transmits one echo request; see transport.Transport. It checks ctx before sending but
// does not wait for it.
func (f *Frame) Send(ctx context.Context, req *transport.Request) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	s, err := f.socketFor(req)
	if err != nil {
		return err
	}
	return s.Send(req)
}

// SendBatch sends reqs in order with as few system calls as the system allows, stamping each
// as Send does, and returns how many went out; the error describes reqs[n].
func (f *Frame) SendBatch(ctx context.Context, reqs []transport.Request) (int, error) {
	n := 0
	for n < len(reqs) {
		if err := ctx.Err(); err != nil {
			return n, err
		}
		s, err := f.socketFor(&reqs[n])
		if err != nil {
			return n, err
		}
		// A run of requests of one family, each valid, goes out in one batch.
		end := n + 1
		for end < len(reqs) && reqs[end].Destination.Is6() == reqs[n].Destination.Is6() {
			if _, err := f.socketFor(&reqs[end]); err != nil {
				break
			}
			end++
		}
		sent, err := s.SendBatch(reqs[n:end])
		n += sent
		if err != nil {
			return n, err
		}
	}
	return n, nil
}

// Receive blocks until a reply arrives, ctx is done or the transport is closed; see
// transport.Transport.
func (f *Frame) Receive(ctx context.Context, reply *transport.Reply) error {
	return f.rx.Receive(ctx, reply)
}

// ReceiveBatch blocks as Receive does until at least one reply is available, then fills as
// many of replies as are waiting and returns how many it filled.
func (f *Frame) ReceiveBatch(ctx context.Context, replies []transport.Reply) (int, error) {
	return f.rx.ReceiveBatch(ctx, replies)
}

// Poll hands over, without waiting, the replies already queued for Receive, then those
// waiting in the sockets, up to len(replies), and returns how many it filled; see
// transport.Poller. When another Poll is reading a socket at the time, it leaves that socket
// to it.
func (f *Frame) Poll(replies []transport.Reply) (int, error) {
	return f.rx.Poll(replies, f.pollSockets)
}

func (f *Frame) pollSockets(replies []transport.Reply) int {
	n := 0
	for _, s := range f.socks {
		if s != nil && n < len(replies) {
			n += s.Poll(replies[n:])
		}
	}
	return n
}

// Close closes the sockets, ends their readers and unblocks every pending Receive. It is
// safe to call more than once; later calls return the first call's result.
func (f *Frame) Close() error { return f.rx.Close(f.closeSockets) }

func (f *Frame) closeSockets() error {
	var errs []error
	for _, s := range f.socks {
		if s != nil {
			if err := s.Close(); err != nil {
				errs = append(errs, err)
			}
		}
	}
	if len(errs) > 0 {
		return icmperrors.Wrap(icmperrors.ErrSocket, "close", icmperrors.Join(errs...))
	}
	return nil
}

// Identifier gives the identifier requests to dst's family carry (see transport.Identifier);
// for a family the transport has not opened it returns 0, false.
func (f *Frame) Identifier(dst netip.Addr) (id int, fixed bool) {
	s := f.socket(dst.Is6())
	if s == nil {
		return 0, false
	}
	return s.Identifier()
}

// SetBroadcast allows or forbids IPv4 broadcast destinations. It is off by default.
func (f *Frame) SetBroadcast(on bool) error {
	if f.rx.Closed() {
		return &icmperrors.Error{Op: "set broadcast", Class: icmperrors.ErrUnavailable, Err: net.ErrClosed}
	}
	if s := f.socket(false); s != nil {
		if err := s.SetBroadcast(on); err != nil {
			return err
		}
	}
	f.broadcast.Store(on)
	return nil
}

// Broadcast reports whether broadcast destinations are allowed.
func (f *Frame) Broadcast() bool { return f.broadcast.Load() }

// Families reports which families the transport has open.
func (f *Frame) Families() (v4, v6 bool) { return f.socks[0] != nil, f.socks[1] != nil }

// ReadersStarted reports whether the goroutines that read the sockets run: they start with
// the first Receive, and until then replies wait in the sockets, where Poll finds them.
func (f *Frame) ReadersStarted() bool { return f.rx.Started() }
