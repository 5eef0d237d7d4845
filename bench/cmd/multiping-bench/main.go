// Command multiping-bench measures icmpkit's Multiping over a raw or a datagram transport, and
// measures other programs the same way, so that bench scripts can print figures side by side.
//
//	multiping-bench -mode raw -g 127.0.0.0/16 -c 1
//	multiping-bench -mode dgram -g 127.0.0.0/12 -stream -o /tmp/hosts.txt
//	multiping-bench -g 127.0.0.0/15 -n 100000 -list > targets.txt
//	multiping-bench exec -- fping -c1 -i0 -q -g 127.0.0.0/16
//	multiping-bench exec -o hosts.json -- icmpkit multiping --json -c 1 -g 127.0.0.0/16
//
// exec discards the command's output but for a last line of the form "alive=N ...", which it
// appends to its own; -o FILE and -e FILE write the command's standard output and error to
// files instead, as a shell's redirections would. It prints one line of key=value figures on stdout:
//
//	wall=0.512 user=0.201 sys=0.300 cpu=0.501 rss_mb=34.2 hosts=65534 alive=65534 ...
//
// wall is the time of the whole run (for exec, from fork to exit), user and sys the CPU time
// from getrusage (for exec, the child's), rss_mb the peak resident set size. For a Multiping
// run it adds the hosts, how many were alive, requests sent and replies received, lost (sent
// minus received), the time from the first request to the last (send_s) and the send rate
// over that span (send_pps), and hosts per second of wall time (hosts_per_s).
package main

import (
	"bufio"
	"context"
	"flag"
	"fmt"
	"io"
	"iter"
	"net/netip"
	"os"
	"os/exec"
	"os/signal"
	"runtime/pprof"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/icmpkit/icmpkit/probe"
	"github.com/icmpkit/icmpkit/result"
	"github.com/icmpkit/icmpkit/transport"
	"github.com/icmpkit/icmpkit/transport/dgram"
	"github.com/icmpkit/icmpkit/transport/raw"
)

func main() {
	if len(os.Args) > 1 && os.Args[1] == "exec" {
		os.Exit(execMain(os.Args[2:]))
	}
	os.Exit(benchMain(os.Args[1:]))
}

// execMain runs a command and reports its wall time, CPU time and peak RSS.
func execMain(args []string) int {
	fs := flag.NewFlagSet("multiping-bench exec", flag.ContinueOnError)
	stdout := fs.String("o", "", "write the command's standard output to this file (else it is discarded)")
	stderr := fs.String("e", "", "write the command's standard error to this file (else it is discarded)")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	args = fs.Args()
	if len(args) == 0 {
		fmt.Fprintln(os.Stderr, "multiping-bench exec: usage: multiping-bench exec [-o FILE] [-e FILE] -- COMMAND [ARG...]")
		return 2
	}
	cmd := exec.Command(args[0], args[1:]...)
	cmd.Stdin = os.Stdin
	tail := &lastLine{}
	cmd.Stdout = tail
	cmd.Stderr = io.Discard // fping -q writes its summary there
	// A file is handed to the child as its descriptor: it writes there itself, as it would
	// with a shell's redirection, with no pipe and no copying in between.
	for _, o := range []struct {
		name string
		to   *io.Writer
	}{{*stdout, &cmd.Stdout}, {*stderr, &cmd.Stderr}} {
		if o.name == "" {
			continue
		}
		f, err := os.Create(o.name)
		if err != nil {
			fmt.Fprintf(os.Stderr, "multiping-bench exec: %v\n", err)
			return 2
		}
		defer f.Close()
		*o.to = f
	}
	start := time.Now()
	err := cmd.Run()
	wall := time.Since(start)
	if cmd.ProcessState == nil {
		fmt.Fprintf(os.Stderr, "multiping-bench exec: %v\n", err)
		return 2
	}
	u := childUsage(cmd.ProcessState)
	extra := ""
	if l := tail.line(); strings.HasPrefix(l, "alive=") {
		extra = " " + l
	}
	fmt.Printf("wall=%.3f user=%.3f sys=%.3f cpu=%.3f rss_mb=%.1f exit=%d%s\n",
		wall.Seconds(), u.user.Seconds(), u.sys.Seconds(), (u.user + u.sys).Seconds(), u.rssMB, cmd.ProcessState.ExitCode(), extra)
	return 0
}

// lastLine keeps the last line written to it (a child's summary such as "alive=N hosts=M").
type lastLine struct {
	cur, last []byte
}

func (l *lastLine) Write(p []byte) (int, error) {
	for _, c := range p {
		if c == '\n' {
			l.last, l.cur = append(l.last[:0], l.cur...), l.cur[:0]
			continue
		}
		if len(l.cur) < 256 {
			l.cur = append(l.cur, c)
		}
	}
	return len(p), nil
}

func (l *lastLine) line() string {
	if len(l.cur) > 0 {
		return string(l.cur)
	}
	return string(l.last)
}

