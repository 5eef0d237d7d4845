//go:build unix

// Package pollfd holds a socket's descriptor so that it joins Go's runtime poller only when
// something has to wait on it: a reader, or a write that finds no room. Until then the
// descriptor is used directly. A short-lived socket whose every operation completes at once,
// such as a one-packet ping's on loopback, so spares the process the poller's set-up: an epoll
// instance, and a thread woken at each change of the socket's readiness.
package pollfd

import (
	"os"
	"runtime"
	"sync"
	"sync/atomic"
	"syscall"
)

// An FD is a non-blocking socket descriptor. Its methods are safe for concurrent use; Close
// waits for direct uses of the descriptor to end and ends the waits in the poller, and every
// use after it fails with an error matching os.ErrClosed. An FD dropped without Close closes
// its descriptor once garbage collected, as an os.File does.
type FD struct {
	fd   int
	name string
	// mu is held shared while fd is used directly, and alone to register or close.
	mu     sync.RWMutex
	closed atomic.Bool           // set under mu
	conn   atomic.Pointer[pconn] // set once registered; fixed from then on
	// cleanup closes fd should the FD be dropped unclosed before it joins the poller, as an
	// os.File's finalizer does from then on.
	cleanup runtime.Cleanup
}

// pconn is the descriptor handed to the poller.
type pconn struct {
	f  *os.File
	rc syscall.RawConn
}

// New takes ownership of fd, a non-blocking socket; name names it in errors.
func New(fd int, name string) *FD {
	d := &FD{fd: fd, name: name}
	d.cleanup = runtime.AddCleanup(d, func(fd int) { syscall.Close(fd) }, fd)
	return d
}

// Control runs fn on the descriptor, as syscall.RawConn's Control does.
func (d *FD) Control(fn func(fd uintptr)) error {
	if c := d.conn.Load(); c != nil {
		return d.polled(c.rc.Control(fn))
	}
	d.mu.RLock()
	if c := d.conn.Load(); c != nil {
		d.mu.RUnlock()
		return d.polled(c.rc.Control(fn))
	}
	defer d.mu.RUnlock()
	if d.closed.Load() {
		return os.ErrClosed
	}
	fn(uintptr(d.fd))
	return nil
}

// Write runs fn on the descriptor until fn reports that it is done, as syscall.RawConn's
// Write does: fn returns false when the socket cannot take the data now, and the descriptor
// then joins the poller to wait for room.
func (d *FD) Write(fn func(fd uintptr) bool) error {
	if d.conn.Load() == nil {
		d.mu.RLock()
		if d.conn.Load() == nil {
			if d.closed.Load() {
				d.mu.RUnlock()
				return os.ErrClosed
			}
			done := fn(uintptr(d.fd))
			d.mu.RUnlock()
			if done {
				return nil
			}
		} else {
			d.mu.RUnlock()
		}
	}
	c, err := d.register()
	if err != nil {
		return err
	}
	return d.polled(c.rc.Write(fn))
}

// Read runs fn on the descriptor until fn reports that it is done, as syscall.RawConn's Read
// does, waiting in the poller whenever fn returns false. The descriptor joins the poller for
// good.
func (d *FD) Read(fn func(fd uintptr) bool) error {
	c, err := d.register()
	if err != nil {
		return err
	}
	return d.polled(c.rc.Read(fn))
}

// polled gives the error of an operation through the poller: os.ErrClosed once the
// descriptor is closed, as for direct uses, and the poller's error otherwise.
func (d *FD) polled(err error) error {
	if err != nil && d.closed.Load() {
		return os.ErrClosed
	}
	return err
}

// Register has the descriptor join the poller now, as Read would. It fails once closed.
func (d *FD) Register() error {
	_, err := d.register()
	return err
}

// Registered reports whether the descriptor has joined the poller.
func (d *FD) Registered() bool { return d.conn.Load() != nil }

func (d *FD) register() (*pconn, error) {
	if c := d.conn.Load(); c != nil {
		return c, nil
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if c := d.conn.Load(); c != nil {
		return c, nil
	}
	if d.closed.Load() {
		return nil, os.ErrClosed
	}
	d.cleanup.Stop()
	f := os.NewFile(uintptr(d.fd), d.name) // the file owns fd from here on
	rc, err := f.SyscallConn()
	if err != nil { // only for a nil file
		return nil, err
	}
	c := &pconn{f: f, rc: rc}
	d.conn.Store(c)
	return c, nil
}

// Close closes the descriptor. Later calls do nothing and return nil.
func (d *FD) Close() error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.closed.Load() {
		return nil
	}
	d.closed.Store(true)
	d.cleanup.Stop()
	if c := d.conn.Load(); c != nil {
		return c.f.Close()
	}
	return syscall.Close(d.fd)
}
