package raw

import (
	"context"
	"net/netip"
	"sync"
	"time"
	"unsafe"

	icmperrors "github.com/icmpkit/icmpkit/errors"
	"github.com/icmpkit/icmpkit/internal/sockio"
	"github.com/icmpkit/icmpkit/internal/wire"
	"github.com/icmpkit/icmpkit/transport"
	"golang.org/x/sys/unix"
)

// oobWords sizes a request's control messages: three int-valued ones at most.
const oobWords = 12

// maxBatch is the number of requests one sendmmsg call carries at most.
const maxBatch = 64

// packet holds what one sendmsg needs; msghdrs point into it.
type packet struct {
	buf []byte
	iov unix.Iovec
	sa  [sockio.NameLen]byte
	oob [oobWords]uint64 // word-aligned for cmsghdr
}

// build encodes req and points h at the packet, its destination and its control messages:
// IP_TTL and IP_TOS, or IPV6_HOPLIMIT, IPV6_TCLASS and IPV6_DONTFRAG.
func (p *packet) build(req *transport.Request, h *unix.Msghdr) error {
	dst := req.Destination
	*h = unix.Msghdr{}
	n, ok := sockio.PutSockaddr(p.sa[:], dst)
	if !ok {
		return &icmperrors.Error{Op: "send to " + dst.String(), Class: icmperrors.ErrAddress, Err: unix.ENODEV, Hint: "unknown zone"}
	}
	h.Name = &p.sa[0]
	h.Namelen = uint32(n)
	p.buf = wire.AppendEchoRequest(p.buf[:0], req)
	p.iov.Base = &p.buf[0]
	p.iov.SetLen(len(p.buf))
	h.Iov = &p.iov
	h.SetIovlen(1)

	ttl := req.TTL
	if ttl == 0 {
		ttl = transport.DefaultTTL
	}
	oob := unsafe.Slice((*byte)(unsafe.Pointer(&p.oob[0])), len(p.oob)*8)
	n = 0
	if dst.Is6() {
		n += sockio.PutCmsgInt(oob[n:], unix.IPPROTO_IPV6, unix.IPV6_HOPLIMIT, ttl)
		n += sockio.PutCmsgInt(oob[n:], unix.IPPROTO_IPV6, unix.IPV6_TCLASS, req.TrafficClass)
		if req.DontFragment {
			n += sockio.PutCmsgInt(oob[n:], unix.IPPROTO_IPV6, unix.IPV6_DONTFRAG, 1)
		}
	} else {
		n += sockio.PutCmsgInt(oob[n:], unix.IPPROTO_IP, unix.IP_TTL, ttl)
		n += sockio.PutCmsgInt(oob[n:], unix.IPPROTO_IP, unix.IP_TOS, req.TrafficClass)
	}
	h.Control = &oob[0]
	h.SetControllen(n)
	return nil
}

// sendState is the reusable state of one Send.
type sendState struct {
	pkt    packet
	msg    unix.Msghdr
	sentAt time.Time
	errno  unix.Errno
	write  func(fd uintptr) bool // s.do, bound once
}

var sendPool = sync.Pool{New: func() any {
	s := &sendState{pkt: packet{buf: make([]byte, 0, 512)}}
	s.write = s.do
	return s
}}

// do runs in the socket's Write: one sendmsg, stamped just before the call. It asks for a
// wait while the send buffer is full.
func (s *sendState) do(fd uintptr) bool {
	for {
		s.sentAt = time.Now()
		_, _, e := unix.Syscall(unix.SYS_SENDMSG, fd, uintptr(unsafe.Pointer(&s.msg)), 0)
		switch e {
		case unix.EINTR:
			continue
		case unix.EAGAIN:
			return false
		}
		s.errno = e
		return true
	}
}

// limitedBroadcast is 255.255.255.255.
var limitedBroadcast = netip.AddrFrom4([4]byte{255, 255, 255, 255})

// Errors of requests the transport has no socket for.
var (
	errNoIPv4 = &icmperrors.Error{Op: "send to an IPv4 destination", Class: icmperrors.ErrNotSupported,
		Hint: "the transport has no IPv4 socket: Config.Family excludes it or the system lacks IPv4"}
	errNoIPv6 = &icmperrors.Error{Op: "send to an IPv6 destination", Class: icmperrors.ErrNotSupported,
		Hint: "the transport has no IPv6 socket: Config.Family excludes it or the system lacks IPv6"}
)

// socketFor picks the socket req leaves through, and makes sure replies for its identifier
// get through the filters.
func (t *Transport) socketFor(req *transport.Request) (*sock, error) {
	dst := req.Destination
	var s *sock
	if dst.Is4() {
		if t.sys.v4 == nil {
			return nil, errNoIPv4
		}
		if dst == limitedBroadcast && !t.broadcast.Load() {
			return nil, broadcastError(dst, nil)
		}
		s = t.sys.v4
	} else {
		if t.sys.v6 == nil {
			return nil, errNoIPv6
		}
		s = t.sys.v6
	}
	if !t.ids.has(req.ID) {
		if err := t.learnID(req.ID); err != nil {
			return nil, err
		}
	}
	sockio.RaiseTo(&t.maxPayload, int64(req.PayloadLen()))
	return s, nil
}

