package raw

import (
	"context"
	"encoding/binary"
	"fmt"
	"net/netip"
	"os"
	"testing"
	"time"

	icmperrors "github.com/icmpkit/icmpkit/errors"
	"github.com/icmpkit/icmpkit/transport"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"
)

var (
	lo4 = netip.MustParseAddr("127.0.0.1")
	lo6 = netip.MustParseAddr("::1")
)

// skipOrFail skips a test for a missing privilege, or fails it when ICMPKIT_REQUIRE_PRIV=1.
func skipOrFail(t testing.TB, format string, a ...any) {
	t.Helper()
	msg := fmt.Sprintf(format, a...)
	if os.Getenv("ICMPKIT_REQUIRE_PRIV") == "1" {
		t.Fatalf("%s (ICMPKIT_REQUIRE_PRIV=1 forbids skipping)", msg)
	}
	t.Skip(msg)
}

// requireRaw skips (or fails) the test unless the process may open raw sockets.
func requireRaw(t testing.TB) {
	t.Helper()
	if uid := os.Geteuid(); uid != 0 {
		skipOrFail(t, "raw sockets need root, running as uid %d", uid)
	}
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_RAW|unix.SOCK_CLOEXEC, unix.IPPROTO_ICMP)
	if err != nil {
		skipOrFail(t, "cannot open a raw socket: %v", err)
	}
	unix.Close(fd)
}

// open makes a transport closed at the end of the test.
func open(t testing.TB, cfg Config) *Transport {
	t.Helper()
	requireRaw(t)
	tr, err := New(cfg)
	if icmperrors.Is(err, icmperrors.ErrPermission) {
		skipOrFail(t, "%v", err)
	}
	require.NoError(t, err)
	t.Cleanup(func() { tr.Close() })
	return tr
}

// receive waits up to d for a reply.
func receive(tr *Transport, d time.Duration) (transport.Reply, error) {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	var r transport.Reply
	err := tr.Receive(ctx, &r)
	return r, err
}

// receiveMatching waits up to 5 s for a reply that keep accepts, and fails the test without
// one. Replies keep rejects are another test's or a stray.
func receiveMatching(t testing.TB, tr *Transport, keep func(*transport.Reply) bool) transport.Reply {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		r, err := receive(tr, time.Until(deadline))
		require.NoError(t, err, "no matching reply")
		if keep(&r) {
			return r
		}
	}
}

// receiveSeqs waits up to 5 s for the replies to the requests to dst with identifier id and
// these sequences, in any order, and fails the test without them.
func receiveSeqs(t testing.TB, tr *Transport, dst netip.Addr, id int, seqs ...int) map[int]transport.Reply {
	t.Helper()
	want := make(map[int]bool)
	for _, s := range seqs {
		want[s] = true
	}
	got := make(map[int]transport.Reply)
	deadline := time.Now().Add(5 * time.Second)
	for len(got) < len(want) {
		r, err := receive(tr, time.Until(deadline))
		require.NoError(t, err, "replies for %v: have %d", seqs, len(got))
		if r.Destination == dst && r.ID == id && want[r.Seq] {
			got[r.Seq] = r
		}
	}
	return got
}

// bySeq matches replies to the request with this destination, identifier and sequence.
func bySeq(dst netip.Addr, id, seq int) func(*transport.Reply) bool {
	return func(r *transport.Reply) bool { return r.Destination == dst && r.ID == id && r.Seq == seq }
}

// captured is an echo request seen on loopback by a plain raw socket.
type captured struct {
	id, seq   int
	ttl, tos  int
	df        bool
	ipPayload int
}

// capture is a raw socket that sees every ICMP packet on loopback, our own echo requests
// included, with their IP header fields.
type capture struct {
	fd   int
	v6   bool
	seen map[[2]int]captured // by identifier and sequence
}

