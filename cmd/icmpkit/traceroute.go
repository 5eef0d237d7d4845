package main

import (
	"bufio"
	"context"
	"fmt"
	"math"
	"net/netip"
	"strconv"
	"time"

	"github.com/icmpkit/icmpkit"
	"github.com/icmpkit/icmpkit/cmd/icmpkit/internal/getopt"
	"github.com/icmpkit/icmpkit/probe"
	"github.com/icmpkit/icmpkit/result"
	"github.com/icmpkit/icmpkit/transport"
)

// traceroute(8)'s packet lengths, IP header included: its default data is 40 bytes after the
// IP header (an 8-byte ICMP header and 32 bytes of payload), and it takes no more than 65000.
const (
	traceDataLen   = 40
	maxTracePacket = 65000
)

// traceFlags are traceroute's options.
type traceFlags struct {
	probes, first, last, tclass, window int
	timeout, wait                       time.Duration
	waitSet                             bool // -z was given
	fast, asJSON, paris, pmtu           bool
	numeric, extensions, icmp           bool
	source, iface                       string
	nf                                  netFlags
}

func (f *traceFlags) define(c *command) {
	c.intVar(&f.probes, "q|queries", "N", probe.DefaultTraceCount, 1, 255, "probes per hop")
	c.intVar(&f.first, "f|first", "N", 1, 1, 255, "first TTL")
	c.intVar(&f.last, "m|max-hops", "N", probe.DefaultMaxHops, 1, 255, "max TTL")
	c.intVar(&f.window, "N|sim-queries", "N", probe.DefaultTraceWindow, 1, math.MaxInt, "probes in flight at once, over all hops")
	c.secondsVar(&f.timeout, "W", probe.DefaultTimeout, false, "time to wait for each probe")
	c.secondsVar(&f.timeout, "w|wait", probe.DefaultTimeout, false, "the same as -W, as traceroute(8) spells it (MAX alone)")
	c.define("z", "SEC", "interval between probes (0: none; --fast without -z waits 0.05, icmplib's)",
		getopt.Seen{Value: &secondsValue{&f.wait, true}, Seen: &f.waitSet}, false)
	c.tosVar(&f.tclass, "Q", "traffic class (DS field / TOS byte), decimal or 0x hex")
	c.tosVar(&f.tclass, "t|tos", "the same as -Q, as traceroute(8) spells it")
	c.boolVar(&f.numeric, "n", false, "show addresses alone, without looking up their names")
	c.boolVar(&f.extensions, "e|extensions", false, "show ICMP extensions: RFC 4950 MPLS label stacks")
	f.nf.defineSource(c)
	c.stringVar(&f.source, "s|source", "ADDR", "source address (as -I ADDR)")
	c.stringVar(&f.iface, "i|interface", "IFNAME", "interface to send through (as -I IFNAME)")
	f.nf.defineFamily(c)
	f.nf.defineMode(c)
	c.boolVar(&f.icmp, "icmp", false, "traceroute(8)'s switch to ICMP echo probes, which icmpkit always sends")
	c.boolVar(&f.fast, "fast", false, "icmplib's fast mode: stop probing a hop once it answered")
	c.boolVar(&f.paris, "paris", false, "keep one flow identity for every probe, so per-flow load balancers keep one path")
	c.boolVar(&f.pmtu, "pmtu", false, "discover the path MTU as tracepath does, and show it where it changes")
	c.boolVar(&f.asJSON, "json", false, `print one JSON object {"destination", "reached", "hops"} and nothing else on stdout`)
}

// interval is the library's interval between probes. Fast mode stops probing a hop once it
// answered, which it can do only if the hop's probes do not all leave at once: without -z,
// it keeps icmplib's interval.
func (f *traceFlags) interval() time.Duration {
	if f.fast && !f.waitSet {
		return probe.DefaultTraceInterval
	}
	return interval(f.wait)
}

