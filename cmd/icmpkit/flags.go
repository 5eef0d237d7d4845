package main

import (
	"fmt"
	"io"
	"math"
	"net/netip"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/icmpkit/icmpkit"
	"github.com/icmpkit/icmpkit/cmd/icmpkit/internal/getopt"
	"github.com/icmpkit/icmpkit/errors"
)

// command is a subcommand's options, listed in the help in the order they were defined.
type command struct {
	name, args, summary string
	set                 getopt.Set
	// operands are the arguments that are not options, in order, once parsed.
	operands []string
}

func newCommand(name, args, summary string) *command {
	return &command{name: name, args: args, summary: summary}
}

// define adds an option. spec names it: "c" (short), "mode" (long), or "c|count" (both).
func (c *command) define(spec, meta, usage string, v getopt.Value, isBool bool) *getopt.Option {
	o := &getopt.Option{Meta: meta, Usage: usage, Value: v, Switch: isBool}
	short, long, both := strings.Cut(spec, "|")
	if !both && utf8.RuneCountInString(spec) > 1 {
		short, long = "", spec
	}
	if short != "" {
		o.Short, _ = utf8.DecodeRuneInString(short)
	}
	o.Long = long
	// What an option holds before it is given is shown as its default only when the option
	// would take it.
	if dv, ok := v.(interface{ validDefault() bool }); ok && !dv.validDefault() {
		o.NoDefault = true
	}
	c.set.Add(o)
	return o
}

func (c *command) intVar(p *int, name, meta string, def, lo, hi int, usage string) {
	*p = def
	c.define(name, meta, usage, &intValue{p, lo, hi}, false)
}

// tosVar defines a traffic class option, 0 by default.
func (c *command) tosVar(p *int, name, usage string) {
	*p = 0
	c.define(name, "N", usage, tosValue{p}, false)
}

func (c *command) boolVar(p *bool, name string, def bool, usage string) {
	*p = def
	c.define(name, "", usage, getopt.Bool{P: p}, true)
}

func (c *command) secondsVar(p *time.Duration, name string, def time.Duration, zeroOK bool, usage string) {
	*p = def
	c.define(name, "SEC", usage, &secondsValue{p, zeroOK}, false)
}

func (c *command) floatVar(p *float64, name, meta string, def float64, usage string) {
	*p = def
	c.define(name, meta, usage, &rateValue{p}, false)
}

func (c *command) stringVar(p *string, name, meta string, usage string) {
	c.define(name, meta, usage, getopt.String{P: p}, false)
}

func (c *command) value(v getopt.Value, name, meta, usage string) {
	c.define(name, meta, usage, v, false)
}

// given reports whether the arguments set the option of that short or long name.
func (c *command) given(name string) bool {
	for _, o := range c.set.Options() {
		if o.Long == name || o.Short != 0 && string(o.Short) == name {
			return o.Given
		}
	}
	return false
}

// usage writes the subcommand's help: every option with its default.
func (c *command) usage(w io.Writer) {
	fmt.Fprintf(w, "usage: icmpkit %s [options] %s\n\n%s\n\noptions (anywhere among the arguments; -- ends them):\n", c.name, c.args, c.summary)
	for _, o := range c.set.Options() {
		if o.Help {
			continue
		}
		var left string
		switch {
		case o.Short != 0 && o.Long != "":
			left = "-" + string(o.Short) + ", --" + o.Long
		default:
			left = o.Name()
		}
		if o.Meta != "" {
			left += " " + o.Meta
		}
		def := o.Default
		switch {
		case o.NoDefault:
			fmt.Fprintf(w, "  %-24s %s\n", left, o.Usage)
			continue
		case def == "":
			def = "none"
		case o.Switch && def == "false":
			def = "off"
		case o.Switch && def == "true":
			def = "on"
		}
		fmt.Fprintf(w, "  %-24s %s (default %s)\n", left, o.Usage, def)
	}
	fmt.Fprintf(w, "  %-24s %s\n", "-h, --help", "print this help")
}

