package main

import (
	"bufio"
	"context"
	"fmt"
	"net/netip"
	"os"
	"sync"
	"time"

	"github.com/icmpkit/icmpkit"
	"github.com/icmpkit/icmpkit/probe"
	"github.com/icmpkit/icmpkit/result"
)

// mtr's defaults: 64-byte packets (IP header included), 10 cycles in a report.
const (
	mtrPacketSize   = 64
	mtrReportCycles = 10
)

// mtrFlags are mtr's options.
type mtrFlags struct {
	report, wide, asJSON, asCSV   bool
	numeric, both, mpls, paris    bool
	noHopPings                    bool
	cycles, first, last, size, tc int
	interval, timeout             time.Duration
	nf                            netFlags
}

func (f *mtrFlags) define(c *command) {
	c.boolVar(&f.report, "r|report", false, "report mode: run -c cycles, then print the statistics (mtr's report)")
	c.intVar(&f.cycles, "c|report-cycles", "N", 0, 1, 1<<30, "cycles to run (default: 10 in a report, endless in the live view)")
	c.boolVar(&f.wide, "w|report-wide", false, "wide report: addresses and names never cut short")
	c.boolVar(&f.asJSON, "j|json", false, "print mtr's JSON report, with icmpkit's fields added to each hub")
	c.boolVar(&f.asCSV, "C|csv", false, "print mtr's CSV report, with icmpkit's fields added to each line")
	c.boolVar(&f.numeric, "n|no-dns", false, "show addresses alone, without looking up their names")
	c.boolVar(&f.both, "b|show-ips", false, "show names and addresses both")
	c.boolVar(&f.mpls, "e|mpls", false, "show the MPLS label stacks routers report (RFC 4950)")
	c.secondsVar(&f.interval, "i|interval", probe.DefaultMonitorInterval, false, "time from the start of one cycle to the start of the next")
	c.secondsVar(&f.timeout, "Z|timeout", probe.DefaultTimeout, false, "time to wait for each probe")
	c.intVar(&f.first, "f|first-ttl", "N", 1, 1, 255, "first TTL")
	c.intVar(&f.last, "m|max-ttl", "N", probe.DefaultMaxHops, 1, 255, "max TTL")
	c.intVar(&f.size, "s|psize", "BYTES", mtrPacketSize, 0, 65000, "packet size, IP and ICMP headers included")
	c.intVar(&f.tc, "Q|tos", "N", 0, 0, 255, "traffic class (DS field / TOS byte)")
	f.nf.defineSource(c)
	f.nf.defineFamily(c)
	f.nf.defineMode(c)
	c.boolVar(&f.paris, "paris", false, "keep one flow identity for every probe, so per-flow load balancers keep one path")
	c.boolVar(&f.noHopPings, "no-hop-pings", false, "do not ping the routers' own addresses; their Loss% then rests on the paced probes alone")
}

// mtrTarget is one HOST of the command line, and the Prober of its family's transport.
type mtrTarget struct {
	host string
	dst  netip.Addr
	pr   *probe.Prober
}