func newCapture(t testing.TB, v6 bool) *capture {
	t.Helper()
	domain, proto := unix.AF_INET, unix.IPPROTO_ICMP
	if v6 {
		domain, proto = unix.AF_INET6, unix.IPPROTO_ICMPV6
	}
	fd, err := unix.Socket(domain, unix.SOCK_RAW|unix.SOCK_CLOEXEC, proto)
	require.NoError(t, err)
	t.Cleanup(func() { unix.Close(fd) })
	require.NoError(t, unix.SetsockoptTimeval(fd, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &unix.Timeval{Usec: 100000}))
	require.NoError(t, unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUF, 1<<20))
	if v6 {
		require.NoError(t, unix.SetsockoptInt(fd, unix.IPPROTO_IPV6, unix.IPV6_RECVHOPLIMIT, 1))
		require.NoError(t, unix.SetsockoptInt(fd, unix.IPPROTO_IPV6, unix.IPV6_RECVTCLASS, 1))
	}
	return &capture{fd: fd, v6: v6, seen: map[[2]int]captured{}}
}

// request waits up to 3 s for the echo request with this identifier and sequence.
func (c *capture) request(t testing.TB, id, seq int) captured {
	t.Helper()
	if got, ok := c.seen[[2]int{id, seq}]; ok {
		return got
	}
	buf := make([]byte, 1<<16)
	oob := make([]byte, 256)
	deadline := time.Now().Add(3 * time.Second)
	for time.Now().Before(deadline) {
		n, oobn, _, _, err := unix.Recvmsg(c.fd, buf, oob, 0)
		if err != nil {
			continue
		}
		var got captured
		m := buf[:n]
		if c.v6 {
			if n < 8 || m[0] != 128 {
				continue
			}
			msgs, err := unix.ParseSocketControlMessage(oob[:oobn])
			require.NoError(t, err)
			for _, cm := range msgs {
				if cm.Header.Level == unix.IPPROTO_IPV6 && len(cm.Data) >= 4 {
					v := int(int32(binary.NativeEndian.Uint32(cm.Data)))
					switch cm.Header.Type {
					case unix.IPV6_HOPLIMIT:
						got.ttl = v
					case unix.IPV6_TCLASS:
						got.tos = v
					}
				}
			}
			got.ipPayload = n
		} else {
			if n < 28 {
				continue
			}
			ihl := int(m[0]&0x0f) * 4
			got.ttl, got.tos, got.df = int(m[8]), int(m[1]), m[6]&0x40 != 0
			got.ipPayload = n - ihl
			m = m[ihl:]
			if len(m) < 8 || m[0] != 8 {
				continue
			}
		}
		got.id = int(binary.BigEndian.Uint16(m[4:6]))
		got.seq = int(binary.BigEndian.Uint16(m[6:8]))
		if got.id == id && got.seq == seq {
			return got
		}
		c.seen[[2]int{got.id, got.seq}] = got
	}
	t.Fatalf("echo request id %d seq %d not captured", id, seq)
	return captured{}
}

// sendPlain sends an echo request with identifier id from a plain raw socket, bypassing the
// transport.
func sendPlain(t testing.TB, dst netip.Addr, id, seq int) {
	t.Helper()
	domain, proto := unix.AF_INET, unix.IPPROTO_ICMP
	typ := byte(8)
	var sa unix.Sockaddr
	if dst.Is6() {
		domain, proto, typ = unix.AF_INET6, unix.IPPROTO_ICMPV6, 128
		sa = &unix.SockaddrInet6{Addr: dst.As16()}
	} else {
		sa = &unix.SockaddrInet4{Addr: dst.As4()}
	}
	fd, err := unix.Socket(domain, unix.SOCK_RAW|unix.SOCK_CLOEXEC, proto)
	require.NoError(t, err)
	defer unix.Close(fd)
	m := make([]byte, 64)
	m[0] = typ
	binary.BigEndian.PutUint16(m[4:6], uint16(id))
	binary.BigEndian.PutUint16(m[6:8], uint16(seq))
	if !dst.Is6() {
		binary.BigEndian.PutUint16(m[2:4], checksum(m))
	}
	require.NoError(t, unix.Sendto(fd, m, 0, sa))
}

func checksum(b []byte) uint16 {
	var s uint32
	for i := 0; i+1 < len(b); i += 2 {
		s += uint32(b[i])<<8 | uint32(b[i+1])
	}
	for s>>16 != 0 {
		s = s&0xffff + s>>16
	}
	return ^uint16(s)
}

// openFDs counts the process's open file descriptors.
func openFDs(t testing.TB) int {
	t.Helper()
	ents, err := os.ReadDir("/proc/self/fd")
	require.NoError(t, err)
	return len(ents)
}
