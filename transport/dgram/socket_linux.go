//go:build linux

package dgram

import (
	"encoding/binary"
	"net/netip"
	"os"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
	"unsafe"

	icmperrors "github.com/icmpkit/icmpkit/errors"
	"github.com/icmpkit/icmpkit/internal/pollfd"
	"github.com/icmpkit/icmpkit/internal/sockio"
	"github.com/icmpkit/icmpkit/internal/wire"
	"github.com/icmpkit/icmpkit/transport"
	"golang.org/x/sys/unix"
)

// socket is one datagram ICMP socket of one family. Its descriptor joins Go's poller only
// when something has to wait on it (the reader, or a send that finds the send buffer full;
// see internal/pollfd).
type socket struct {
	link sockio.Link // the transport, for its state and its reply queue
	v6   bool
	fd   *pollfd.FD
	port int // the identifier the kernel writes into our requests

	// The path MTU discovery mode is a socket option (IP_MTU_DISCOVER, IPV6_MTU_DISCOVER),
	// switched for the one packet that asks for DontFragment while dfMu is held exclusively;
	// every other send holds it shared.
	dfMu       sync.RWMutex
	pmtuNormal int

	// maxPayload is the largest payload sent, so the reader's buffers hold whole replies.
	maxPayload atomic.Int64

	sends   sync.Pool // *sendState
	batches sync.Pool // *batchState

	// wake is an eventfd that close signals to end the reader's wait in poll(2); it is made
	// the first time the reader needs it (see reader.waitLevel).
	wakeMu  sync.Mutex
	wake    int
	closing bool

	// pollSlot is the reader of a Poll.
	pollSlot sockio.PollSlot[reader]
}

const pingGroupHint = `the caller's group is outside net.ipv4.ping_group_range, which also governs IPv6; ` +
	`allow it with: sysctl -w net.ipv4.ping_group_range="0 2147483647", ` +
	`or use raw mode as root or with CAP_NET_RAW`

// openError classifies a failed socket() call.
func openError(v6 bool, err error) error {
	op := "open " + familyName(v6) + " ping socket"
	switch err {
	case unix.EACCES, unix.EPERM:
		e := &icmperrors.Error{Op: op, Class: icmperrors.ErrPermission, Err: err, Hint: pingGroupHint}
		if b, rerr := os.ReadFile("/proc/sys/net/ipv4/ping_group_range"); rerr == nil {
			e.Hint = `net.ipv4.ping_group_range is "` + strings.Join(strings.Fields(string(b)), " ") + `": ` + pingGroupHint
		}
		return e
	case unix.EAFNOSUPPORT, unix.EPROTONOSUPPORT, unix.ESOCKTNOSUPPORT, unix.EPROTOTYPE:
		return &icmperrors.Error{Op: op, Class: icmperrors.ErrNotSupported, Err: err,
			Hint: "the kernel has no " + familyName(v6) + " ping sockets"}
	}
	return icmperrors.Wrap(icmperrors.ErrSocket, op, err)
}

func openSocket(cfg *Config, v6 bool, link sockio.Link) (*socket, error) {
	family, proto := unix.AF_INET, unix.IPPROTO_ICMP
	if v6 {
		family, proto = unix.AF_INET6, unix.IPPROTO_ICMPV6
	}
	fd, err := unix.Socket(family, unix.SOCK_DGRAM|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, proto)
	if err != nil {
		return nil, openError(v6, err)
	}
	s := &socket{v6: v6, wake: -1, link: link}
	if err := s.configure(fd, cfg); err != nil {
		unix.Close(fd)
		return nil, err
	}
	s.fd = pollfd.New(fd, "icmpkit-dgram-"+familyName(v6))
	return s, nil
}