// edge gives where to send from: -I, or -s and -i.
func (f *traceFlags) edge() (edge, error) {
	if f.source != "" {
		if f.nf.source != "" {
			return edge{}, fmt.Errorf("-s and -I exclude each other")
		}
		a, err := netip.ParseAddr(f.source)
		switch {
		case err != nil:
			return edge{}, fmt.Errorf("-s %q is not an address", f.source)
		case f.nf.v4 && !a.Unmap().Is4():
			return edge{}, fmt.Errorf("-s %s is not an IPv4 address", f.source)
		case f.nf.v6 && !a.Is6():
			return edge{}, fmt.Errorf("-s %s is not an IPv6 address", f.source)
		}
		f.nf.source = f.source
	}
	ed, err := f.nf.edge()
	if err != nil || f.iface == "" {
		return ed, err
	}
	if _, err := netip.ParseAddr(f.iface); err == nil {
		return ed, fmt.Errorf("-i %s is an address, not an interface name (-s takes an address)", f.iface)
	}
	named, err := (&netFlags{source: f.iface}).edge()
	switch {
	case err != nil:
		return ed, fmt.Errorf("-i %q is not an interface name", f.iface)
	case ed.iface != "" && ed.iface != named.iface:
		return ed, fmt.Errorf("-i and -I name different interfaces")
	}
	ed.iface = named.iface
	return ed, nil
}

func runTraceroute(ctx context.Context, args []string, e *env) int {
	var f traceFlags
	c := newCommand("traceroute", "HOST [PACKETLEN]", "List the routers on the path to HOST, as traceroute(8) -I does, probing with ICMP echo requests\n"+
		"of PACKETLEN bytes, IP header included (traceroute(8)'s default: 60 for IPv4, 80 for IPv6).")
	f.define(c)
	if code, done := c.parse(args, e); done {
		return code
	}
	if len(c.operands) < 1 || len(c.operands) > 2 {
		return c.usageError(e, fmt.Sprintf("needs a HOST and at most a PACKETLEN, got %d arguments", len(c.operands)))
	}
	host := c.operands[0]
	packetLen := -1 // traceroute(8)'s default
	if len(c.operands) == 2 {
		n, err := strconv.Atoi(c.operands[1])
		if err != nil || n < 0 || n > maxTracePacket {
			return c.usageError(e, fmt.Sprintf("invalid packet length %q: must be in 0..%d", c.operands[1], maxTracePacket))
		}
		packetLen = n
	}
	ed, err := f.edge()
	if err != nil {
		return c.usageError(e, err.Error())
	}
	opts := icmpkit.TraceOptions{
		Count: f.probes, FirstHop: f.first, MaxHops: f.last, Timeout: f.timeout, Interval: f.interval(),
		Window: f.window, TrafficClass: f.tclass, Fast: f.fast, Family: ed.family, Source: ed.source,
		Paris: f.paris, PathMTU: f.pmtu,
	}
	if err := opts.Validate(netip.Addr{}); err != nil {
		return e.fail("traceroute", err)
	}
	dst, err := icmpkit.Resolve(ctx, host, ed.family)
	if err != nil {
		return e.fail("traceroute", err)
	}
	size := tracePacket(&opts, dst, packetLen)
	if err := opts.Validate(dst); err != nil {
		return e.fail("traceroute", err)
	}
	t, code := e.openTransport("traceroute", ed.mode, ed.config(familyOf(dst)), false)
	if t == nil {
		return code
	}
	defer t.Close()
	opts.Transport = t

	if f.asJSON {
		trace, err := icmpkit.Traceroute(ctx, dst.String(), &opts)
		if err != nil && (trace == nil || !interrupted(ctx, err)) {
			return e.fail("traceroute", err)
		}
		out := bufio.NewWriter(e.stdout)
		out.Write(append(trace.AppendJSON(nil), '\n'))
		out.Flush()
		return traceStatus(trace)
	}

	out := bufio.NewWriter(e.stdout)
	fmt.Fprintf(out, "traceroute to %s (%s), %d hops max, %d byte packets\n", host, dst, f.last, size)
	out.Flush()
	var nm *names
	if !f.numeric {
		nm = newNames(ctx, e.look().name, lookupTimeout)
	}
	outs := make([][]probe.TraceOutcome, f.last-f.first+1)
	p := newTracePrinter(out, nm, f.probes, f.extensions, len(outs))
	refused := false // a Destination Unreachable came, which ends the trace
	opts.OnProbe = func(o probe.TraceOutcome) {
		if d := o.Distance - f.first; d >= 0 && d < len(outs) {
			outs[d] = append(outs[d], o)
		}
		if !o.TimedOut && o.Reply.Kind() == transport.KindDestinationUnreachable {
			refused = true
		}
		if nm != nil && !o.TimedOut {
			nm.start(o.Reply.Source)
		}
	}
	next := f.first // the next distance to print
	shownMTU := 0   // with --pmtu, the path MTU last shown
	// show has h's line printed, after the line of each silent distance before it.
	show := func(h *result.Hop) {
		if h.Distance < next {
			return
		}
		for ; next < h.Distance; next++ {
			p.print(next, outs[next-f.first], 0)
		}
		mtu := 0
		if h.MTU != shownMTU {
			mtu, shownMTU = h.MTU, h.MTU
		}
		p.print(h.Distance, outs[h.Distance-f.first], mtu)
		next++
	}
	opts.OnHop = func(h result.Hop) { show(&h) }
	trace, err := icmpkit.Traceroute(ctx, dst.String(), &opts)
	if err != nil && (trace == nil || !interrupted(ctx, err)) {
		p.close()
		return e.fail("traceroute", err)
	}
	for i := range trace.Hops {
		show(&trace.Hops[i])
	}
	// The trace ends at the destination or at a Destination Unreachable (of any code, marked
	// or not); otherwise every distance up to -m was probed, and the silent ones get their
	// stars.
	if !trace.Reached && !refused && ctx.Err() == nil {
		for ; next <= f.last; next++ {
			p.print(next, outs[next-f.first], 0)
		}
	}
	p.close()
	return traceStatus(trace)
}

