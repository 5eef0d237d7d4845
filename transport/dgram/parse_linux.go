//go:build linux

package dgram

import (
	"encoding/binary"
	"github.com/icmpkit/icmpkit/internal/wire"
	"net/netip"
	"time"
	"unsafe"

	"github.com/icmpkit/icmpkit/transport"
	"golang.org/x/sys/unix"
)

// cmsgInfo is what the receive control messages of a message say.
type cmsgInfo struct {
	ttl int       // IP_TTL / IPV6_HOPLIMIT, or 0
	at  time.Time // SO_TIMESTAMPNS, or zero
}

const sizeofTimespec = int(unsafe.Sizeof(unix.Timespec{}))

// readTimespec decodes a struct timespec of the native layout.
func readTimespec(d []byte) (time.Time, bool) {
	switch {
	case sizeofTimespec == 16 && len(d) >= 16:
		return time.Unix(int64(binary.NativeEndian.Uint64(d)), int64(binary.NativeEndian.Uint64(d[8:]))), true
	case sizeofTimespec == 8 && len(d) >= 8:
		return time.Unix(int64(int32(binary.NativeEndian.Uint32(d))), int64(int32(binary.NativeEndian.Uint32(d[4:])))), true
	}
	return time.Time{}, false
}

// readCmsgs walks the control messages in oob without allocating and picks out the received
// TTL or hop limit and the kernel's receive timestamp.
func readCmsgs(v6 bool, oob []byte) cmsgInfo {
	var ci cmsgInfo
	for len(oob) > 0 {
		h, data, rest, err := unix.ParseOneSocketControlMessage(oob)
		if err != nil {
			break
		}
		oob = rest
		switch {
		case h.Level == unix.SOL_SOCKET && h.Type == unix.SO_TIMESTAMPNS:
			if at, ok := readTimespec(data); ok {
				ci.at = at
			}
		case !v6 && h.Level == unix.SOL_IP && h.Type == unix.IP_TTL && len(data) >= 4,
			v6 && h.Level == unix.SOL_IPV6 && h.Type == unix.IPV6_HOPLIMIT && len(data) >= 4:
			ci.ttl = int(int32(binary.NativeEndian.Uint32(data)))
		}
	}
	return ci
}

// parseEcho reads one message from a Linux ping socket's receive queue: data is the ICMP
// message (from its header on), oob the control messages and name the sender's sockaddr. It
// fills r and reports true for an echo reply carrying identifier id.
func parseEcho(v6 bool, data, oob, name []byte, id int, r *transport.Reply) bool {
	if len(data) < 8 || data[1] != 0 {
		return false
	}
	if (v6 && data[0] != wire.TypeEchoReplyV6) || (!v6 && data[0] != wire.TypeEchoReplyV4) {
		return false
	}
	if int(binary.BigEndian.Uint16(data[4:])) != id {
		return false
	}
	src, ok := sockaddrAddr(name)
	if !ok || src.Is6() != v6 {
		return false
	}
	ci := readCmsgs(v6, oob)
	*r = transport.Reply{
		Source:      src,
		Destination: src,
		ID:          id,
		Seq:         int(binary.BigEndian.Uint16(data[6:])),
		Type:        icmpType(v6, data[0]),
		Bytes:       len(data),
		TTL:         ci.ttl,
		ReceivedAt:  ci.at,
	}
	return true
}

// Offsets in struct sock_extended_err (linux/errqueue.h).
const (
	eeOrigin      = 4
	eeType        = 5
	eeCode        = 6
	eeInfo        = 8
	eeData        = 12 // ee_data, or struct sock_ee_data_rfc4884 {u16 len; u8 flags; u8 reserved}
	eeRFC4884Flag = 14
	sizeofEE      = int(unsafe.Sizeof(unix.SockExtendedErr{}))
)