// configure sets the socket's options, binds it and reads back its identifier.
func (s *socket) configure(fd int, cfg *Config) error {
	fam := familyName(s.v6)
	setopt := func(level, opt, v int, name string) error {
		if err := unix.SetsockoptInt(fd, level, opt, v); err != nil {
			return icmperrors.Wrap(icmperrors.ErrSocket, "set "+name+" on "+fam+" ping socket", err)
		}
		return nil
	}
	ipLevel, recvErr, recvTTL, rfc4884 := unix.SOL_IP, unix.IP_RECVERR, unix.IP_RECVTTL, unix.IP_RECVERR_RFC4884
	if s.v6 {
		ipLevel, recvErr, recvTTL, rfc4884 = unix.SOL_IPV6, unix.IPV6_RECVERR, unix.IPV6_RECVHOPLIMIT, unix.IPV6_RECVERR_RFC4884
	}
	if err := setopt(ipLevel, recvErr, 1, "RECVERR"); err != nil {
		return err
	}
	if err := setopt(ipLevel, recvTTL, 1, "RECVTTL"); err != nil {
		return err
	}
	if err := setopt(unix.SOL_SOCKET, unix.SO_TIMESTAMPNS, 1, "SO_TIMESTAMPNS"); err != nil {
		return err
	}
	// RFC 4884 offsets exist from Linux 5.9 on; older kernels just give none.
	_ = unix.SetsockoptInt(fd, ipLevel, rfc4884, 1)

	rcvbuf := cfg.ReceiveBuffer
	if rcvbuf == 0 {
		rcvbuf = DefaultReceiveBuffer
	}
	if unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUFFORCE, rcvbuf) != nil {
		if err := setopt(unix.SOL_SOCKET, unix.SO_RCVBUF, rcvbuf, "SO_RCVBUF"); err != nil {
			return err
		}
	}
	level, opt := s.pmtuOption()
	v, err := unix.GetsockoptInt(fd, level, opt)
	if err != nil {
		return icmperrors.Wrap(icmperrors.ErrSocket, "get path MTU discovery mode of ping socket", err)
	}
	s.pmtuNormal = v

	if cfg.Interface != "" {
		if err := unix.BindToDevice(fd, cfg.Interface); err != nil {
			class := icmperrors.ErrAddress
			if err == unix.EPERM || err == unix.EACCES {
				class = icmperrors.ErrPermission
			}
			return &icmperrors.Error{Op: "bind " + fam + " ping socket to interface " + cfg.Interface, Class: class, Err: err}
		}
	}

	var sa unix.Sockaddr
	if s.v6 {
		sa6 := &unix.SockaddrInet6{}
		if cfg.Source.Is6() {
			sa6.Addr = cfg.Source.As16()
			idx, ok := sockio.ZoneIndex(cfg.Source.Zone())
			if !ok {
				return &icmperrors.Error{Op: "bind " + fam + " ping socket to " + cfg.Source.String(),
					Class: icmperrors.ErrAddress, Err: unix.ENODEV}
			}
			sa6.ZoneId = idx
		}
		sa = sa6
	} else {
		sa4 := &unix.SockaddrInet4{}
		if cfg.Source.Is4() {
			sa4.Addr = cfg.Source.As4()
		}
		sa = sa4
	}
	if err := unix.Bind(fd, sa); err != nil {
		class := icmperrors.ErrAddress
		if err == unix.EACCES || err == unix.EPERM {
			class = icmperrors.ErrPermission
		}
		op := "bind " + fam + " ping socket"
		if cfg.Source.IsValid() && cfg.Source.Is6() == s.v6 {
			op += " to " + cfg.Source.String()
		}
		return &icmperrors.Error{Op: op, Class: class, Err: err}
	}
	got, err := unix.Getsockname(fd)
	if err != nil {
		return icmperrors.Wrap(icmperrors.ErrSocket, "read "+fam+" ping socket identifier", err)
	}
	switch a := got.(type) {
	case *unix.SockaddrInet4:
		s.port = a.Port
	case *unix.SockaddrInet6:
		s.port = a.Port
	}
	return nil
}

func (s *socket) Identifier() (int, bool) { return s.port, true }

