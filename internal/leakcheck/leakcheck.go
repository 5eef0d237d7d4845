package leakcheck

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"
)

// DefaultGrace is how long Main waits for goroutines and descriptors to be released after the
// tests have run.
const DefaultGrace = 5 * time.Second

// pollEvery is the interval between two looks at the process while waiting.
const pollEvery = 10 * time.Millisecond

// persistent lists functions whose goroutines, once started, live as long as the process by
// design; a goroutine with one of them on its stack is not counted.
var persistent = []string{
	"os/signal.loop(",
	"os/signal.signal_recv(",
}

// Snapshot is what a process holds at one moment.
type Snapshot struct {
	// Goroutines is the number of goroutines, those in persistent left out.
	Goroutines int
	// FDs maps each open file descriptor to what it points to (a path, "socket:[N]",
	// "anon_inode:[eventpoll]" ...). It is nil where the system does not list descriptors.
	FDs map[int]string
	// stacks is the goroutine dump the count came from.
	stacks string
}

// Settling: before recording, Take waits for the goroutine count to stop falling, for up to
// settleMax, looking every settleStep; settleQuiet looks in a row without a fall end the wait.
const (
	settleMax   = 200 * time.Millisecond
	settleStep  = time.Millisecond
	settleQuiet = 5
)

// Take records the process's goroutines and file descriptors. It first makes the runtime open
// the descriptors it keeps for good (those of the network poller), so that their first use
// by a test does not look like a leak, and lets goroutines that are on their way out (those
// of a test that just ended) finish, so that the baseline does not count them.
func Take() Snapshot {
	warmPoller()
	s := take()
	deadline := time.Now().Add(settleMax)
	for quiet := 0; quiet < settleQuiet && time.Now().Before(deadline); {
		runtime.Gosched()
		time.Sleep(settleStep)
		n := take()
		if n.Goroutines < s.Goroutines {
			quiet = 0
		} else {
			quiet++
		}
		s = n
	}
	return s
}

func take() Snapshot {
	dump := goroutineDump()
	return Snapshot{Goroutines: countGoroutines(dump), FDs: openFDs(), stacks: dump}
}

// warmPoller makes the runtime set up its network poller, whose descriptors stay open for the
// life of the process.
func warmPoller() {
	r, w, err := os.Pipe()
	if err != nil {
		return
	}
	r.Close()
	w.Close()
}

// goroutineDump gives the stacks of every goroutine.
func goroutineDump() string {
	buf := make([]byte, 1<<16)
	for {
		n := runtime.Stack(buf, true)
		if n < len(buf) {
			return string(buf[:n])
		}
		buf = make([]byte, 2*len(buf))
	}
}

// countGoroutines counts the goroutines of a dump, leaving out the persistent ones.
func countGoroutines(dump string) int {
	n := 0
	for _, g := range strings.Split(dump, "\n\n") {
		if !strings.HasPrefix(g, "goroutine ") {
			continue
		}
		if slices.ContainsFunc(persistent, func(f string) bool { return strings.Contains(g, f) }) {
			continue
		}
		n++
	}
	return n
}

// Leak describes what a process still held after its grace period.
type Leak struct {
	// Base and Now are the goroutine counts at the baseline and at the end.
	Base, Now int
	// Stacks is the goroutine dump at the end, when goroutines leaked.
	Stacks string
	// FDs lists each leaked descriptor as "fd N -> target", in ascending order.
	FDs []string
}

func (l *Leak) Error() string {
	var parts []string
	if l.Now > l.Base {
		parts = append(parts, fmt.Sprintf("%d goroutine(s) leaked (%d at the baseline, %d now)", l.Now-l.Base, l.Base, l.Now))
	}
	if len(l.FDs) > 0 {
		parts = append(parts, fmt.Sprintf("%d file descriptor(s) leaked: %s", len(l.FDs), strings.Join(l.FDs, ", ")))
	}
	return "leakcheck: " + strings.Join(parts, "; ")
}

// Report writes the error and, when goroutines leaked, their stacks.
func (l *Leak) Report(w io.Writer) {
	fmt.Fprintln(w, l.Error())
	if l.Now > l.Base {
		fmt.Fprintf(w, "goroutines now:\n%s\n", l.Stacks)
	}
}

// leaked compares now against the baseline: it gives nil when nothing is left over.
func (base Snapshot) leaked(now Snapshot) *Leak {
	var fds []int
	for fd, target := range now.FDs {
		if was, ok := base.FDs[fd]; !ok || was != target {
			fds = append(fds, fd)
		}
	}
	if now.Goroutines <= base.Goroutines && len(fds) == 0 {
		return nil
	}
	slices.Sort(fds)
	l := &Leak{Base: base.Goroutines, Now: now.Goroutines}
	if now.Goroutines > base.Goroutines {
		l.Stacks = now.stacks
	}
	for _, fd := range fds {
		l.FDs = append(l.FDs, fmt.Sprintf("fd %d -> %s", fd, now.FDs[fd]))
	}
	return l
}

// Check waits up to grace for the process to come back to the baseline: no more goroutines
// than then, and no descriptor open that was not open then (or that now points elsewhere). It
// returns nil as soon as that holds, else a *Leak describing what is left.
func (base Snapshot) Check(grace time.Duration) error {
	deadline := time.Now().Add(grace)
	for {
		l := base.leaked(take())
		if l == nil {
			return nil
		}
		if !time.Now().Before(deadline) {
			return l
		}
		time.Sleep(pollEvery)
	}
}

// runner is what Run needs of a *testing.M.
type runner interface{ Run() int }

// Run runs the tests, then, if they passed, checks for leaks against a baseline taken before
// them, waiting up to grace. It returns the exit status: the tests', or 1 when something
// leaked, after writing what to w. Failed tests are not checked: a failing test often leaves
// its goroutines behind, and its own report says more.
func Run(m runner, grace time.Duration, w io.Writer) int {
	base := Take()
	code := m.Run()
	if code != 0 {
		return code
	}
	if err := base.Check(grace); err != nil {
		var buf bytes.Buffer
		err.(*Leak).Report(&buf)
		w.Write(buf.Bytes())
		return 1
	}
	return 0
}

// Main is a whole TestMain: it runs m's tests, checks for leaks with DefaultGrace, and exits
// with the status. Processes that a test starts from the same binary (internal/lab's
// children) run their tests through it as well and are checked in the same way.
func Main(m *testing.M) {
	os.Exit(Run(m, DefaultGrace, os.Stderr))
}
