package raw

import (
	"net"
	"net/netip"
	"strconv"
	"sync"
	"time"
	"unsafe"

	"github.com/icmpkit/icmpkit/internal/replyq"
	"github.com/icmpkit/icmpkit/internal/wire"
	"github.com/icmpkit/icmpkit/transport"
	"golang.org/x/sys/unix"
)

const (
	// readBatch is the number of messages one recvmmsg call of a socket's reader reads at
	// most; pollBatch, of a call made for Poll.
	readBatch = 32
	pollBatch = 4
	// maxSlot holds the largest IPv4 datagram or ICMPv6 message.
	maxSlot = 1 << 16
	// minSlot holds an echo reply to a payload of up to 4000 bytes, and any ICMP error (which
	// quotes at most 576 bytes on IPv4, 1280 on IPv6). Slots grow with the largest payload
	// sent, so that a transport that pings with small payloads keeps small buffers.
	minSlot = 4 << 10
	// readOOBSize holds a receive timestamp and a hop limit control message.
	readOOBSize = 128
)

// reader owns one socket's receive side: it reads batches with recvmmsg, parses and checks
// them, and queues the replies.
type reader struct {
	t     *Transport
	s     *sock
	hdrs  []unix.Mmsghdr
	iovs  []unix.Iovec
	names []unix.RawSockaddrInet6
	oob   []byte
	bufs  []byte
	slot  int // the size of each message's buffer in bufs
	vlen  int // the number of messages the next recvmmsg may read, at most len(hdrs)
	n     int
	errno unix.Errno
	read  func(fd uintptr) bool // r.do, bound once
	poll  func(fd uintptr)      // r.do without its result, for Control, bound once
	// filterAsked says that the reader has asked for the socket's BPF program.
	filterAsked bool
	zones       map[uint32]string // interface names by index, for link-local sources
}

func newReader(t *Transport, s *sock, batch int) *reader {
	r := &reader{
		t:     t,
		s:     s,
		hdrs:  make([]unix.Mmsghdr, batch),
		iovs:  make([]unix.Iovec, batch),
		names: make([]unix.RawSockaddrInet6, batch),
		oob:   make([]byte, batch*readOOBSize),
		vlen:  batch,
	}
	for i := range r.hdrs {
		h := &r.hdrs[i].Hdr
		h.Iov = &r.iovs[i]
		h.SetIovlen(1)
		h.Name = (*byte)(unsafe.Pointer(&r.names[i]))
		h.Control = &r.oob[i*readOOBSize]
	}
	r.grow(minSlot)
	r.read = r.do
	r.poll = func(fd uintptr) { r.do(fd) }
	return r
}

// grow gives every message of a batch a buffer of size bytes.
func (r *reader) grow(size int) {
	r.slot = size
	r.bufs = make([]byte, len(r.hdrs)*size)
	for i := range r.iovs {
		r.iovs[i].Base = &r.bufs[i*size]
		r.iovs[i].SetLen(size)
	}
}

// slotFor gives the buffer size that holds an echo reply to a payload of n bytes, with the
// largest IPv4 header.
func slotFor(n int64) int {
	need := int(n) + wire.EchoHeaderLen + 60
	if need <= minSlot {
		return minSlot
	}
	return min(maxSlot, (need+1023)&^1023)
}

// do runs in the socket's Read or Control: one recvmmsg; under Read, false asks the poller
// to wait while nothing is queued.
func (r *reader) do(fd uintptr) bool {
	if need := slotFor(r.t.maxPayload.Load()); need > r.slot {
		r.grow(need)
	}
	for i := range r.hdrs {
		h := &r.hdrs[i].Hdr
		h.Namelen = unix.SizeofSockaddrInet6
		h.SetControllen(readOOBSize)
		h.Flags = 0
	}
	for {
		n, _, e := unix.Syscall6(unix.SYS_RECVMMSG, fd, uintptr(unsafe.Pointer(&r.hdrs[0])), uintptr(r.vlen), 0, 0, 0)
		switch e {
		case unix.EINTR:
			continue
		case unix.EAGAIN:
			return false
		}
		r.n, r.errno = int(n), e
		return true
	}
}

// read reads s until it is closed, handing the replies to Receive. The reader and its
// buffers are made here, on the goroutine that uses them (see startReaders).
func (t *Transport) read(s *sock) {
	defer t.sys.readers.Done()
	newReader(t, s, readBatch).run()
}

// pollReader reads one socket for Poll, with buffers of its own: the socket's reader may be
// reading it at the same moment, and the kernel hands each packet to one of them.
type pollReader struct {
	mu sync.Mutex
	r  *reader // made on first use
}

// pollSockets fills replies with what the sockets hold now, without waiting.
func (t *Transport) pollSockets(replies []transport.Reply) int {
	n := t.sys.poll4.poll(t, t.sys.v4, replies)
	return n + t.sys.poll6.poll(t, t.sys.v6, replies[n:])
}

