package main

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"iter"
	"net/netip"
	"os"
	"strings"
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
	// name an argument was given as, resolved before the run. Valid until the next pull.
	label string
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
	var sc *bufio.Scanner // made when the file is first read
	t := f.t
	t.sources = append(t.sources, func() (string, bool) {
		if sc == nil {
			sc = bufio.NewScanner(r)
			sc.Buffer(make([]byte, 0, 4096), 1<<20)
		}
		for sc.Scan() {
			line := strings.TrimSpace(sc.Text())
			if i := strings.IndexByte(line, '#'); i >= 0 {
				line = strings.TrimSpace(line[:i])
			}
			if line != "" {
				return strings.Fields(line)[0], true
			}
		}
		if err := sc.Err(); err != nil && t.err == nil {
			t.err = fmt.Errorf("read %s: %w", name, err)
		}
		return "", false
	})
	return nil
}

// addArgs adds the positional arguments, after the flags' sources; labels, when not nil,
// holds how each is shown when not by itself ("" for those shown so).
func (t *targets) addArgs(args, labels []string) {
	if len(args) == 0 {
		return
	}
	t.count(uint64(len(args)), true)
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