func runMtr(ctx context.Context, args []string, e *env) int {
	var f mtrFlags
	c := newCommand("mtr", "HOST...", "Watch the path to each HOST as mtr does: every hop's loss, latency and jitter, cycle after\n"+
		"cycle. A hop's Loss% estimates the loss of the path up to it, not its router's refusals to\n"+
		"answer (ICMP rate limits); Lim counts the answers such limits withheld, Dup the duplicate\n"+
		"answers. With a terminal and none of -r, --json, --csv, a live view (keys: q quit, p pause,\n"+
		"r reset, n names, d display).")
	f.define(c)
	if code, done := c.parse(args, e); done {
		return code
	}
	if len(c.operands) == 0 {
		return c.usageError(e, "needs at least one HOST")
	}
	if f.first > f.last {
		return c.usageError(e, fmt.Sprintf("-f %d is beyond -m %d", f.first, f.last))
	}
	if f.asJSON && f.asCSV {
		return c.usageError(e, "--json and --csv exclude each other")
	}
	ed, err := f.nf.edge()
	if err != nil {
		return c.usageError(e, err.Error())
	}
	live := !f.report && !f.asJSON && !f.asCSV && e.stdoutTerminal && e.liveTerminal()
	if f.cycles == 0 && !live {
		f.cycles = mtrReportCycles
	}
	targets := make([]*mtrTarget, len(c.operands))
	// One transport per family, read by one Prober that every target of the family shares.
	opened := map[icmpkit.Family]*probe.Prober{}
	defer func() {
		for _, pr := range opened {
			pr.Close()
			pr.Transport().Close()
		}
	}()
	for i, host := range c.operands {
		dst, err := e.look().resolve(ctx, host, ed.family)
		if err != nil {
			return e.fail("mtr", err)
		}
		header := 20 + 8
		if dst.Is6() {
			header = 40 + 8
		}
		if f.size > 0 && f.size < header {
			return c.usageError(e, fmt.Sprintf("-s %d is less than the %d bytes of headers to %s", f.size, header, dst))
		}
		fam := familyOf(dst)
		pr := opened[fam]
		if pr == nil {
			t, code := e.openTransport("mtr", ed.mode, ed.config(fam), false, f.asJSON || f.asCSV)
			if t == nil {
				return code
			}
			pr = probe.New(t, nil)
			opened[fam] = pr
		}
		targets[i] = &mtrTarget{host: host, dst: dst, pr: pr}
	}
	opts := func(dst netip.Addr) *probe.MonitorOptions {
		header := 20 + 8
		if dst.Is6() {
			header = 40 + 8
		}
		o := &probe.MonitorOptions{
			Cycles: f.cycles, Interval: f.interval, Timeout: f.timeout, MinHops: f.first, MaxHops: f.last,
			TrafficClass: f.tc, Paris: f.paris, NoHopPings: f.noHopPings,
		}
		o.Payload, o.PayloadSize = payload(max(f.size-header, 0))
		return o
	}
	if live {
		return runMtrLive(ctx, e, &f, targets, opts)
	}
	return runMtrReport(ctx, e, &f, targets, opts)
}

// runMtrReport runs every target's cycles at once and prints each report, in the order of
// the command line, as soon as it and those before it are done.
func runMtrReport(ctx context.Context, e *env, f *mtrFlags, targets []*mtrTarget, opts func(netip.Addr) *probe.MonitorOptions) int {
	start := time.Now()
	paths := make([]*result.Path, len(targets))
	errs := make([]error, len(targets))
	done := make([]chan struct{}, len(targets))
	var nm *names
	if !f.numeric || f.both {
		nm = newNames(ctx, e.look().name, lookupTimeout)
		defer nm.close()
	}
	var wg sync.WaitGroup
	for i, tg := range targets {
		done[i] = make(chan struct{})
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer close(done[i])
			for p, err := range tg.pr.Monitor(ctx, tg.dst, opts(tg.dst)) {
				if err != nil {
					errs[i] = err
					return
				}
				paths[i] = p
				if nm != nil {
					for _, h := range p.Hops {
						for _, r := range h.Responders {
							nm.start(r.Address)
						}
					}
				}
			}
		}()
	}
	defer wg.Wait()
	out := bufio.NewWriter(e.stdout)
	defer out.Flush()
	local, _ := os.Hostname()
	rep := &mtrReport{f: f, local: local, start: start, names: nm}
	status := exitOK
	if f.asJSON && len(targets) > 1 {
		out.WriteString("[\n")
	}
	for i, tg := range targets {
		<-done[i]
		if errs[i] != nil && !interrupted(ctx, errs[i]) {
			out.Flush()
			return e.fail("mtr", errs[i])
		}
		p := paths[i]
		if p == nil {
			p = &result.Path{Destination: tg.dst}
		}
		if !mtrReached(p) {
			status = exitFail
		}
		switch {
		case f.asJSON:
			if i > 0 {
				out.WriteString(",\n")
			}
			rep.json(out, tg, p)
		case f.asCSV:
			rep.csv(out, tg, p, i == 0)
		default:
			rep.text(out, tg, p)
		}
		out.Flush()
	}
	if f.asJSON && len(targets) > 1 {
		out.WriteString("]\n")
	}
	return status
}

// mtrReached reports whether the destination answered at some cycle.
func mtrReached(p *result.Path) bool {
	for _, h := range p.Hops {
		if h.Target {
			return true
		}
	}
	return false
}
