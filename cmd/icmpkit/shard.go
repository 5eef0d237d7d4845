package main

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"math"
	"math/bits"
	"math/rand/v2"
	"net/netip"
	"sort"
	"strconv"
)

// orderFlags say in what order multiping visits its targets, and which of them: input order,
// or a pseudo-random order fixed by a seed, split into shards as zmap does (shard K of N, K
// from 0), so that machines given the same targets and seed probe disjoint parts which
// together are every target once.
type orderFlags struct {
	shards, shard int
	seed          seedValue
	randomize     bool
	dryRun        bool
	csv           bool
}

// seedValue is --seed: an unsigned 64-bit integer.
type seedValue struct {
	n    uint64
	seen bool
}

func (v *seedValue) String() string { return "" }

func (v *seedValue) Set(s string) error {
	n, err := strconv.ParseUint(s, 10, 64)
	if err != nil {
		return errors.New("not an integer in 0..18446744073709551615")
	}
	v.n, v.seen = n, true
	return nil
}

func (o *orderFlags) define(c *command) {
	c.intVar(&o.shards, "shards", "N", 1, 1, math.MaxInt32, "split the targets, in the order of --seed, into N disjoint shards (needs --seed)")
	c.intVar(&o.shard, "shard", "K", 0, 0, math.MaxInt32, "probe shard K of --shards, from 0")
	c.value(&o.seed, "seed", "S", "visit the targets in the pseudo-random order of seed S, the same on every machine")
	c.boolVar(&o.randomize, "randomize", false, "visit the targets in a random order (a fresh seed unless --seed)")
	c.boolVar(&o.dryRun, "dry-run", false, "print the targets in the order they would be probed, one a line, and send nothing")
	c.boolVar(&o.csv, "csv", false, "print CSV: a header line, then one line a host")
}

// check checks the flags together, once parsed.
func (o *orderFlags) check(c *command, asJSON bool) error {
	switch {
	case c.given("shards") && !o.seed.seen:
		return errors.New("--shards needs --seed, the same for every shard")
	case c.given("shard") && !c.given("shards"):
		return errors.New("--shard needs --shards")
	case o.shard >= o.shards:
		return fmt.Errorf("--shard %d is not below --shards %d (shards count from 0)", o.shard, o.shards)
	case o.csv && asJSON:
		return errors.New("--csv and --json exclude each other")
	}
	return nil
}

// random reports whether the targets go in a pseudo-random order.
func (o *orderFlags) random() bool { return o.randomize || o.seed.seen || o.shards > 1 }

// apply puts tg's targets in the order the flags say: tg is left alone for input order.
func (o *orderFlags) apply(tg *targets) error {
	if !o.random() {
		return nil
	}
	seed := o.seed.n
	if !o.seed.seen {
		seed = rand.Uint64()
	}
	return tg.permute(seed, uint64(o.shards), uint64(o.shard))
}

// maxRandom is the most targets a random order takes.
const maxRandom = 1 << 62

// part is one source of targets in the index space of a random order: indexes start to
// start+n-1 are its targets, in its own order.
type part struct {
	start, n uint64
	prefix   netip.Prefix
	file     string // as given
	entries  *entries
	args     []string
	labels   []string
}

// entries are the targets of a file, read into memory for a random order: each target's text,
// and the line it came from for the report of a bad one. A target takes its text and 8 bytes.
type entries struct {
	text  []byte
	ends  []uint32 // each target's end in text; it starts where the one before ends
	lines []uint32
}

// readEntries reads a file of targets as the input order reads it.
func readEntries(r io.Reader) (*entries, error) {
	e := &entries{}
	if r == nil {
		return e, nil
	}
	ls := newLineScanner(r)
	for {
		text, n, ok := ls.next()
		if !ok {
			break
		}
		if uint64(len(e.text))+uint64(len(text)) > math.MaxUint32 || n > math.MaxUint32 {
			return nil, errors.New("too large for a random order (4 GiB of targets at most)")
		}
		e.text = append(e.text, text...)
		e.ends = append(e.ends, uint32(len(e.text)))
		e.lines = append(e.lines, uint32(n))
	}
	return e, ls.err()
}

