package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"iter"
	"net/netip"
	"os"
	"strings"

	"github.com/icmpkit/icmpkit"
)

// targets are multiping's targets in input order: -g prefixes and -f files in the order the
// flags came, then the arguments. Nothing is read or generated before it is pulled, so any
// number of targets takes bounded memory. Each source gives its targets one call at a time,
// so that pulling them (next) needs no coroutine: a multiping of a million hosts pulls a
// million times.
type targets struct {
	stdin   io.Reader
	sources []func() (string, bool) // each gives its next target, false once it has none
	cur     int                     // the source being pulled
	closers []io.Closer
	// total is the number of targets when known (no file), for the progress bar.
	total    uint64
	counting bool
	// err is a file that could not be read; the pull stops there.
	err error
	// stdinUsed is set once "-f -" was given.
	stdinUsed bool
	// label is how the target just pulled is to be shown when not by what was pulled: the
	// name an argument or a line of a file was given as, resolved. Valid until the next pull.
	label string
	// specs says what each source is, in the same order, for the random order (see shard.go).
	specs []spec
	// check, when set, turns the text of a file's line into the target to probe and its
	// label, or says why the line is bad. A bad line is reported through warn and skipped.
	check func(text string) (target, label string, err error)
	warn  func(msg string)
	// bad counts the lines skipped as bad.
	bad int
	// whole is the number of targets of every shard, once in a random order.
	whole uint64
}

// spec is one source of targets: a prefix, a file, or the arguments.
type spec struct {
	prefix netip.Prefix
	file   string    // as given: "-" for standard input
	r      io.Reader // the file's
	args   []string
	labels []string
}

func newTargets(stdin io.Reader) *targets { return &targets{stdin: stdin, counting: true} }

// prefixFlag is -g CIDR.
type prefixFlag struct{ t *targets }

func (f prefixFlag) String() string { return "" }

func (f prefixFlag) Set(s string) error {
	p, err := netip.ParsePrefix(s)
	if err != nil {
		return errors.New("not a CIDR prefix (e.g. 198.18.0.0/24)")
	}
	if p.Addr().Is4In6() {
		return errors.New("an IPv4-mapped prefix; give it as IPv4")
	}
	n, ok := prefixSize(p)
	f.t.count(n, ok)
	f.t.sources = append(f.t.sources, addrTexts(prefixNext(p)))
	f.t.specs = append(f.t.specs, spec{prefix: p})
	return nil
}

// textBlock is how many addresses' text addrTexts puts in one string.
const textBlock = 256

// addrTexts gives the text of each address next gives. The text of textBlock addresses at a
// time is made in one string, which they share: a prefix of a million addresses takes four
// thousand allocations, not a million.
func addrTexts(next func() (netip.Addr, bool)) func() (string, bool) {
	var text []byte
	var block string
	ends := make([]int, 0, textBlock)
	i, start := 0, 0
	return func() (string, bool) {
		if i == len(ends) {
			text, ends = text[:0], ends[:0]
			for len(ends) < textBlock {
				a, ok := next()
				if !ok {
					break
				}
				text = a.AppendTo(text)
				ends = append(ends, len(text))
			}
			if len(ends) == 0 {
				return "", false
			}
			block, i, start = string(text), 0, 0
		}
		s := block[start:ends[i]]
		start = ends[i]
		i++
		return s, true
	}
}

// fileFlag is -f FILE, or -f - for standard input.
type fileFlag struct{ t *targets }

func (f fileFlag) String() string { return "" }

func (f fileFlag) Set(name string) error {
	var r io.Reader
	if name == "-" {
		if f.t.stdinUsed {
			return errors.New("standard input given twice")
		}
		f.t.stdinUsed = true
		r = f.t.stdin
	} else {
		file, err := os.Open(name)
		if err != nil {
			return err
		}
		f.t.closers = append(f.t.closers, file)
		r = file
	}
	f.t.count(0, false)
	var lines *lineScanner // made when the file is first read
	t := f.t
	t.specs = append(t.specs, spec{file: name, r: r})
	t.sources = append(t.sources, func() (string, bool) {
		if lines == nil {
			lines = newLineScanner(r)
		}
		for {
			text, n, ok := lines.next()
			if !ok {
				break
			}
			if target, label, ok := t.accept(name, n, text); ok {
				t.label = label
				return target, true
			}
		}
		if err := lines.err(); err != nil && t.err == nil {
			t.err = fmt.Errorf("read %s: %w", name, err)
		}
		return "", false
	})
	return nil
}

// lineScanner reads a file of targets: the first field of each line, comments (from #) and
// blank lines aside, and a UTF-8 byte order mark at the start ignored.
type lineScanner struct {
	sc   *bufio.Scanner
	line int
}

func newLineScanner(r io.Reader) *lineScanner {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 4096), 1<<20)
	return &lineScanner{sc: sc}
}

// next gives the next target's text and its line number (from 1); false at the end of the
// file, or where it could not be read (err says why).
func (l *lineScanner) next() (string, int, bool) {
	for l.sc.Scan() {
		l.line++
		line := l.sc.Text()
		if l.line == 1 {
			line = strings.TrimPrefix(line, "\uFEFF")
		}
		if i := strings.IndexByte(line, '#'); i >= 0 {
			line = line[:i]
		}
		if f := strings.Fields(line); len(f) > 0 {
			return f[0], l.line, true
		}
	}
	return "", 0, false
}

func (l *lineScanner) err() error { return l.sc.Err() }

// fileLabel is how a file is named in the report of a bad line.
func fileLabel(name string) string {
	if name == "-" {
		return "(standard input)"
	}
	return name
}