// parseErrQueue reads one message from a ping socket's error queue (recvmsg MSG_ERRQUEUE):
// data is the echo request the ICMP error quotes (from its ICMP header on, as the kernel
// strips the quoted IP header), oob the control messages (IP_RECVERR or IPV6_RECVERR carrying
// a sock_extended_err and the offender's sockaddr, the TTL, the timestamp) and name the
// destination of the quoted request. It fills r and reports true for an ICMP error about an
// echo request with identifier id; local errors and anything else give false.
func parseErrQueue(v6 bool, data, oob, name []byte, id int, r *transport.Reply) bool {
	cmsgs, err := unix.ParseSocketControlMessage(oob)
	if err != nil {
		return false
	}
	var ee []byte
	var ci cmsgInfo
	for _, m := range cmsgs {
		switch {
		case !v6 && m.Header.Level == unix.SOL_IP && m.Header.Type == unix.IP_RECVERR,
			v6 && m.Header.Level == unix.SOL_IPV6 && m.Header.Type == unix.IPV6_RECVERR:
			ee = m.Data
		case m.Header.Level == unix.SOL_SOCKET && m.Header.Type == unix.SO_TIMESTAMPNS:
			if at, ok := readTimespec(m.Data); ok {
				ci.at = at
			}
		case !v6 && m.Header.Level == unix.SOL_IP && m.Header.Type == unix.IP_TTL && len(m.Data) >= 4,
			v6 && m.Header.Level == unix.SOL_IPV6 && m.Header.Type == unix.IPV6_HOPLIMIT && len(m.Data) >= 4:
			ci.ttl = int(int32(binary.NativeEndian.Uint32(m.Data)))
		}
	}
	if len(ee) < sizeofEE {
		return false
	}
	origin, typ, code := ee[eeOrigin], ee[eeType], ee[eeCode]
	if (!v6 && origin != unix.SO_EE_ORIGIN_ICMP) || (v6 && origin != unix.SO_EE_ORIGIN_ICMP6) {
		return false
	}
	if !isErrorType(v6, typ) {
		return false
	}
	// The quoted request: our echo request, identifier rewritten by the kernel.
	if len(data) < 8 || data[1] != 0 {
		return false
	}
	if (v6 && data[0] != wire.TypeEchoRequestV6) || (!v6 && data[0] != wire.TypeEchoRequestV4) {
		return false
	}
	if int(binary.BigEndian.Uint16(data[4:])) != id {
		return false
	}
	dst, ok := sockaddrAddr(name)
	if !ok || dst.Is6() != v6 {
		return false
	}
	// SO_EE_OFFENDER: the sockaddr right after the struct.
	src, ok := sockaddrAddr(ee[sizeofEE:])
	if !ok || src.Is6() != v6 {
		src = netip.Addr{}
	}
	*r = transport.Reply{
		Source:      src,
		Destination: dst,
		ID:          id,
		Seq:         int(binary.BigEndian.Uint16(data[6:])),
		Type:        icmpType(v6, typ),
		Code:        int(code),
		TTL:         ci.ttl,
		ReceivedAt:  ci.at,
	}
	// The ICMP error's own size: its header, the quoted IP header the kernel stripped (we
	// send none with options or extension headers) and what it quoted of our request.
	if v6 {
		r.Bytes = 8 + 40 + len(data)
	} else {
		r.Bytes = 8 + 20 + len(data)
	}
	info := int(binary.NativeEndian.Uint32(ee[eeInfo:]))
	switch {
	case (!v6 && typ == wire.TypeUnreachV4 && code == 4) || (v6 && typ == wire.TypeTooBigV6):
		r.MTU = info
	case (!v6 && typ == wire.TypeParamProbV4) || (v6 && typ == wire.TypeParamProbV6):
		// The kernel gives the pointer of a Parameter Problem in ee_info as well.
		r.Pointer = info
	}
	// With IP_RECVERR_RFC4884 the kernel gives the offset of the RFC 4884 extension structure
	// in data, and flags it when its checksum is wrong.
	if off := int(binary.NativeEndian.Uint16(ee[eeData:])); off > 0 &&
		ee[eeRFC4884Flag]&unix.SO_EE_RFC4884_FLAG_INVALID == 0 && off < len(data) {
		r.MPLS = parseExtensions(data[off:])
	}
	return true
}
