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
// number of targets takes bounded memory.
type targets struct {
	stdin   io.Reader
	sources []iter.Seq[string]
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
	f.t.sources = append(f.t.sources, addrStrings(prefixAddrs(p)))
	return nil
}

// textBlock is how many addresses' text addrStrings puts in one string.
const textBlock = 256

// addrStrings gives the text of each address. The text of textBlock addresses at a time is
// made in one string, which they share: a prefix of a million addresses takes four thousand
// allocations, not a million.
func addrStrings(addrs iter.Seq[netip.Addr]) iter.Seq[string] {
	return func(yield func(string) bool) {
		var text []byte
		ends := make([]int, 0, textBlock)
		hand := func() bool {
			block := string(text)
			start := 0
			for _, end := range ends {
				if !yield(block[start:end]) {
					return false
				}
				start = end
			}
			text, ends = text[:0], ends[:0]
			return true
		}
		for a := range addrs {
			text = a.AppendTo(text)
			ends = append(ends, len(text))
			if len(ends) == textBlock && !hand() {
				return
			}
		}
		hand()
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
	f.t.sources = append(f.t.sources, func(yield func(string) bool) {
		sc := bufio.NewScanner(r)
		sc.Buffer(make([]byte, 0, 4096), 1<<20)
		for sc.Scan() {
			line := strings.TrimSpace(sc.Text())
			if i := strings.IndexByte(line, '#'); i >= 0 {
				line = strings.TrimSpace(line[:i])
			}
			if line == "" {
				continue
			}
			if !yield(strings.Fields(line)[0]) {
				return
			}
		}
		if err := sc.Err(); err != nil {
			f.t.err = fmt.Errorf("read %s: %w", name, err)
		}
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
	t.sources = append(t.sources, func(yield func(string) bool) {
		defer func() { t.label = "" }()
		for i, a := range args {
			if labels != nil {
				t.label = labels[i]
			}
			if !yield(a) {
				return
			}
		}
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

// all pulls every source in order.
func (t *targets) all(yield func(string) bool) {
	for _, s := range t.sources {
		for h := range s {
			if !yield(h) {
				return
			}
		}
		if t.err != nil {
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
	p = p.Masked()
	if p.Addr().Is4() {
		return prefixAddrs4(p)
	}
	return func(yield func(netip.Addr) bool) {
		for a := p.Addr(); a.IsValid() && p.Contains(a); a = a.Next() {
			if !yield(a) {
				return
			}
		}
	}
}

// prefixAddrs4 is prefixAddrs for an IPv4 prefix, counting in 32 bits.
func prefixAddrs4(p netip.Prefix) iter.Seq[netip.Addr] {
	b := p.Addr().As4()
	first := uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3])
	last := first | uint32(uint64(1)<<(32-p.Bits())-1)
	if p.Bits() < 31 {
		first, last = first+1, last-1
	}
	return func(yield func(netip.Addr) bool) {
		for a := first; ; a++ {
			if !yield(netip.AddrFrom4([4]byte{byte(a >> 24), byte(a >> 16), byte(a >> 8), byte(a)})) || a == last {
				return
			}
		}
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
