package raw

import (
	stderrors "errors"
	"net/netip"
	"strconv"
	"sync"

	icmperrors "github.com/icmpkit/icmpkit/errors"
	"github.com/icmpkit/icmpkit/internal/pollfd"
	"github.com/icmpkit/icmpkit/internal/sockio"
	"github.com/icmpkit/icmpkit/transport"
	"golang.org/x/net/bpf"
	"golang.org/x/sys/unix"
)

// permissionHint names the ways to get raw sockets, or to do without them.
const permissionHint = "raw ICMP sockets need root or CAP_NET_RAW: run as root, grant the capability " +
	"(setcap cap_net_raw+ep on the binary), or use the unprivileged mode (dgram)"

// sendBuffer is each socket's send buffer, so that bursts of requests rarely wait for room.
const sendBuffer = 1 << 20

// sock is one raw socket. Its descriptor joins Go's poller only when something has to wait on
// it (a reader, or a send that finds the send buffer full; see internal/pollfd).
type sock struct {
	v6 bool
	fd *pollfd.FD
	// dfMu is held shared by every send, and alone by a send of packets that may not be
	// fragmented, which switches the socket's path MTU discovery mode meanwhile (see write).
	// pmtu is the mode to switch back to, read at the first such send.
	dfMu     sync.RWMutex
	pmtu     int
	pmtuRead bool
	// kernelFilter says that the socket has a BPF program that checks identifiers (see
	// filterSocket); guarded by the Transport's ids.mu.
	kernelFilter bool
}

// system is the Linux part of a Transport.
type system struct {
	v4, v6 *sock // nil when the family is not open
	cfg    Config

	broadcastMu sync.Mutex // serializes setBroadcast

	poll4, poll6 sockio.PollSlot[reader] // the sockets' readers for Poll
}

// errNoFamily marks a socket() failure because the system lacks the address family.
var errNoFamily = stderrors.New("address family not supported")

func (t *Transport) open(cfg Config) error {
	t.sys.cfg = cfg
	var err4, err6 error
	if cfg.Family != transport.FamilyIPv6 {
		t.sys.v4, err4 = t.openSocket(cfg, false)
	}
	missing := func(err error) bool { return cfg.Family == transport.FamilyBoth && stderrors.Is(err, errNoFamily) }
	if cfg.Family != transport.FamilyIPv4 && (err4 == nil || missing(err4)) {
		t.sys.v6, err6 = t.openSocket(cfg, true)
	}
	for _, err := range []error{err4, err6} {
		if err != nil && !missing(err) {
			t.closeSockets()
			return err
		}
	}
	switch {
	case t.sys.v4 != nil && t.sys.v6 != nil:
		t.family = transport.FamilyBoth
	case t.sys.v4 != nil:
		t.family = transport.FamilyIPv4
	case t.sys.v6 != nil:
		t.family = transport.FamilyIPv6
	default:
		return err4
	}
	return nil
}

// readers gives the functions that read the open sockets, one each, for sockio.Replies to
// run.
func (t *Transport) readers() []func() {
	var rs []func()
	for _, s := range []*sock{t.sys.v4, t.sys.v6} {
		if s != nil {
			rs = append(rs, func() { t.read(s) })
		}
	}
	return rs
}

func familyName(v6 bool) string {
	if v6 {
		return "ICMPv6"
	}
	return "ICMPv4"
}

