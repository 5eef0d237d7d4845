//go:build linux

package pollfd

import (
	"errors"
	"os"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"
)

// pair gives a non-blocking datagram socket pair: the first end held by an FD.
func pair(t *testing.T) (*FD, int) {
	t.Helper()
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_DGRAM|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0)
	require.NoError(t, err)
	d := New(fds[0], "test")
	t.Cleanup(func() {
		d.Close()
		unix.Close(fds[1])
	})
	return d, fds[1]
}

// send is a Write function: one datagram, false when the socket has no room.
func send(msg []byte, errp *error) func(fd uintptr) bool {
	return func(fd uintptr) bool {
		_, err := unix.Write(int(fd), msg)
		if err == unix.EAGAIN {
			return false
		}
		*errp = err
		return true
	}
}

func TestDirectUntilWait(t *testing.T) {
	d, peer := pair(t)
	ran := false
	require.NoError(t, d.Control(func(uintptr) { ran = true }))
	assert.True(t, ran)
	var werr error
	require.NoError(t, d.Write(send([]byte("x"), &werr)))
	require.NoError(t, werr)
	assert.False(t, d.Registered(), "what completes at once stays out of the poller")

	go func() {
		time.Sleep(20 * time.Millisecond)
		unix.Write(peer, []byte("reply"))
	}()
	buf := make([]byte, 16)
	n := 0
	require.NoError(t, d.Read(func(fd uintptr) bool {
		var err error
		n, err = unix.Read(int(fd), buf)
		return err != unix.EAGAIN
	}))
	assert.Equal(t, "reply", string(buf[:n]))
	assert.True(t, d.Registered(), "a read waits in the poller")
	require.NoError(t, d.Control(func(uintptr) {}), "registered: through the poller's descriptor")
}

func TestWriteWaitsForRoom(t *testing.T) {
	d, peer := pair(t)
	var werr error
	for {
		_, err := unix.Write(peer, []byte("fill")) // fill the first end's receive queue
		if err == unix.EAGAIN {
			break
		}
		require.NoError(t, err)
	}
	// The peer's writes fill d's queue; d's own writes go to the peer, so fill that direction.
	msg := make([]byte, 1024)
	for {
		_, err := unix.Write(int(d.fd), msg)
		if err == unix.EAGAIN {
			break
		}
		require.NoError(t, err)
	}
	go func() {
		time.Sleep(20 * time.Millisecond)
		buf := make([]byte, 2048)
		for {
			if _, err := unix.Read(peer, buf); err != nil {
				return
			}
		}
	}()
	require.NoError(t, d.Write(send(msg, &werr)))
	require.NoError(t, werr)
	assert.True(t, d.Registered(), "a write that found no room waited in the poller")
}

func TestClose(t *testing.T) {
	for _, registered := range []bool{false, true} {
		d, _ := pair(t)
		fd := d.fd
		if registered {
			require.NoError(t, d.Register())
		}
		require.NoError(t, d.Close())
		require.NoError(t, d.Close(), "closing again")
		_, err := unix.FcntlInt(uintptr(fd), unix.F_GETFD, 0)
		assert.Equal(t, unix.EBADF, err, "the descriptor is closed (registered %v)", registered)
		assert.ErrorIs(t, d.Control(func(uintptr) { t.Error("ran on a closed descriptor") }), os.ErrClosed)
		var werr error
		assert.ErrorIs(t, d.Write(send([]byte("x"), &werr)), os.ErrClosed)
		assert.ErrorIs(t, d.Read(func(uintptr) bool { t.Error("ran on a closed descriptor"); return true }), os.ErrClosed)
		if !registered {
			assert.ErrorIs(t, d.Register(), os.ErrClosed)
			assert.False(t, d.Registered())
		}
	}
}

func TestCloseEndsRead(t *testing.T) {
	d, _ := pair(t)
	done := make(chan error)
	go func() {
		done <- d.Read(func(fd uintptr) bool {
			_, err := unix.Read(int(fd), make([]byte, 8))
			return err != unix.EAGAIN
		})
	}()
	require.Eventually(t, d.Registered, 5*time.Second, time.Millisecond)
	time.Sleep(10 * time.Millisecond)
	require.NoError(t, d.Close())
	select {
	case err := <-done:
		assert.ErrorIs(t, err, os.ErrClosed)
	case <-time.After(5 * time.Second):
		t.Fatal("Close did not end the read")
	}
}

// Direct uses, registration and Close race without touching a closed descriptor (run with
// -race).
func TestConcurrentUse(t *testing.T) {
	for round := range 50 {
		d, peer := pair(t)
		var wg sync.WaitGroup
		for range 4 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for range 20 {
					var werr error
					err := d.Write(send([]byte("x"), &werr))
					if err != nil {
						return
					}
					if err := d.Control(func(fd uintptr) {
						_, err := unix.FcntlInt(fd, unix.F_GETFD, 0)
						assert.NoError(t, err, "round %d: the descriptor is open while in use", round)
					}); err != nil && !errors.Is(err, os.ErrClosed) {
						assert.NoError(t, err)
					}
				}
			}()
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			d.Register()
		}()
		wg.Add(1)
		go func() {
			defer wg.Done()
			buf := make([]byte, 8)
			for {
				if _, err := unix.Read(peer, buf); err != nil {
					return
				}
			}
		}()
		if round%2 == 0 {
			d.Close()
		}
		wg.Wait()
	}
}

// An FD dropped unclosed before it joined the poller gives its descriptor back, as an
// os.File does.
func TestDroppedFDClosed(t *testing.T) {
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_DGRAM|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0)
	require.NoError(t, err)
	defer unix.Close(fds[1])
	New(fds[0], "dropped")
	require.Eventually(t, func() bool {
		runtime.GC()
		_, err := unix.FcntlInt(uintptr(fds[0]), unix.F_GETFD, 0)
		return err == unix.EBADF
	}, 5*time.Second, 10*time.Millisecond)
}

// A closed FD, once dropped, leaves alone the descriptor number that a later socket reuses.
func TestClosedFDNotClosedAgain(t *testing.T) {
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_DGRAM|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0)
	require.NoError(t, err)
	defer unix.Close(fds[1])
	d := New(fds[0], "closed")
	require.NoError(t, d.Close())
	d = nil
	reuse, err := unix.Socket(unix.AF_UNIX, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	require.NoError(t, err)
	defer unix.Close(reuse)
	if reuse != fds[0] {
		t.Skipf("descriptor %d not reused (got %d)", fds[0], reuse)
	}
	for range 5 {
		runtime.GC()
		time.Sleep(5 * time.Millisecond)
	}
	_, err = unix.FcntlInt(uintptr(reuse), unix.F_GETFD, 0)
	assert.NoError(t, err, "the reused descriptor is still open")
}
