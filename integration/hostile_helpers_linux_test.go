package integration

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"net/netip"
	"os"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/icmpkit/icmpkit/internal/lab"
	"github.com/stretchr/testify/require"
	"golang.org/x/net/bpf"
	"golang.org/x/net/icmp"
	"golang.org/x/net/ipv4"
	"golang.org/x/net/ipv6"
	"golang.org/x/sys/unix"
)

// hardSeqSet is a set of echo sequence numbers for each of a fixed list of destinations, held
// in bitmaps allocated up front so that recording into it never allocates (the hostile tests
// measure the heap while it fills).
type hardSeqSet struct {
	dsts []netip.Addr
	bits []atomic.Uint64 // 1024 words (65,536 bits) a destination
}

func newHardSeqSet(dsts []netip.Addr) *hardSeqSet {
	return &hardSeqSet{dsts: dsts, bits: make([]atomic.Uint64, len(dsts)*1024)}
}

// index gives dst's place in the list, or -1.
func (s *hardSeqSet) index(dst netip.Addr) int {
	for i, d := range s.dsts {
		if d == dst {
			return i
		}
	}
	return -1
}

func (s *hardSeqSet) add(i int, seq uint16) {
	w := &s.bits[i*1024+int(seq>>6)]
	bit := uint64(1) << (seq & 63)
	for {
		old := w.Load()
		if old&bit != 0 || w.CompareAndSwap(old, old|bit) {
			return
		}
	}
}

// count gives how many sequences destination i holds.
func (s *hardSeqSet) count(i int) int {
	n := 0
	for w := range 1024 {
		n += popcount(s.bits[i*1024+w].Load())
	}
	return n
}

// common gives the sequences of destination i that both sets hold.
func (s *hardSeqSet) common(o *hardSeqSet, i int) []int {
	var seqs []int
	for w := range 1024 {
		both := s.bits[i*1024+w].Load() & o.bits[i*1024+w].Load()
		for b := range 64 {
			if both&(1<<b) != 0 {
				seqs = append(seqs, w*64+b)
			}
		}
	}
	return seqs
}

func popcount(x uint64) int {
	n := 0
	for ; x != 0; x &= x - 1 {
		n++
	}
	return n
}

// hardSniffer records every echo request that the client sends into a namespace, as it
// arrives on the namespace's eth0 (a packet socket sees them before nftables drops those sent
// to dead hosts).
type hardSniffer struct {
	f      *os.File
	client [2]netip.Addr // IPv4, IPv6
	ids    [2]int        // identifier of our requests, by family
	sent   *hardSeqSet
	// last is the most recent of our requests: destination index << 16 | sequence, plus
	// 1 << 32 once there is one.
	last atomic.Uint64
	// foreign counts echo requests from the client with another identifier.
	foreign atomic.Int64
	done    chan struct{}
}

// hardSniff opens a packet socket on eth0 of namespace ns that keeps incoming frames only,
// and starts recording. Stop it with stop.
func hardSniff(t *testing.T, ns string, client lab.Node, ids [2]int, sent *hardSeqSet) *hardSniffer {
	t.Helper()
	s := &hardSniffer{client: [2]netip.Addr{client.V4, client.V6}, ids: ids, sent: sent, done: make(chan struct{})}
	require.NoError(t, lab.Do(ns, func() error {
		proto := int(hardHtons(unix.ETH_P_ALL))
		fd, err := unix.Socket(unix.AF_PACKET, unix.SOCK_DGRAM|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, proto)
		if err != nil {
			return fmt.Errorf("packet socket: %w", err)
		}
		ifi, err := net.InterfaceByName("eth0")
		if err == nil {
			err = hardAttach(fd, []bpf.Instruction{
				bpf.LoadExtension{Num: bpf.ExtType},
				bpf.JumpIf{Cond: bpf.JumpEqual, Val: unix.PACKET_OUTGOING, SkipTrue: 1},
				bpf.RetConstant{Val: 0xffff},
				bpf.RetConstant{Val: 0},
			})
		}
		if err == nil {
			err = unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUFFORCE, 8<<20)
		}
		if err == nil {
			err = unix.Bind(fd, &unix.SockaddrLinklayer{Protocol: hardHtons(unix.ETH_P_ALL), Ifindex: ifi.Index})
		}
		if err != nil {
			unix.Close(fd)
			return fmt.Errorf("packet socket on eth0: %w", err)
		}
		s.f = os.NewFile(uintptr(fd), "sniffer")
		return nil
	}))
	go s.run()
	t.Cleanup(s.stop)
	return s
}

