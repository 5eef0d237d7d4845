// Command icmpkit sends ICMP echo requests: ping one host, multiping many at once, or trace
// the route to a host.
//
//	icmpkit ping [options] HOST
//	icmpkit multiping [options] HOST...
//	icmpkit traceroute [options] HOST
//	icmpkit mtr [options] HOST...
//
// Text output follows iputils ping, fping -q and traceroute(8); --json prints the objects
// of package result. Exit status: 0 success (a reply; every host alive; destination reached),
// 1 no success, 2 bad usage or any other error, with a one-line message on stderr.
// "icmpkit SUBCOMMAND -h" lists the options of a subcommand with their defaults.
// Options are parsed as GNU getopt_long parses them (see getopt.go).
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/icmpkit/icmpkit"
	"github.com/icmpkit/icmpkit/errors"
	"github.com/icmpkit/icmpkit/transport"
)

// Exit statuses.
const (
	exitOK    = 0 // a reply; every host alive; destination reached
	exitFail  = 1 // no reply; some host not alive; destination not reached
	exitError = 2 // bad usage or any other error
)

// env is what a run of the program talks to: its standard streams, the terminal, and the
// function that opens a transport.
type env struct {
	stdin          io.Reader
	stdout, stderr io.Writer
	// stdoutTerminal and stderrTerminal report whether the streams are terminals.
	stdoutTerminal, stderrTerminal bool
	// open opens the transport for a mode.
	open func(icmpkit.Mode, icmpkit.Config) (transport.Transport, error)
	// interrupts, when not nil, catches Ctrl-C for the run's context.
	interrupts *interrupter
	// lookups answers questions about names and interfaces; nil asks the system.
	lookups lookups
	// uid is the real user ID of who runs the program: above 0 for a user who is not root,
	// whatever capabilities the program was given (iputils' rule); 0 for root, -1 where the
	// system has none (Windows).
	uid int
}

func main() {
	interrupts, ctx := newInterrupter()
	var stdout io.Writer = os.Stdout
	if stdoutClosedAtStart() {
		stdout = closedWriter{}
	}
	os.Exit(run(ctx, os.Args[1:], &env{
		stdin: os.Stdin, stdout: stdout, stderr: os.Stderr,
		stdoutTerminal: isTerminal(os.Stdout), stderrTerminal: isTerminal(os.Stderr),
		open: icmpkit.Open, interrupts: interrupts, uid: os.Getuid(),
	}))
}

const usage = `usage: icmpkit SUBCOMMAND [options] ARGS

subcommands:
  ping [options] HOST         send echo requests to HOST and summarize the replies
  multiping [options] HOST... ping many hosts at once (also -g CIDR, -f FILE)
  traceroute [options] HOST   list the routers on the path to HOST
  mtr [options] HOST...       watch the path to each HOST, cycle after cycle, as mtr does

"icmpkit SUBCOMMAND -h" lists the options of a subcommand and their defaults.
`

// run runs the program with args (without the program name) and returns its exit status.
// Cancelling ctx (Ctrl-C) stops a subcommand early; it still prints what it has.
func run(ctx context.Context, args []string, e *env) int {
	if len(args) == 0 {
		fmt.Fprint(e.stderr, usage)
		return exitError
	}
	// Every write to standard output goes through out, which remembers the first that
	// failed and ends the run then: what it would print is lost, so the run fails.
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	out := &checkedWriter{w: e.stdout, failed: cancel}
	sub := *e
	sub.stdout = out
	var code int
	name := "icmpkit " + args[0]
	switch args[0] {
	case "ping":
		code = runPing(ctx, args[1:], &sub)
	case "multiping":
		code = runMultiping(ctx, args[1:], &sub)
	case "traceroute":
		code = runTraceroute(ctx, args[1:], &sub)
	case "mtr":
		code = runMtr(ctx, args[1:], &sub)
	case "-h", "-help", "--help", "help":
		io.WriteString(out, usage)
		code, name = exitOK, "icmpkit"
	default:
		fmt.Fprintf(e.stderr, "icmpkit: unknown subcommand %q (ping, multiping, traceroute or mtr; icmpkit -h for help)\n", args[0])
		return exitError
	}
	if err := out.error(); err != nil {
		fmt.Fprintf(e.stderr, "%s: write error: %s\n", name, writeErrorText(err))
		return exitError
	}
	return code
}

