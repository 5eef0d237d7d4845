//go:build windows

package winicmp

import (
	"crypto/rand"
	"encoding/binary"
	"fmt"
	"net/netip"
	"runtime"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"

	icmperrors "github.com/icmpkit/icmpkit/errors"
	"github.com/icmpkit/icmpkit/internal/sockio"
	"github.com/icmpkit/icmpkit/internal/wire"
	"github.com/icmpkit/icmpkit/transport"
	"golang.org/x/sys/windows"
)

// iphlpapi.dll's ICMP API, which x/sys/windows does not wrap, and the one kernel32 call it
// lacks.
var (
	modIphlpapi         = windows.NewLazySystemDLL("iphlpapi.dll")
	procIcmpCreateFile  = modIphlpapi.NewProc("IcmpCreateFile")
	procIcmp6CreateFile = modIphlpapi.NewProc("Icmp6CreateFile")
	procIcmpCloseHandle = modIphlpapi.NewProc("IcmpCloseHandle")
	procIcmpSendEcho2Ex = modIphlpapi.NewProc("IcmpSendEcho2Ex")
	procIcmp6SendEcho2  = modIphlpapi.NewProc("Icmp6SendEcho2")

	modKernel32               = windows.NewLazySystemDLL("kernel32.dll")
	procWaitForSingleObjectEx = modKernel32.NewProc("WaitForSingleObjectEx")
)

// maxInFlight bounds the requests of one socket that wait for their reply or their timeout;
// past it Send waits for one to finish. Each costs a buffer of some 150 bytes plus the payload.
const maxInFlight = 4096

// closeDrain is how long Close lets the APCs of requests still in flight run once their
// handle is closed; those not done by then are left to the system (see loop).
const closeDrain = 100 * time.Millisecond

// socket is one ICMP API handle (IcmpCreateFile or Icmp6CreateFile) and the thread that
// issues its requests.
//
// Requests are asynchronous with an APC each: IcmpSendEcho2Ex and Icmp6SendEcho2 return at
// once, and the system queues the APC routine to the thread that made the call when the reply
// (or the timeout) comes. APCs run only while that thread waits alertably, so every request is
// issued by one goroutine locked to its thread (loop), which otherwise waits alertably for the
// next requests. Any number of requests are in flight (up to maxInFlight) with one thread.
//
// The system writes each reply into the request's buffer at a time Go's collector cannot
// know about, so every buffer in flight is held by the call table until its APC has run, and
// for good if it never does (see loop's end).
type socket struct {
	link    sockio.Link // the transport, for its state and its reply queue
	v6      bool
	handle  windows.Handle
	src     netip.Addr // the configured source; invalid for none
	id      int        // the default identifier, random
	timeout uint32     // the API's time-out for a request that has none, in ms

	wake     windows.Handle // auto-reset event that ends the loop's wait
	loopDone chan struct{}  // closed when loop has returned
	closed   chan struct{}  // closed by close
	slots    chan struct{}  // one token per request in flight
	out      chan transport.Reply

	mu      sync.Mutex
	subs    []*submission // waiting for loop to issue them
	closing bool

	inFlight atomic.Int64

	callsP sync.Pool // *call, with its block
	subsP  sync.Pool // *submission
}

// call is one request on its way: what the reply needs from the request, and the block of
// memory the system reads the request from and writes the reply into.
type call struct {
	s             *socket
	dst           netip.Addr
	id, seq, size int
	block         []byte // options | IPv6 addresses | data | reply
	replyOff      int
	timeout       uint32
	sentAt        *time.Time // the request's SentAt, set when issued
	err           error      // why the API refused it
}

// Offsets in a call's block.
const (
	blockOpts = 0
	blockSrc6 = blockOpts + ipOptionsLen
	blockDst6 = blockSrc6 + sockaddrInet6Len
	blockData = blockDst6 + sockaddrInet6Len

	sockaddrInet6Len = 28
)