func hardHtons(v uint16) uint16 { return v<<8 | v>>8 }

// hardAttach attaches a classic BPF program to socket fd.
func hardAttach(fd int, prog []bpf.Instruction) error {
	raw, err := bpf.Assemble(prog)
	if err != nil {
		return err
	}
	filter := make([]unix.SockFilter, len(raw))
	for i, ins := range raw {
		filter[i] = unix.SockFilter{Code: ins.Op, Jt: ins.Jt, Jf: ins.Jf, K: ins.K}
	}
	return unix.SetsockoptSockFprog(fd, unix.SOL_SOCKET, unix.SO_ATTACH_FILTER,
		&unix.SockFprog{Len: uint16(len(filter)), Filter: &filter[0]})
}

func (s *hardSniffer) run() {
	defer close(s.done)
	buf := make([]byte, 1<<16)
	for {
		n, err := s.f.Read(buf)
		if err != nil {
			return
		}
		s.record(buf[:n])
	}
}

// record notes an echo request from the client.
func (s *hardSniffer) record(p []byte) {
	var src, dst netip.Addr
	var icmpMsg []byte
	fam := 0
	switch {
	case len(p) >= 28 && p[0]>>4 == 4 && p[9] == 1:
		ihl := int(p[0]&0x0f) * 4
		if ihl < 20 || len(p) < ihl+8 || p[ihl] != 8 {
			return
		}
		src, dst = netip.AddrFrom4([4]byte(p[12:16])), netip.AddrFrom4([4]byte(p[16:20]))
		icmpMsg = p[ihl:]
	case len(p) >= 48 && p[0]>>4 == 6 && p[6] == 58 && p[40] == 128:
		src, dst = netip.AddrFrom16([16]byte(p[8:24])), netip.AddrFrom16([16]byte(p[24:40]))
		icmpMsg = p[40:]
		fam = 1
	default:
		return
	}
	if src != s.client[fam] {
		return
	}
	id, seq := int(binary.BigEndian.Uint16(icmpMsg[4:6])), binary.BigEndian.Uint16(icmpMsg[6:8])
	if id != s.ids[fam] {
		s.foreign.Add(1)
		return
	}
	i := s.sent.index(dst)
	if i < 0 {
		return
	}
	s.sent.add(i, seq)
	s.last.Store(1<<32 | uint64(i)<<16 | uint64(seq))
}

// lastSent gives the destination index and sequence of the most recent request, ok false
// before the first.
func (s *hardSniffer) lastSent() (i int, seq uint16, ok bool) {
	v := s.last.Load()
	return int(v>>16) & 0xffff, uint16(v), v>>32 != 0
}

func (s *hardSniffer) stop() {
	s.f.Close()
	<-s.done
}

// hardConn is a raw ICMP socket bound to one address of a lab node, for forging packets that
// come from that address.
type hardConn struct {
	src  netip.Addr
	conn net.PacketConn
}

// hardListen opens a raw ICMP (or ICMPv6) socket bound to src inside namespace ns, closed at
// the end of the test. Its receive side is never read: an ICMP filter keeps it empty where
// the system has one.
func hardListen(t *testing.T, ns string, src netip.Addr) *hardConn {
	t.Helper()
	c := &hardConn{src: src}
	require.NoError(t, lab.Do(ns, func() error {
		network := "ip4:icmp"
		if src.Is6() {
			network = "ip6:ipv6-icmp"
		}
		var err error
		c.conn, err = net.ListenPacket(network, src.String())
		if err != nil {
			return err
		}
		if src.Is4() {
			var f ipv4.ICMPFilter
			f.SetAll(true)
			return ipv4.NewPacketConn(c.conn).SetICMPFilter(&f)
		}
		var f ipv6.ICMPFilter
		f.SetAll(true)
		return ipv6.NewPacketConn(c.conn).SetICMPFilter(&f)
	}), "raw socket on %s in %s", src, ns)
	t.Cleanup(func() { c.conn.Close() })
	return c
}

// send writes one ICMP message to dst. Errors other than a full buffer fail the flood.
func (c *hardConn) send(msg []byte, dst netip.Addr) error {
	_, err := c.conn.WriteTo(msg, &net.IPAddr{IP: dst.AsSlice()})
	if errors.Is(err, unix.ENOBUFS) || errors.Is(err, unix.EAGAIN) {
		return nil
	}
	return err
}

