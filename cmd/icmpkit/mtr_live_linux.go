package main

import (
	"context"
	"net/netip"
	"os"
	"os/signal"
	"time"

	"golang.org/x/sys/unix"

	"github.com/icmpkit/icmpkit/probe"
	"github.com/icmpkit/icmpkit/result"
)

// liveTerminal reports whether stdin is a terminal too: the live view reads its keys there.
func (e *env) liveTerminal() bool {
	f, ok := e.stdin.(*os.File)
	return ok && isTerminal(f)
}

// runMtrLive runs the live view until q, Ctrl-C, or with -c the last cycle: the terminal in
// the alternate screen with its cursor hidden, keys read one at a time without echo, and
// everything as it was before on the way out.
func runMtrLive(ctx context.Context, e *env, f *mtrFlags, targets []*mtrTarget, opts func(netip.Addr) *probe.MonitorOptions) int {
	in := e.stdin.(*os.File)
	fd := int(in.Fd())
	saved, err := unix.IoctlGetTermios(fd, unix.TCGETS)
	if err != nil {
		return runMtrReport(ctx, e, f, targets, opts)
	}
	raw := *saved
	// Keys arrive one at a time, unechoed; Ctrl-C still interrupts (ISIG stays).
	raw.Lflag &^= unix.ICANON | unix.ECHO
	raw.Cc[unix.VMIN], raw.Cc[unix.VTIME] = 1, 0
	if err := unix.IoctlSetTermios(fd, unix.TCSETS, &raw); err != nil {
		return runMtrReport(ctx, e, f, targets, opts)
	}
	out := e.stdout
	out.Write([]byte("\x1b[?1049h\x1b[?25l"))
	defer func() {
		out.Write([]byte("\x1b[?25h\x1b[?1049l"))
		unix.IoctlSetTermios(fd, unix.TCSETS, saved)
	}()

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	local, _ := os.Hostname()
	v := &mtrView{f: f, targets: targets, local: local, numeric: f.numeric && !f.both,
		paths: make([]*result.Path, len(targets)), errs: make([]error, len(targets))}
	if !f.numeric || f.both {
		v.names = newNames(ctx, e.look().name, lookupTimeout)
		defer v.names.close()
	}
	g := newMtrGate(ctx)
	updates := make(chan struct{}, 1)
	update := func() {
		select {
		case updates <- struct{}{}:
		default:
		}
	}
	monitors := make(chan struct{})
	go func() {
		defer close(monitors)
		v.runMonitors(ctx, g, opts, update)
	}()
	defer func() { cancel(); <-monitors }()

	keys := make(chan byte, 16)
	go func() {
		b := make([]byte, 16)
		for {
			n, err := in.Read(b)
			for _, c := range b[:n] {
				keys <- c
			}
			if err != nil {
				return
			}
		}
	}()
	winch := make(chan os.Signal, 1)
	signal.Notify(winch, unix.SIGWINCH)
	defer signal.Stop(winch)
	tick := time.NewTicker(time.Second)
	defer tick.Stop()

	width := func() int {
		if ws, err := unix.IoctlGetWinsize(int(os.Stdout.Fd()), unix.TIOCGWINSZ); err == nil && ws.Col > 0 {
			return int(ws.Col)
		}
		return 80
	}
	w := width()
	draw := func() { out.Write(screen(v.render(w, time.Now()))) }
	out.Write([]byte("\x1b[2J"))
	draw()
	for {
		select {
		case <-ctx.Done():
			return exitOK
		case <-updates:
			draw()
			if v.done() {
				return exitOK
			}
		case <-tick.C:
			draw()
		case <-winch:
			w = width()
			out.Write([]byte("\x1b[2J"))
			draw()
		case c := <-keys:
			if v.key(ctx, c, g) {
				return exitOK
			}
			draw()
		}
	}
}
