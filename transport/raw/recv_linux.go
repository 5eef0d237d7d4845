package raw

import (
	"time"

	"github.com/icmpkit/icmpkit/internal/sockio"
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
	b     *sockio.Batch
	n     int
	errno unix.Errno
	read  func(fd uintptr) bool // r.do, bound once
	poll  func(fd uintptr)      // r.do without its result, for Control, bound once
	// filterAsked says that the reader has asked for the socket's BPF program.
	filterAsked bool
}

func newReader(t *Transport, s *sock, batch int) *reader {
	r := &reader{t: t, s: s, b: sockio.NewBatch(batch, minSlot, readOOBSize)}
	r.read = r.do
	r.poll = func(fd uintptr) { r.do(fd) }
	return r
}

// slotFor gives the buffer size that holds an echo reply to a payload of n bytes, with the
// largest IPv4 header.
func slotFor(n int64) int {
	return min(maxSlot, int(n)+wire.EchoHeaderLen+60)
}

// do runs in the socket's Read or Control: one recvmmsg; under Read, false asks the poller
// to wait while nothing is queued.
func (r *reader) do(fd uintptr) bool {
	r.b.Fit(slotFor(r.t.maxPayload.Load()))
	n, e := r.b.Recv(fd, 0)
	if e == unix.EAGAIN {
		return false
	}
	r.n, r.errno = n, e
	return true
}

// read reads s until it is closed, handing the replies to Receive. The reader and its
// buffers are made here, on the goroutine that uses them.
func (t *Transport) read(s *sock) {
	if s.fd.Register() != nil {
		return // closed
	}
	newReader(t, s, readBatch).run()
}

// pollSockets fills replies with what the sockets hold now, without waiting.
func (t *Transport) pollSockets(replies []transport.Reply) int {
	n := t.poll(&t.sys.poll4, t.sys.v4, replies)
	return n + t.poll(&t.sys.poll6, t.sys.v6, replies[n:])
}

// poll reads s without waiting, up to len(replies), with buffers of its own: the socket's
// reader may be reading it at the same moment, and the kernel hands each packet to one of
// them. It leaves the socket alone when another Poll is reading it.
func (t *Transport) poll(slot *sockio.PollSlot[reader], s *sock, replies []transport.Reply) int {
	if s == nil || len(replies) == 0 {
		return 0
	}
	return slot.Use(func() *reader { return newReader(t, s, pollBatch) }, func(r *reader) int {
		n := 0
		for n < len(replies) {
			r.b.Limit = min(len(r.b.Hdrs), len(replies)-n)
			r.n, r.errno = 0, 0
			if err := s.fd.Control(r.poll); err != nil || r.n == 0 {
				break // closed, or nothing waiting (or a transient error, left to the reader)
			}
			for i := range r.n {
				if r.parse(i, &replies[n]) {
					n++
				}
			}
			if r.n < r.b.Limit {
				break // the socket is empty
			}
		}
		return n
	})
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
				case <-r.t.rx.Done():
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
			if !r.t.rx.Deliver(&rep) {
				return
			}
		}
	}
}

// parse turns message i of the last batch into a reply, reporting false for anything that is
// not for this transport.
func (r *reader) parse(i int, rep *transport.Reply) bool {
	if r.b.Truncated(i) {
		r.t.drops.Add(1)
		return false
	}
	data := r.b.Data(i)
	var err error
	if r.s.v6 {
		src, _ := sockio.SockaddrAddr(r.b.Name(i))
		err = wire.ParseICMPv6(data, src, rep)
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
	c := sockio.ParseCmsgs(r.b.OOB(i))
	if c.At.IsZero() {
		c.At = time.Now()
	}
	rep.ReceivedAt = c.At
	if r.s.v6 {
		rep.TTL = c.TTL
	}
	return true
}
