package main

import (
	"context"
	"fmt"
	"net/netip"
	"strings"
	"sync"
	"time"

	"github.com/icmpkit/icmpkit/probe"
	"github.com/icmpkit/icmpkit/result"
)

// The live view: one block per target, redrawn after every cycle, with plain ANSI escapes.
// The terminal itself (raw mode, size, resize signals) is set up by the system's part
// (mtr_live_linux.go).

// mtrKeys is the live view's help line.
const mtrKeys = "Keys: q quit  p pause  r reset  n names  d display"

// mtrView is what the live view shows.
type mtrView struct {
	f       *mtrFlags
	targets []*mtrTarget
	local   string
	names   *names

	mu      sync.Mutex
	paths   []*result.Path
	errs    []error
	paused  bool
	numeric bool
	mode    int // 0: statistics; 1: the recent RTTs of each hop
}

// mtrGate holds the monitors while the view is paused, and restarts them on reset.
type mtrGate struct {
	mu      sync.Mutex
	paused  bool
	resume  chan struct{} // closed when unpaused
	gen     int
	cancel  context.CancelFunc
	genCtx  context.Context
	changed chan struct{} // closed when gen changes
}

func newMtrGate(ctx context.Context) *mtrGate {
	g := &mtrGate{resume: make(chan struct{}), changed: make(chan struct{})}
	close(g.resume)
	g.genCtx, g.cancel = context.WithCancel(ctx)
	return g
}

// current gives the generation's number and context: a reset ends the context.
func (g *mtrGate) current() (int, context.Context, chan struct{}) {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.gen, g.genCtx, g.changed
}

func (g *mtrGate) reset(ctx context.Context) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.cancel()
	g.gen++
	g.genCtx, g.cancel = context.WithCancel(ctx)
	close(g.changed)
	g.changed = make(chan struct{})
}

func (g *mtrGate) setPaused(p bool) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if p == g.paused {
		return
	}
	g.paused = p
	if p {
		g.resume = make(chan struct{})
	} else {
		close(g.resume)
	}
}

// wait blocks while paused, until ctx ends.
func (g *mtrGate) wait(ctx context.Context) {
	g.mu.Lock()
	ch := g.resume
	g.mu.Unlock()
	select {
	case <-ch:
	case <-ctx.Done():
	}
}

// runMonitors runs every target's monitor until ctx ends (or, with -c, its cycles are done),
// restarting it on reset, and calls update after every cycle. It returns once every monitor
// has ended.
func (v *mtrView) runMonitors(ctx context.Context, g *mtrGate, opts func(netip.Addr) *probe.MonitorOptions, update func()) {
	var wg sync.WaitGroup
	for i, tg := range v.targets {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil {
				gen, gctx, changed := g.current()
				finished := false
				for p, err := range tg.pr.Monitor(gctx, tg.dst, opts(tg.dst)) {
					v.mu.Lock()
					if gen2, _, _ := g.current(); gen2 == gen {
						v.paths[i], v.errs[i] = p, err
					}
					v.mu.Unlock()
					if p != nil && v.names != nil {
						for _, h := range p.Hops {
							for _, r := range h.Responders {
								v.names.start(r.Address)
							}
						}
					}
					update()
					if err != nil {
						break
					}
					g.wait(gctx)
				}
				if gctx.Err() == nil {
					finished = true
				}
				if finished {
					// Done with its cycles, or failed: wait for a reset or the end.
					select {
					case <-changed:
						continue
					case <-ctx.Done():
						return
					}
				}
			}
		}()
	}
	wg.Wait()
}

