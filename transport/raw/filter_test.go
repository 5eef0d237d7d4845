package raw

import (
	"encoding/binary"
	"fmt"
	"net/netip"
	"testing"

	"github.com/icmpkit/icmpkit/internal/transporttest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/net/bpf"
	"golang.org/x/net/icmp"
	"golang.org/x/net/ipv4"
	"golang.org/x/net/ipv6"
)

func msg(t testing.TB, typ icmp.Type, code int, body icmp.MessageBody) []byte {
	t.Helper()
	b, err := (&icmp.Message{Type: typ, Code: code, Body: body}).Marshal(nil)
	require.NoError(t, err)
	return b
}

// ipv4Packet prepends an IPv4 header with opts to payload.
func ipv4Packet(src, dst netip.Addr, proto byte, opts, payload []byte) []byte {
	hl := 20 + len(opts)
	b := make([]byte, hl, hl+len(payload))
	b[0] = 0x40 | byte(hl/4)
	binary.BigEndian.PutUint16(b[2:4], uint16(hl+len(payload)))
	b[8], b[9] = 64, proto
	s, d := src.As4(), dst.As4()
	copy(b[12:], s[:])
	copy(b[16:], d[:])
	copy(b[20:], opts)
	return append(b, payload...)
}

func ipv6Packet(src, dst netip.Addr, nh byte, payload []byte) []byte {
	b := make([]byte, 40, 40+len(payload))
	b[0] = 0x60
	binary.BigEndian.PutUint16(b[4:6], uint16(len(payload)))
	b[6], b[7] = nh, 64
	s, d := src.As16(), dst.As16()
	copy(b[8:], s[:])
	copy(b[24:], d[:])
	return append(b, payload...)
}

func echo(t testing.TB, typ icmp.Type, id int) []byte {
	return msg(t, typ, 0, &icmp.Echo{ID: id, Seq: 1, Data: make([]byte, 56)})
}

type filterCase struct {
	name   string
	packet []byte
	pass   bool // with identifier 0x4242 in the filter
	any    bool // with a types-only filter
}

func casesV4(t testing.TB) []filterCase {
	opts := []byte{1, 1, 1, 0} // three no-ops and an end of options
	quote := func(id int, typ icmp.Type, o []byte) []byte {
		return ipv4Packet(transporttest.Client4, transporttest.Target4, 1, o, echo(t, typ, id))
	}
	in := func(m []byte, o []byte) []byte {
		return ipv4Packet(transporttest.Target4, transporttest.Client4, 1, o, m)
	}
	te := func(q []byte) []byte {
		return in(msg(t, ipv4.ICMPTypeTimeExceeded, 0, &icmp.TimeExceeded{Data: q}), nil)
	}
	udp := ipv4Packet(transporttest.Client4, transporttest.Target4, 17, nil, make([]byte, 8))
	return []filterCase{
		{"echo reply ours", in(echo(t, ipv4.ICMPTypeEchoReply, 0x4242), nil), true, true},
		{"echo reply ours options", in(echo(t, ipv4.ICMPTypeEchoReply, 0x4242), opts), true, true},
		{"echo reply foreign", in(echo(t, ipv4.ICMPTypeEchoReply, 0x1111), nil), false, true},
		{"echo request ours", in(echo(t, ipv4.ICMPTypeEcho, 0x4242), nil), false, false},
		{"time exceeded ours", te(quote(0x4242, ipv4.ICMPTypeEcho, nil)), true, true},
		{"time exceeded ours quoted options", te(quote(0x4242, ipv4.ICMPTypeEcho, opts)), true, true},
		{"time exceeded ours both options", in(msg(t, ipv4.ICMPTypeTimeExceeded, 0, &icmp.TimeExceeded{Data: quote(0x4242, ipv4.ICMPTypeEcho, opts)}), opts), true, true},
		{"time exceeded foreign", te(quote(0x1111, ipv4.ICMPTypeEcho, nil)), false, true},
		{"time exceeded echo reply", te(quote(0x4242, ipv4.ICMPTypeEchoReply, nil)), false, false},
		{"time exceeded udp", te(udp), false, false},
		{"time exceeded cut quote", te(quote(0x4242, ipv4.ICMPTypeEcho, nil)[:24]), false, false},
		{"unreachable ours", in(msg(t, ipv4.ICMPTypeDestinationUnreachable, 1, &icmp.DstUnreach{Data: quote(0x4242, ipv4.ICMPTypeEcho, nil)}), nil), true, true},
		{"parameter problem ours", in(msg(t, ipv4.ICMPTypeParameterProblem, 0, &icmp.ParamProb{Data: quote(0x4242, ipv4.ICMPTypeEcho, nil)}), nil), true, true},
		{"redirect", in(msg(t, ipv4.ICMPTypeRedirect, 0, &icmp.RawBody{Data: append([]byte{1, 2, 3, 4}, quote(0x4242, ipv4.ICMPTypeEcho, nil)...)}), nil), false, false},
		{"empty", nil, false, false},
	}
}

