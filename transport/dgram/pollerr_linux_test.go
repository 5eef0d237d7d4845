//go:build linux

package dgram

import (
	"context"
	"encoding/binary"
	"github.com/icmpkit/icmpkit/internal/wire"
	"net/netip"
	"testing"
	"time"

	"github.com/icmpkit/icmpkit/internal/lab"
	"github.com/icmpkit/icmpkit/transport"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"
)

// forgeTimeExceeded sends, from namespace ns, an ICMP Time Exceeded to client that quotes an
// echo request from client to target with identifier id and sequence seq.
func forgeTimeExceeded(t *testing.T, ns string, client, target netip.Addr, id, seq int) {
	t.Helper()
	quoted := ipv4Packet(client, target, 1, echoRequest(false, id, seq, 0))
	forge(t, ns, client, append([]byte{11, 0, 0, 0, 0, 0, 0, 0}, quoted...))
}

// forgeEchoReply sends, from namespace ns, an echo reply to client.
func forgeEchoReply(t *testing.T, ns string, client netip.Addr, id, seq int) {
	t.Helper()
	msg := echoRequest(false, id, seq, 8)
	msg[0] = wire.TypeEchoReplyV4
	forge(t, ns, client, msg)
}

// forge sends the ICMP message msg to client from a raw socket in namespace ns.
func forge(t *testing.T, ns string, client netip.Addr, msg []byte) {
	t.Helper()
	binary.BigEndian.PutUint16(msg[2:], wire.Checksum(msg))
	require.NoError(t, lab.Do(ns, func() error {
		fd, err := unix.Socket(unix.AF_INET, unix.SOCK_RAW|unix.SOCK_CLOEXEC, unix.IPPROTO_ICMP)
		if err != nil {
			return err
		}
		defer unix.Close(fd)
		return unix.Sendto(fd, msg, 0, &unix.SockaddrInet4{Addr: client.As4()})
	}))
}

// writable reports whether the socket's send buffer has room.
func writable(t *testing.T, s *socket) bool {
	var ok bool
	require.NoError(t, s.fd.Control(func(fd uintptr) {
		fds := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLOUT}}
		n, _ := unix.Poll(fds, 0)
		ok = n > 0 && fds[0].Revents&unix.POLLOUT != 0
	}))
	return ok
}

// TestErrorsWhileSendBufferFull reads ICMP errors while the send buffer is full. Requests to
// a neighbor that never answers ARP wait in the neighbor queue and hold the socket's send
// buffer; an ICMP error arriving then makes the descriptor report an error condition alone,
// which the runtime poller treats as a failed descriptor until its next other event.
func TestErrorsWhileSendBufferFull(t *testing.T) {
	c := newChain(t, lab.ChainConfig{Routers: 1})
	require.NoError(t, c.Sysctl(c.Client.NS, "net.ipv4.neigh.eth0.retrans_time_ms", "30000"))
	tr := openIn(t, c.Client.NS, Config{Family: transport.FamilyIPv4})
	s := tr.sock4
	require.NoError(t, s.fd.Control(func(fd uintptr) {
		require.NoError(t, unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_SNDBUF, 1))
	}))
	id, _ := tr.Identifier(c.Target.V4)

	silent := netip.AddrFrom4([4]byte{198, 18, 0, 77}) // on the client's link, answers no ARP
	blocked := make(chan error, 1)
	go func() {
		for i := 0; ; i++ {
			req := transport.Request{Destination: silent, Seq: i, PayloadSize: 1000}
			if err := tr.Send(context.Background(), &req); err != nil {
				blocked <- err
				return
			}
		}
	}()
	deadline := time.Now().Add(5 * time.Second)
	for writable(t, s) {
		require.True(t, time.Now().Before(deadline), "the send buffer never filled")
		time.Sleep(5 * time.Millisecond)
	}

	for i, seq := range []int{4321, 4322, 4323} {
		forgeTimeExceeded(t, c.Router(1).NS, c.Client.V4, c.Target.V4, id, seq)
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		var r transport.Reply
		err := tr.Receive(ctx, &r)
		cancel()
		require.NoError(t, err, "error %d not received while the send buffer is full", i+1)
		assert.Equal(t, transport.KindTimeExceeded, r.Kind())
		assert.Equal(t, seq, r.Seq)
		assert.Equal(t, c.Router(1).V4, r.Source)
		assert.False(t, writable(t, s), "the send buffer drained during the test")
	}
	// The reader waits without spinning: the process uses far less than the elapsed time.
	before := cpuTime(t)
	time.Sleep(300 * time.Millisecond)
	used := cpuTime(t) - before
	t.Logf("CPU used in 300 ms: %v", used)
	assert.Less(t, used, 150*time.Millisecond, "CPU used while idle with a full send buffer")

	// An echo reply gets through too.
	forgeEchoReply(t, c.Router(1).NS, c.Client.V4, id, 999)
	r := receiveMatching(t, tr, c.Router(1).V4, 999)
	assert.Equal(t, transport.KindEchoReply, r.Kind())
	assert.False(t, writable(t, s), "the send buffer drained during the test")

	require.NoError(t, tr.Close())
	select {
	case err := <-blocked:
		require.Error(t, err)
	case <-time.After(5 * time.Second):
		t.Fatal("Send still blocked after Close")
	}
}

func cpuTime(t *testing.T) time.Duration {
	var ru unix.Rusage
	require.NoError(t, unix.Getrusage(unix.RUSAGE_SELF, &ru))
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
