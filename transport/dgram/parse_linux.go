//go:build linux

package dgram

import (
	"encoding/binary"
	"net/netip"
	"unsafe"

	"github.com/icmpkit/icmpkit/internal/sockio"
	"github.com/icmpkit/icmpkit/internal/wire"
	"github.com/icmpkit/icmpkit/transport"
	"golang.org/x/sys/unix"
)

// parseEcho reads one message from a Linux ping socket's receive queue: data is the ICMP
// message (from its header on), oob the control messages and name the sender's sockaddr. It
// fills r and reports true for an echo reply carrying identifier id.
func parseEcho(v6 bool, data, oob, name []byte, id int, r *transport.Reply) bool {
	src, ok := sockio.SockaddrAddr(name)
	if !ok || src.Is6() != v6 {
		return false
	}
	var err error
	if v6 {
		err = wire.ParseICMPv6(data, src, r)
	} else {
		err = wire.ParseICMPv4(data, src, r)
	}
	if err != nil || r.Kind() != transport.KindEchoReply || r.Code != 0 || r.ID != id {
		return false
	}
	c := sockio.ParseCmsgs(oob)
	r.TTL, r.ReceivedAt = c.TTL, c.At
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
	c := sockio.ParseCmsgs(oob)
	ee := c.ExtErr
	if len(ee) < sizeofEE {
		return false
	}
	origin, typ, code := ee[eeOrigin], ee[eeType], ee[eeCode]
	if (!v6 && origin != unix.SO_EE_ORIGIN_ICMP) || (v6 && origin != unix.SO_EE_ORIGIN_ICMP6) {
		return false
	}
	if !wire.IsErrorType(v6, typ) {
		return false
	}
	// The quoted request: our echo request, identifier rewritten by the kernel.
	qid, seq, err := wire.ParseQuotedEcho(v6, data)
	if err != nil || qid != id {
		return false
	}
	dst, ok := sockio.SockaddrAddr(name)
	if !ok || dst.Is6() != v6 {
		return false
	}
	// SO_EE_OFFENDER: the sockaddr right after the struct.
	src, ok := sockio.SockaddrAddr(ee[sizeofEE:])
	if !ok || src.Is6() != v6 {
		src = netip.Addr{}
	}
	*r = transport.Reply{
		Source:      src,
		Destination: dst,
		ID:          id,
		Seq:         seq,
		Type:        wire.ICMPType(v6, typ),
		Code:        int(code),
		TTL:         c.TTL,
		ReceivedAt:  c.At,
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
		r.MPLS = wire.ParseExtensionStructure(data[off:], nil)
	}
	return true
}