// openSocket opens and configures one raw socket.
func (t *Transport) openSocket(cfg Config, v6 bool) (*sock, error) {
	name := "raw " + familyName(v6) + " socket"
	domain, proto := unix.AF_INET, unix.IPPROTO_ICMP
	if v6 {
		domain, proto = unix.AF_INET6, unix.IPPROTO_ICMPV6
	}
	fd, err := unix.Socket(domain, unix.SOCK_RAW|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, proto)
	if err != nil {
		op := "open " + name
		switch {
		case err == unix.EPERM || err == unix.EACCES:
			return nil, &icmperrors.Error{Op: op, Class: icmperrors.ErrPermission, Err: err, Hint: permissionHint}
		case err == unix.EAFNOSUPPORT || err == unix.EPROTONOSUPPORT:
			return nil, &icmperrors.Error{Op: op, Class: icmperrors.ErrNotSupported, Err: stderrors.Join(errNoFamily, err)}
		}
		return nil, icmperrors.Wrap(icmperrors.ErrSocket, op, err)
	}
	ok := false
	defer func() {
		if !ok {
			unix.Close(fd)
		}
	}()
	fail := func(class error, what string, err error) error {
		return icmperrors.Wrap(class, what+" on "+name, err)
	}

	// Filters first: a raw socket queues every ICMP packet from the moment it exists. The ICMP
	// filter keeps out the types the transport never reads; the BPF program that checks
	// identifiers comes once something not ours reaches the socket (see filterSocket).
	if v6 {
		var f unix.ICMPv6Filter
		for i := range f.Data {
			f.Data[i] = 0xffffffff // Linux: a set bit blocks the type
		}
		for _, typ := range passTypesV6 {
			f.Data[typ>>5] &^= 1 << (typ & 31)
		}
		err = unix.SetsockoptICMPv6Filter(fd, unix.IPPROTO_ICMPV6, unix.ICMPV6_FILTER, &f)
	} else {
		mask := icmpFilterV4
		err = unix.SetsockoptInt(fd, unix.SOL_RAW, unix.ICMP_FILTER, int(int32(mask)))
	}
	if err != nil {
		return nil, fail(icmperrors.ErrSocket, "set ICMP filter", err)
	}

	if err := unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_TIMESTAMPNS, 1); err != nil {
		return nil, fail(icmperrors.ErrSocket, "enable SO_TIMESTAMPNS", err)
	}
	if v6 {
		if err := unix.SetsockoptInt(fd, unix.IPPROTO_IPV6, unix.IPV6_RECVHOPLIMIT, 1); err != nil {
			return nil, fail(icmperrors.ErrSocket, "enable IPV6_RECVHOPLIMIT", err)
		}
	}
	if err := unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUFFORCE, cfg.ReceiveBuffer); err != nil {
		if err := unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUF, cfg.ReceiveBuffer); err != nil {
			return nil, fail(icmperrors.ErrSocket, "set receive buffer", err)
		}
	}
	if err := unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_SNDBUF, sendBuffer); err != nil {
		return nil, fail(icmperrors.ErrSocket, "set send buffer", err)
	}
	// IPv4 requests leave with DF clear; the IPv6 socket keeps the kernel's default, fragmenting
	// locally to the path MTU. Requests that may not be fragmented switch the mode for their
	// send (see sock.write).
	if !v6 {
		if err := unix.SetsockoptInt(fd, unix.IPPROTO_IP, unix.IP_MTU_DISCOVER, unix.IP_PMTUDISC_DONT); err != nil {
			return nil, fail(icmperrors.ErrSocket, "set path MTU discovery", err)
		}
	}
	if !v6 && t.broadcast.Load() {
		if err := unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_BROADCAST, 1); err != nil {
			return nil, fail(icmperrors.ErrSocket, "enable broadcast", err)
		}
	}
	if cfg.Interface != "" {
		if err := unix.SetsockoptString(fd, unix.SOL_SOCKET, unix.SO_BINDTODEVICE, cfg.Interface); err != nil {
			class := icmperrors.ErrAddress
			if err == unix.EPERM {
				class = icmperrors.ErrPermission
			}
			return nil, &icmperrors.Error{Op: "bind " + name + " to interface " + strconv.Quote(cfg.Interface), Class: class, Err: err}
		}
	}
	if src := cfg.Source; src.IsValid() && src.Is6() == v6 {
		if err := bindSource(fd, src); err != nil {
			return nil, &icmperrors.Error{Op: "bind " + name + " to " + src.String(), Class: icmperrors.ErrAddress, Err: err,
				Hint: "the source must be an address of this host"}
		}
	}
	drain(fd)
	ok = true // the sock owns fd now
	return &sock{v6: v6, fd: pollfd.New(fd, name)}, nil
}

// program builds the BPF program of a receiving socket that lets through the identifiers
// ids, or all of the types it reads when ids is nil.
func program(v6 bool, ids []uint16) ([]bpf.RawInstruction, error) {
	if v6 {
		return filterV6(ids)
	}
	return filterV4(ids)
}

// filterSocket attaches to s, a receiving socket, the BPF program that lets through only
// the identifiers known now; learnID keeps it up to date from then on. The socket's reader
// calls it on the first packet that is not ours: until such traffic shows up, the ICMP filter
// and the reader's own check of identifiers suffice, and a short-lived transport, such as a
// one-packet ping's, is spared compiling the program, which costs more than the rest of
// opening the socket. If the attachment fails, the reader's check goes on alone.
func (t *Transport) filterSocket(s *sock) {
	t.ids.mu.Lock()
	defer t.ids.mu.Unlock()
	prog, err := program(s.v6, t.ids.filter())
	if err != nil {
		return
	}
	s.fd.Control(func(fd uintptr) { err = attachFilter(int(fd), prog) })
	s.kernelFilter = err == nil
}

// attachFilter attaches a classic BPF program to fd (SO_ATTACH_FILTER), replacing any.
func attachFilter(fd int, prog []bpf.RawInstruction) error {
	fs := make([]unix.SockFilter, len(prog))
	for i, ins := range prog {
		fs[i] = unix.SockFilter{Code: ins.Op, Jt: ins.Jt, Jf: ins.Jf, K: ins.K}
	}
	return unix.SetsockoptSockFprog(fd, unix.SOL_SOCKET, unix.SO_ATTACH_FILTER, &unix.SockFprog{Len: uint16(len(fs)), Filter: &fs[0]})
}

