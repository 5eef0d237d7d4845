package main

import (
	"bufio"
	"context"
	"io"
	"math"
	"net/netip"
	"strconv"
	"syscall"
	"time"

	"github.com/icmpkit/icmpkit"
	icmperrors "github.com/icmpkit/icmpkit/errors"
	"github.com/icmpkit/icmpkit/probe"
	"github.com/icmpkit/icmpkit/result"
	"github.com/icmpkit/icmpkit/transport"
)

// fpingFlags are multiping's options that fping 5.1 has, with fping's meanings.
type fpingFlags struct {
	quiet    bool // -q: the summaries only
	alive    bool // -a: list the targets that answered
	unreach  bool // -u: list the targets that did not
	vcount   int  // -C N: N requests, and every RTT in the summary
	loop     bool // -l: until Ctrl-C
	elapsed  bool // -e: RTTs in the -a list
	stats    bool // --stats: fping -s's block
	addrs    bool // -A: targets by address
	rdns     bool // -d, -n: targets by name, looked up
	periodMS bool // -p was given
}

// millisValue is a duration given in milliseconds with decimals, as fping's -p.
type millisValue struct {
	p    *time.Duration
	seen *bool
}

func (v millisValue) String() string {
	if v.p == nil {
		return ""
	}
	return strconv.FormatFloat(float64(*v.p)/float64(time.Millisecond), 'f', -1, 64)
}

func (v millisValue) Set(s string) error {
	d, err := parseDuration(s, time.Millisecond, "milliseconds")
	if err != nil {
		return err
	}
	*v.p, *v.seen = d, true
	return nil
}

