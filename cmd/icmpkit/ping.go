package main

import (
	"bufio"
	"context"
	"fmt"
	"math"
	"net/netip"
	"time"

	"github.com/icmpkit/icmpkit"
	"github.com/icmpkit/icmpkit/probe"
	"github.com/icmpkit/icmpkit/transport"
)

// pingFlags are the flags ping and multiping share.
type pingFlags struct {
	count             int
	interval, timeout time.Duration
	size, ttl, tclass int
	broadcast, asJSON bool
	net               netFlags
	edge              edge
}

// define adds the flags; count is the default of -c, and multi says they are multiping's.
func (p *pingFlags) define(c *command, count int, multi bool) {
	each, same := "", ""
	if multi {
		each, same = " to each host", " to the same host"
	}
	c.intVar(&p.count, "c", "N", count, 1, math.MaxInt, "echo requests to send"+each)
	c.secondsVar(&p.interval, "i", time.Second, true, "interval between requests"+same+" (0: back to back)")
	c.secondsVar(&p.timeout, "W", probe.DefaultTimeout, false, "time to wait for each reply")
	c.intVar(&p.size, "s", "BYTES", probe.DefaultPayloadSize, 0, transport.MaxPayloadV6, "payload size")
	c.intVar(&p.ttl, "t", "N", transport.DefaultTTL, 1, 255, "TTL / hop limit")
	c.intVar(&p.tclass, "Q", "N", 0, 0, 255, "traffic class (DS field / TOS byte)")
	p.net.defineSource(c)
	p.net.defineFamily(c)
	c.boolVar(&p.broadcast, "b", false, "allow broadcast destinations")
	p.net.defineMode(c)
}

// check reads what the flags say about the network.
func (p *pingFlags) check() error {
	var err error
	p.edge, err = p.net.edge()
	p.edge.broadcast = p.broadcast
	return err
}

func runPing(ctx context.Context, args []string, e *env) int {
	var f pingFlags
	var quiet bool
	c := newCommand("ping", "HOST", "Send echo requests to HOST and summarize the replies, as iputils ping.")
	f.define(c, probe.DefaultPingCount, false)
	c.boolVar(&f.asJSON, "json", false, "print one JSON Host object and nothing else on stdout")
	c.boolVar(&quiet, "q", false, "print only the summary")
	if code, done := c.parse(args, e); done {
		return code
	}
	if len(c.operands) != 1 {
		return c.usageError(e, fmt.Sprintf("needs exactly one HOST, got %d arguments", len(c.operands)))
	}
	host := c.operands[0]
	if err := f.check(); err != nil {
		return c.usageError(e, err.Error())
	}
	opts := icmpkit.PingOptions{
		Count: f.count, Interval: interval(f.interval), Timeout: f.timeout,
		TTL: f.ttl, TrafficClass: f.tclass, Family: f.edge.family, Source: f.edge.source,
		DropRTTs: !f.asJSON,
	}
	opts.Payload, opts.PayloadSize = payload(f.size)
	if err := opts.Validate(netip.Addr{}); err != nil {
		return e.fail("ping", err)
	}
	dst, err := icmpkit.Resolve(ctx, host, f.edge.family)
	if err != nil {
		return e.fail("ping", err)
	}
	if err := opts.Validate(dst); err != nil {
		return e.fail("ping", err)
	}
	brief := f.count == 1
	t, code := e.openTransport("ping", f.edge.mode, f.edge.config(familyOf(dst)), brief)
	if t == nil {
		return code
	}
	if brief {
		opts.OnWait = e.interrupts.start
	}
	defer t.Close()
	opts.Transport = t

	out := bufio.NewWriter(e.stdout)
	defer out.Flush()
	if !f.asJSON {
		writePingHeader(out, host, dst, f.size)
		out.Flush()
		if !quiet {
			opts.OnReply = func(o probe.Outcome) {
				writeOutcome(out, o)
				out.Flush()
			}
		}
	}
	start := time.Now()
	h, err := icmpkit.Ping(ctx, dst.String(), &opts)
	elapsed := time.Since(start)
	if err != nil && (h == nil || !interrupted(ctx, err)) {
		out.Flush()
		return e.fail("ping", err)
	}
	if f.asJSON {
		out.Write(append(h.AppendJSON(nil), '\n'))
	} else {
		writePingSummary(out, host, h, elapsed)
	}
	if h.IsAlive() {
		return exitOK
	}
	return exitFail
}
