package main

import (
	"bufio"
	"context"
	"fmt"
	"net/netip"
	"time"

	"github.com/icmpkit/icmpkit"
	"github.com/icmpkit/icmpkit/probe"
	"github.com/icmpkit/icmpkit/result"
)

func runTraceroute(ctx context.Context, args []string, e *env) int {
	var (
		probes, first, last, tclass int
		timeout, wait               time.Duration
		fast, asJSON, paris, pmtu   bool
		nf                          netFlags
	)
	c := newCommand("traceroute", "HOST", "List the routers on the path to HOST, as traceroute(8), probing with ICMP echo requests.")
	c.intVar(&probes, "q", "N", probe.DefaultTraceCount, 1, 255, "probes per hop")
	c.intVar(&first, "f", "N", 1, 1, 255, "first TTL")
	c.intVar(&last, "m", "N", probe.DefaultMaxHops, 1, 255, "max TTL")
	c.secondsVar(&timeout, "W", probe.DefaultTimeout, false, "time to wait for each probe")
	c.secondsVar(&wait, "z", probe.DefaultTraceInterval, true, "interval between probes (0: no wait)")
	c.intVar(&tclass, "Q", "N", 0, 0, 255, "traffic class (DS field / TOS byte)")
	nf.defineSource(c)
	nf.defineFamily(c)
	nf.defineMode(c)
	c.boolVar(&fast, "fast", false, "icmplib's fast mode: stop probing a hop once it answered")
	c.boolVar(&paris, "paris", false, "keep one flow identity for every probe, so per-flow load balancers keep one path")
	c.boolVar(&pmtu, "pmtu", false, "discover the path MTU as tracepath does, and show it where it changes")
	c.boolVar(&asJSON, "json", false, `print one JSON object {"destination", "reached", "hops"} and nothing else on stdout`)
	if code, done := c.parse(args, e); done {
		return code
	}
	if len(c.operands) != 1 {
		return c.usageError(e, fmt.Sprintf("needs exactly one HOST, got %d arguments", len(c.operands)))
	}
	host := c.operands[0]
	ed, err := nf.edge()
	if err != nil {
		return c.usageError(e, err.Error())
	}
	opts := icmpkit.TraceOptions{
		Count: probes, FirstHop: first, MaxHops: last, Timeout: timeout, Interval: interval(wait),
		TrafficClass: tclass, Fast: fast, Family: ed.family, Source: ed.source,
		Paris: paris, PathMTU: pmtu,
	}
	if err := opts.Validate(netip.Addr{}); err != nil {
		return e.fail("traceroute", err)
	}
	dst, err := icmpkit.Resolve(ctx, host, ed.family)
	if err != nil {
		return e.fail("traceroute", err)
	}
	if err := opts.Validate(dst); err != nil {
		return e.fail("traceroute", err)
	}
	t, code := e.openTransport("traceroute", ed.mode, ed.config(familyOf(dst)), false)
	if t == nil {
		return code
	}
	defer t.Close()
	opts.Transport = t

	out := bufio.NewWriter(e.stdout)
	defer out.Flush()
	next := first // the next distance to print
	shownMTU := 0 // with --pmtu, the path MTU last shown
	// show prints h's line, after a line of stars for each silent distance before it.
	show := func(h *result.Hop) {
		if h.Distance < next {
			return
		}
		for ; next < h.Distance; next++ {
			writeSilentLine(out, next, probes)
		}
		mtu := 0
		if h.MTU != shownMTU {
			mtu, shownMTU = h.MTU, h.MTU
		}
		writeHopLine(out, h, mtu)
		next++
		out.Flush()
	}
	if !asJSON {
		header := 20 + 8 + probe.DefaultPayloadSize
		if dst.Is6() {
			header += 20
		}
		fmt.Fprintf(out, "traceroute to %s (%s), %d hops max, %d byte packets\n", host, dst, last, header)
		out.Flush()
		opts.OnHop = func(h result.Hop) { show(&h) }
	}
	trace, err := icmpkit.Traceroute(ctx, dst.String(), &opts)
	if err != nil && (trace == nil || !interrupted(ctx, err)) {
		out.Flush()
		return e.fail("traceroute", err)
	}
	if asJSON {
		out.Write(append(trace.AppendJSON(nil), '\n'))
	} else {
		for i := range trace.Hops {
			show(&trace.Hops[i])
		}
		// The trace ends at the destination or at a Destination Unreachable; otherwise
		// every distance up to -m was probed, and the silent ones get their stars.
		ended := len(trace.Hops) > 0 && trace.Hops[len(trace.Hops)-1].Unreachable != ""
		if !trace.Reached && !ended && ctx.Err() == nil {
			for ; next <= last; next++ {
				writeSilentLine(out, next, probes)
			}
		}
	}
	if trace.Reached {
		return exitOK
	}
	return exitFail
}