// done reports whether every monitor ran its -c cycles.
func (v *mtrView) done() bool {
	if v.f.cycles == 0 {
		return false
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	for _, p := range v.paths {
		if p == nil || p.Cycles < v.f.cycles {
			return false
		}
	}
	return true
}

// host names a responder as the view shows it.
func (v *mtrView) host(a netip.Addr) string {
	if !a.IsValid() {
		return "???"
	}
	if v.numeric || v.names == nil {
		return a.String()
	}
	name := v.names.peek(a)
	switch {
	case name == "":
		return a.String()
	case v.f.both:
		return name + " (" + a.String() + ")"
	}
	return name
}

// render gives the screen's lines for a terminal of the given width.
func (v *mtrView) render(width int, now time.Time) []string {
	v.mu.Lock()
	defer v.mu.Unlock()
	var lines []string
	add := func(s string) {
		if width > 0 && len(s) > width {
			s = s[:width]
		}
		lines = append(lines, s)
	}
	title := "icmpkit mtr"
	right := v.local + " (" + now.Format("2006-01-02T15:04:05-0700") + ")"
	add(title + strings.Repeat(" ", max(1, width-len(title)-len(right))) + right)
	status := mtrKeys
	if v.paused {
		status += "   [paused]"
	}
	add(status)
	hostWidth := max(24, min(width-71, 48))
	for i, tg := range v.targets {
		add("")
		p := v.paths[i]
		cycles := 0
		if p != nil {
			cycles = p.Cycles
		}
		head := fmt.Sprintf("%s (%s)  cycle %d", tg.host, tg.dst, cycles)
		if err := v.errs[i]; err != nil {
			head += "  error: " + err.Error()
		}
		add(head)
		if v.mode == 0 {
			add(fmt.Sprintf("     %-*s %6s %5s %6s %6s %6s %6s %6s %5s %5s %5s %4s", hostWidth, "Host", "Loss%", "Snt", "Last", "Avg", "Best", "Wrst", "StDev", "Javg", "Jmax", "Lim", "Dup"))
		} else {
			add(fmt.Sprintf("     %-*s %s", hostWidth, "Host", "recent RTTs, oldest first (0 best .. 9 worst of the hop)"))
		}
		if p == nil {
			continue
		}
		for j := range p.Hops {
			h := &p.Hops[j]
			name := v.host(h.Address)
			if len(name) > hostWidth {
				name = name[:hostWidth]
			}
			mark := " "
			if h.Uncertain && h.Sent > 0 {
				mark = "?"
			}
			if v.mode == 0 {
				add(fmt.Sprintf("%3d. %-*s %5.1f%%%s%5d %6.1f %6.1f %6.1f %6.1f %6.1f %5.1f %5.1f %5d %4d", h.Distance, hostWidth, name,
					100*h.Loss, mark, h.Sent, mtrMS(h.Last), mtrMS(h.Stats.Avg()), mtrMS(h.Stats.Min()), mtrMS(h.Stats.Max()),
					mtrMS(h.Stats.StdDev()), mtrMS(h.Stats.Jitter()), mtrMS(h.JitterWorst), h.RateLimited, h.Duplicates))
			} else {
				add(fmt.Sprintf("%3d. %-*s %s", h.Distance, hostWidth, name, mtrSpark(h)))
			}
			if v.f.mpls {
				for _, l := range h.MPLS {
					add(fmt.Sprintf("       [MPLS: Lbl %d TC %d S %d TTL %d]", l.Label, l.TC, boolInt(l.S), l.TTL))
				}
			}
			for _, x := range h.Responders {
				if x.Address != h.Address {
					add("     " + v.host(x.Address))
				}
			}
		}
	}
	add("")
	add(fmt.Sprintf("Loss%%: the path's estimated loss up to the hop; Lim: answers rate limits withheld; Dup: duplicate answers; ?: fewer than %d probes", result.MinLossSamples))
	return lines
}

// mtrSpark draws a hop's recent RTTs, each as a digit from 0 (its best) to 9 (its worst).
func mtrSpark(h *result.PathHop) string {
	lo, hi := h.Stats.Min(), h.Stats.Max()
	var b strings.Builder
	for _, r := range h.Recent {
		d := 0
		if hi > lo {
			d = int(9 * (r - lo) / (hi - lo))
		}
		b.WriteByte(byte('0' + min(max(d, 0), 9)))
	}
	return b.String()
}

// key handles a key press; it reports whether to quit.
func (v *mtrView) key(ctx context.Context, c byte, g *mtrGate) (quit bool) {
	switch c {
	case 'q', 'Q':
		return true
	case 'p', 'P':
		v.mu.Lock()
		v.paused = !v.paused
		p := v.paused
		v.mu.Unlock()
		g.setPaused(p)
	case 'r', 'R':
		v.mu.Lock()
		for i := range v.paths {
			v.paths[i], v.errs[i] = nil, nil
		}
		v.mu.Unlock()
		g.reset(ctx)
	case 'n', 'N':
		v.mu.Lock()
		v.numeric = !v.numeric
		v.mu.Unlock()
	case 'd', 'D':
		v.mu.Lock()
		v.mode = (v.mode + 1) % 2
		v.mu.Unlock()
	}
	return false
}

// screen gives the bytes that draw lines over the whole screen: from the top left, each line
// cleared to its end, the rest of the screen cleared.
func screen(lines []string) []byte {
	b := []byte("\x1b[H")
	for i, l := range lines {
		if i > 0 {
			b = append(b, "\r\n"...)
		}
		b = append(b, l...)
		b = append(b, "\x1b[K"...)
	}
	return append(b, "\x1b[J"...)
}

// peek gives a's name if its lookup (started now if need be) is done, else "".
func (n *names) peek(a netip.Addr) string {
	nm := n.start(a)
	select {
	case <-nm.done:
		return nm.s
	default:
		return ""
	}
}
