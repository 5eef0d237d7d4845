//go:build linux

package dgram

import (
	"syscall"
	"time"
	"unsafe"

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
	t *Transport

	slot  int
	data  []byte
	names [][nameLen]byte
	oobs  [][recvOOBLen]byte
	iovs  []unix.Iovec
	msgs  []unix.Mmsghdr

	eData [errDataLen]byte
	eName [nameLen]byte
	eOOB  [errOOBLen]byte
	eIov  unix.Iovec
	eMsg  unix.Msghdr

	out   []transport.Reply
	fatal syscall.Errno
	// limit is the number of messages one round reads at most: len(msgs) for the socket's
	// reader, no more than the room left for a Poll.
	limit int
	got   bool // the result of the last round run by poll

	read func(fd uintptr) bool
	poll func(fd uintptr) // one round, its result in got
}

// newReader makes a reader of batch messages a call.
func newReader(s *socket, t *Transport, batch int) *reader {
	r := &reader{
		s: s, t: t,
		names: make([][nameLen]byte, batch),
		oobs:  make([][recvOOBLen]byte, batch),
		iovs:  make([]unix.Iovec, batch),
		msgs:  make([]unix.Mmsghdr, batch),
		out:   make([]transport.Reply, 0, 2*batch),
		limit: batch,
	}
	r.read = r.doRead
	r.poll = func(fd uintptr) { r.got = r.doRead(fd) }
	for i := range r.msgs {
		h := &r.msgs[i].Hdr
		h.Name = &r.names[i][0]
		h.Control = &r.oobs[i][0]
		h.Iov = &r.iovs[i]
		h.SetIovlen(1)
	}
	r.resize(minSlot)
	r.eIov.Base = &r.eData[0]
	r.eIov.SetLen(errDataLen)
	r.eMsg.Iov = &r.eIov
	r.eMsg.SetIovlen(1)
	r.eMsg.Name = &r.eName[0]
	r.eMsg.Control = &r.eOOB[0]
	return r
}

// resize gives every slot of the batch at least size bytes.
func (r *reader) resize(size int) {
	r.slot = max(size, minSlot)
	r.data = make([]byte, r.slot*len(r.msgs))
	for i := range r.iovs {
		r.iovs[i].Base = &r.data[i*r.slot]
		r.iovs[i].SetLen(r.slot)
	}
}

// run reads until the transport closes.
func (s *socket) run(t *Transport) {
	r := newReader(s, t, batchLen)
	for {
		r.out = r.out[:0]
		err := s.fd.Read(r.read)
		if t.closed.Load() || r.fatal != 0 {
			return
		}
		if err != nil {
			r.out = r.out[:0]
			r.readLevel()
			if t.closed.Load() || r.fatal != 0 {
				return
			}
		}
		for i := range r.out {
			if !t.deliver(&r.out[i]) {
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
	if need := int(r.s.maxPayload.Load()) + 8; need > r.slot {
		r.resize(need)
	}
	for i := range r.msgs {
		h := &r.msgs[i].Hdr
		h.Namelen = nameLen
		h.SetControllen(recvOOBLen)
		h.Flags = 0
		r.msgs[i].Len = 0
	}
	n, _, e := unix.Syscall6(unix.SYS_RECVMMSG, fd, uintptr(unsafe.Pointer(&r.msgs[0])), uintptr(r.limit), unix.MSG_DONTWAIT, 0, 0)
	switch e {
	case 0:
		r.parseBatch(int(n))
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
	for i := 0; i < n; i++ {
		m := &r.msgs[i]
		data := r.data[i*r.slot : i*r.slot+min(int(m.Len), r.slot)]
		oob := r.oobs[i][:min(int(m.Hdr.Controllen), recvOOBLen)]
		name := r.names[i][:min(int(m.Hdr.Namelen), nameLen)]
		r.out = append(r.out, transport.Reply{})
		rep := &r.out[len(r.out)-1]
		if !parseEcho(v6, data, oob, name, id, rep) {
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
	for i := 0; i < r.limit; i++ {
		r.eMsg.Namelen = nameLen
		r.eMsg.SetControllen(errOOBLen)
		r.eMsg.Flags = 0
		n, _, e := unix.Syscall(unix.SYS_RECVMSG, fd, uintptr(unsafe.Pointer(&r.eMsg)), unix.MSG_ERRQUEUE|unix.MSG_DONTWAIT)
		if e != 0 {
			return i == 0
		}
		data := r.eData[:min(int(n), errDataLen)]
		oob := r.eOOB[:min(int(r.eMsg.Controllen), errOOBLen)]
		name := r.eName[:min(int(r.eMsg.Namelen), nameLen)]
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
func (s *socket) poll(t *Transport, replies []transport.Reply) int {
	if !s.pollMu.TryLock() {
		return 0
	}
	defer s.pollMu.Unlock()
	if s.pollR == nil {
		s.pollR = newReader(s, t, pollBatch)
	}
	r := s.pollR
	n := 0
	for range pollRounds {
		if n == len(replies) {
			break
		}
		r.out, r.limit, r.got = r.out[:0], min(pollBatch, len(replies)-n), false
		if err := s.fd.Control(r.poll); err != nil || r.fatal != 0 {
			break // closed, or left to the reader to report
		}
		n += copy(replies[n:], r.out)
		if !r.got {
			break // both queues are empty
		}
	}
	return n
}