type config struct {
	mode      string
	cidr      string
	limit     int
	count     int
	interval  float64
	timeout   float64
	rate      float64
	window    int
	stream    bool
	unordered bool
	out       string
	list      bool
	profile   string
	memprof   string
	rcvbuf    int
}

func benchMain(args []string) int {
	var c config
	fs := flag.NewFlagSet("multiping-bench", flag.ContinueOnError)
	fs.StringVar(&c.mode, "mode", "raw", "transport: raw or dgram")
	fs.StringVar(&c.cidr, "g", "127.0.0.0/16", "targets: every address of the prefix but network and broadcast")
	fs.IntVar(&c.limit, "n", 0, "only the first N targets of the prefix (0: all)")
	fs.IntVar(&c.count, "c", 1, "echo requests per host")
	fs.Float64Var(&c.interval, "i", 1, "seconds between requests to the same host")
	fs.Float64Var(&c.timeout, "W", 2, "seconds to wait for each reply")
	fs.Float64Var(&c.rate, "rate", 0, "requests per second over all hosts (0: unpaced)")
	fs.IntVar(&c.window, "window", 0, "hosts in progress at once (0: the default)")
	fs.BoolVar(&c.stream, "stream", false, "use MultipingSeq with a lazily generated target sequence")
	fs.BoolVar(&c.unordered, "unordered", false, "with -stream: yield hosts as they complete")
	fs.StringVar(&c.out, "o", "", "write one line a host to this file (with -stream as they come)")
	fs.BoolVar(&c.list, "list", false, "print the targets, one a line, and exit")
	fs.StringVar(&c.profile, "cpuprofile", "", "write a CPU profile of the run to this file")
	fs.IntVar(&c.rcvbuf, "rcvbuf", 0, "socket receive buffer in bytes (0: the transport's default)")
	fs.StringVar(&c.memprof, "memprofile", "", "write a heap profile, taken as the run ends, to this file")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	prefix, err := netip.ParsePrefix(c.cidr)
	if err != nil {
		fmt.Fprintf(os.Stderr, "multiping-bench: -g: %v\n", err)
		return 2
	}
	targets := prefixHosts(prefix.Masked(), c.limit)
	if c.list {
		w := bufio.NewWriter(os.Stdout)
		for a := range targets {
			fmt.Fprintln(w, a)
		}
		if err := w.Flush(); err != nil {
			fmt.Fprintf(os.Stderr, "multiping-bench: %v\n", err)
			return 1
		}
		return 0
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := run(ctx, &c, targets); err != nil {
		fmt.Fprintf(os.Stderr, "multiping-bench: %v\n", err)
		return 1
	}
	return 0
}

// prefixHosts gives the addresses of p but, for IPv4 prefixes shorter than /31, its network
// and broadcast addresses; at most limit of them when limit > 0.
func prefixHosts(p netip.Prefix, limit int) iter.Seq[netip.Addr] {
	return func(yield func(netip.Addr) bool) {
		a := p.Addr()
		skipEnds := a.Is4() && p.Bits() < 31
		if skipEnds {
			a = a.Next()
		}
		n := 0
		for ; a.IsValid() && p.Contains(a); a = a.Next() {
			if skipEnds && !p.Contains(a.Next()) {
				return // broadcast
			}
			if limit > 0 && n == limit {
				return
			}
			n++
			if !yield(a) {
				return
			}
		}
	}
}

func open(mode string, rcvbuf int) (transport.Transport, error) {
	switch mode {
	case "raw":
		return raw.New(raw.Config{Family: transport.FamilyIPv4, ReceiveBuffer: rcvbuf})
	case "dgram":
		return dgram.New(dgram.Config{Family: transport.FamilyIPv4, ReceiveBuffer: rcvbuf})
	}
	return nil, fmt.Errorf("unknown mode %q: want raw or dgram", mode)
}

type tally struct {
	hosts, alive   int
	sent, received int
}

func (t *tally) add(h *result.Host) {
	t.hosts++
	if h.IsAlive() {
		t.alive++
	}
	t.sent += h.PacketsSent
	t.received += h.PacketsReceived()
}

func run(ctx context.Context, c *config, targets iter.Seq[netip.Addr]) error {
	seconds := func(s float64) time.Duration { return time.Duration(s * float64(time.Second)) }
	opts := &probe.MultipingOptions{
		Count:     c.count,
		Interval:  seconds(c.interval),
		Timeout:   seconds(c.timeout),
		Rate:      c.rate,
		Window:    c.window,
		Unordered: c.unordered,
		DropRTTs:  true,
	}
	if c.interval == 0 {
		opts.Interval = -1
	}
	var out *bufio.Writer
	if c.out != "" {
		f, err := os.Create(c.out)
		if err != nil {
			return err
		}
		defer f.Close()
		out = bufio.NewWriterSize(f, 1<<16)
	}
	var list []netip.Addr
	if !c.stream {
		for a := range targets {
			list = append(list, a)
		}
	}

	if c.profile != "" {
		f, err := os.Create(c.profile)
		if err != nil {
			return err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
		defer pprof.StopCPUProfile()
	}
	start := time.Now()
	inner, err := open(c.mode, c.rcvbuf)
	if err != nil {
		return err
	}
	t := newTimed(inner)
	defer t.Close()

	var n tally
	var line []byte
	if c.stream {
		for h, err := range probe.MultipingSeq(ctx, t, targets, opts) {
			if err != nil {
				return err
			}
			n.add(h)
			if out != nil {
				line = writeHost(out, h, line)
			}
		}
	} else {
		hosts, err := probe.Multiping(ctx, t, list, opts)
		if err != nil {
			return err
		}
		for _, h := range hosts {
			n.add(h)
			if out != nil {
				line = writeHost(out, h, line)
			}
		}
	}
	if out != nil {
		if err := out.Flush(); err != nil {
			return err
		}
	}
	wall := time.Since(start)
	u := selfUsage()
	if c.memprof != "" {
		if err := writeHeapProfile(c.memprof); err != nil {
			return err
		}
	}
	first, last, sends := t.span()
	sendSpan := last.Sub(first)
	pps := 0.0
	if sends > 1 && sendSpan > 0 {
		pps = float64(sends-1) / sendSpan.Seconds()
	}
	fmt.Printf("wall=%.3f user=%.3f sys=%.3f cpu=%.3f rss_mb=%.1f hosts=%d alive=%d sent=%d received=%d lost=%d send_s=%.3f send_pps=%.0f hosts_per_s=%.0f\n",
		wall.Seconds(), u.user.Seconds(), u.sys.Seconds(), (u.user + u.sys).Seconds(), u.rssMB,
		n.hosts, n.alive, n.sent, n.received, n.sent-n.received, sendSpan.Seconds(), pps, float64(n.hosts)/wall.Seconds())
	return nil
}

// writeHost writes one line in fping -q style, without fmt or floating point, so that writing
// a million lines costs little next to probing.
func writeHost(w *bufio.Writer, h *result.Host, buf []byte) []byte {
	b := h.Address.AppendTo(buf[:0])
	b = append(b, " : xmt/rcv/%loss = "...)
	b = strconv.AppendInt(b, int64(h.PacketsSent), 10)
	b = append(b, '/')
	b = strconv.AppendInt(b, int64(h.PacketsReceived()), 10)
	b = append(b, '/')
	loss := 0
	if h.PacketsSent > 0 {
		loss = (100*(h.PacketsSent-h.PacketsReceived()) + h.PacketsSent/2) / h.PacketsSent
	}
	b = strconv.AppendInt(b, int64(loss), 10)
	b = append(b, '%')
	if h.IsAlive() {
		b = append(b, ", min/avg/max = "...)
		b = appendMS(b, h.MinRTT())
		b = append(b, '/')
		b = appendMS(b, h.AvgRTT())
		b = append(b, '/')
		b = appendMS(b, h.MaxRTT())
	}
	b = append(b, '\n')
	w.Write(b)
	return b
}

// appendMS appends d in milliseconds with three decimals.
func appendMS(b []byte, d time.Duration) []byte {
	us := (int64(d) + 500) / 1000
	b = strconv.AppendInt(b, us/1000, 10)
	frac := us % 1000
	return append(b, '.', byte('0'+frac/100), byte('0'+frac/10%10), byte('0'+frac%10))
}

// timed wraps a transport to note when requests go out; it passes on every optional
// interface the engine looks for.
type timed struct {
	transport.Transport
	mu          sync.Mutex
	first, last time.Time
	sends       int
}

func newTimed(t transport.Transport) *timed { return &timed{Transport: t} }

func (t *timed) note(n int) {
	if n == 0 {
		return
	}
	now := time.Now()
	t.mu.Lock()
	if t.sends == 0 {
		t.first = now
	}
	t.last = now
	t.sends += n
	t.mu.Unlock()
}

func (t *timed) span() (first, last time.Time, sends int) {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.first, t.last, t.sends
}

func (t *timed) Send(ctx context.Context, req *transport.Request) error {
	err := t.Transport.Send(ctx, req)
	if err == nil {
		t.note(1)
	}
	return err
}

func (t *timed) SendBatch(ctx context.Context, reqs []transport.Request) (int, error) {
	n, err := t.Transport.(transport.BatchSender).SendBatch(ctx, reqs)
	t.note(n)
	return n, err
}

func (t *timed) ReceiveBatch(ctx context.Context, replies []transport.Reply) (int, error) {
	return t.Transport.(transport.BatchReceiver).ReceiveBatch(ctx, replies)
}

func (t *timed) Identifier(dst netip.Addr) (int, bool) {
	return t.Transport.(transport.Identifier).Identifier(dst)
}

func writeHeapProfile(name string) error {
	f, err := os.Create(name)
	if err != nil {
		return err
	}
	if err := pprof.Lookup("heap").WriteTo(f, 0); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
