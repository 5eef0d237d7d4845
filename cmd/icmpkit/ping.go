package main

import (
	"bufio"
	"context"
	"fmt"
	"math"
	"net/netip"
	"strings"
	"time"

	"github.com/icmpkit/icmpkit"
	"github.com/icmpkit/icmpkit/errors"
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
	c.tosVar(&p.tclass, "Q", "traffic class (DS field / TOS byte), decimal or 0x hex")
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

// pingOnly are the options of ping that multiping does not have.
type pingOnly struct {
	quiet       bool          // -q
	numeric     bool          // -n
	timestamps  bool          // -D
	outstanding bool          // -O
	deadline    time.Duration // -w; 0: none
	pattern     patternValue  // -p
}

func (o *pingOnly) define(c *command) {
	c.boolVar(&o.quiet, "q", false, "print only the summary")
	c.boolVar(&o.numeric, "n", false, "numeric output: no reverse lookups of the hosts that answer")
	c.boolVar(&o.timestamps, "D", false, "start each line with its time, [seconds.microseconds] since the epoch")
	c.boolVar(&o.outstanding, "O", false, `report a request still unanswered when the next goes out ("no answer yet")`)
	c.secondsVar(&o.deadline, "w", 0, true, "stop after SEC seconds, sending until then unless -c N replies come first (0: no deadline)")
	c.value(&o.pattern, "p", "PATTERN", "fill the payload with this pattern of up to 16 bytes in hex (e.g. ff00)")
}

func runPing(ctx context.Context, args []string, e *env) int {
	var f pingFlags
	var o pingOnly
	c := newCommand("ping", "HOST", "Send echo requests to HOST and summarize the replies, as iputils ping.")
	f.define(c, probe.DefaultPingCount, false)
	c.boolVar(&f.asJSON, "json", false, "print one JSON Host object and nothing else on stdout")
	o.define(c)
	// -c takes 1 or more, so 0 after parsing says that it was not given: its default then
	// depends on -w.
	f.count = 0
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
	// With -w, iputils sends until the deadline, and -c N stops the run once N requests have
	// been answered (by echo replies or errors).
	count, stopAt := f.count, 0
	switch {
	case o.deadline > 0 && count > 0:
		count, stopAt = math.MaxInt, count
	case o.deadline > 0:
		count = math.MaxInt
	case count == 0:
		count = probe.DefaultPingCount
	}
	opts := icmpkit.PingOptions{
		Count: count, Interval: interval(f.interval), Timeout: f.timeout,
		TTL: f.ttl, TrafficClass: f.tclass, Family: f.edge.family, Source: f.edge.source,
		DropRTTs: !f.asJSON,
	}
	opts.Payload, opts.PayloadSize = payload(f.size)
	if o.pattern.set {
		opts.Payload = o.pattern.fill(f.size)
	}
	if err := opts.Validate(netip.Addr{}); err != nil {
		return e.fail("ping", err)
	}
	look := e.look()
	dst, err := look.resolve(ctx, host, f.edge.family)
	if err != nil {
		return e.fail("ping", err)
	}
	if err := opts.Validate(dst); err != nil {
		return e.fail("ping", err)
	}
	brief := count == 1
	t, code := e.openTransport("ping", f.edge.mode, f.edge.config(familyOf(dst)), brief)
	if t == nil {
		return code
	}
	if brief {
		opts.OnWait = e.interrupts.start
	}
	defer t.Close()
	opts.Transport = t

	// iputils looks names up only for a target given by name, and not with -n.
	_, literal := icmpkit.ParseAddr(host)
	numeric := literal == nil || strings.ContainsRune(host, ':')
	// iputils waits for a lookup as long as the resolver takes.
	var nm *names
	if !numeric && !o.numeric && !f.asJSON {
		nm = newNames(ctx, look.name, 0)
		defer nm.close()
	}

	out := bufio.NewWriter(e.stdout)
	defer out.Flush()
	tally := pingTally{backToBack: f.interval == 0, lastSeq: -1}
	lines := pingOutput{out: out, lines: pingLines{
		size: f.size, timestamps: o.timestamps, names: nm,
		markDups: !f.broadcast && !dst.IsMulticast(),
	}}
	var summaryName string
	if !f.asJSON {
		h := pingHead{name: host, dst: dst, shown: dst.String(), size: f.size, iface: f.edge.iface}
		if dst.Is4() && !numeric && !isLocalhostName(host) {
			// iputils names an IPv4 target by its canonical name.
			if cn := look.canonical(ctx, host); cn != "" {
				h.name = cn
			}
		}
		if dst.Is6() && nm != nil {
			h.shown = string(nm.appendHost(nil, dst))
		}
		switch {
		case f.edge.source.IsValid():
			h.source = f.edge.source
		case f.edge.iface != "":
			if a, ok := look.ifaceAddr(f.edge.iface, dst); ok {
				h.source = a
			}
		}
		summaryName = h.name
		if o.pattern.set && !o.quiet {
			writePattern(out, o.pattern.b)
		}
		writePingHeader(out, h)
		out.Flush()
		lines.start()
		defer lines.close()
	}
	// The deadline, the first error under it and -c N replies under it end the run through
	// its context. iputils starts the deadline once the header is out.
	runCtx, stop := ctx, context.CancelFunc(func() {})
	if o.deadline > 0 {
		runCtx, stop = context.WithTimeout(ctx, o.deadline)
		defer stop()
		if nm != nil {
			context.AfterFunc(runCtx, nm.cancel) // lookups give up at the deadline, as iputils' do
		}
	}
	answered := 0 // echo replies and errors, for -c N under -w
	onReply := func(oc probe.Outcome) {
		tally.outcome(&oc)
		if oc.TimedOut {
			return
		}
		if !o.quiet && !f.asJSON {
			lines.post(pingEvent{o: oc})
		}
		if o.deadline == 0 || oc.Duplicate {
			return
		}
		answered++
		if oc.Reply.Kind() != transport.KindEchoReply || (stopAt > 0 && answered >= stopAt) {
			// Under a deadline iputils stops at the first ICMP error, and once -c N
			// requests are answered.
			stop()
		}
	}
	if !f.asJSON || o.deadline > 0 {
		opts.OnReply = onReply
		opts.OnSend = func(n int, at time.Time) {
			if tally.sending(n, at) && o.outstanding && !f.asJSON {
				lines.post(pingEvent{noAnswer: true, n: n - 1, at: at})
			}
		}
	}
	tally.start = time.Now()
	h, err := icmpkit.Ping(runCtx, dst.String(), &opts)
	if err != nil && (h == nil || !interrupted(runCtx, err)) {
		lines.close()
		out.Flush()
		return e.fail("ping", err)
	}
	lines.close()
	if f.asJSON {
		out.Write(append(h.AppendJSON(nil), '\n'))
	} else {
		writePingSummary(out, summaryName, h, &tally)
	}
	if h.IsAlive() {
		return exitOK
	}
	return exitFail
}

// pingOutput writes the lines of a run that concern single requests. Without reverse lookups
// it writes each line at once, from the goroutine that runs the ping. With them a goroutine
// of its own writes the lines, in order, so that a slow lookup holds back the lines behind
// it but never the requests; each address is looked up once.
type pingOutput struct {
	out    *bufio.Writer
	lines  pingLines
	events chan pingEvent // nil: lines are written at once
	done   chan struct{}
}

// pingEvent is a line to write: an outcome, or -O's "no answer yet" for request n sent at.
type pingEvent struct {
	o        probe.Outcome
	noAnswer bool
	n        int
	at       time.Time
}

// start starts the writing goroutine when lines need lookups.
func (p *pingOutput) start() {
	if p.lines.names == nil {
		return
	}
	p.events = make(chan pingEvent, 256)
	p.done = make(chan struct{})
	go func() {
		defer close(p.done)
		for ev := range p.events {
			p.write(&ev)
			if len(p.events) == 0 {
				p.out.Flush()
			}
		}
	}()
}

func (p *pingOutput) post(ev pingEvent) {
	if p.events == nil {
		p.write(&ev)
		p.out.Flush()
		return
	}
	ev.o.Reply.MPLS = nil // not printed; the reply's buffer is not ours to keep
	p.events <- ev
}

func (p *pingOutput) write(ev *pingEvent) {
	if ev.noAnswer {
		p.out.Write(p.lines.noAnswer(ev.n, ev.at))
	} else {
		p.out.Write(p.lines.outcome(&ev.o))
	}
}

// close waits until every line posted is written. Calling it again does nothing.
func (p *pingOutput) close() {
	if p.events != nil {
		close(p.events)
		<-p.done
		p.events = nil
	}
}

// patternValue is -p: up to 16 bytes in hex, which fill the payload over and over.
type patternValue struct {
	b   []byte
	set bool
}

// maxPattern is the longest pattern, in bytes.
const maxPattern = 16

func (v *patternValue) String() string {
	if v == nil || !v.set {
		return ""
	}
	return fmt.Sprintf("%x", v.b)
}

// Set reads hex digits two by two, as iputils does: an odd last digit is a byte of its own
// ("abc" is 0xab 0x0c).
func (v *patternValue) Set(s string) error {
	switch {
	case s == "":
		return errors.New("empty: give hex digits, e.g. ff00")
	case len(s) > 2*maxPattern:
		return fmt.Errorf("%d hex digits, at most %d (%d bytes)", len(s), 2*maxPattern, maxPattern)
	}
	b := make([]byte, 0, (len(s)+1)/2)
	for i := 0; i < len(s); i += 2 {
		var c byte
		for _, d := range []byte(s[i:min(i+2, len(s))]) {
			x, ok := hexDigit(d)
			if !ok {
				return fmt.Errorf("%q is not a hex digit; give the pattern in hex, e.g. ff00", d)
			}
			c = c<<4 | x
		}
		b = append(b, c)
	}
	v.b, v.set = b, true
	return nil
}

func hexDigit(d byte) (byte, bool) {
	switch {
	case '0' <= d && d <= '9':
		return d - '0', true
	case 'a' <= d && d <= 'f':
		return d - 'a' + 10, true
	case 'A' <= d && d <= 'F':
		return d - 'A' + 10, true
	}
	return 0, false
}

// fill gives a payload of size bytes that repeats the pattern from its first byte.
func (v *patternValue) fill(size int) []byte {
	p := make([]byte, size)
	for i := range p {
		p[i] = v.b[i%len(v.b)]
	}
	return p
}