// accept gives the target that line n of file says, with its label; a bad line is reported
// as FILE:LINE: and skipped (false).
func (t *targets) accept(file string, n int, text string) (target, label string, ok bool) {
	if t.check == nil {
		return text, "", true
	}
	target, label, err := t.check(text)
	if err != nil {
		t.bad++
		if t.warn != nil {
			t.warn(fmt.Sprintf("%s:%d: %s\n", fileLabel(file), n, strings.TrimPrefix(err.Error(), "icmpkit: ")))
		}
		return "", "", false
	}
	return target, label, true
}

// addArgs adds the positional arguments, after the flags' sources; labels, when not nil,
// holds how each is shown when not by itself ("" for those shown so).
func (t *targets) addArgs(args, labels []string) {
	if len(args) == 0 {
		return
	}
	t.count(uint64(len(args)), true)
	t.specs = append(t.specs, spec{args: args, labels: labels})
	i := 0
	t.sources = append(t.sources, func() (string, bool) {
		t.label = ""
		if i == len(args) {
			return "", false
		}
		if labels != nil {
			t.label = labels[i]
		}
		i++
		return args[i-1], true
	})
}

func (t *targets) count(n uint64, known bool) {
	if !known || t.total+n < t.total {
		t.counting = false
		return
	}
	t.total += n
}

// known gives the number of targets, or 0 when it is not known in advance.
func (t *targets) known() uint64 {
	if !t.counting {
		return 0
	}
	return t.total
}

// next gives the next target, from each source in order; false once there are no more, or
// once a file could not be read (err says why).
func (t *targets) next() (string, bool) {
	for t.cur < len(t.sources) && t.err == nil {
		t.label = ""
		if a, ok := t.sources[t.cur](); ok {
			return a, true
		}
		if t.err == nil {
			t.cur++
		}
	}
	return "", false
}

// pull is iter.Pull(t.all) without its coroutine: next, and a stop that has nothing to do.
func (t *targets) pull() (next func() (string, bool), stop func()) {
	return t.next, func() {}
}

// all pulls every target in order; the targets can be pulled once.
func (t *targets) all(yield func(string) bool) {
	for a, ok := t.next(); ok; a, ok = t.next() {
		if !yield(a) {
			return
		}
	}
}

func (t *targets) close() {
	for _, c := range t.closers {
		c.Close()
	}
}

// prefixAddrs yields the addresses of p in order; for IPv4 prefixes shorter than /31, all
// but the network and the broadcast address.
func prefixAddrs(p netip.Prefix) iter.Seq[netip.Addr] {
	return func(yield func(netip.Addr) bool) {
		next := prefixNext(p)
		for a, ok := next(); ok && yield(a); a, ok = next() {
		}
	}
}

// prefixNext gives the addresses of prefixAddrs one call at a time; false after the last.
func prefixNext(p netip.Prefix) func() (netip.Addr, bool) {
	p = p.Masked()
	if !p.Addr().Is4() {
		a := p.Addr()
		return func() (netip.Addr, bool) {
			if !a.IsValid() || !p.Contains(a) {
				return netip.Addr{}, false
			}
			cur := a
			a = a.Next()
			return cur, true
		}
	}
	// IPv4 counts in 32 bits.
	b := p.Addr().As4()
	a := uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3])
	last := a | uint32(uint64(1)<<(32-p.Bits())-1)
	if p.Bits() < 31 {
		a, last = a+1, last-1
	}
	done := false
	return func() (netip.Addr, bool) {
		if done {
			return netip.Addr{}, false
		}
		cur := a
		if a == last {
			done = true
		} else {
			a++
		}
		return netip.AddrFrom4([4]byte{byte(cur >> 24), byte(cur >> 16), byte(cur >> 8), byte(cur)}), true
	}
}

// prefixSize gives the number of addresses prefixAddrs yields, when it fits in 62 bits.
func prefixSize(p netip.Prefix) (uint64, bool) {
	host := p.Addr().BitLen() - p.Bits()
	if host > 62 {
		return 0, false
	}
	n := uint64(1) << host
	if p.Addr().Is4() && p.Bits() < 31 {
		n -= 2
	}
	return n, true
}

// lineCheck is targets.check for a multiping with opts: a line is an address, or a host name
// that resolves, of a family and size that opts allow. A name's target is its address, and
// its label the name.
func lineCheck(ctx context.Context, look lookups, opts *icmpkit.MultipingOptions) func(string) (string, string, error) {
	return func(text string) (string, string, error) {
		literal := true
		if _, err := netip.ParseAddr(strings.TrimSuffix(strings.TrimPrefix(text, "["), "]")); err != nil {
			if !isHostName(text) {
				return "", "", fmt.Errorf("%q is neither an address nor a host name", text)
			}
			literal = false
		}
		dst, err := look.resolve(ctx, text, opts.Family)
		if err != nil {
			if ctx.Err() != nil {
				return text, "", nil // the run is ending: nothing is probed any more
			}
			return "", "", err
		}
		if err := opts.Validate(dst); err != nil {
			return "", "", fmt.Errorf("%s: %w", text, err)
		}
		if literal {
			return text, "", nil
		}
		return dst.String(), text, nil
	}
}

// isHostName reports whether s is a host name by its syntax (RFC 1123 labels, with
// underscores as resolvers allow them): dot-separated labels of 1 to 63 letters, digits,
// hyphens and underscores, 253 characters at most, a final dot allowed.
func isHostName(s string) bool {
	s = strings.TrimSuffix(s, ".")
	if s == "" || len(s) > 253 {
		return false
	}
	for label := range strings.SplitSeq(s, ".") {
		if label == "" || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' {
			return false
		}
		for i := 0; i < len(label); i++ {
			c := label[i]
			if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '_') {
				return false
			}
		}
	}
	return true
}
