//go:build darwin

package dgram

import (
	"crypto/rand"
	"encoding/binary"
	"net"
	"net/netip"
	"os"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	icmperrors "github.com/icmpkit/icmpkit/errors"
	"github.com/icmpkit/icmpkit/internal/sockio"
	"github.com/icmpkit/icmpkit/internal/wire"
	"github.com/icmpkit/icmpkit/transport"
	"golang.org/x/sys/unix"
)

// socket is one datagram ICMP socket of one family, owned by the runtime poller. macOS
// neither rewrites the identifier nor filters by it, so the socket remembers the identifiers
// it has sent with and drops messages about any other.
type socket struct {
	link sockio.Link // the transport, for its state and its reply queue
	v6   bool
	file *os.File
	rc   syscall.RawConn
	id   int                 // the default identifier, random
	ids  [1024]atomic.Uint64 // bit set of the identifiers sent with

	// Per-packet TTL, traffic class and don't-fragment are socket options here, set for each
	// packet under optMu when they differ from the last packet's.
	optMu          sync.Mutex
	curTTL, curTOS int
	curDF          bool
	maxPayload     atomic.Int64
	bufs           sync.Pool // *[]byte
}

func (s *socket) markID(id int)     { s.ids[id>>6].Or(1 << (id & 63)) }
func (s *socket) hasID(id int) bool { return s.ids[id>>6].Load()&(1<<(id&63)) != 0 }

func openError(v6 bool, err error) error {
	op := "open " + familyName(v6) + " ping socket"
	switch err {
	case unix.EACCES, unix.EPERM:
		return &icmperrors.Error{Op: op, Class: icmperrors.ErrPermission, Err: err,
			Hint: "use raw mode as root"}
	case unix.EAFNOSUPPORT, unix.EPROTONOSUPPORT, unix.ESOCKTNOSUPPORT, unix.EPROTOTYPE:
		return &icmperrors.Error{Op: op, Class: icmperrors.ErrNotSupported, Err: err}
	}
	return icmperrors.Wrap(icmperrors.ErrSocket, op, err)
}

func openSocket(cfg *Config, v6 bool, link sockio.Link) (*socket, error) {
	family, proto := unix.AF_INET, unix.IPPROTO_ICMP
	if v6 {
		family, proto = unix.AF_INET6, unix.IPPROTO_ICMPV6
	}
	syscall.ForkLock.RLock()
	fd, err := unix.Socket(family, unix.SOCK_DGRAM, proto)
	if err == nil {
		unix.CloseOnExec(fd)
	}
	syscall.ForkLock.RUnlock()
	if err != nil {
		return nil, openError(v6, err)
	}
	if err := unix.SetNonblock(fd, true); err != nil {
		unix.Close(fd)
		return nil, icmperrors.Wrap(icmperrors.ErrSocket, "open "+familyName(v6)+" ping socket", err)
	}
	var idb [2]byte
	_, _ = rand.Read(idb[:])
	s := &socket{v6: v6, link: link, file: os.NewFile(uintptr(fd), "icmpkit-dgram-"+familyName(v6)),
		id: int(binary.BigEndian.Uint16(idb[:])), curTTL: -1, curTOS: -1}
	rc, err := s.file.SyscallConn()
	if err != nil {
		s.file.Close()
		return nil, icmperrors.Wrap(icmperrors.ErrSocket, "open "+familyName(v6)+" ping socket", err)
	}
	s.rc = rc
	var serr error
	if err := rc.Control(func(fd uintptr) { serr = s.configure(int(fd), cfg) }); err != nil {
		serr = icmperrors.Wrap(icmperrors.ErrSocket, "configure "+familyName(v6)+" ping socket", err)
	}
	if serr != nil {
		s.file.Close()
		return nil, serr
	}
	return s, nil
}

