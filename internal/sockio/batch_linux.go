//go:build linux

package sockio

import (
	"encoding/binary"
	"net/netip"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// NameLen is the room for the sender's address of one message: a sockaddr_in6.
const NameLen = unix.SizeofSockaddrInet6

// Batch is the buffers of one recvmmsg(2) call: for each message, a data buffer (a slot), room
// for the sender's address and room for control messages. A Batch is used by one goroutine at
// a time.
type Batch struct {
	Hdrs  []unix.Mmsghdr
	iovs  []unix.Iovec
	names [][NameLen]byte
	oob   []byte
	bufs  []byte
	slot  int // the size of each message's buffer in bufs
	oobN  int // the room for control messages of each message
	// Limit is the number of messages the next Recv may read, at most len(Hdrs).
	Limit int
}

// NewBatch makes the buffers of n messages, each with slot bytes of data and oobLen bytes of
// control messages.
func NewBatch(n, slot, oobLen int) *Batch {
	oobLen = cmsgAlign(oobLen)
	b := &Batch{
		Hdrs:  make([]unix.Mmsghdr, n),
		iovs:  make([]unix.Iovec, n),
		names: make([][NameLen]byte, n),
		oob:   make([]byte, n*oobLen),
		oobN:  oobLen,
		Limit: n,
	}
	for i := range b.Hdrs {
		h := &b.Hdrs[i].Hdr
		h.Iov = &b.iovs[i]
		h.SetIovlen(1)
		h.Name = &b.names[i][0]
		h.Control = &b.oob[i*oobLen]
	}
	b.grow(slot)
	return b
}

// grow gives every message a buffer of size bytes.
func (b *Batch) grow(size int) {
	b.slot = size
	b.bufs = make([]byte, len(b.Hdrs)*size)
	for i := range b.iovs {
		b.iovs[i].Base = &b.bufs[i*size]
		b.iovs[i].SetLen(size)
	}
}

// Fit grows the slots to hold need bytes, rounded up to a kilobyte, when they are smaller.
func (b *Batch) Fit(need int) {
	if need > b.slot {
		b.grow((need + 1023) &^ 1023)
	}
}

// Recv reads up to Limit messages from fd with one recvmmsg call with flags, retrying when a
// signal interrupts it. It gives the number of messages read and the call's errno.
func (b *Batch) Recv(fd uintptr, flags int) (int, unix.Errno) {
	for i := range b.Limit {
		m := &b.Hdrs[i]
		m.Hdr.Namelen = NameLen
		m.Hdr.SetControllen(b.oobN)
		m.Hdr.Flags = 0
		m.Len = 0
	}
	for {
		n, _, e := unix.Syscall6(unix.SYS_RECVMMSG, fd, uintptr(unsafe.Pointer(&b.Hdrs[0])), uintptr(b.Limit), uintptr(flags), 0, 0)
		if e == unix.EINTR {
			continue
		}
		if e != 0 {
			return 0, e
		}
		return int(n), 0
	}
}

// Truncated reports whether message i did not fit its slot.
func (b *Batch) Truncated(i int) bool { return b.Hdrs[i].Hdr.Flags&unix.MSG_TRUNC != 0 }

// Data gives the bytes of message i.
func (b *Batch) Data(i int) []byte {
	return b.bufs[i*b.slot : i*b.slot+min(int(b.Hdrs[i].Len), b.slot)]
}

// OOB gives the control messages of message i.
func (b *Batch) OOB(i int) []byte {
	return b.oob[i*b.oobN : i*b.oobN+min(int(b.Hdrs[i].Hdr.Controllen), b.oobN)]
}

// Name gives the sender's address of message i, as a sockaddr.
func (b *Batch) Name(i int) []byte {
	return b.names[i][:min(int(b.Hdrs[i].Hdr.Namelen), NameLen)]
}

// Cmsgs is what a received message's control messages say.
type Cmsgs struct {
	// At is the kernel's receive timestamp (SO_TIMESTAMPNS), zero when absent.
	At time.Time
	// TTL is the received TTL (IP_TTL) or hop limit (IPV6_HOPLIMIT), 0 when absent.
	TTL int
	// ExtErr is the data of an IP_RECVERR or IPV6_RECVERR message (struct sock_extended_err
	// and the offender's sockaddr), nil when absent.
	ExtErr []byte
}

// ParseCmsgs walks the control messages in oob without allocating.
func ParseCmsgs(oob []byte) Cmsgs {
	var c Cmsgs
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
			ts := (*unix.Timespec)(unsafe.Pointer(&data[0]))
			c.At = time.Unix(int64(ts.Sec), int64(ts.Nsec))
		case (h.Level == unix.SOL_IP && h.Type == unix.IP_TTL || h.Level == unix.SOL_IPV6 && h.Type == unix.IPV6_HOPLIMIT) && len(data) >= 4:
			c.TTL = int(int32(binary.NativeEndian.Uint32(data)))
		case h.Level == unix.SOL_IP && h.Type == unix.IP_RECVERR || h.Level == unix.SOL_IPV6 && h.Type == unix.IPV6_RECVERR:
			c.ExtErr = data
		}
		next := cmsgAlign(l)
		if next >= len(oob) {
			break
		}
		oob = oob[next:]
	}
	return c
}

// cmsgAlign rounds n up as CMSG_ALIGN does.
func cmsgAlign(n int) int {
	const a = int(unsafe.Sizeof(uintptr(0)))
	return (n + a - 1) &^ (a - 1)
}

// PutCmsgInt writes a control message holding one int at the start of b and gives the room
// it took.
func PutCmsgInt(b []byte, level, typ, v int) int {
	h := (*unix.Cmsghdr)(unsafe.Pointer(&b[0]))
	h.Level, h.Type = int32(level), int32(typ)
	h.SetLen(unix.CmsgLen(4))
	binary.NativeEndian.PutUint32(b[unix.CmsgLen(0):], uint32(int32(v)))
	return unix.CmsgSpace(4)
}

// PutSockaddr writes dst as a sockaddr_in or sockaddr_in6 into b, at least NameLen bytes,
// and gives its length. A zone that names no interface gives false.
func PutSockaddr(b []byte, dst netip.Addr) (int, bool) {
	clear(b[:NameLen])
	if dst.Is4() {
		binary.NativeEndian.PutUint16(b[0:], unix.AF_INET)
		a := dst.As4()
		copy(b[4:8], a[:])
		return unix.SizeofSockaddrInet4, true
	}
	binary.NativeEndian.PutUint16(b[0:], unix.AF_INET6)
	a := dst.As16()
	copy(b[8:24], a[:])
	idx, ok := ZoneIndex(dst.Zone())
	binary.NativeEndian.PutUint32(b[24:], idx)
	return unix.SizeofSockaddrInet6, ok
}

// SockaddrAddr reads the address of a sockaddr_in or sockaddr_in6, with the zone of a
// link-local IPv6 address.
func SockaddrAddr(b []byte) (netip.Addr, bool) {
	if len(b) < 2 {
		return netip.Addr{}, false
	}
	switch binary.NativeEndian.Uint16(b) {
	case unix.AF_INET:
		if len(b) >= 8 {
			return netip.AddrFrom4([4]byte(b[4:8])), true
		}
	case unix.AF_INET6:
		if len(b) >= 24 {
			a := netip.AddrFrom16([16]byte(b[8:24]))
			if len(b) >= 28 {
				a = WithScope(a, binary.NativeEndian.Uint32(b[24:]))
			}
			return a, true
		}
	}
	return netip.Addr{}, false
}