func traceStatus(trace *result.Trace) int {
	if trace.Reached {
		return exitOK
	}
	return exitFail
}

// tracePacket sets the payload of the probes for a packet of packetLen bytes to dst, IP
// header included (-1: traceroute(8)'s default), and gives the size the probes have: no less
// than their headers, two bytes more with --paris, and with --pmtu the first probes' size.
func tracePacket(opts *icmpkit.TraceOptions, dst netip.Addr, packetLen int) int {
	header := 20 + 8
	if dst.Is6() {
		header = 40 + 8
	}
	data := traceDataLen - 8
	if packetLen >= 0 {
		data = max(packetLen-header, 0)
	}
	if opts.Paris {
		data = max(data, 2)
	}
	opts.Payload, opts.PayloadSize = payload(data)
	if opts.PathMTU {
		return 1500
	}
	return header + data
}

// tracePrinter prints the lines of a trace, in order, from a goroutine of its own: a line
// waits there for its responders' names, which were looked up since their first answer,
// while probing goes on.
type tracePrinter struct {
	out    *bufio.Writer
	names  *names // nil: addresses alone
	probes int
	ext    bool
	lines  chan traceLine
	done   chan struct{}
}

// newTracePrinter starts printing lines: at most lines of them, so that print never waits.
func newTracePrinter(out *bufio.Writer, nm *names, probes int, ext bool, lines int) *tracePrinter {
	p := &tracePrinter{out: out, names: nm, probes: probes, ext: ext,
		lines: make(chan traceLine, lines), done: make(chan struct{})}
	go p.run()
	return p
}

// print has the line of distance dist printed, from its probes' outcomes.
func (p *tracePrinter) print(dist int, outs []probe.TraceOutcome, pmtu int) {
	p.lines <- traceLine{dist: dist, slots: traceSlots(outs, p.probes, p.ext), pmtu: pmtu}
}

func (p *tracePrinter) run() {
	defer close(p.done)
	var named func(netip.Addr) string
	if p.names != nil {
		named = p.names.get
	}
	for l := range p.lines {
		writeTraceLine(p.out, &l, named)
		p.out.Flush()
	}
}

// close waits for every line to be printed and every lookup to end.
func (p *tracePrinter) close() {
	close(p.lines)
	<-p.done
	if p.names != nil {
		p.names.close()
	}
}