func (s *socket) configure(fd int, cfg *Config) error {
	fam := familyName(s.v6)
	setopt := func(level, opt, v int, name string) error {
		if err := unix.SetsockoptInt(fd, level, opt, v); err != nil {
			return icmperrors.Wrap(icmperrors.ErrSocket, "set "+name+" on "+fam+" ping socket", err)
		}
		return nil
	}
	if s.v6 {
		if err := setopt(unix.IPPROTO_IPV6, unix.IPV6_RECVHOPLIMIT, 1, "IPV6_RECVHOPLIMIT"); err != nil {
			return err
		}
	} else {
		// Without IP_STRIPHDR reads start with the IP header; the reader copes with both.
		_ = unix.SetsockoptInt(fd, unix.IPPROTO_IP, unix.IP_STRIPHDR, 1)
		if err := setopt(unix.IPPROTO_IP, unix.IP_RECVTTL, 1, "IP_RECVTTL"); err != nil {
			return err
		}
	}
	if err := setopt(unix.SOL_SOCKET, unix.SO_TIMESTAMP, 1, "SO_TIMESTAMP"); err != nil {
		return err
	}
	rcvbuf := cfg.ReceiveBuffer
	if rcvbuf == 0 {
		rcvbuf = DefaultReceiveBuffer
	}
	// The system caps the buffer (kern.ipc.maxsockbuf): halve the request until it fits.
	for ; rcvbuf >= 1<<16; rcvbuf /= 2 {
		if unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUF, rcvbuf) == nil {
			break
		}
	}
	if cfg.Interface != "" {
		ifi, err := net.InterfaceByName(cfg.Interface)
		if err != nil {
			return &icmperrors.Error{Op: "bind " + fam + " ping socket to interface " + cfg.Interface,
				Class: icmperrors.ErrAddress, Err: err}
		}
		level, opt := unix.IPPROTO_IP, unix.IP_BOUND_IF
		if s.v6 {
			level, opt = unix.IPPROTO_IPV6, unix.IPV6_BOUND_IF
		}
		if err := unix.SetsockoptInt(fd, level, opt, ifi.Index); err != nil {
			return &icmperrors.Error{Op: "bind " + fam + " ping socket to interface " + cfg.Interface,
				Class: icmperrors.ErrAddress, Err: err}
		}
	}
	if cfg.Source.IsValid() && cfg.Source.Is6() == s.v6 {
		var sa unix.Sockaddr
		if s.v6 {
			idx, ok := sockio.ZoneIndex(cfg.Source.Zone())
			if !ok {
				return &icmperrors.Error{Op: "bind " + fam + " ping socket to " + cfg.Source.String(),
					Class: icmperrors.ErrAddress, Err: unix.ENXIO}
			}
			sa = &unix.SockaddrInet6{Addr: cfg.Source.As16(), ZoneId: idx}
		} else {
			sa = &unix.SockaddrInet4{Addr: cfg.Source.As4()}
		}
		if err := unix.Bind(fd, sa); err != nil {
			return &icmperrors.Error{Op: "bind " + fam + " ping socket to " + cfg.Source.String(),
				Class: icmperrors.ErrAddress, Err: err}
		}
	}
	return nil
}

func (s *socket) Identifier() (int, bool) { return s.id, false }

func (s *socket) Close() error { return s.file.Close() }