// wakeFD gives the eventfd that close signals, making it on first use; false once closing.
func (s *socket) wakeFD() (int, bool) {
	s.wakeMu.Lock()
	defer s.wakeMu.Unlock()
	if s.closing {
		return -1, false
	}
	if s.wake < 0 {
		fd, err := unix.Eventfd(0, unix.EFD_CLOEXEC|unix.EFD_NONBLOCK)
		if err != nil {
			return -1, false
		}
		s.wake = fd
	}
	return s.wake, true
}

func (s *socket) Close() error {
	s.wakeMu.Lock()
	s.closing = true
	if s.wake >= 0 {
		var one [8]byte
		binary.NativeEndian.PutUint64(one[:], 1)
		_, _ = unix.Write(s.wake, one[:])
	}
	s.wakeMu.Unlock()
	// Close waits for a reader inside poll(2) to return, so the eventfd is unused after it.
	err := s.fd.Close()
	if s.wake >= 0 {
		unix.Close(s.wake)
	}
	return err
}

func (s *socket) SetBroadcast(on bool) error {
	v := 0
	if on {
		v = 1
	}
	var serr error
	err := s.fd.Control(func(fd uintptr) {
		serr = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_BROADCAST, v)
	})
	if err == nil {
		err = serr
	}
	if err != nil {
		return icmperrors.Wrap(icmperrors.ErrSocket, "set SO_BROADCAST", err)
	}
	return nil
}

// --- sending ---

// sendOOBLen is the size of the control buffer of one outgoing message: up to three int
// control messages (CMSG_SPACE(4) is 16 or 24).
const sendOOBLen = 3 * 24

// msgBufs is what one outgoing message points at.
type msgBufs struct {
	hdr  [8]byte
	name [sockio.NameLen]byte
	oob  [sendOOBLen]byte
	iov  [2]unix.Iovec
}

// fill builds the message for req into m and points h at it. It gives the payload length.
func (m *msgBufs) fill(h *unix.Msghdr, v6 bool, id int, req *transport.Request) int {
	wire.PutEchoHeaderNoSum(m.hdr[:], v6, id, req.Seq)
	m.iov[0].Base = &m.hdr[0]
	m.iov[0].SetLen(8)
	payload := wire.Payload(req)
	iovs := 1
	if len(payload) > 0 {
		m.iov[1].Base = &payload[0]
		m.iov[1].SetLen(len(payload))
		iovs = 2
	}
	h.Iov = &m.iov[0]
	h.SetIovlen(iovs)
	h.Name = &m.name[0]
	n, _ := sockio.PutSockaddr(m.name[:], req.Destination) // an unknown zone goes out without one
	h.Namelen = uint32(n)
	oob := putSendCmsgs(m.oob[:], v6, req)
	if oob > 0 {
		h.Control = &m.oob[0]
	} else {
		h.Control = nil
	}
	h.SetControllen(oob)
	h.Flags = 0
	return len(payload)
}

// release drops the reference to a caller's payload.
func (m *msgBufs) release() { m.iov[1].Base = nil }

// putSendCmsgs writes the control messages req needs into b and gives their length: the TTL
// or hop limit always, the traffic class when set, and IPv6's don't-fragment when asked.
func putSendCmsgs(b []byte, v6 bool, req *transport.Request) int {
	clear(b)
	ttl := req.TTL
	if ttl == 0 {
		ttl = transport.DefaultTTL
	}
	off := 0
	if v6 {
		off += sockio.PutCmsgInt(b[off:], unix.SOL_IPV6, unix.IPV6_HOPLIMIT, ttl)
		if req.TrafficClass != 0 {
			off += sockio.PutCmsgInt(b[off:], unix.SOL_IPV6, unix.IPV6_TCLASS, req.TrafficClass)
		}
		if req.DontFragment {
			off += sockio.PutCmsgInt(b[off:], unix.SOL_IPV6, unix.IPV6_DONTFRAG, 1)
		}
		return off
	}
	off += sockio.PutCmsgInt(b[off:], unix.SOL_IP, unix.IP_TTL, ttl)
	if req.TrafficClass != 0 {
		off += sockio.PutCmsgInt(b[off:], unix.SOL_IP, unix.IP_TOS, req.TrafficClass)
	}
	return off
}