// submission is a batch of calls handed to loop by one Send or SendBatch, which waits on done
// until loop has issued them all.
type submission struct {
	calls  []*call
	failed int // the index of the call the API refused, or len(calls)
	done   chan struct{}
}

// The APC routine that every request names, made once: Windows allows a process a limited
// number of callbacks.
var apcRoutine = sync.OnceValue(func() uintptr { return windows.NewCallback(apcComplete) })

// calls holds every request in flight, of every socket, by the APC context it names: a
// number never used twice, so that an APC that comes late, for a closed socket, finds its own
// call or nothing, never another's.
var (
	callsMu sync.Mutex
	calls   = map[uintptr]*call{}
	lastCtx uintptr
)

func openSocket(cfg *Config, v6 bool, link sockio.Link) (*socket, error) {
	op := "open " + familyName(v6) + " ICMP handle"
	if cfg.Interface != "" {
		return nil, &icmperrors.Error{Op: op, Class: icmperrors.ErrNotSupported,
			Err:  icmperrors.New("the Windows ICMP API cannot bind requests to an interface"),
			Hint: "give the interface's address as the source instead"}
	}
	create, name := procIcmpCreateFile, "IcmpCreateFile"
	send := procIcmpSendEcho2Ex
	if v6 {
		create, name = procIcmp6CreateFile, "Icmp6CreateFile"
		send = procIcmp6SendEcho2
	}
	for _, p := range []*windows.LazyProc{create, send, procIcmpCloseHandle, procWaitForSingleObjectEx} {
		if err := p.Find(); err != nil {
			return nil, &icmperrors.Error{Op: op, Class: icmperrors.ErrNotSupported, Err: err,
				Hint: "this system's iphlpapi.dll lacks " + p.Name}
		}
	}
	h, _, errno := create.Call()
	if windows.Handle(h) == windows.InvalidHandle {
		return nil, apiOpenError(op, name, errno)
	}
	wake, err := windows.CreateEvent(nil, 0, 0, nil)
	if err != nil {
		procIcmpCloseHandle.Call(h)
		return nil, icmperrors.Wrap(icmperrors.ErrSocket, op, err)
	}
	s := &socket{
		link:     link,
		v6:       v6,
		handle:   windows.Handle(h),
		wake:     wake,
		loopDone: make(chan struct{}),
		closed:   make(chan struct{}),
		slots:    make(chan struct{}, maxInFlight),
		out:      make(chan transport.Reply, sockio.QueueLen),
		timeout:  uint32(min(cfg.replyTimeout().Milliseconds(), 1<<31)),
	}
	if cfg.Source.IsValid() && cfg.Source.Is6() == v6 {
		s.src = cfg.Source
	}
	var b [2]byte
	_, _ = rand.Read(b[:])
	s.id = 1 + int(binary.BigEndian.Uint16(b[:]))%0xffff

	apcRoutine() // made before the loop's first request needs it
	go s.loop()
	return s, nil
}

// apiOpenError classifies a failed IcmpCreateFile or Icmp6CreateFile.
func apiOpenError(op, name string, errno error) error {
	cause := fmt.Errorf("%s: %w", name, errno)
	switch errno {
	case windows.ERROR_ACCESS_DENIED:
		return &icmperrors.Error{Op: op, Class: icmperrors.ErrPermission, Err: cause}
	case windows.ERROR_CALL_NOT_IMPLEMENTED, windows.ERROR_NOT_SUPPORTED:
		return &icmperrors.Error{Op: op, Class: icmperrors.ErrNotSupported, Err: cause,
			Hint: "the system's ICMP API lacks it (Wine 8.0 has no ICMPv6 there)"}
	}
	return &icmperrors.Error{Op: op, Class: icmperrors.ErrSocket, Err: cause}
}

