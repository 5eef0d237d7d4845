//go:build linux

package dgram

import (
	"syscall"
	"time"
	"unsafe"

	"github.com/icmpkit/icmpkit/internal/sockio"
	"github.com/icmpkit/icmpkit/transport"
	"golang.org/x/sys/unix"
)

// Buffer sizes of the reader.
const (
	pollBatch  = 4    // messages a Poll reads with one call at most; the socket's reader, batchLen
	minSlot    = 2048 // bytes for one received echo reply, grown for larger payloads
	recvOOBLen = 128  // TTL and timestamp control messages
	errDataLen = 2048 // the quoted request of an ICMP error: at most 576 (IPv4) or 1280 (IPv6) bytes
	errOOBLen  = 512  // sock_extended_err, offender, TTL, timestamp
)

// reader is the one goroutine that reads a socket: batches of replies with recvmmsg, then the
// error queue, until both are empty, and then it waits in the poller.
type reader struct {
	s *socket
	b *sockio.Batch

	eData [errDataLen]byte
	eName [sockio.NameLen]byte
	eOOB  [errOOBLen]byte
	eIov  unix.Iovec
	eMsg  unix.Msghdr

	out   []transport.Reply
	fatal syscall.Errno
	got   bool // the result of the last round run by poll

	read func(fd uintptr) bool
	poll func(fd uintptr) // one round, its result in got
}

// newReader makes a reader of batch messages a call.
func newReader(s *socket, batch int) *reader {
	r := &reader{
		s:   s,
		b:   sockio.NewBatch(batch, minSlot, recvOOBLen),
		out: make([]transport.Reply, 0, 2*batch),
	}
	r.read = r.doRead
	r.poll = func(fd uintptr) { r.got = r.doRead(fd) }
	r.eIov.Base = &r.eData[0]
	r.eIov.SetLen(errDataLen)
	r.eMsg.Iov = &r.eIov
	r.eMsg.SetIovlen(1)
	r.eMsg.Name = &r.eName[0]
	r.eMsg.Control = &r.eOOB[0]
	return r
}

// run reads until the transport closes.
func (s *socket) Read() {
	r := newReader(s, batchLen)
	for {
		r.out = r.out[:0]
		err := s.fd.Read(r.read)
		if s.link.Closed() || r.fatal != 0 {
			return
		}
		if err != nil {
			r.out = r.out[:0]
			r.readLevel()
			if s.link.Closed() || r.fatal != 0 {
				return
			}
		}
		for i := range r.out {
			if !s.link.Deliver(&r.out[i]) {
				return
			}
		}
	}
}

// readLevel reads the socket when the runtime poller cannot wait for it. The poller marks a
// descriptor whose only event was an error condition (EPOLLERR without EPOLLIN or EPOLLOUT: an
// ICMP error queued while the send buffer is full) and refuses every read until the
// descriptor's next other event, which may be seconds away (requests waiting for a neighbor
// that does not answer hold the send buffer). Meanwhile the reader reads under Control and
// waits in poll(2), which reports every new reply and error; Close ends the wait through an
// eventfd. readLevel returns once it has read something, so the caller delivers it and tries
// the poller again.
func (r *reader) readLevel() {
	wake, ok := r.s.wakeFD()
	if !ok {
		return
	}
	_ = r.s.fd.Control(func(fd uintptr) {
		fds := [2]unix.PollFd{
			{Fd: int32(fd), Events: unix.POLLIN},
			{Fd: int32(wake), Events: unix.POLLIN},
		}
		for !r.doRead(fd) {
			for {
				_, err := unix.Poll(fds[:], -1)
				if err != unix.EINTR {
					break
				}
			}
			if fds[1].Revents != 0 {
				return
			}
		}
	})
}

// doRead is one round under the poller: it reports false, and so waits for readiness, only
// once the receive queue and the error queue were both found empty.
func (r *reader) doRead(fd uintptr) bool {
	// Requests note their payload size before they leave, so a reply always finds room.
	r.b.Fit(int(r.s.maxPayload.Load()) + 8)
	n, e := r.b.Recv(fd, unix.MSG_DONTWAIT)
	switch e {
	case 0:
		r.parseBatch(n)
		return true
	case unix.EAGAIN:
		empty := r.drainErrQueue(fd)
		return !empty || len(r.out) > 0
	case unix.EBADF, unix.ENOTSOCK, unix.EFAULT, unix.EINVAL:
		r.fatal = e
		return true
	}
	// The pending error of an ICMP error message (EHOSTUNREACH, ENETUNREACH, EMSGSIZE, ...),
	// reported once: the message itself waits on the error queue.
	r.drainErrQueue(fd)
	return true
}

func (r *reader) parseBatch(n int) {
	var now time.Time
	v6, id := r.s.v6, r.s.port
	for i := range n {
		r.out = append(r.out, transport.Reply{})
		rep := &r.out[len(r.out)-1]
		if r.b.Truncated(i) || !parseEcho(v6, r.b.Data(i), r.b.OOB(i), r.b.Name(i), id, rep) {
			r.out = r.out[:len(r.out)-1]
			continue
		}
		if rep.ReceivedAt.IsZero() {
			if now.IsZero() {
				now = time.Now()
			}
			rep.ReceivedAt = now
		}
	}
}

// drainErrQueue reads the error queue until it is empty, or for one round's worth (limit), and
// reports whether it was empty at once.
func (r *reader) drainErrQueue(fd uintptr) (empty bool) {
	v6, id := r.s.v6, r.s.port
	for i := 0; i < r.b.Limit; i++ {
		r.eMsg.Namelen = sockio.NameLen
		r.eMsg.SetControllen(errOOBLen)
		r.eMsg.Flags = 0
		n, _, e := unix.Syscall(unix.SYS_RECVMSG, fd, uintptr(unsafe.Pointer(&r.eMsg)), unix.MSG_ERRQUEUE|unix.MSG_DONTWAIT)
		if e != 0 {
			return i == 0
		}
		data := r.eData[:min(int(n), errDataLen)]
		oob := r.eOOB[:min(int(r.eMsg.Controllen), errOOBLen)]
		name := r.eName[:min(int(r.eMsg.Namelen), sockio.NameLen)]
		var rep transport.Reply
		if parseErrQueue(v6, data, oob, name, id, &rep) {
			if rep.ReceivedAt.IsZero() {
				rep.ReceivedAt = time.Now()
			}
			r.out = append(r.out, rep)
		}
	}
	return false
}

// pollRounds bounds the rounds of one poll, which go on while each finds messages (some of
// which may be dropped as not ours).
const pollRounds = 4

// poll reads the socket without waiting, replies and errors alike, up to len(replies), and
// returns how many it filled. It leaves the socket alone when another Poll is reading it.
func (s *socket) Poll(replies []transport.Reply) int {
	return s.pollSlot.Use(func() *reader { return newReader(s, pollBatch) }, func(r *reader) int {
		n := 0
		for range pollRounds {
			if n == len(replies) {
				break
			}
			r.out, r.b.Limit, r.got = r.out[:0], min(pollBatch, len(replies)-n), false
			if err := s.fd.Control(r.poll); err != nil || r.fatal != 0 {
				break // closed, or left to the reader to report
			}
			n += copy(replies[n:], r.out)
			if !r.got {
				break // both queues are empty
			}
		}
		return n
	})
}
