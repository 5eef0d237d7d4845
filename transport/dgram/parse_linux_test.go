//go:build linux

package dgram

import (
	"encoding/binary"
	"github.com/icmpkit/icmpkit/internal/sockio"
	"github.com/icmpkit/icmpkit/internal/wire"
	"net/netip"
	"testing"
	"time"
	"unsafe"

	"github.com/icmpkit/icmpkit/transport"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/net/icmp"
	"golang.org/x/net/ipv4"
	"golang.org/x/net/ipv6"
	"golang.org/x/sys/unix"
)

// cmsg builds one control message as the kernel lays it out.
func cmsg(level, typ int, data []byte) []byte {
	b := make([]byte, unix.CmsgSpace(len(data)))
	h := (*unix.Cmsghdr)(unsafe.Pointer(&b[0]))
	h.Level = int32(level)
	h.Type = int32(typ)
	h.SetLen(unix.CmsgLen(len(data)))
	copy(b[unix.CmsgLen(0):], data)
	return b
}

func nativeInt(v int) []byte {
	b := make([]byte, 4)
	binary.NativeEndian.PutUint32(b, uint32(int32(v)))
	return b
}

func timespec(at time.Time) []byte {
	b := make([]byte, unsafe.Sizeof(unix.Timespec{}))
	if len(b) == 16 {
		binary.NativeEndian.PutUint64(b, uint64(at.Unix()))
		binary.NativeEndian.PutUint64(b[8:], uint64(at.Nanosecond()))
	} else {
		binary.NativeEndian.PutUint32(b, uint32(at.Unix()))
		binary.NativeEndian.PutUint32(b[4:], uint32(at.Nanosecond()))
	}
	return b
}

func sockaddr(a netip.Addr) []byte {
	b := make([]byte, sockio.NameLen)
	n, _ := sockio.PutSockaddr(b, a)
	return b[:n]
}

// extendedErr builds the IP_RECVERR payload: a sock_extended_err and the offender.
func extendedErr(origin, typ, code byte, info uint32, rfc4884Len uint16, flags byte, offender netip.Addr) []byte {
	b := make([]byte, sizeofEE)
	binary.NativeEndian.PutUint32(b, uint32(unix.EHOSTUNREACH))
	b[eeOrigin], b[eeType], b[eeCode] = origin, typ, code
	binary.NativeEndian.PutUint32(b[eeInfo:], info)
	binary.NativeEndian.PutUint16(b[eeData:], rfc4884Len)
	b[eeRFC4884Flag] = flags
	if offender.IsValid() {
		b = append(b, sockaddr(offender)...)
	} else {
		b = append(b, make([]byte, unix.SizeofSockaddrInet4)...)
	}
	return b
}

func join(parts ...[]byte) []byte {
	var b []byte
	for _, p := range parts {
		b = append(b, p...)
	}
	return b
}

// errqueueMsg gives data, oob and name of an error-queue message as Linux delivers it.
type errqueueMsg struct{ data, oob, name []byte }

func errMsg4(typ, code byte, info uint32, data []byte, rfc4884 uint16, flags byte, at time.Time) errqueueMsg {
	return errqueueMsg{
		data: data,
		oob: join(
			cmsg(unix.SOL_SOCKET, unix.SO_TIMESTAMPNS, timespec(at)),
			cmsg(unix.SOL_IP, unix.IP_TTL, nativeInt(63)),
			cmsg(unix.SOL_IP, unix.IP_RECVERR, extendedErr(unix.SO_EE_ORIGIN_ICMP, typ, code, info, rfc4884, flags, router4)),
		),
		name: sockaddr(target4),
	}
}

func errMsg6(typ, code byte, info uint32, data []byte, rfc4884 uint16, at time.Time) errqueueMsg {
	return errqueueMsg{
		data: data,
		oob: join(
			cmsg(unix.SOL_SOCKET, unix.SO_TIMESTAMPNS, timespec(at)),
			cmsg(unix.SOL_IPV6, unix.IPV6_HOPLIMIT, nativeInt(62)),
			cmsg(unix.SOL_IPV6, unix.IPV6_RECVERR, extendedErr(unix.SO_EE_ORIGIN_ICMP6, typ, code, info, rfc4884, 0, router6)),
		),
		name: sockaddr(target6),
	}
}