func (s *socket) SetBroadcast(on bool) error {
	v := 0
	if on {
		v = 1
	}
	var serr error
	err := s.rc.Control(func(fd uintptr) {
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

// setOptions brings the socket's TTL, traffic class and don't-fragment options to req's.
// optMu is held.
func (s *socket) setOptions(fd int, req *transport.Request) error {
	ttl := req.TTL
	if ttl == 0 {
		ttl = transport.DefaultTTL
	}
	level, ttlOpt, tosOpt, dfOpt := unix.IPPROTO_IP, unix.IP_TTL, unix.IP_TOS, unix.IP_DONTFRAG
	if s.v6 {
		level, ttlOpt, tosOpt, dfOpt = unix.IPPROTO_IPV6, unix.IPV6_UNICAST_HOPS, unix.IPV6_TCLASS, unix.IPV6_DONTFRAG
	}
	if ttl != s.curTTL {
		if err := unix.SetsockoptInt(fd, level, ttlOpt, ttl); err != nil {
			return err
		}
		s.curTTL = ttl
	}
	if req.TrafficClass != s.curTOS {
		if err := unix.SetsockoptInt(fd, level, tosOpt, req.TrafficClass); err != nil {
			return err
		}
		s.curTOS = req.TrafficClass
	}
	if req.DontFragment != s.curDF {
		v := 0
		if req.DontFragment {
			v = 1
		}
		if err := unix.SetsockoptInt(fd, level, dfOpt, v); err != nil {
			return icmperrors.NotSupported("don't fragment")
		}
		s.curDF = req.DontFragment
	}
	return nil
}

func (s *socket) Send(req *transport.Request) error {
	payload := wire.Payload(req)
	bp, _ := s.bufs.Get().(*[]byte)
	if bp == nil {
		bp = new([]byte)
	}
	defer s.bufs.Put(bp)
	pkt := append((*bp)[:0], make([]byte, 8)...)
	wire.PutEchoHeaderNoSum(pkt, s.v6, req.ID, req.Seq)
	pkt = append(pkt, payload...)
	*bp = pkt
	if !s.v6 {
		binary.BigEndian.PutUint16(pkt[2:], wire.Checksum(pkt))
	}
	var sa unix.Sockaddr
	if s.v6 {
		idx, _ := sockio.ZoneIndex(req.Destination.Zone())
		sa = &unix.SockaddrInet6{Addr: req.Destination.As16(), ZoneId: idx}
	} else {
		sa = &unix.SockaddrInet4{Addr: req.Destination.As4()}
	}
	s.markID(req.ID)
	if n := int64(len(payload)); n > s.maxPayload.Load() {
		s.maxPayload.Store(n)
	}

	s.optMu.Lock()
	defer s.optMu.Unlock()
	var operr, serr error
	werr := s.rc.Write(func(fd uintptr) bool {
		if operr = s.setOptions(int(fd), req); operr != nil {
			return true
		}
		req.SentAt = time.Now()
		_, serr = unix.SendmsgN(int(fd), pkt, nil, sa, 0)
		return serr != unix.EAGAIN
	})
	switch {
	case werr != nil:
		if s.link.Closed() {
			return errSendClosed
		}
		return icmperrors.Wrap(icmperrors.ErrUnavailable, "send", werr)
	case operr != nil:
		if icmperrors.Is(operr, icmperrors.ErrNotSupported) {
			return operr
		}
		return icmperrors.Wrap(icmperrors.ErrSocket, "set options for "+req.Destination.String(), operr)
	case serr == unix.EACCES && !s.link.Broadcast():
		return sockio.ErrBroadcastOff(req.Destination)
	case serr != nil:
		return &icmperrors.Error{Op: "send to " + req.Destination.String(), Class: icmperrors.ErrSocket, Err: serr}
	}
	return nil
}

func (s *socket) SendBatch(reqs []transport.Request) (int, error) {
	for i := range reqs {
		if err := s.Send(&reqs[i]); err != nil {
			return i, err
		}
	}
	return len(reqs), nil
}

// run reads until the transport closes.
func (s *socket) Read() {
	buf := make([]byte, 2048)
	oob := make([]byte, 256)
	var r transport.Reply
	for {
		if need := int(s.maxPayload.Load()) + 8 + 60; need > len(buf) {
			buf = make([]byte, need)
		}
		var got bool
		err := s.rc.Read(func(fd uintptr) bool {
			n, oobn, _, from, rerr := unix.Recvmsg(int(fd), buf, oob, 0)
			if rerr == unix.EAGAIN {
				return false
			}
			if rerr != nil {
				return true
			}
			got = s.parse(buf[:n], oob[:oobn], from, &r)
			return true
		})
		if s.link.Closed() || err != nil {
			return
		}
		if got && !s.link.Deliver(&r) {
			return
		}
	}
}

// parse reads one received message into r and reports whether it concerns one of our
// identifiers.
func (s *socket) parse(b, oob []byte, from unix.Sockaddr, r *transport.Reply) bool {
	var src netip.Addr
	switch a := from.(type) {
	case *unix.SockaddrInet4:
		src = netip.AddrFrom4(a.Addr)
	case *unix.SockaddrInet6:
		src = sockio.WithScope(netip.AddrFrom16(a.Addr), a.ZoneId)
	default:
		return false
	}
	var err error
	ttl := 0
	if s.v6 {
		err = wire.ParseICMPv6(b, src, r)
	} else {
		b, ttl = wire.StripIPv4Header(b)
		err = wire.ParseICMPv4(b, src, r)
	}
	if err != nil || !s.hasID(r.ID) {
		return false
	}
	r.TTL = ttl
	r.ReceivedAt = time.Time{}
	for len(oob) > 0 {
		h, data, rest, err := unix.ParseOneSocketControlMessage(oob)
		if err != nil {
			break
		}
		oob = rest
		switch {
		case h.Level == unix.SOL_SOCKET && h.Type == unix.SCM_TIMESTAMP && len(data) >= 12:
			sec := int64(binary.NativeEndian.Uint64(data))
			usec := int64(int32(binary.NativeEndian.Uint32(data[8:])))
			r.ReceivedAt = time.Unix(sec, usec*1000)
		case !s.v6 && h.Level == unix.IPPROTO_IP && h.Type == unix.IP_RECVTTL && len(data) >= 1:
			r.TTL = int(data[0])
		case s.v6 && h.Level == unix.IPPROTO_IPV6 && h.Type == unix.IPV6_HOPLIMIT && len(data) >= 4:
			r.TTL = int(int32(binary.NativeEndian.Uint32(data)))
		}
	}
	if r.ReceivedAt.IsZero() {
		r.ReceivedAt = time.Now()
	}
	return true
}

// poll finds no replies here: they are read by the socket's reader, which the first Receive
// starts.
func (s *socket) Poll(replies []transport.Reply) int { return 0 }