// loop issues the socket's requests and runs their APCs, on a thread of its own, until close.
func (s *socket) loop() {
	runtime.LockOSThread()
	defer close(s.loopDone)
	var subs []*submission
	for {
		s.mu.Lock()
		subs, s.subs = s.subs, subs[:0]
		closing := s.closing
		s.mu.Unlock()
		for _, sub := range subs {
			s.issue(sub)
		}
		clear(subs)
		if closing {
			break
		}
		// APCs run inside this wait, which they end (WAIT_IO_COMPLETION); so does wake.
		procWaitForSingleObjectEx.Call(uintptr(s.wake), uintptr(windows.INFINITE), 1)
	}
	procIcmpCloseHandle.Call(uintptr(s.handle))
	deadline := time.Now().Add(closeDrain)
	for s.inFlight.Load() > 0 && time.Now().Before(deadline) {
		windows.SleepEx(10, true)
	}
	windows.CloseHandle(s.wake)
	// Requests still in flight keep their place in calls, and so their memory, for good, or
	// until their APC runs after all. The thread goes back to Go's scheduler rather than
	// ending: ending it would cancel them, and Wine 8.0's ICMP service can hang on such
	// cancellations, leaving every later request of the process stuck in its call.
	runtime.UnlockOSThread()
}

// issue makes the API calls of a submission, up to the first one the API refuses, and tells
// its sender.
func (s *socket) issue(sub *submission) {
	sub.failed = len(sub.calls)
	for i, c := range sub.calls {
		ctx := s.register(c)
		b := c.block
		data := uintptr(unsafe.Pointer(&b[blockData])) // a valid pointer even for no data
		var r1 uintptr
		var errno error
		*c.sentAt = time.Now()
		c.sentAt = nil // the request is the caller's again once issue returns
		if s.v6 {
			r1, _, errno = procIcmp6SendEcho2.Call(uintptr(s.handle), 0, apcRoutine(), ctx,
				uintptr(unsafe.Pointer(&b[blockSrc6])), uintptr(unsafe.Pointer(&b[blockDst6])),
				data, uintptr(c.size), uintptr(unsafe.Pointer(&b[blockOpts])),
				uintptr(unsafe.Pointer(&b[c.replyOff])), uintptr(len(b)-c.replyOff), uintptr(c.timeout))
		} else {
			r1, _, errno = procIcmpSendEcho2Ex.Call(uintptr(s.handle), 0, apcRoutine(), ctx,
				ipAddr(s.src), ipAddr(c.dst), data, uintptr(c.size), uintptr(unsafe.Pointer(&b[blockOpts])),
				uintptr(unsafe.Pointer(&b[c.replyOff])), uintptr(len(b)-c.replyOff), uintptr(c.timeout))
		}
		// Pending is the rule; a call that completed at once still queues its APC. Any other
		// error means no request went out and no APC will come.
		if r1 == 0 && errno != windows.ERROR_IO_PENDING {
			unregister(ctx)
			c.err = sendError(c.dst, errno)
			sub.failed = i
			for range sub.calls[i+1:] {
				<-s.slots // not issued
			}
			break
		}
	}
	sub.done <- struct{}{}
}

// ipAddr gives an IPv4 address as the IPAddr the API takes: the address in network order in
// memory, 0 for none.
func ipAddr(a netip.Addr) uintptr {
	if !a.Is4() {
		return 0
	}
	b := a.As4()
	return uintptr(binary.LittleEndian.Uint32(b[:]))
}

// register enters a call in the table under a fresh APC context. loop only.
func (s *socket) register(c *call) uintptr {
	callsMu.Lock()
	lastCtx++
	ctx := lastCtx
	calls[ctx] = c
	callsMu.Unlock()
	s.inFlight.Add(1)
	return ctx
}

