package leakcheck

import (
	"bytes"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"testing"
	"time"

	"github.com/icmpkit/icmpkit/internal/lab"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestMain runs the tests, as root, in a network namespace of their own (lab.Isolate), and
// checks them with Main.
func TestMain(m *testing.M) { lab.Isolate(); Main(m) }

// parkedLeaker blocks until release is closed: a goroutine a test forgot. It closes started
// once running and exited as it returns.
func parkedLeaker(release, started, exited chan struct{}) {
	defer close(exited)
	close(started)
	<-release
}

func TestCatchesGoroutineLeak(t *testing.T) {
	base := Take()
	release, started, exited := make(chan struct{}), make(chan struct{}), make(chan struct{})
	go parkedLeaker(release, started, exited)
	<-started

	err := base.Check(50 * time.Millisecond)
	require.Error(t, err, "a parked goroutine must be reported")
	var l *Leak
	require.ErrorAs(t, err, &l)
	assert.Equal(t, base.Goroutines+1, l.Now, "goroutines now")
	assert.Contains(t, l.Stacks, "parkedLeaker", "the dump shows the leaked goroutine")
	assert.Contains(t, err.Error(), "1 goroutine(s) leaked")

	close(release)
	<-exited
	require.NoError(t, base.Check(5*time.Second), "back to the baseline once it returns")
}

func TestGraceLetsGoroutinesFinish(t *testing.T) {
	base := Take()
	done := make(chan struct{})
	go func() {
		time.Sleep(100 * time.Millisecond)
		close(done)
	}()
	require.NoError(t, base.Check(5*time.Second), "a goroutine ending within the grace period is no leak")
	<-done
}

func TestCatchesFDLeak(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("descriptors are listed on Linux only")
	}
	base := Take()
	require.NotEmpty(t, base.FDs, "the baseline lists at least stdin, stdout and stderr")

	path := filepath.Join(t.TempDir(), "forgotten")
	f, err := os.Create(path)
	require.NoError(t, err)
	conn, err := net.ListenPacket("udp", "127.0.0.1:0")
	require.NoError(t, err)

	err = base.Check(50 * time.Millisecond)
	require.Error(t, err, "an open file and an open socket must be reported")
	var l *Leak
	require.ErrorAs(t, err, &l)
	require.Len(t, l.FDs, 2, "leaked descriptors: %v", l.FDs)
	assert.Contains(t, err.Error(), "-> "+path)
	assert.Contains(t, err.Error(), "-> socket:[")
	assert.Equal(t, base.Goroutines, l.Now, "no goroutine leaked")
	assert.Empty(t, l.Stacks, "no dump without leaked goroutines")

	require.NoError(t, f.Close())
	require.NoError(t, conn.Close())
	require.NoError(t, base.Check(5*time.Second), "back to the baseline once closed")
}

func TestCatchesReusedDescriptor(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("descriptors are listed on Linux only")
	}
	dir := t.TempDir()
	a, err := os.Create(filepath.Join(dir, "a"))
	require.NoError(t, err)
	base := Take()
	// The same number now pointing to another file is a leak all the same.
	fd := int(a.Fd())
	require.NoError(t, a.Close())
	b, err := os.Create(filepath.Join(dir, "b"))
	require.NoError(t, err)
	defer b.Close()
	require.Equal(t, fd, int(b.Fd()), "the kernel reuses the lowest free descriptor")
	err = base.Check(20 * time.Millisecond)
	require.Error(t, err)
	assert.Contains(t, err.Error(), filepath.Join(dir, "b"))
}

// fakeM stands in for *testing.M.
type fakeM struct {
	code int
	run  func()
}

func (m fakeM) Run() int {
	if m.run != nil {
		m.run()
	}
	return m.code
}

func TestRun(t *testing.T) {
	release, exited := make(chan struct{}), make(chan struct{})
	defer func() {
		// The next test's baseline must not count it.
		close(release)
		<-exited
	}()
	tests := []struct {
		name    string
		m       fakeM
		want    int
		reports string
	}{
		{name: "clean", m: fakeM{}, want: 0},
		{name: "failed tests keep their status", m: fakeM{code: 3}, want: 3},
		{name: "leaked goroutine", want: 1, reports: "parkedLeaker", m: fakeM{run: func() {
			started := make(chan struct{})
			go parkedLeaker(release, started, exited)
			<-started
		}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out bytes.Buffer
			assert.Equal(t, tt.want, Run(tt.m, 50*time.Millisecond, &out))
			if tt.reports == "" {
				assert.Empty(t, out.String())
			} else {
				assert.Contains(t, out.String(), "goroutine(s) leaked")
				assert.Contains(t, out.String(), tt.reports)
			}
		})
	}
}

func TestPersistentGoroutinesAreNotCounted(t *testing.T) {
	dump := "goroutine 1 [running]:\nmain.main()\n\n" +
		"goroutine 7 [syscall]:\nos/signal.signal_recv()\n\truntime/sigqueue.go:152\nos/signal.loop()\n\n" +
		"goroutine 9 [chan receive]:\nexample.com/x.worker(0x0)\n"
	assert.Equal(t, 2, countGoroutines(dump))
}