// hardMarshal marshals an ICMP message (ICMPv6 checksums are the kernel's to fill).
func hardMarshal(typ icmp.Type, code int, body icmp.MessageBody) []byte {
	b, err := (&icmp.Message{Type: typ, Code: code, Body: body}).Marshal(nil)
	if err != nil {
		panic(fmt.Sprintf("marshal %v: %v", typ, err))
	}
	return b
}

// hardEchoReply is an echo reply with id and seq.
func hardEchoReply(v6 bool, id, seq int) []byte {
	data := make([]byte, 56)
	if v6 {
		return hardMarshal(ipv6.ICMPTypeEchoReply, 0, &icmp.Echo{ID: id, Seq: seq, Data: data})
	}
	return hardMarshal(ipv4.ICMPTypeEchoReply, 0, &icmp.Echo{ID: id, Seq: seq, Data: data})
}

// hardQuote is the start of an IP datagram as an ICMP error quotes it: an IP header from src
// to dst carrying protocol proto, then an ICMP header of type typ with id and seq, then
// payload. keep cuts the result to that many bytes (all when negative).
type hardQuote struct {
	src, dst netip.Addr
	proto    int // 1 or 58 for ICMP, anything else for a foreign protocol
	typ      int // 8 / 128 for an echo request
	id, seq  int
	version  int // the IP version nibble; 0 means the right one
	ihl      int // IPv4 header length in 32-bit words; 0 means 5
	keep     int
}

func (q hardQuote) bytes() []byte {
	payload := 56
	var b []byte
	if q.src.Is4() {
		b = make([]byte, 20, 20+8+payload)
		version, ihl := q.version, q.ihl
		if version == 0 {
			version = 4
		}
		if ihl == 0 {
			ihl = 5
		}
		b[0] = byte(version<<4 | ihl)
		binary.BigEndian.PutUint16(b[2:4], uint16(20+8+payload))
		b[8] = 1 // TTL, as a router saw it
		b[9] = byte(q.proto)
		copy(b[12:16], q.src.AsSlice())
		copy(b[16:20], q.dst.AsSlice())
	} else {
		b = make([]byte, 40, 40+8+payload)
		version := q.version
		if version == 0 {
			version = 6
		}
		b[0] = byte(version << 4)
		binary.BigEndian.PutUint16(b[4:6], uint16(8+payload))
		b[6] = byte(q.proto)
		b[7] = 1
		copy(b[8:24], q.src.AsSlice())
		copy(b[24:40], q.dst.AsSlice())
	}
	b = append(b, byte(q.typ), 0, 0, 0)
	b = binary.BigEndian.AppendUint16(b, uint16(q.id))
	b = binary.BigEndian.AppendUint16(b, uint16(q.seq))
	b = append(b, make([]byte, payload)...)
	if q.keep >= 0 && q.keep < len(b) {
		b = b[:q.keep]
	}
	return b
}

// hardError wraps a quote in an ICMP error of the given kind: "time", "unreach", "param" or,
// for ICMPv6, "toobig".
func hardError(v6 bool, kind string, quote []byte) []byte {
	if v6 {
		switch kind {
		case "time":
			return hardMarshal(ipv6.ICMPTypeTimeExceeded, 0, &icmp.TimeExceeded{Data: quote})
		case "unreach":
			return hardMarshal(ipv6.ICMPTypeDestinationUnreachable, 3, &icmp.DstUnreach{Data: quote})
		case "param":
			return hardMarshal(ipv6.ICMPTypeParameterProblem, 0, &icmp.ParamProb{Pointer: 7, Data: quote})
		case "toobig":
			return hardMarshal(ipv6.ICMPTypePacketTooBig, 0, &icmp.PacketTooBig{MTU: 1280, Data: quote})
		}
	} else {
		switch kind {
		case "time":
			return hardMarshal(ipv4.ICMPTypeTimeExceeded, 0, &icmp.TimeExceeded{Data: quote})
		case "unreach", "toobig":
			return hardMarshal(ipv4.ICMPTypeDestinationUnreachable, 1, &icmp.DstUnreach{Data: quote})
		case "param":
			return hardMarshal(ipv4.ICMPTypeParameterProblem, 0, &icmp.ParamProb{Pointer: 8, Data: quote})
		}
	}
	panic("unknown error kind " + kind)
}