func casesV6(t testing.TB) []filterCase {
	quote := func(id int, typ icmp.Type) []byte {
		return ipv6Packet(transporttest.Client6, transporttest.Target6, 58, echo(t, typ, id))
	}
	te := func(q []byte) []byte { return msg(t, ipv6.ICMPTypeTimeExceeded, 0, &icmp.TimeExceeded{Data: q}) }
	frag := ipv6Packet(transporttest.Client6, transporttest.Target6, 44, append([]byte{58, 0, 0, 1, 0, 0, 0, 7}, echo(t, ipv6.ICMPTypeEchoRequest, 0x1111)...))
	return []filterCase{
		{"echo reply ours", echo(t, ipv6.ICMPTypeEchoReply, 0x4242), true, true},
		{"echo reply foreign", echo(t, ipv6.ICMPTypeEchoReply, 0x1111), false, true},
		{"echo request ours", echo(t, ipv6.ICMPTypeEchoRequest, 0x4242), false, false},
		{"time exceeded ours", te(quote(0x4242, ipv6.ICMPTypeEchoRequest)), true, true},
		{"time exceeded foreign", te(quote(0x1111, ipv6.ICMPTypeEchoRequest)), false, true},
		{"time exceeded echo reply", te(quote(0x4242, ipv6.ICMPTypeEchoReply)), false, false},
		{"time exceeded udp", te(ipv6Packet(transporttest.Client6, transporttest.Target6, 17, make([]byte, 8))), false, false},
		{"time exceeded fragment", te(frag), true, true},
		{"time exceeded cut quote", te(quote(0x4242, ipv6.ICMPTypeEchoRequest)[:44]), false, false},
		{"unreachable ours", msg(t, ipv6.ICMPTypeDestinationUnreachable, 3, &icmp.DstUnreach{Data: quote(0x4242, ipv6.ICMPTypeEchoRequest)}), true, true},
		{"packet too big ours", msg(t, ipv6.ICMPTypePacketTooBig, 0, &icmp.PacketTooBig{MTU: 1280, Data: quote(0x4242, ipv6.ICMPTypeEchoRequest)}), true, true},
		{"parameter problem ours", msg(t, ipv6.ICMPTypeParameterProblem, 0, &icmp.ParamProb{Data: quote(0x4242, ipv6.ICMPTypeEchoRequest)}), true, true},
		{"neighbor solicitation", msg(t, ipv6.ICMPTypeNeighborSolicitation, 0, &icmp.RawBody{Data: make([]byte, 20)}), false, false},
	}
}

func runFilter(t *testing.T, prog []bpf.RawInstruction, packet []byte) bool {
	t.Helper()
	ins, ok := bpf.Disassemble(prog)
	require.True(t, ok, "program disassembles")
	vm, err := bpf.NewVM(ins)
	require.NoError(t, err)
	n, err := vm.Run(packet)
	require.NoError(t, err)
	return n > 0
}

func TestFilters(t *testing.T) {
	families := []struct {
		name  string
		build func([]uint16) ([]bpf.RawInstruction, error)
		cases []filterCase
	}{
		{"v4", filterV4, casesV4(t)},
		{"v6", filterV6, casesV6(t)},
	}
	for _, f := range families {
		ours, err := f.build([]uint16{7, 0x4242, 9})
		require.NoError(t, err)
		typesOnly, err := f.build(nil)
		require.NoError(t, err)
		for _, c := range f.cases {
			t.Run(f.name+"/"+c.name, func(t *testing.T) {
				assert.Equal(t, c.pass, runFilter(t, ours, c.packet), "filter with identifiers")
				assert.Equal(t, c.any, runFilter(t, typesOnly, c.packet), "types-only filter")
			})
		}
	}
}

// The kernel filter and the user-space parser agree: what the filter with identifiers passes
// parses to a reply with that identifier.
func TestFiltersAgreeWithParser(t *testing.T) {
	prog4, err := filterV4([]uint16{0x4242})
	require.NoError(t, err)
	prog6, err := filterV6([]uint16{0x4242})
	require.NoError(t, err)
	for _, c := range casesV4(t) {
		if runFilter(t, prog4, c.packet) {
			var r wireReply
			require.NoError(t, r.parse4(c.packet), c.name)
			assert.Equal(t, 0x4242, r.ID, c.name)
		}
	}
	for _, c := range casesV6(t) {
		if runFilter(t, prog6, c.packet) && c.name != "time exceeded fragment" {
			var r wireReply
			require.NoError(t, r.parse6(c.packet), c.name)
			assert.Equal(t, 0x4242, r.ID, c.name)
		}
	}
}

func TestFilterEveryIdentifier(t *testing.T) {
	ids := make([]uint16, maxFilterIDs)
	for i := range ids {
		ids[i] = uint16(1000 + i*37)
	}
	prog, err := filterV4(ids)
	require.NoError(t, err)
	for _, id := range ids {
		reply := ipv4Packet(transporttest.Target4, transporttest.Client4, 1, nil, echo(t, ipv4.ICMPTypeEchoReply, int(id)))
		assert.True(t, runFilter(t, prog, reply), "identifier %d", id)
	}
	assert.False(t, runFilter(t, prog, ipv4Packet(transporttest.Target4, transporttest.Client4, 1, nil, echo(t, ipv4.ICMPTypeEchoReply, 999))))
}

func TestICMPFilterMask(t *testing.T) {
	for typ := range 32 {
		pass := typ == 0 || typ == 3 || typ == 11 || typ == 12
		assert.Equal(t, !pass, icmpFilterV4&(1<<typ) != 0, fmt.Sprintf("type %d", typ))
	}
}

func TestIDSet(t *testing.T) {
	var s idSet
	s.init(5)
	assert.True(t, s.has(5))
	assert.False(t, s.has(6))
	assert.False(t, s.has(-1))
	assert.False(t, s.has(70000))
	for i := range maxFilterIDs - 1 {
		s.add(uint16(100 + i))
		s.set(uint16(100 + i))
	}
	assert.Len(t, s.filter(), maxFilterIDs)
	s.add(100) // known: no change
	assert.Len(t, s.filter(), maxFilterIDs)
	s.add(65535)
	s.set(65535)
	assert.Nil(t, s.filter(), "past the limit the filter checks types only")
	assert.True(t, s.has(65535))
	assert.True(t, s.has(100))
}