// unregister removes a call from the table and frees its slot. It runs on the loop thread of
// the call's socket.
func unregister(ctx uintptr) *call {
	callsMu.Lock()
	c := calls[ctx]
	delete(calls, ctx)
	callsMu.Unlock()
	if c != nil {
		c.s.inFlight.Add(-1)
		select {
		case <-c.s.slots:
		default: // a socket that has closed
		}
	}
	return c
}

// apcComplete is the APC routine: it runs on a socket's loop thread, inside its alertable
// wait, once a request has its reply or has timed out. It turns the reply into a
// transport.Reply for run and poll.
func apcComplete(ctx, iosb, reserved uintptr) uintptr {
	now := time.Now()
	c := unregister(ctx)
	if c == nil {
		return 0
	}
	s := c.s
	var r transport.Reply
	got := parseAPIReply(s.v6, c.block[c.replyOff:], c.dst, c.id, c.seq, c.size, &r)
	r.ReceivedAt = now
	s.putCall(c)
	if got {
		select {
		case s.out <- r:
		default: // nobody reads: drop it, as a full socket buffer would
		}
	}
	return 0
}

// sendError classifies a request the API refused at once. Every class but ErrMessageSize is
// ErrSocket: the failure concerns this destination.
func sendError(dst netip.Addr, errno error) error {
	op := "send to " + dst.String()
	if en, ok := errno.(windows.Errno); ok && en == ipPacketTooBig {
		return &icmperrors.Error{Op: op, Class: icmperrors.ErrMessageSize, Err: errno,
			Hint: "the packet exceeds the MTU and may not be fragmented"}
	}
	if errno == windows.ERROR_ACCESS_DENIED {
		return &icmperrors.Error{Op: op, Class: icmperrors.ErrPermission, Err: errno}
	}
	return &icmperrors.Error{Op: op, Class: icmperrors.ErrSocket, Err: errno}
}

func (s *socket) Send(req *transport.Request) error {
	_, err := s.SendBatch(unsafe.Slice(req, 1))
	return err
}

// sendBatch hands reqs to loop in one submission, as far as slots allow, and waits until they
// are issued.
func (s *socket) SendBatch(reqs []transport.Request) (int, error) {
	sub, _ := s.subsP.Get().(*submission)
	if sub == nil {
		sub = &submission{done: make(chan struct{}, 1)}
	}
	defer s.subsP.Put(sub)
	defer func() {
		clear(sub.calls)
		sub.calls = sub.calls[:0]
	}()
	n, err := s.prepare(sub, reqs)
	if len(sub.calls) == 0 {
		return n, err
	}
	if !s.submit(sub) {
		s.releaseAll(sub)
		return 0, errSendClosed
	}
	<-sub.done
	if f := sub.failed; f < len(sub.calls) {
		err := sub.calls[f].err
		for _, c := range sub.calls[f:] {
			s.putCall(c)
		}
		return f, err
	}
	return n, err
}

// prepare fills a call for each request it gets a slot for, and gives how many it prepared.
// It waits for slots while some are free again and the socket is open; when it must wait
// with calls prepared, it submits those first, so that no batch waits on its own slots.
func (s *socket) prepare(sub *submission, reqs []transport.Request) (int, error) {
	for i := range reqs {
		req := &reqs[i]
		if s.v6 && req.DontFragment {
			return i, &icmperrors.Error{Op: "send to " + req.Destination.String(), Class: icmperrors.ErrNotSupported,
				Err: icmperrors.New("Icmp6SendEcho2 has no way to forbid fragmentation")}
		}
		select {
		case s.slots <- struct{}{}:
		default:
			if len(sub.calls) > 0 {
				return i, nil // the caller submits these; the rest wait for another call
			}
			select {
			case s.slots <- struct{}{}:
			case <-s.closed:
				return i, errSendClosed
			}
		}
		sub.calls = append(sub.calls, s.newCall(req))
	}
	return len(reqs), nil
}