// hardFlooder sends forged ICMP to the client, of one address family, from a target-side
// node (the target and its dead addresses) and from a router, as fast as its pace allows,
// until stopped. What it forges may never match a request the client sent, so none of it may
// change a count; what would match a request if the sequence collided is recorded in forged
// so the test can prove it did not.
type hardFlooder struct {
	v6       bool
	client   netip.Addr
	id       int // the client's identifier for this family
	otherID  int // an identifier the client does not use
	target   *hardConn
	dead     []*hardConn
	router   *hardConn
	sniffer  *hardSniffer
	forged   *hardSeqSet
	window   int // how many requests the probing call sends in all (its sequences are consecutive)
	targetIx int // index of the target in forged
	deadIx   []int
	// quoteSeen tells that the transport reads the IP header an error quotes (raw sockets).
	// A ping socket gets only the quoted ICMP message from the kernel's error queue, and the
	// kernel checks neither the quoted IP version (ipv4 icmp_unreach, icmpv6_notify) nor
	// anything the transport could: there a bad version is forged with unknown sequences.
	quoteSeen bool
	kinds     map[string]int // packets sent by kind
	total     int
	rng       *rand.Rand
}

// unknownSeq gives a sequence that the call cannot have used: the probe engine numbers the
// requests of one transport consecutively from a random start, so every sequence it used lies
// within window of any one it used.
func (f *hardFlooder) unknownSeq(anchor uint16) int {
	off := f.window + 1 + f.rng.IntN(65536-2*f.window-2)
	return int(anchor + uint16(off))
}

// send writes one forged message and counts it by kind.
func (f *hardFlooder) send(c *hardConn, kind string, msg []byte) error {
	if err := c.send(msg, f.client); err != nil {
		return fmt.Errorf("forge %s from %s: %w", kind, c.src, err)
	}
	f.kinds[kind]++
	f.total++
	return nil
}