// parse parses args. done reports that the program should end with code: after -h, or on a
// bad option (a one-line message on stderr).
func (c *command) parse(args []string, e *env) (code int, done bool) {
	c.set.Add(&getopt.Option{Short: 'h', Long: "help", Help: true})
	var err error
	c.operands, err = c.set.Parse(args)
	switch {
	case err == getopt.ErrHelp:
		c.usage(e.stdout)
		return exitOK, true
	case err != nil:
		return c.usageError(e, err.Error()), true
	}
	return exitOK, false
}

// usageError prints a one-line usage message and gives exitError.
func (c *command) usageError(e *env, msg string) int {
	fmt.Fprintf(e.stderr, "icmpkit %s: %s (icmpkit %s -h lists the options)\n", c.name, msg, c.name)
	return exitError
}

// intValue is an integer flag within lo..hi.
type intValue struct {
	p      *int
	lo, hi int
}

func (v *intValue) String() string {
	if v.p == nil {
		return "0"
	}
	return strconv.Itoa(*v.p)
}

func (v *intValue) validDefault() bool { return v.p != nil && *v.p >= v.lo && *v.p <= v.hi }

func (v *intValue) Set(s string) error {
	n, err := strconv.Atoi(s)
	if err != nil {
		return errors.New("not an integer")
	}
	if n < v.lo || n > v.hi {
		if v.hi == math.MaxInt {
			return fmt.Errorf("must be at least %d", v.lo)
		}
		return fmt.Errorf("must be in %d..%d", v.lo, v.hi)
	}
	*v.p = n
	return nil
}

// tosValue is a traffic class (the DS field and ECN bits, the old TOS byte), 0..255, in
// decimal or in hexadecimal after 0x, as iputils ping's -Q takes it.
type tosValue struct{ p *int }

func (v tosValue) String() string { return strconv.Itoa(*v.p) }

func (v tosValue) Set(s string) error {
	digits, base := s, 10
	if len(s) > 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X') {
		digits, base = s[2:], 16
	}
	n, err := strconv.ParseInt(digits, base, 64)
	switch {
	case err != nil && !errors.Is(err, strconv.ErrRange):
		return errors.New("not a number: give it in decimal, or in hex after 0x")
	case err != nil || n < 0 || n > 255:
		return errors.New("must be in 0..255")
	}
	*v.p = int(n)
	return nil
}

// maxSeconds bounds durations given in seconds (a year), far below time.Duration's limit.
const maxSeconds = 365 * 24 * 3600

// secondsValue is a duration given as seconds with decimals ("0.2"). Zero is allowed only
// when zeroOK.
type secondsValue struct {
	p      *time.Duration
	zeroOK bool
}

func (v *secondsValue) String() string {
	if v.p == nil {
		return "0"
	}
	return strconv.FormatFloat(v.p.Seconds(), 'f', -1, 64)
}

func (v *secondsValue) validDefault() bool { return v.p != nil && (*v.p > 0 || v.zeroOK) }

func (v *secondsValue) Set(s string) error {
	d, err := parseDuration(s, time.Second, "seconds")
	if err != nil {
		return err
	}
	if d == 0 && !v.zeroOK {
		return errors.New("must be more than 0")
	}
	*v.p = d
	return nil
}

// parseDuration reads a non-negative decimal number of units ("0.2"), at most maxSeconds.
func parseDuration(s string, unit time.Duration, units string) (time.Duration, error) {
	f, err := strconv.ParseFloat(s, 64)
	switch {
	case err != nil || math.IsNaN(f) || math.IsInf(f, 0):
		return 0, errors.New("not a number of " + units)
	case f < 0:
		return 0, errors.New("must not be negative")
	case f*unit.Seconds() > maxSeconds:
		return 0, fmt.Errorf("must be at most %d seconds", maxSeconds)
	}
	return time.Duration(math.Round(f * float64(unit))), nil
}