// newCall lays out a request's call. The caller holds a slot for it.
func (s *socket) newCall(req *transport.Request) *call {
	payload := wire.Payload(req)
	replyOff := (blockData + len(payload) + 7) &^ 7
	need := replyOff + replyBufferLen(s.v6, len(payload))
	c, _ := s.callsP.Get().(*call)
	if c == nil {
		c = new(call)
	}
	if cap(c.block) < need {
		c.block = make([]byte, need, max(need, 256))
	}
	b := c.block[:need]
	ttl := req.TTL
	if ttl == 0 {
		ttl = transport.DefaultTTL
	}
	putOptions(b[blockOpts:], ttl, req.TrafficClass, req.DontFragment)
	if s.v6 {
		putSockaddr6(b[blockSrc6:], s.src)
		putSockaddr6(b[blockDst6:], req.Destination)
	}
	copy(b[blockData:], payload)
	clear(b[replyOff:])
	timeout := s.timeout
	if req.Timeout > 0 {
		timeout = uint32(min(req.Timeout.Milliseconds()+1, 1<<31))
	}
	*c = call{s: s, dst: req.Destination, id: req.ID, seq: req.Seq, size: len(payload), block: b,
		replyOff: replyOff, timeout: timeout, sentAt: &req.SentAt}
	return c
}

// putCall gives a call that the system is done with back for reuse.
func (s *socket) putCall(c *call) {
	*c = call{block: c.block}
	s.callsP.Put(c)
}

// putSockaddr6 writes a SOCKADDR_IN6 for a (the unspecified address when a is invalid).
func putSockaddr6(b []byte, a netip.Addr) {
	_ = b[sockaddrInet6Len-1]
	clear(b[:sockaddrInet6Len])
	binary.LittleEndian.PutUint16(b[0:], windows.AF_INET6)
	if !a.IsValid() {
		return
	}
	a16 := a.As16()
	copy(b[8:24], a16[:])
	idx, _ := sockio.ZoneIndex(a.Zone())
	binary.LittleEndian.PutUint32(b[24:], idx)
}

// submit queues sub for loop and wakes it; false once the socket is closing.
func (s *socket) submit(sub *submission) bool {
	s.mu.Lock()
	if s.closing {
		s.mu.Unlock()
		return false
	}
	s.subs = append(s.subs, sub)
	s.mu.Unlock()
	windows.SetEvent(s.wake)
	return true
}

// releaseAll gives back the slots and blocks of calls that were never submitted.
func (s *socket) releaseAll(sub *submission) {
	for _, c := range sub.calls {
		<-s.slots
		s.putCall(c)
	}
}

// run hands the replies loop completes to the transport until it closes.
func (s *socket) Read() {
	for {
		select {
		case r := <-s.out:
			if !s.link.Deliver(&r) {
				return
			}
		case <-s.closed:
			return
		}
	}
}

// poll takes the replies already completed, without waiting.
func (s *socket) Poll(replies []transport.Reply) int {
	n := 0
	for n < len(replies) {
		select {
		case r := <-s.out:
			replies[n] = r
			n++
		default:
			return n
		}
	}
	return n
}

// identifier gives the socket's default identifier. The system chooses the identifier that
// goes on the wire and pairs each reply with its request, so replies carry the request's own
// identifier and sequence whatever they are: any identifier serves.
func (s *socket) Identifier() (int, bool) { return s.id, false }

func (s *socket) SetBroadcast(on bool) error {
	if !on {
		return nil
	}
	return &icmperrors.Error{Op: "set broadcast", Class: icmperrors.ErrNotSupported,
		Err: icmperrors.New("the Windows ICMP API gives one reply per request")}
}

// close ends loop, which closes the handle, and waits for it.
func (s *socket) Close() error {
	s.mu.Lock()
	already := s.closing
	s.closing = true
	s.mu.Unlock()
	if !already {
		close(s.closed)
		windows.SetEvent(s.wake)
	}
	<-s.loopDone
	return nil
}