// round sends one of each forgery.
func (f *hardFlooder) round() error {
	ix, inflight, ok := f.sniffer.lastSent()
	if !ok {
		// Nothing sent yet: only what needs no sequence.
		return f.send(f.router, "error quoting a truncated echo header",
			hardError(f.v6, "time", hardQuote{src: f.client, dst: f.target.src, proto: hardProto(f.v6), typ: hardEchoType(f.v6), id: f.id, keep: hardIPLen(f.v6) + 4}.bytes()))
	}
	deadK := f.rng.IntN(len(f.dead))
	inflightDst := f.forged.dsts[ix]
	u := f.unknownSeq(inflight)
	u2 := f.unknownSeq(inflight)
	proto, echoReq := hardProto(f.v6), hardEchoType(f.v6)
	ipLen := hardIPLen(f.v6)
	q := func(dst netip.Addr, id, seq int) hardQuote {
		return hardQuote{src: f.client, dst: dst, proto: proto, typ: echoReq, id: id, seq: seq, keep: -1}
	}

	// Echo replies with our identifier and sequences never sent, from probed hosts.
	f.forged.add(f.targetIx, uint16(u))
	if err := f.send(f.target, "echo reply, our id, unknown seq, from the target", hardEchoReply(f.v6, f.id, u)); err != nil {
		return err
	}
	f.forged.add(f.deadIx[deadK], uint16(u2))
	if err := f.send(f.dead[deadK], "echo reply, our id, unknown seq, from a dead host", hardEchoReply(f.v6, f.id, u2)); err != nil {
		return err
	}
	// Echo replies naming a request in flight, from the wrong source.
	if err := f.send(f.router, "echo reply, our id, seq in flight, from a router", hardEchoReply(f.v6, f.id, int(inflight))); err != nil {
		return err
	}
	if inflightDst != f.target.src {
		f.forged.add(f.targetIx, inflight)
		if err := f.send(f.target, "echo reply, our id, seq in flight to a dead host, from the target", hardEchoReply(f.v6, f.id, int(inflight))); err != nil {
			return err
		}
	} else {
		f.forged.add(f.deadIx[deadK], inflight)
		if err := f.send(f.dead[deadK], "echo reply, our id, seq in flight to the target, from a dead host", hardEchoReply(f.v6, f.id, int(inflight))); err != nil {
			return err
		}
	}
	// Another program's echo reply.
	if err := f.send(f.target, "echo reply, other id, seq in flight, from the target", hardEchoReply(f.v6, f.otherID, int(inflight))); err != nil {
		return err
	}
	// Well-formed errors quoting our identifier with sequences never sent.
	u3 := f.unknownSeq(inflight)
	f.forged.add(f.targetIx, uint16(u3))
	if err := f.send(f.router, "time exceeded quoting our id, unknown seq", hardError(f.v6, "time", q(f.target.src, f.id, u3).bytes())); err != nil {
		return err
	}
	u4 := f.unknownSeq(inflight)
	f.forged.add(f.deadIx[deadK], uint16(u4))
	if err := f.send(f.router, "unreachable quoting our id, unknown seq", hardError(f.v6, "unreach", q(f.dead[deadK].src, f.id, u4).bytes())); err != nil {
		return err
	}
	if f.v6 {
		u5 := f.unknownSeq(inflight)
		f.forged.add(f.targetIx, uint16(u5))
		if err := f.send(f.router, "packet too big quoting our id, unknown seq", hardError(true, "toobig", q(f.target.src, f.id, u5).bytes())); err != nil {
			return err
		}
	}
	// Errors quoting another program's request in flight.
	if err := f.send(f.router, "time exceeded quoting other id, seq in flight", hardError(f.v6, "time", q(inflightDst, f.otherID, int(inflight)).bytes())); err != nil {
		return err
	}
	// Truncated errors: each names the request in flight as far as it goes.
	for _, keep := range []int{0, ipLen - 1, ipLen, ipLen + 4, ipLen + 6} {
		qq := q(inflightDst, f.id, int(inflight))
		qq.keep = keep
		if err := f.send(f.router, fmt.Sprintf("time exceeded quoting %d bytes", keep), hardError(f.v6, "time", qq.bytes())); err != nil {
			return err
		}
	}
	// Corrupted errors naming the request in flight.
	bad := map[string]hardQuote{}
	{
		qq := q(inflightDst, f.id, int(inflight))
		qq.typ = hardEchoReplyType(f.v6)
		bad["quoting an echo reply"] = qq
		qq = q(inflightDst, f.id, int(inflight))
		qq.proto = 17
		bad["quoting UDP"] = qq
		if f.quoteSeen {
			qq = q(inflightDst, f.id, int(inflight))
			qq.version = 5
			bad["quoting IP version 5"] = qq
		} else {
			u6 := f.unknownSeq(inflight)
			f.forged.add(ix, uint16(u6))
			qq = q(inflightDst, f.id, u6)
			qq.version = 5
			bad["quoting IP version 5, unknown seq"] = qq
		}
		if !f.v6 {
			qq = q(inflightDst, f.id, int(inflight))
			qq.ihl = 15
			bad["quoting an IPv4 header longer than the quote"] = qq
			qq = q(inflightDst, f.id, int(inflight))
			qq.ihl = 2
			bad["quoting an IPv4 header length below 5"] = qq
		}
	}
	for what, qq := range bad {
		if err := f.send(f.router, "time exceeded "+what, hardError(f.v6, "time", qq.bytes())); err != nil {
			return err
		}
	}
	if !f.v6 {
		// A good error about the request in flight, spoiled by one flipped checksum bit: the
		// kernel hands raw sockets such packets unchecked.
		msg := hardError(false, "unreach", q(inflightDst, f.id, int(inflight)).bytes())
		msg[2] ^= 0x01
		if err := f.send(f.router, "unreachable quoting our request in flight, bad checksum", msg); err != nil {
			return err
		}
		msg = hardEchoReply(false, f.id, int(inflight))
		msg[3] ^= 0x80
		if err := f.send(f.target, "echo reply to our request in flight, bad checksum", msg); err != nil {
			return err
		}
		// Parameter problem with a too short body.
		if err := f.send(f.router, "bare parameter problem", []byte{12, 0, 0xf3, 0xff}); err != nil {
			return err
		}
	}
	return nil
}

func hardProto(v6 bool) int {
	if v6 {
		return 58
	}
	return 1
}

func hardEchoType(v6 bool) int {
	if v6 {
		return 128
	}
	return 8
}

func hardEchoReplyType(v6 bool) int {
	if v6 {
		return 129
	}
	return 0
}

func hardIPLen(v6 bool) int {
	if v6 {
		return 40
	}
	return 20
}

// hardFlood runs flooders until stop is closed; pace is the number of rounds between two
// yields of the processor (a round is some twenty packets). It returns what each sent, or the
// first error.
func hardFlood(flooders []*hardFlooder, stop <-chan struct{}, pace int) error {
	var wg sync.WaitGroup
	errs := make([]error, len(flooders))
	for i, f := range flooders {
		wg.Go(func() {
			for n := 0; ; n++ {
				select {
				case <-stop:
					return
				default:
				}
				if err := f.round(); err != nil {
					errs[i] = err
					return
				}
				if n%pace == 0 {
					runtime.Gosched()
					hardNap()
				}
			}
		})
	}
	wg.Wait()
	return errors.Join(errs...)
}

// hardNap is the pause a flooder takes every pace rounds.
func hardNap() { time.Sleep(200 * time.Microsecond) }