// closedWriter stands for a standard output that was closed: every write fails as it would
// on the closed descriptor.
type closedWriter struct{}

func (closedWriter) Write([]byte) (int, error) { return 0, syscall.EBADF }

// checkedWriter passes writes on to w until one fails; it then remembers that error, calls
// failed once, and fails every later write with it. It is safe for concurrent use.
type checkedWriter struct {
	w      io.Writer
	failed func()
	mu     sync.Mutex
	err    error
}

func (c *checkedWriter) Write(b []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.err != nil {
		return 0, c.err
	}
	n, err := c.w.Write(b)
	if err == nil && n < len(b) {
		err = io.ErrShortWrite
	}
	if err != nil {
		c.err = err
		if c.failed != nil {
			c.failed()
		}
	}
	return n, err
}

// error gives the first write error, or nil.
func (c *checkedWriter) error() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.err
}

// writeErrorText gives what went wrong in a write as the system says it ("no space left on
// device"), without the file's name.
func writeErrorText(err error) string {
	var errno syscall.Errno
	if errors.As(err, &errno) {
		return errno.Error()
	}
	return err.Error()
}

// look gives what answers questions about names and interfaces.
func (e *env) look() lookups {
	if e.lookups == nil {
		return systemLookups{}
	}
	return e.lookups
}

// fail prints err as one line on stderr and gives exitError.
func (e *env) fail(cmd string, err error) int {
	msg := err.Error()
	if !strings.HasPrefix(msg, "icmpkit") {
		msg = "icmpkit " + cmd + ": " + msg
	}
	switch {
	case errors.Is(err, errors.ErrBroadcast):
		msg += " (use -b to allow broadcast destinations)"
	case errors.Is(err, errors.ErrPermission) && runtime.GOOS != "windows" && !strings.Contains(msg, "CAP_NET_RAW") && !strings.Contains(msg, "ping_group_range"):
		msg += " (run as root or grant CAP_NET_RAW for --mode raw; for --mode dgram admit the group in sysctl net.ipv4.ping_group_range)"
	}
	fmt.Fprintln(e.stderr, strings.Join(strings.Fields(msg), " "))
	return exitError
}

// openTransport opens the transport for mode and says on stderr when auto mode fell back to
// datagram sockets, unless quiet (-q, --json: the note helps nobody there). It has the Ctrl-C
// handler installed meanwhile and returns once it is in place, so that what the subcommand
// prints next is followed by a summary even if interrupted; brief says that the run may end within moments, and the subcommand then starts
// the handler itself when the run first waits (see interrupter).
func (e *env) openTransport(cmd string, mode icmpkit.Mode, cfg icmpkit.Config, brief, quiet bool) (transport.Transport, int) {
	if !brief {
		e.interrupts.start()
	}
	t, err := e.open(mode, cfg)
	if err != nil {
		return nil, e.fail(cmd, err)
	}
	// On Windows the ICMP API is the usual way, not a fallback worth a word.
	if !quiet && mode == icmpkit.ModeAuto && icmpkit.ModeOf(t) == icmpkit.ModeUnprivileged && runtime.GOOS != "windows" {
		fmt.Fprintln(e.stderr, "icmpkit "+cmd+": raw ICMP sockets unavailable, fell back to unprivileged datagram sockets (--mode dgram)")
	}
	e.interrupts.wait()
	return t, exitOK
}

// minUserInterval is the shortest interval between two requests to one host that a user who
// is not root may ask for: iputils ping's rule, for ping and multiping alike.
const minUserInterval = 2 * time.Millisecond

// maxUserRate is the most requests a second, over all hosts, that multiping sends for a user
// who is not root: fping's floor of 1 ms between any two requests.
const maxUserRate = 1000

// checkUserInterval refuses an interval (0: back to back) below minUserInterval for a user
// who is not root, with iputils' words.
func (e *env) checkUserInterval(interval time.Duration) error {
	if e.uid > 0 && interval < minUserInterval {
		return fmt.Errorf("cannot flood; minimal interval allowed for user is %dms", minUserInterval/time.Millisecond)
	}
	return nil
}

// interrupted reports whether err only says that ctx was cancelled (Ctrl-C).
func interrupted(ctx context.Context, err error) bool {
	return ctx.Err() != nil && errors.Is(err, ctx.Err())
}