// drain discards what a new socket queued before its filters were in place.
func drain(fd int) {
	var buf [1]byte
	for range 1 << 16 {
		if _, _, err := unix.Recvfrom(fd, buf[:], unix.MSG_DONTWAIT|unix.MSG_TRUNC); err != nil {
			return
		}
	}
}

func bindSource(fd int, src netip.Addr) error {
	if src.Is4() {
		return unix.Bind(fd, &unix.SockaddrInet4{Addr: src.As4()})
	}
	zone, ok := sockio.ZoneIndex(src.Zone())
	if !ok {
		return unix.ENODEV
	}
	return unix.Bind(fd, &unix.SockaddrInet6{Addr: src.As16(), ZoneId: zone})
}

// learnID lets replies for a new identifier through the kernel filters before a request
// carries it.
func (t *Transport) learnID(id int) error {
	s := &t.ids
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.has(id) {
		return nil
	}
	before := s.typeOnly
	s.add(uint16(id))
	if !before || !s.typeOnly {
		// The filter changed (a new identifier, or the switch to types only).
		ids := s.filter()
		for _, sk := range []*sock{t.sys.v4, t.sys.v6} {
			if sk == nil || !sk.kernelFilter {
				continue
			}
			prog, err := program(sk.v6, ids)
			if err != nil {
				return icmperrors.Wrap(icmperrors.ErrLibrary, "build filter", err)
			}
			var serr error
			if err := sk.fd.Control(func(fd uintptr) { serr = attachFilter(int(fd), prog) }); err != nil {
				return closedOr(icmperrors.Wrap(icmperrors.ErrSocket, "attach BPF filter", err), t)
			}
			if serr != nil {
				return icmperrors.Wrap(icmperrors.ErrSocket, "attach BPF filter", serr)
			}
		}
	}
	s.set(uint16(id))
	return nil
}

// closedOr gives the closed-transport error once Close has begun, else err.
func closedOr(err error, t *Transport) error {
	if t.rx.Closed() {
		return errClosedSend
	}
	return err
}

// write sends through s with f, as pollfd.FD's Write does. Packets that may be fragmented share the
// socket. For packets that may not (dontFragment), s is switched to set DF (IPv4) and to
// ignore the cached path MTU (both families), so that every such probe reaches the router
// that limits the path and draws its Fragmentation Needed or Packet Too Big, as tracepath's
// do; s is the sender's alone meanwhile, then switched back. A failure to switch is an
// *errors.Error; any other error says that the socket is closed.
func (s *sock) write(f func(fd uintptr) bool, dontFragment bool) error {
	if !dontFragment {
		s.dfMu.RLock()
		defer s.dfMu.RUnlock()
		return s.fd.Write(f)
	}
	s.dfMu.Lock()
	defer s.dfMu.Unlock()
	level, opt, probe := unix.IPPROTO_IP, unix.IP_MTU_DISCOVER, unix.IP_PMTUDISC_PROBE
	if s.v6 {
		level, opt, probe = unix.IPPROTO_IPV6, unix.IPV6_MTU_DISCOVER, unix.IPV6_PMTUDISC_PROBE
	}
	var serr error
	if err := s.fd.Control(func(fd uintptr) {
		if !s.pmtuRead {
			if s.pmtu, serr = unix.GetsockoptInt(int(fd), level, opt); serr != nil {
				return
			}
			s.pmtuRead = true
		}
		serr = unix.SetsockoptInt(int(fd), level, opt, probe)
	}); err != nil {
		return err
	}
	if serr != nil {
		return icmperrors.Wrap(icmperrors.ErrSocket, "set path MTU discovery on raw "+familyName(s.v6)+" socket", serr)
	}
	err := s.fd.Write(f)
	// Switching back cannot fail where switching succeeded a moment before, unless the
	// socket is closed, and then nothing is sent through it again.
	s.fd.Control(func(fd uintptr) { unix.SetsockoptInt(int(fd), level, opt, s.pmtu) })
	return err
}

func (t *Transport) setBroadcast(on bool) error {
	t.sys.broadcastMu.Lock()
	defer t.sys.broadcastMu.Unlock()
	v := 0
	if on {
		v = 1
	}
	if s := t.sys.v4; s != nil {
		var serr error
		if err := s.fd.Control(func(fd uintptr) { serr = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_BROADCAST, v) }); err != nil {
			return &icmperrors.Error{Op: "set broadcast", Class: icmperrors.ErrUnavailable, Err: err}
		}
		if serr != nil {
			return icmperrors.Wrap(icmperrors.ErrSocket, "set broadcast", serr)
		}
	}
	t.broadcast.Store(on)
	return nil
}

// closeSockets closes the sockets, which ends their readers.
func (t *Transport) closeSockets() error {
	for _, s := range []*sock{t.sys.v4, t.sys.v6} {
		if s != nil {
			s.fd.Close()
		}
	}
	return nil
}