func runMultiping(ctx context.Context, args []string, e *env) int {
	var f pingFlags
	var fp fpingFlags
	var rate float64
	var showProgress bool
	var ord orderFlags
	tg := newTargets(e.stdin)
	defer tg.close()
	c := newCommand("multiping", "HOST...", "Ping many hosts at once, as fping -c does: a line a reply (or timeout) as it comes, then\n"+
		"one summary line a host in input order (or one JSON object a host with --json).\n"+
		"Targets are the HOSTs, every address of -g prefixes and the lines of -f files, in command-line order.")
	f.define(c, probe.DefaultMultipingCount, true)
	c.floatVar(&rate, "rate", "PPS", 0, "requests per second over all hosts (0: as fast as the host allows)")
	c.value(prefixFlag{tg}, "g", "CIDR", "every address of the prefix (IPv4 shorter than /31: but network and broadcast); repeatable")
	c.value(fileFlag{tg}, "f", "FILE", "targets from FILE, one a line (- for stdin); repeatable")
	ord.define(c)
	c.boolVar(&showProgress, "progress", e.stderrTerminal, "progress bar on stderr (on when stderr is a terminal)")
	c.boolVar(&f.asJSON, "json", false, "print JSON Lines: one Host object a line")
	c.boolVar(&fp.quiet, "q", false, "print only the summaries, one a host (fping -q)")
	c.boolVar(&fp.alive, "a", false, "print the targets that answered, one a line, instead of the replies (summaries on stderr)")
	c.boolVar(&fp.unreach, "u", false, "print the targets that did not answer, one a line, instead of the replies (summaries on stderr)")
	c.intVar(&fp.vcount, "C", "N", 0, 1, math.MaxInt, "send N requests to each host and end with every RTT of each, on stderr (fping -C)")
	c.boolVar(&fp.loop, "l", false, "ping until Ctrl-C, then print the summaries")
	c.value(millisValue{&f.interval, &fp.periodMS}, "p", "MS", "interval between requests to the same host, in milliseconds (fping -p; as -i)")
	c.boolVar(&fp.elapsed, "e", false, "with -a, each target's RTT after it")
	c.boolVar(&fp.stats, "stats", false, "print fping -s's statistics on stderr at the end")
	c.boolVar(&fp.addrs, "A", false, "show targets by address (with -d: name (address))")
	c.boolVar(&fp.rdns, "d|rdns", false, "show targets by the names of their addresses (reverse lookups)")
	c.boolVar(&fp.rdns, "n|name", false, "as -d (fping's -n)")
	if code, done := c.parse(args, e); done {
		return code
	}
	if len(tg.sources) == 0 && len(c.operands) == 0 {
		return c.usageError(e, "no targets: give HOSTs, -g CIDR or -f FILE")
	}
	if err := f.check(); err != nil {
		return c.usageError(e, err.Error())
	}
	if err := ord.check(c, f.asJSON); err != nil {
		return c.usageError(e, err.Error())
	}
	switch {
	case fp.alive && fp.unreach:
		return c.usageError(e, "-a and -u exclude each other")
	case fp.loop && (fp.vcount > 0 || c.given("c")):
		return c.usageError(e, "-l excludes -c and -C")
	}
	if fp.vcount > 0 {
		f.count = fp.vcount
	}
	if fp.loop {
		f.count = math.MaxInt32
	}
	// The arguments are resolved before anything is sent, so that a bad one fails the run
	// at once; names in files resolve as they are read. A name given is how its target is
	// shown.
	out := &fpingOut{flags: fp, look: e.look()}
	hostArgs := c.operands
	var labels []string
	for i, a := range hostArgs {
		dst, err := e.look().resolve(ctx, a, f.edge.family)
		if err != nil {
			return e.fail("multiping", err)
		}
		hostArgs[i] = dst.String()
		if _, err := netip.ParseAddr(a); err != nil {
			if labels == nil {
				labels = make([]string, len(hostArgs))
			}
			labels[i] = a
		}
	}
	tg.addArgs(hostArgs, labels)
	opts := icmpkit.MultipingOptions{
		Count: f.count, Interval: interval(f.interval), Timeout: f.timeout,
		TTL: f.ttl, TrafficClass: f.tclass, Family: f.edge.family, Source: f.edge.source,
		Rate: rate, DropRTTs: !f.asJSON && !(fp.alive && fp.elapsed),
		// In a random order there is no input order to keep: JSON and CSV come as hosts finish.
		Unordered: ord.random() && (f.asJSON || ord.csv),
	}
	opts.Payload, opts.PayloadSize = payload(f.size)
	if err := opts.Validate(netip.Addr{}); err != nil {
		return e.fail("multiping", err)
	}
	// A bad line of a file is reported, as FILE:LINE:, and skipped.
	tg.check = lineCheck(ctx, e.look(), &opts)
	tg.warn = func(msg string) { io.WriteString(e.stderr, msg) }
	if err := ord.apply(tg); err != nil {
		return e.fail("multiping", err)
	}
	if ord.dryRun {
		return dryRun(tg, e)
	}
	// An empty list is bad input, told before a socket is opened: the first target is pulled
	// now, and the rest as the run goes.
	next, stop := tg.pull()
	defer stop()
	first, ok := next()
	if !ok {
		if tg.err != nil {
			return e.fail("multiping", tg.err)
		}
		if code, empty := tg.emptyShard(); empty {
			return code
		}
		return e.fail("multiping", icmperrors.Invalid("targets", "the list of targets is empty"))
	}
	var pulled int64
	exhausted := false // every target was pulled
	all := func(yield func(string) bool) {
		defer func() { exhausted = !ok }()
		for a := first; ok; a, ok = next() {
			if !f.asJSON && !ord.csv {
				out.pull(ctx, pulled, a, tg.label)
			}
			pulled++
			if !yield(a) {
				return
			}
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
	stdout := bufio.NewWriterSize(e.stdout, 64<<10)
	defer stdout.Flush()
	stderr := bufio.NewWriterSize(e.stderr, 4<<10)
	defer stderr.Flush()
	out.stdout, out.stderr = stdout, stderr
	tg.warn = func(msg string) { out.write(true, []byte(msg)) }
	// Output is flushed when the run is about to wait, and when a buffer fills: a run that is
	// busy writes in large blocks, and a line never waits behind an idle run.
	flush := func() {
		if stdout.Buffered() > 0 || stderr.Buffered() > 0 {
			bar.clear()
			stdout.Flush()
			stderr.Flush()
		}
	}
	opts.OnIdle = flush
	if !f.asJSON && !ord.csv {
		out.start(&opts)
	}
	if ord.csv {
		stdout.WriteString(csvHeader)
	}
	hosts, alive := 0, 0
	var failure error
	var jsonBuf []byte // reused for every host's line
	stats := fpingStats{start: time.Now()}
	for h, err := range icmpkit.MultipingSeq(ctx, all, &opts) {
		if err != nil {
			if !interrupted(ctx, err) {
				failure = err
			}
			break
		}
		switch {
		case f.asJSON:
			jsonBuf = append(h.AppendJSON(jsonBuf[:0]), '\n')
			stdout.Write(jsonBuf)
		case ord.csv:
			jsonBuf = appendCSV(jsonBuf[:0], h)
			stdout.Write(jsonBuf)
		default:
			out.host(hosts, h)
		}
		stats.add(h)
		hosts++
		if h.IsAlive() {
			alive++
		}
	}
	end := time.Now()
	if !f.asJSON && !ord.csv {
		out.finish()
	}
	flush()
	bar.clear()
	if fp.stats && !f.asJSON && !ord.csv {
		stats.unknown = tg.bad
		stats.write(e.stderr, end)
	}
	switch {
	case failure != nil:
		return e.fail("multiping", failure)
	case tg.err != nil:
		return e.fail("multiping", tg.err)
	case tg.bad > 0:
		return exitFail // a line of a file was bad
	case ctx.Err() != nil && !exhausted:
		return exitFail // interrupted before every target was probed
	case alive < hosts:
		return exitFail
	}
	return exitOK
}

// fpingOut writes multiping's text as fping does.
type fpingOut struct {
	flags          fpingFlags
	look           lookups
	stdout, stderr *bufio.Writer
	// shown holds how each target in progress is shown when that is not its address, by
	// input index; an entry goes when its host is done.
	shown map[int64]string
	// rtts holds, with -C, each host in progress's RTTs by request, -1 for none yet.
	rtts map[int64][]time.Duration
	// deferred holds the summaries written after the run (see finish): all of them but in
	// -q's streaming, where each is written as its host completes.
	deferred []byte
	replies  bool // per-reply lines are printed
	buf      []byte
	nameBuf  []byte // nameOf's, reused
	onStderr bool   // the last line went to standard error
}

// write writes a line to standard output or error. When it changes stream it flushes the
// other first, so that lines keep their order in a terminal, or a file both streams go to.
func (o *fpingOut) write(stderr bool, b []byte) {
	if stderr != o.onStderr {
		if o.onStderr {
			o.stderr.Flush()
		} else {
			o.stdout.Flush()
		}
		o.onStderr = stderr
	}
	if stderr {
		o.stderr.Write(b)
	} else {
		o.stdout.Write(b)
	}
}

// pull notes how the target at index i is to be shown: target is as the targets give it,
// label the name it was given as when it is an argument resolved already.
func (o *fpingOut) pull(ctx context.Context, i int64, target, label string) {
	a, err := netip.ParseAddr(target)
	name := label
	if err != nil {
		name = target // a name from a file, resolved by the run
	}
	if o.flags.rdns && err == nil {
		if n := o.look.name(ctx, a); n != "" {
			name = n
		}
	}
	switch {
	case o.flags.addrs && !o.flags.rdns:
		return // by address
	case name == "":
		return
	case o.flags.addrs && err == nil:
		name += " (" + a.String() + ")"
	}
	if o.shown == nil {
		o.shown = make(map[int64]string)
	}
	o.shown[i] = name
}

// nameOf gives how the host at index i, of address a, is shown, valid until the next call:
// a line a host allocates nothing.
func (o *fpingOut) nameOf(i int64, a netip.Addr) []byte {
	if n, ok := o.shown[i]; ok {
		o.nameBuf = append(o.nameBuf[:0], n...)
	} else {
		o.nameBuf = a.AppendTo(o.nameBuf[:0])
	}
	return o.nameBuf
}

// noRTTs gives -C's list of n requests, none answered yet.
func noRTTs(n int) []time.Duration {
	r := make([]time.Duration, n)
	for i := range r {
		r[i] = -1
	}
	return r
}

// start sets the run's hooks for what is printed as it goes.
func (o *fpingOut) start(opts *icmpkit.MultipingOptions) {
	fp := o.flags
	o.replies = !fp.quiet && !fp.alive && !fp.unreach
	if fp.vcount > 0 {
		o.rtts = make(map[int64][]time.Duration)
	}
	opts.OnReply = o.outcome
}

// outcome prints a reply, timeout or ICMP error as it happens, and keeps -C's RTTs.
func (o *fpingOut) outcome(oc probe.Outcome) {
	if o.rtts != nil {
		r := o.rtts[oc.Index]
		if r == nil {
			r = noRTTs(o.flags.vcount)
			o.rtts[oc.Index] = r
		}
		if !oc.TimedOut && !oc.Duplicate && oc.Reply.Kind() == transport.KindEchoReply && oc.Seq < len(r) {
			r[oc.Seq] = oc.RTT
		}
	}
	b := o.buf[:0]
	switch {
	case oc.SendError != nil:
		// A request the system refused: said once per host, as fping says it.
		if oc.Host.SendErrors == 1 {
			b = append(b, "ping: sendto: "...)
			b = append(b, sendErrorText(oc.SendError)...)
			o.write(true, append(b, '\n'))
		}
	case oc.TimedOut:
		if o.replies {
			b = appendTimeout(b, o.nameOf(oc.Index, oc.Destination), &oc)
			o.write(false, b)
		}
	case oc.Reply.Kind() != transport.KindEchoReply:
		// fping prints the error, then the request's timeout when it comes; the request is
		// resolved by the error here, so both lines are printed now.
		name := o.nameOf(oc.Index, oc.Destination)
		if !o.flags.quiet {
			b = appendError(b, name, &oc)
			o.write(true, b)
		}
		if o.replies {
			b = appendTimeout(b[:0], name, &oc)
			o.write(false, b)
		}
	case oc.Duplicate:
		// fping prints copies of a reply only when it prints no reply lines.
		if !o.replies {
			b = appendDuplicate(b, o.nameOf(oc.Index, oc.Destination), &oc)
			o.write(true, b)
		}
	case o.replies:
		b = appendReply(b, o.nameOf(oc.Index, oc.Destination), &oc)
		o.write(false, b)
	}
	o.buf = b
}

// sendErrorText gives the system's words for a failed send (strerror's), else the error's.
func sendErrorText(err error) string {
	var errno syscall.Errno
	if icmperrors.As(err, &errno) {
		return errno.Error()
	}
	return err.Error()
}

// host prints what is printed of a completed host, the i-th, and forgets it.
func (o *fpingOut) host(i int, h *result.Host) {
	idx := int64(i)
	fp := o.flags
	b := o.buf[:0]
	name := o.nameOf(idx, h.Address)
	switch {
	case fp.alive && h.IsAlive(), fp.unreach && !h.IsAlive():
		b = append(b, name...)
		if fp.elapsed && len(h.RTTs) > 0 {
			b = append(b, " ("...)
			b = fpingTime(b, h.RTTs[0])
			b = append(b, " ms)"...)
		}
		b = append(b, '\n')
		o.write(false, b)
		b = b[:0]
	}
	switch {
	case fp.vcount > 0:
		r := o.rtts[idx]
		if r == nil {
			r = noRTTs(h.PacketsSent)
		}
		o.deferred = appendRTTList(o.deferred, name, r[:min(len(r), h.PacketsSent)])
	case fp.alive || fp.unreach || o.replies:
		// After every reply line (or the lists), as fping: kept until the run ends.
		o.deferred = appendSummary(o.deferred, name, h)
	default:
		b = appendSummary(b, name, h)
		o.write(false, b)
	}
	delete(o.shown, idx)
	delete(o.rtts, idx)
	o.buf = b
}

// finish writes the summaries kept for the end, after a blank line when reply lines came
// before them: on standard output, but for -C's RTT lists and the summaries of -a and -u,
// which go to standard error as fping's do.
func (o *fpingOut) finish() {
	if len(o.deferred) == 0 {
		return
	}
	toStderr := o.flags.vcount > 0 || o.flags.alive || o.flags.unreach
	if o.replies {
		o.write(toStderr, []byte{'\n'})
	}
	o.write(toStderr, o.deferred)
	o.deferred = nil
}