// withExtension gives an echo request as a router quotes it, padded to the RFC 4884 minimum
// of 128 bytes counting the quoted IP header the kernel strips (hdrLen), and followed by an
// extension structure with an MPLS label stack. It also gives the extension's offset.
func withExtension(t testing.TB, v6 bool, hdrLen int) ([]byte, uint16) {
	req := echoRequest(v6, 4242, 9, 56)
	var full []byte
	if v6 {
		full = marshal(t, ipv6.ICMPTypeTimeExceeded, 0, &icmp.TimeExceeded{Data: ipv6Packet(client6, target6, 1, req), Extensions: mplsExt()})
	} else {
		full = marshal(t, ipv4.ICMPTypeTimeExceeded, 0, &icmp.TimeExceeded{Data: ipv4Packet(client4, target4, 1, req), Extensions: mplsExt()})
	}
	data := full[8+hdrLen:]
	return data, uint16(128 - hdrLen)
}

func TestParseErrQueue(t *testing.T) {
	at := time.Unix(1767323045, 678901234)
	req4 := echoRequest(false, 4242, 9, 56)
	req6 := echoRequest(true, 4242, 9, 56)
	ext4, off4 := withExtension(t, false, 20)
	ext6, off6 := withExtension(t, true, 40)

	localErr := errMsg4(0, 0, 1400, req4, 0, 0, at)
	localErr.oob = join(cmsg(unix.SOL_IP, unix.IP_RECVERR, extendedErr(unix.SO_EE_ORIGIN_LOCAL, 0, 0, 1400, 0, 0, netip.Addr{})))
	noOffender := errMsg4(11, 0, 0, req4, 0, 0, at)
	noOffender.oob = cmsg(unix.SOL_IP, unix.IP_RECVERR, extendedErr(unix.SO_EE_ORIGIN_ICMP, 11, 0, 0, 0, 0, netip.Addr{}))
	otherID := errMsg4(11, 0, 0, echoRequest(false, 4243, 9, 56), 0, 0, at)
	reply := append([]byte(nil), req4...)
	reply[0] = 0
	quotedReply := errMsg4(11, 0, 0, reply, 0, 0, at)
	truncatedEE := errMsg4(11, 0, 0, req4, 0, 0, at)
	truncatedEE.oob = cmsg(unix.SOL_IP, unix.IP_RECVERR, make([]byte, 8))
	wrongFamilyName := errMsg4(11, 0, 0, req4, 0, 0, at)
	wrongFamilyName.name = sockaddr(target6)

	base4 := transport.Reply{Source: router4, Destination: target4, ID: 4242, Seq: 9, TTL: 63, ReceivedAt: at}
	base6 := transport.Reply{Source: router6, Destination: target6, ID: 4242, Seq: 9, TTL: 62, ReceivedAt: at}
	with := func(r transport.Reply, f func(*transport.Reply)) transport.Reply { f(&r); return r }

	for _, tc := range []struct {
		name string
		v6   bool
		msg  errqueueMsg
		ok   bool
		want transport.Reply
	}{
		{"v4 time exceeded", false, errMsg4(11, 0, 0, req4, 0, 0, at), true, with(base4, func(r *transport.Reply) {
			r.Type, r.Bytes = ipv4.ICMPTypeTimeExceeded, 8+20+64
		})},
		{"v4 host unreachable", false, errMsg4(3, 1, 0, req4[:8], 0, 0, at), true, with(base4, func(r *transport.Reply) {
			r.Type, r.Code, r.Bytes = ipv4.ICMPTypeDestinationUnreachable, 1, 8+20+8
		})},
		{"v4 fragmentation needed", false, errMsg4(3, 4, 1280, req4, 0, 0, at), true, with(base4, func(r *transport.Reply) {
			r.Type, r.Code, r.MTU, r.Bytes = ipv4.ICMPTypeDestinationUnreachable, 4, 1280, 8+20+64
		})},
		{"v4 with MPLS", false, errMsg4(11, 0, 0, ext4, off4, 0, at), true, with(base4, func(r *transport.Reply) {
			r.Type, r.Bytes, r.MPLS = ipv4.ICMPTypeTimeExceeded, 8+20+len(ext4), testLabels
		})},
		{"v4 extension flagged invalid", false, errMsg4(11, 0, 0, ext4, off4, unix.SO_EE_RFC4884_FLAG_INVALID, at), true, with(base4, func(r *transport.Reply) {
			r.Type, r.Bytes = ipv4.ICMPTypeTimeExceeded, 8+20+len(ext4)
		})},
		{"v4 extension offset past the data", false, errMsg4(11, 0, 0, req4, 500, 0, at), true, with(base4, func(r *transport.Reply) {
			r.Type, r.Bytes = ipv4.ICMPTypeTimeExceeded, 8+20+64
		})},
		{"v4 parameter problem", false, errMsg4(12, 0, 0, req4, 0, 0, at), true, with(base4, func(r *transport.Reply) {
			r.Type, r.Bytes = ipv4.ICMPTypeParameterProblem, 8+20+64
		})},
		{"v4 no offender", false, noOffender, true, with(base4, func(r *transport.Reply) {
			r.Source, r.TTL, r.ReceivedAt = netip.Addr{}, 0, time.Time{}
			r.Type, r.Bytes = ipv4.ICMPTypeTimeExceeded, 8+20+64
		})},
		{"v6 time exceeded", true, errMsg6(3, 0, 0, req6, 0, at), true, with(base6, func(r *transport.Reply) {
			r.Type, r.Bytes = ipv6.ICMPTypeTimeExceeded, 8+40+64
		})},
		{"v6 packet too big", true, errMsg6(2, 0, 1280, req6, 0, at), true, with(base6, func(r *transport.Reply) {
			r.Type, r.MTU, r.Bytes = ipv6.ICMPTypePacketTooBig, 1280, 8+40+64
		})},
		{"v6 no route", true, errMsg6(1, 0, 0, req6, 0, at), true, with(base6, func(r *transport.Reply) {
			r.Type, r.Bytes = ipv6.ICMPTypeDestinationUnreachable, 8+40+64
		})},
		{"v6 with MPLS", true, errMsg6(3, 0, 0, ext6, off6, at), true, with(base6, func(r *transport.Reply) {
			r.Type, r.Bytes, r.MPLS = ipv6.ICMPTypeTimeExceeded, 8+40+len(ext6), testLabels
		})},
		{"v4 message on a v6 socket", true, errMsg4(11, 0, 0, req4, 0, 0, at), false, transport.Reply{}},
		{"local error", false, localErr, false, transport.Reply{}},
		{"another identifier", false, otherID, false, transport.Reply{}},
		{"quotes an echo reply", false, quotedReply, false, transport.Reply{}},
		{"short quote", false, errMsg4(11, 0, 0, req4[:7], 0, 0, at), false, transport.Reply{}},
		{"truncated sock_extended_err", false, truncatedEE, false, transport.Reply{}},
		{"no control messages", false, errqueueMsg{data: req4, name: sockaddr(target4)}, false, transport.Reply{}},
		{"destination of the other family", false, wrongFamilyName, false, transport.Reply{}},
		{"v4 redirect", false, errMsg4(5, 1, 0, req4, 0, 0, at), false, transport.Reply{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var r transport.Reply
			ok := parseErrQueue(tc.v6, tc.msg.data, tc.msg.oob, tc.msg.name, 4242, &r)
			require.Equal(t, tc.ok, ok)
			if ok {
				assert.Equal(t, tc.want, r)
			}
		})
	}
}