// sendState is one Send's buffers, pooled; write is bound once so that handing it to the
// poller does not allocate.
type sendState struct {
	m     msgBufs
	msg   unix.Msghdr
	errno syscall.Errno
	write func(fd uintptr) bool
}

func (st *sendState) doWrite(fd uintptr) bool {
	_, _, e := unix.Syscall(unix.SYS_SENDMSG, fd, uintptr(unsafe.Pointer(&st.msg)), 0)
	if e == unix.EAGAIN {
		return false
	}
	st.errno = e
	return true
}

func (s *socket) getSend() *sendState {
	if st, ok := s.sends.Get().(*sendState); ok {
		return st
	}
	st := new(sendState)
	st.write = st.doWrite
	return st
}

func (s *socket) notePayload(n int) { sockio.RaiseTo(&s.maxPayload, int64(n)) }

// send transmits one request.
func (s *socket) Send(req *transport.Request) error {
	st := s.getSend()
	defer s.sends.Put(st)
	req.ID = s.port
	s.notePayload(st.m.fill(&st.msg, s.v6, s.port, req))
	defer st.m.release()

	if req.DontFragment {
		// Path MTU discovery probes ignore the cached path MTU, so that every probe reaches
		// the router that limits it and draws its answer, as tracepath does.
		s.dfMu.Lock()
		defer s.dfMu.Unlock()
		probe := unix.IP_PMTUDISC_PROBE
		if s.v6 {
			probe = unix.IPV6_PMTUDISC_PROBE
		}
		if err := s.setPMTU(probe); err != nil {
			return err
		}
		defer s.setPMTU(s.pmtuNormal)
	} else {
		s.dfMu.RLock()
		defer s.dfMu.RUnlock()
	}
	// A pending error of an earlier ICMP error message makes the next send fail with it; the
	// details are already on the error queue, so the send is tried again (see pendingTries).
	for try := 1; ; try++ {
		st.errno = 0
		req.SentAt = time.Now()
		if err := s.fd.Write(st.write); err != nil {
			return s.writeFailed(err)
		}
		if st.errno == 0 {
			return nil
		}
		if try == pendingTries {
			return s.sendError(req.Destination, st.errno)
		}
		pendingPause(try)
	}
}

// pendingTries bounds the tries of one send. Each ICMP error message that reaches a socket
// leaves its error pending, and the next send fails with it (consuming it); under a stream of
// ICMP errors, such as a parallel traceroute's, another can arrive between two tries, and
// while the reader drains the error queue each message it takes leaves the next one's error
// pending. A failure of the send itself (no route, a message too long) fails every try, at
// the cost of a few dozen system calls.
const pendingTries = 64

// pendingPause lets, after the first tries of a send failed, the reader drain the error
// queue before the next try: a long queue otherwise keeps an error pending for every try.
func pendingPause(try int) {
	if try >= 8 {
		runtime.Gosched()
	}
}

// pmtuOption gives the socket option of the path MTU discovery mode.
func (s *socket) pmtuOption() (level, opt int) {
	if s.v6 {
		return unix.SOL_IPV6, unix.IPV6_MTU_DISCOVER
	}
	return unix.SOL_IP, unix.IP_MTU_DISCOVER
}

func (s *socket) setPMTU(v int) error {
	level, opt := s.pmtuOption()
	var serr error
	err := s.fd.Control(func(fd uintptr) {
		serr = unix.SetsockoptInt(int(fd), level, opt, v)
	})
	if err == nil {
		err = serr
	}
	if err != nil {
		return icmperrors.Wrap(icmperrors.ErrSocket, "set path MTU discovery mode", err)
	}
	return nil
}

// writeFailed turns an error of the poller into Send's error.
func (s *socket) writeFailed(err error) error {
	if s.link.Closed() {
		return errSendClosed
	}
	return icmperrors.Wrap(icmperrors.ErrUnavailable, "send", err)
}