// at gives target i's text and line number.
func (e *entries) at(i uint64) (string, int) {
	start := uint32(0)
	if i > 0 {
		start = e.ends[i-1]
	}
	return string(e.text[start:e.ends[i]]), int(e.lines[i])
}

// permute replaces tg's sources with the targets of shard of shards, in the pseudo-random
// order of seed. The targets are an index space over the sources in input order: a prefix's
// addresses are computed from their index, files are read into memory (entries), and the
// order is computed as it goes, so a /8 takes no more memory than a /24.
func (t *targets) permute(seed, shards, shard uint64) error {
	parts := make([]part, 0, len(t.specs))
	var n uint64
	for _, s := range t.specs {
		p := part{start: n}
		switch {
		case s.prefix.IsValid():
			size, ok := prefixSize(s.prefix)
			if !ok {
				return fmt.Errorf("-g %s: too many addresses for a random order (2^62 at most)", s.prefix)
			}
			p.prefix, p.n = s.prefix.Masked(), size
		case s.file != "":
			e, err := readEntries(s.r)
			if err != nil {
				return fmt.Errorf("read %s: %w", s.file, err)
			}
			p.file, p.entries, p.n = s.file, e, uint64(len(e.ends))
		default:
			p.args, p.labels, p.n = s.args, s.labels, uint64(len(s.args))
		}
		if p.n > maxRandom-n {
			return errors.New("too many targets for a random order (2^62 at most)")
		}
		n += p.n
		parts = append(parts, p)
	}
	x := &indexed{t: t, parts: parts, perm: newPerm(n, seed), pos: shard, step: shards, n: n}
	t.sources, t.cur = []func() (string, bool){x.next}, 0
	t.total, t.counting = shardSize(n, shards, shard), true
	t.whole = n
	return nil
}

// shardSize gives the number of targets of shard of shards, of n targets: the positions
// shard, shard+shards, shard+2*shards ... below n.
func shardSize(n, shards, shard uint64) uint64 {
	if shard >= n {
		return 0
	}
	return (n-1-shard)/shards + 1
}

// emptyShard reports whether a random order's shard has no targets though the whole has: a
// run with nothing to do rather than an empty list of targets; code is its exit status.
func (t *targets) emptyShard() (code int, empty bool) {
	if t.whole == 0 {
		return 0, false
	}
	if t.bad > 0 {
		return exitFail, true
	}
	return exitOK, true
}

// indexed pulls the targets of a random order: the target at each position of the shard, the
// text of textBlock of them made at a time in one string, which they share.
type indexed struct {
	t            *targets
	parts        []part
	perm         perm
	pos, step, n uint64 // the next position, the distance between the shard's, the targets

	buf      []byte
	block    string
	ends     []int
	labels   []string
	i, start int
}

func (x *indexed) next() (string, bool) {
	if x.i == len(x.ends) && !x.fill() {
		return "", false
	}
	s := x.block[x.start:x.ends[x.i]]
	x.t.label = x.labels[x.i]
	x.start = x.ends[x.i]
	x.i++
	return s, true
}