// rateValue is a non-negative, finite number.
type rateValue struct{ p *float64 }

func (v *rateValue) String() string {
	if v.p == nil {
		return "0"
	}
	return strconv.FormatFloat(*v.p, 'f', -1, 64)
}

func (v *rateValue) Set(s string) error {
	f, err := strconv.ParseFloat(s, 64)
	switch {
	case err != nil || math.IsNaN(f) || math.IsInf(f, 0):
		return errors.New("not a number")
	case f < 0:
		return errors.New("must not be negative")
	}
	*v.p = f
	return nil
}

// modeValue is --mode.
type modeValue struct{ p *icmpkit.Mode }

func (v *modeValue) String() string {
	if v.p == nil {
		return icmpkit.ModeAuto.String()
	}
	return v.p.String()
}

func (v *modeValue) Set(s string) error {
	m, err := icmpkit.ParseMode(s)
	if err != nil {
		return errors.New("must be auto, raw or dgram")
	}
	*v.p = m
	return nil
}

// netFlags are the flags every subcommand has: -I, -4, -6 and --mode.
type netFlags struct {
	source string
	v4, v6 bool
	mode   icmpkit.Mode
}

func (n *netFlags) defineSource(c *command) {
	c.stringVar(&n.source, "I", "ADDR|IFNAME", "source address or interface")
}

func (n *netFlags) defineFamily(c *command) {
	c.boolVar(&n.v4, "4", false, "use IPv4 when HOST is a name (IPv4 first otherwise)")
	c.boolVar(&n.v6, "6", false, "use IPv6 when HOST is a name")
}

func (n *netFlags) defineMode(c *command) {
	c.value(&modeValue{&n.mode}, "mode", "auto|raw|dgram", "transport: raw socket, unprivileged ping socket, or raw-then-dgram")
}

// edge is what netFlags say: the family to resolve to, and where to send from.
type edge struct {
	family    icmpkit.Family
	source    netip.Addr
	iface     string
	mode      icmpkit.Mode
	broadcast bool
}

func (n *netFlags) edge() (edge, error) {
	e := edge{mode: n.mode}
	switch {
	case n.v4 && n.v6:
		return e, errors.New("-4 and -6 exclude each other")
	case n.v4:
		e.family = icmpkit.IPv4
	case n.v6:
		e.family = icmpkit.IPv6
	}
	if n.source == "" {
		return e, nil
	}
	if a, err := netip.ParseAddr(n.source); err == nil {
		e.source = a.Unmap()
		if e.family == icmpkit.IPv4 && !e.source.Is4() || e.family == icmpkit.IPv6 && !e.source.Is6() {
			return e, fmt.Errorf("-I %s is not an %s address", n.source, e.family)
		}
		if e.family == icmpkit.FamilyAny {
			// A source address decides the family.
			e.family = familyOf(e.source)
		}
		return e, nil
	}
	if len(n.source) > 15 || strings.ContainsAny(n.source, "/ \t") {
		return e, fmt.Errorf("-I %q is neither an address nor an interface name", n.source)
	}
	e.iface = n.source
	return e, nil
}

// config gives the transport configuration for destinations of family.
func (e edge) config(family icmpkit.Family) icmpkit.Config {
	return icmpkit.Config{Source: e.source, Interface: e.iface, Family: family, Broadcast: e.broadcast}
}

func familyOf(a netip.Addr) icmpkit.Family {
	if a.Is4() {
		return icmpkit.IPv4
	}
	return icmpkit.IPv6
}

// interval maps a command-line interval to the library's: 0 is back to back.
func interval(d time.Duration) time.Duration {
	if d == 0 {
		return icmpkit.BackToBack
	}
	return d
}

// payload gives the payload options for a size: 0 sends no data at all.
func payload(size int) ([]byte, int) {
	if size == 0 {
		return []byte{}, 0
	}
	return nil, size
}