// sendError classifies a failed sendmsg. Every class but ErrBroadcast is ErrSocket: the
// failure concerns this destination (no route, a firewall, a message too long for the path),
// and other destinations may still work.
func (s *socket) sendError(dst netip.Addr, errno syscall.Errno) error {
	op := "send to " + dst.String()
	if errno == unix.EACCES && !s.link.Broadcast() {
		return &icmperrors.Error{Op: op, Class: icmperrors.ErrBroadcast, Err: errno,
			Hint: "the destination is a broadcast address; enable broadcast (SetBroadcast(true), the -b flag) to ping it"}
	}
	if errno == unix.EMSGSIZE {
		return &icmperrors.Error{Op: op, Class: icmperrors.ErrMessageSize, Err: errno,
			Hint: "the packet exceeds the MTU and may not be fragmented"}
	}
	return &icmperrors.Error{Op: op, Class: icmperrors.ErrSocket, Err: errno}
}

// batchLen is the number of messages one sendmmsg or recvmmsg call moves at most.
const batchLen = 64

// batchState is one SendBatch chunk's buffers, pooled.
type batchState struct {
	m     [batchLen]msgBufs
	msgs  [batchLen]unix.Mmsghdr
	off   int
	cnt   int
	sent  int
	errno syscall.Errno
	write func(fd uintptr) bool
}

func (b *batchState) doWrite(fd uintptr) bool {
	n, _, e := unix.Syscall6(unix.SYS_SENDMMSG, fd, uintptr(unsafe.Pointer(&b.msgs[b.off])), uintptr(b.cnt-b.off), 0, 0, 0)
	if e == unix.EAGAIN {
		return false
	}
	if e == 0 {
		b.sent = int(n)
	}
	b.errno = e
	return true
}

func (s *socket) getBatch() *batchState {
	if b, ok := s.batches.Get().(*batchState); ok {
		return b
	}
	b := new(batchState)
	b.write = b.doWrite
	return b
}

// sendBatch sends reqs, all of this socket's family.
func (s *socket) SendBatch(reqs []transport.Request) (int, error) {
	done := 0
	for done < len(reqs) {
		if !s.v6 && reqs[done].DontFragment {
			if err := s.Send(&reqs[done]); err != nil {
				return done, err
			}
			done++
			continue
		}
		end := done + 1
		for end < len(reqs) && end-done < batchLen && (s.v6 || !reqs[end].DontFragment) {
			end++
		}
		n, err := s.sendChunk(reqs[done:end])
		done += n
		if err != nil {
			return done, err
		}
	}
	return done, nil
}

func (s *socket) sendChunk(reqs []transport.Request) (int, error) {
	b := s.getBatch()
	defer s.batches.Put(b)
	maxp := 0
	for i := range reqs {
		reqs[i].ID = s.port
		maxp = max(maxp, b.m[i].fill(&b.msgs[i].Hdr, s.v6, s.port, &reqs[i]))
	}
	s.notePayload(maxp)
	defer func() {
		for i := range reqs {
			b.m[i].release()
		}
	}()
	s.dfMu.RLock()
	defer s.dfMu.RUnlock()
	sent, at, failed := 0, -1, 0 // failed: consecutive failures at message at
	for sent < len(reqs) {
		b.off, b.cnt, b.sent, b.errno = sent, len(reqs), 0, 0
		now := time.Now()
		if err := s.fd.Write(b.write); err != nil {
			return sent, s.writeFailed(err)
		}
		for i := sent; i < sent+b.sent; i++ {
			reqs[i].SentAt = now
		}
		sent += b.sent
		if b.errno != 0 && b.errno != unix.EINTR {
			// As in send: retries absorb pending errors of earlier ICMP errors.
			if at != sent {
				at, failed = sent, 0
			}
			if failed++; failed == pendingTries {
				return sent, s.sendError(reqs[sent].Destination, b.errno)
			}
			pendingPause(failed)
		}
	}
	return sent, nil
}