func broadcastError(dst netip.Addr, errno error) error {
	return &icmperrors.Error{Op: "send to " + dst.String(), Class: icmperrors.ErrBroadcast, Err: errno,
		Hint: "the destination is a broadcast address: enable broadcast with SetBroadcast(true)"}
}

func (t *Transport) send(req *transport.Request) error {
	s, err := t.socketFor(req)
	if err != nil {
		return err
	}
	st := sendPool.Get().(*sendState)
	defer sendPool.Put(st)
	if err := st.pkt.build(req, &st.msg); err != nil {
		return err
	}
	st.errno = 0
	if err := s.write(st.write, req.DontFragment); err != nil {
		return t.writeFailed("send to "+req.Destination.String(), err)
	}
	if st.errno != 0 {
		return t.sendError(req, st.errno)
	}
	req.SentAt = st.sentAt
	return nil
}

// writeFailed gives the error of a send that sock.write could not make: its own (the socket
// could not be switched) or, the socket being closed, errors.ErrUnavailable.
func (t *Transport) writeFailed(op string, err error) error {
	if _, ok := err.(*icmperrors.Error); ok {
		return err
	}
	return closedOr(icmperrors.Wrap(icmperrors.ErrUnavailable, op, err), t)
}

// sendError classifies a failed sendmsg.
func (t *Transport) sendError(req *transport.Request, errno unix.Errno) error {
	dst := req.Destination
	op := "send echo request to " + dst.String()
	switch errno {
	case unix.EACCES:
		if dst.Is4() {
			return broadcastError(dst, errno)
		}
		return &icmperrors.Error{Op: op, Class: icmperrors.ErrPermission, Err: errno}
	case unix.EPERM:
		return &icmperrors.Error{Op: op, Class: icmperrors.ErrSocket, Err: errno, Hint: "a firewall rule rejected the packet"}
	case unix.EMSGSIZE:
		return &icmperrors.Error{Op: op, Class: icmperrors.ErrMessageSize, Err: errno, Hint: "the packet exceeds the interface MTU and may not be fragmented"}
	case unix.EADDRNOTAVAIL:
		return &icmperrors.Error{Op: op, Class: icmperrors.ErrAddress, Err: errno}
	case unix.EBADF:
		return closedOr(&icmperrors.Error{Op: op, Class: icmperrors.ErrUnavailable, Err: errno}, t)
	}
	return icmperrors.Wrap(icmperrors.ErrSocket, op, errno)
}

// batchState is the reusable state of one SendBatch.
type batchState struct {
	pkts   []packet
	hdrs   []unix.Mmsghdr
	stamps []time.Time
	n, off int // messages built, messages sent
	errno  unix.Errno
	write  func(fd uintptr) bool // b.do, bound once
}

var batchPool = sync.Pool{New: func() any {
	b := &batchState{
		pkts:   make([]packet, maxBatch),
		hdrs:   make([]unix.Mmsghdr, maxBatch),
		stamps: make([]time.Time, maxBatch),
	}
	b.write = b.do
	return b
}}

// do runs in the socket's Write: sendmmsg until every built message is out, each call stamped
// just before it is made.
func (b *batchState) do(fd uintptr) bool {
	for b.off < b.n {
		now := time.Now()
		k, _, e := unix.Syscall6(unix.SYS_SENDMMSG, fd, uintptr(unsafe.Pointer(&b.hdrs[b.off])), uintptr(b.n-b.off), 0, 0, 0)
		switch e {
		case 0:
		case unix.EINTR:
			continue
		case unix.EAGAIN:
			return false
		default:
			b.errno = e
			return true
		}
		for i := b.off; i < b.off+int(k); i++ {
			b.stamps[i] = now
		}
		b.off += int(k)
	}
	return true
}

func (t *Transport) sendBatch(ctx context.Context, reqs []transport.Request) (int, error) {
	b := batchPool.Get().(*batchState)
	defer batchPool.Put(b)
	sent := 0
	for sent < len(reqs) {
		if t.rx.Closed() {
			return sent, errClosedSend
		}
		if err := ctx.Err(); err != nil {
			return sent, err
		}
		first := &reqs[sent]
		if err := first.Validate(); err != nil {
			return sent, err
		}
		s, err := t.socketFor(first)
		if err != nil {
			return sent, err
		}
		if err := b.pkts[0].build(first, &b.hdrs[0].Hdr); err != nil {
			return sent, err
		}
		b.n, b.off, b.errno = 1, 0, 0
		// Gather the requests that follow through the same socket with the same Don't Fragment
		// setting; one that cannot go ends the run and is reported when its turn comes.
		for i := sent + 1; i < len(reqs) && b.n < maxBatch; i++ {
			r := &reqs[i]
			if r.Validate() != nil || r.DontFragment != first.DontFragment {
				break
			}
			if rs, err := t.socketFor(r); err != nil || rs != s {
				break
			}
			if b.pkts[b.n].build(r, &b.hdrs[b.n].Hdr) != nil {
				break
			}
			b.n++
		}
		werr := s.write(b.write, first.DontFragment)
		for i := range b.off {
			reqs[sent+i].SentAt = b.stamps[i]
		}
		sent += b.off
		if werr != nil {
			return sent, t.writeFailed("send", werr)
		}
		if b.errno != 0 {
			return sent, t.sendError(&reqs[sent], b.errno)
		}
	}
	return sent, nil
}
