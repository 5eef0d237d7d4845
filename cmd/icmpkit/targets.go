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
	f.t.sources = append(f.t.sources, func(yield func(string) bool) {
		for a := range prefixAddrs(p) {
			if !yield(a.String()) {
				return
			}
		}
	})
	return nil
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
	return func(yield func(netip.Addr) bool) {
		a := p.Addr()
		ends := a.Is4() && p.Bits() < 31
		if ends {
			a = a.Next()
		}
		for ; a.IsValid() && p.Contains(a); a = a.Next() {
			if ends && !p.Contains(a.Next()) {
				return // the broadcast address
			}
			if !yield(a) {
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
