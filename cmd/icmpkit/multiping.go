package main

import (
	"bufio"
	"context"
	"iter"
	"net/netip"

	"github.com/icmpkit/icmpkit"
	"github.com/icmpkit/icmpkit/errors"
	"github.com/icmpkit/icmpkit/probe"
)

func runMultiping(ctx context.Context, args []string, e *env) int {
	var f pingFlags
	var rate float64
	var showProgress bool
	tg := newTargets(e.stdin)
	defer tg.close()
	c := newCommand("multiping", "HOST...", "Ping many hosts at once and print one line (or one JSON object) a host, in input order, as fping -q.\n"+
		"Targets are the HOSTs, every address of -g prefixes and the lines of -f files, in command-line order.")
	f.define(c, probe.DefaultMultipingCount, true)
	c.floatVar(&rate, "rate", "PPS", 0, "requests per second over all hosts (0: as fast as the host allows)")
	c.value(prefixFlag{tg}, "g", "CIDR", "every address of the prefix (IPv4 shorter than /31: but network and broadcast); repeatable")
	c.value(fileFlag{tg}, "f", "FILE", "targets from FILE, one a line (- for stdin); repeatable")
	c.boolVar(&showProgress, "progress", e.stderrTerminal, "progress bar on stderr (on when stderr is a terminal)")
	c.boolVar(&f.asJSON, "json", false, "print JSON Lines: one Host object a line")
	var quiet bool
	c.boolVar(&quiet, "q", false, "print only the summaries, one a host (multiping always does; accepted as ping takes it)")
	if code, done := c.parse(args, e); done {
		return code
	}
	if len(tg.sources) == 0 && len(c.operands) == 0 {
		return c.usageError(e, "no targets: give HOSTs, -g CIDR or -f FILE")
	}
	if err := f.check(); err != nil {
		return c.usageError(e, err.Error())
	}
	// The arguments are resolved before anything is sent, so that a bad one fails the run
	// at once; names in files resolve as they are read.
	hostArgs := c.operands
	for i, a := range hostArgs {
		dst, err := icmpkit.Resolve(ctx, a, f.edge.family)
		if err != nil {
			return e.fail("multiping", err)
		}
		hostArgs[i] = dst.String()
	}
	tg.addArgs(hostArgs)
	opts := icmpkit.MultipingOptions{
		Count: f.count, Interval: interval(f.interval), Timeout: f.timeout,
		TTL: f.ttl, TrafficClass: f.tclass, Family: f.edge.family, Source: f.edge.source,
		Rate: rate, DropRTTs: !f.asJSON,
	}
	opts.Payload, opts.PayloadSize = payload(f.size)
	if err := opts.Validate(netip.Addr{}); err != nil {
		return e.fail("multiping", err)
	}
	// An empty list is bad input, told before a socket is opened: the first target is pulled
	// now, and the rest as the run goes.
	next, stop := iter.Pull(tg.all)
	defer stop()
	first, ok := next()
	if !ok {
		if tg.err != nil {
			return e.fail("multiping", tg.err)
		}
		return e.fail("multiping", errors.Invalid("targets", "the list of targets is empty"))
	}
	all := func(yield func(string) bool) {
		for a := first; ok && yield(a); a, ok = next() {
		}
	}
	t, code := e.openTransport("multiping", f.edge.mode, f.edge.config(f.edge.family), false)
	if t == nil {
		return code
	}
	defer t.Close()
	opts.Transport = t

	var bar *progress
	if showProgress {
		bar = &progress{w: e.stderr, total: tg.known()}
		opts.OnProgress = bar.update
	}
	out := bufio.NewWriter(e.stdout)
	defer out.Flush()
	hosts, alive := 0, 0
	var failure error
	var jsonBuf []byte // reused for every host's line
	for h, err := range icmpkit.MultipingSeq(ctx, all, &opts) {
		if err != nil {
			if !interrupted(ctx, err) {
				failure = err
			}
			break
		}
		if e.stdoutTerminal {
			bar.clear()
		}
		if f.asJSON {
			jsonBuf = append(h.AppendJSON(jsonBuf[:0]), '\n')
			out.Write(jsonBuf)
		} else {
			writeHostLine(out, h)
		}
		out.Flush()
		hosts++
		if h.IsAlive() {
			alive++
		}
	}
	bar.clear()
	switch {
	case failure != nil:
		return e.fail("multiping", failure)
	case tg.err != nil:
		return e.fail("multiping", tg.err)
	case ctx.Err() != nil:
		return exitFail // interrupted: not every target was found alive
	case alive < hosts:
		return exitFail
	}
	return exitOK
}