func TestParseEcho(t *testing.T) {
	at := time.Unix(1767323045, 6)
	reply4 := echoRequest(false, 4242, 5, 56)
	reply4[0] = wire.TypeEchoReplyV4
	binary.BigEndian.PutUint16(reply4[2:], wire.Checksum(reply4)) // as the kernel hands it over
	reply6 := echoRequest(true, 4242, 5, 56)
	reply6[0] = wire.TypeEchoReplyV6
	oob4 := join(cmsg(unix.SOL_IP, unix.IP_TTL, nativeInt(61)), cmsg(unix.SOL_SOCKET, unix.SO_TIMESTAMPNS, timespec(at)))
	oob6 := join(cmsg(unix.SOL_IPV6, unix.IPV6_HOPLIMIT, nativeInt(60)), cmsg(unix.SOL_SOCKET, unix.SO_TIMESTAMPNS, timespec(at)))
	ll := netip.MustParseAddr("fe80::1")
	llName := sockaddr(ll)
	binary.NativeEndian.PutUint32(llName[24:], 1) // the loopback interface is index 1

	for _, tc := range []struct {
		name string
		v6   bool
		data []byte
		oob  []byte
		from []byte
		ok   bool
		want transport.Reply
	}{
		{"v4", false, reply4, oob4, sockaddr(target4), true,
			transport.Reply{Source: target4, Destination: target4, ID: 4242, Seq: 5, Type: ipv4.ICMPTypeEchoReply, Bytes: 64, TTL: 61, ReceivedAt: at}},
		{"v6", true, reply6, oob6, sockaddr(target6), true,
			transport.Reply{Source: target6, Destination: target6, ID: 4242, Seq: 5, Type: ipv6.ICMPTypeEchoReply, Bytes: 64, TTL: 60, ReceivedAt: at}},
		{"v6 link-local", true, reply6, nil, llName, true,
			transport.Reply{Source: ll.WithZone(sockio.ZoneName(1)), Destination: ll.WithZone(sockio.ZoneName(1)), ID: 4242, Seq: 5, Type: ipv6.ICMPTypeEchoReply, Bytes: 64}},
		{"no control messages", false, reply4, nil, sockaddr(target4), true,
			transport.Reply{Source: target4, Destination: target4, ID: 4242, Seq: 5, Type: ipv4.ICMPTypeEchoReply, Bytes: 64}},
		{"truncated control message", false, reply4, oob4[:20], sockaddr(target4), true,
			transport.Reply{Source: target4, Destination: target4, ID: 4242, Seq: 5, Type: ipv4.ICMPTypeEchoReply, Bytes: 64, TTL: 61}},
		{"another identifier", false, func() []byte { b := append([]byte(nil), reply4...); b[5]++; return b }(), oob4, sockaddr(target4), false, transport.Reply{}},
		{"a request", false, echoRequest(false, 4242, 5, 0), oob4, sockaddr(target4), false, transport.Reply{}},
		{"v6 reply on a v4 socket", false, reply6, oob4, sockaddr(target4), false, transport.Reply{}},
		{"short", false, reply4[:7], oob4, sockaddr(target4), false, transport.Reply{}},
		{"no sender", false, reply4, oob4, nil, false, transport.Reply{}},
		{"sender of the other family", false, reply4, oob4, sockaddr(target6), false, transport.Reply{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var r transport.Reply
			require.Equal(t, tc.ok, parseEcho(tc.v6, tc.data, tc.oob, tc.from, 4242, &r))
			if tc.ok {
				assert.Equal(t, tc.want, r)
			}
		})
	}
}