// poll reads s without waiting, up to len(replies). It leaves the socket alone when another
// Poll is reading it.
func (p *pollReader) poll(t *Transport, s *sock, replies []transport.Reply) int {
	if s == nil || len(replies) == 0 || !p.mu.TryLock() {
		return 0
	}
	defer p.mu.Unlock()
	if p.r == nil {
		p.r = newReader(t, s, pollBatch)
	}
	r := p.r
	n := 0
	for n < len(replies) {
		r.vlen = min(len(r.hdrs), len(replies)-n)
		r.n, r.errno = 0, 0
		if err := s.fd.Control(r.poll); err != nil || r.n == 0 {
			break // closed, or nothing waiting (or a transient error, left to the reader)
		}
		for i := range r.n {
			var rep transport.Reply
			if r.parse(i, &rep) {
				replyq.Copy(&replies[n], &rep)
				n++
			}
		}
		if r.n < r.vlen {
			break // the socket is empty
		}
	}
	return n
}

// run reads until the socket is closed.
func (r *reader) run() {
	failures := 0
	for {
		r.n, r.errno = 0, 0
		if err := r.s.fd.Read(r.read); err != nil {
			return // closed
		}
		if r.errno != 0 {
			// A transient condition (e.g. ENOMEM); back off if it persists.
			if failures++; failures > 8 {
				select {
				case <-r.t.done:
					return
				case <-time.After(10 * time.Millisecond):
				}
			}
			continue
		}
		failures = 0
		for i := range r.n {
			var rep transport.Reply
			if !r.parse(i, &rep) {
				continue
			}
			if !r.t.enqueue(&rep) {
				return
			}
		}
	}
}

// parse turns message i of the last batch into a reply, reporting false for anything that is
// not for this transport.
func (r *reader) parse(i int, rep *transport.Reply) bool {
	m := &r.hdrs[i]
	if m.Hdr.Flags&unix.MSG_TRUNC != 0 {
		r.t.drops.Add(1)
		return false
	}
	data := r.bufs[i*r.slot : i*r.slot+int(m.Len)]
	var err error
	if r.s.v6 {
		err = wire.ParseICMPv6(data, r.source(i), rep)
	} else {
		err = wire.ParseIPv4(data, rep)
	}
	if err != nil || !r.t.ids.has(rep.ID) {
		r.t.drops.Add(1)
		if !r.filterAsked {
			// Someone else's traffic: from now on the kernel keeps it out.
			r.filterAsked = true
			r.t.filterSocket(r.s)
		}
		return false
	}
	oob := r.oob[i*readOOBSize : i*readOOBSize+int(m.Hdr.Controllen)]
	ts, hops := controlMessages(oob)
	if ts.IsZero() {
		ts = time.Now()
	}
	rep.ReceivedAt = ts
	if r.s.v6 {
		rep.TTL = hops
	}
	return true
}

// source gives the IPv6 sender of message i, with its zone when it is link-local.
func (r *reader) source(i int) netip.Addr {
	sa := &r.names[i]
	a := netip.AddrFrom16(sa.Addr)
	if sa.Scope_id == 0 || !(a.IsLinkLocalUnicast() || a.IsLinkLocalMulticast()) {
		return a
	}
	zone, ok := r.zones[sa.Scope_id]
	if !ok {
		if ifi, err := net.InterfaceByIndex(int(sa.Scope_id)); err == nil {
			zone = ifi.Name
		} else {
			zone = strconv.FormatUint(uint64(sa.Scope_id), 10)
		}
		if r.zones == nil {
			r.zones = map[uint32]string{}
		}
		r.zones[sa.Scope_id] = zone
	}
	return a.WithZone(zone)
}

// controlMessages finds the receive timestamp (SCM_TIMESTAMPNS) and the hop limit
// (IPV6_HOPLIMIT) among a message's control messages.
func controlMessages(oob []byte) (ts time.Time, hops int) {
	hdrLen := unix.CmsgLen(0)
	for len(oob) >= hdrLen {
		h := (*unix.Cmsghdr)(unsafe.Pointer(&oob[0]))
		l := int(h.Len)
		if l < hdrLen || l > len(oob) {
			break
		}
		data := oob[hdrLen:l]
		switch {
		case h.Level == unix.SOL_SOCKET && h.Type == unix.SCM_TIMESTAMPNS && len(data) >= int(unsafe.Sizeof(unix.Timespec{})):
			t := (*unix.Timespec)(unsafe.Pointer(&data[0]))
			ts = time.Unix(int64(t.Sec), int64(t.Nsec))
		case h.Level == unix.IPPROTO_IPV6 && h.Type == unix.IPV6_HOPLIMIT && len(data) >= 4:
			hops = int(*(*int32)(unsafe.Pointer(&data[0])))
		}
		next := cmsgAlign(l)
		if next >= len(oob) {
			break
		}
		oob = oob[next:]
	}
	return ts, hops
}