// fill makes the next block; false once there are no more targets.
func (x *indexed) fill() bool {
	x.buf, x.ends, x.labels = x.buf[:0], x.ends[:0], x.labels[:0]
	for len(x.ends) < textBlock && x.pos < x.n {
		i := x.perm.at(x.pos)
		x.pos += x.step // below 2^62 + 2^31: no overflow
		k := sort.Search(len(x.parts), func(k int) bool { return x.parts[k].start+x.parts[k].n > i })
		p := &x.parts[k]
		off := i - p.start
		label := ""
		switch {
		case p.entries != nil:
			text, line := p.entries.at(off)
			target, l, ok := x.t.accept(p.file, line, text)
			if !ok {
				continue
			}
			x.buf, label = append(x.buf, target...), l
		case p.args != nil:
			x.buf = append(x.buf, p.args[off]...)
			if p.labels != nil {
				label = p.labels[off]
			}
		default:
			x.buf = prefixAt(p.prefix, off).AppendTo(x.buf)
		}
		x.ends = append(x.ends, len(x.buf))
		x.labels = append(x.labels, label)
	}
	if len(x.ends) == 0 {
		return false
	}
	x.block, x.i, x.start = string(x.buf), 0, 0
	return true
}

// prefixAt gives the address at index i of prefixAddrs(p), p masked; i below prefixSize(p).
func prefixAt(p netip.Prefix, i uint64) netip.Addr {
	if p.Addr().Is4() {
		if p.Bits() < 31 {
			i++ // past the network address
		}
		b := p.Addr().As4()
		a := (uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3])) + uint32(i)
		return netip.AddrFrom4([4]byte{byte(a >> 24), byte(a >> 16), byte(a >> 8), byte(a)})
	}
	// At most 62 host bits: the index falls in the low 64 bits, which are zero in p.
	b := p.Addr().As16()
	for k := 15; k >= 8; k-- {
		b[k] |= byte(i)
		i >>= 8
	}
	return netip.AddrFrom16(b)
}

// feistelRounds is the number of rounds of perm's Feistel network.
const feistelRounds = 4

// perm is a pseudo-random permutation of 0..n-1 fixed by a seed, computed rather than stored:
// a balanced Feistel network over the smallest even number of bits that holds n-1, keyed by
// the seed, with cycle walking (a value at or above n is encrypted again until it falls below
// n). The network's domain is less than 4n, so a value takes fewer than 4 encryptions on
// average.
type perm struct {
	n    uint64
	half uint
	mask uint64
	keys [feistelRounds]uint64
}

func newPerm(n, seed uint64) perm {
	p := perm{n: n}
	width := uint(0)
	if n > 1 {
		width = uint(bits.Len64(n - 1))
	}
	p.half = max(1, (width+1)/2)
	p.mask = 1<<p.half - 1
	s := seed
	for i := range p.keys {
		s += 0x9e3779b97f4a7c15
		p.keys[i] = mix64(s)
	}
	return p
}

// at gives the value at position i, i below n.
func (p *perm) at(i uint64) uint64 {
	x := p.encrypt(i)
	for x >= p.n {
		x = p.encrypt(x)
	}
	return x
}

func (p *perm) encrypt(x uint64) uint64 {
	l, r := x>>p.half, x&p.mask
	for _, k := range p.keys {
		l, r = r, l^(mix64(r^k)&p.mask)
	}
	return l<<p.half | r
}

// mix64 is splitmix64's finalizer: every bit of the result depends on every bit of z.
func mix64(z uint64) uint64 {
	z = (z ^ z>>30) * 0xbf58476d1ce4e5b9
	z = (z ^ z>>27) * 0x94d049bb133111eb
	return z ^ z>>31
}

// dryRun prints the targets in the order they would be probed, one a line: the address, then
// the name it was given as when it was given by name. Bad lines of files are reported and
// skipped as in a run.
func dryRun(tg *targets, e *env) int {
	w := bufio.NewWriterSize(e.stdout, 64<<10)
	for a, ok := tg.next(); ok; a, ok = tg.next() {
		w.WriteString(a)
		if tg.label != "" {
			w.WriteByte(' ')
			w.WriteString(tg.label)
		}
		if w.WriteByte('\n') != nil {
			break // the output is gone: Flush says why
		}
	}
	if w.Flush() != nil {
		return exitError // run reports the write error, as for every subcommand
	}
	switch {
	case tg.err != nil:
		return e.fail("multiping", tg.err)
	case tg.bad > 0:
		return exitFail
	}
	return exitOK
}