func FuzzParseErrQueue(f *testing.F) {
	at := time.Unix(1700000000, 5)
	req4 := echoRequest(false, 4242, 9, 56)
	req6 := echoRequest(true, 4242, 9, 56)
	ext4, off4 := withExtension(f, false, 20)
	ext6, off6 := withExtension(f, true, 40)
	for _, m := range []errqueueMsg{
		errMsg4(11, 0, 0, req4, 0, 0, at),
		errMsg4(3, 4, 1280, req4[:8], 0, 0, at),
		errMsg4(11, 0, 0, ext4, off4, 0, at),
	} {
		f.Add(false, m.data, m.oob, m.name)
	}
	for _, m := range []errqueueMsg{
		errMsg6(3, 0, 0, req6, 0, at),
		errMsg6(2, 0, 1280, req6, 0, at),
		errMsg6(3, 0, 0, ext6, off6, at),
	} {
		f.Add(true, m.data, m.oob, m.name)
	}
	f.Fuzz(func(t *testing.T, v6 bool, data, oob, name []byte) {
		var r transport.Reply
		if parseErrQueue(v6, data, oob, name, 4242, &r) {
			if r.ID != 4242 || r.Seq < 0 || r.Seq > 0xffff || r.IsV6() != v6 || r.Destination.Is6() != v6 {
				t.Fatalf("bad reply %+v", r)
			}
		}
		var e transport.Reply
		if parseEcho(v6, data, oob, name, 4242, &e) && (e.ID != 4242 || e.Bytes != len(data)) {
			t.Fatalf("bad echo reply %+v", e)
		}
	})
}
