// Package getopt parses a command's options as GNU getopt_long parses them, so that icmpkit
// takes what people type for iputils ping, fping and traceroute(8):
//
//   - short options with the value attached or separate: -c1, -c 1;
//   - clusters of short options: -qn, and a value option last in a cluster: -qc1;
//   - options anywhere among the operands: ping HOST -c 3;
//   - "--" ends the options; a lone "-" is an operand;
//   - long options with "=" or a space: --mode=dgram, --mode dgram, and any unambiguous
//     abbreviation of the name: --js for --json.
//
// A switch takes no value, except an explicit --name=true or --name=false (so that a switch
// on by default can be turned off); --help takes none at all.
package getopt

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Value is what an option sets. Set checks and stores one value; it says what is wrong in a
// few words ("must be at least 1"), which the parser puts after the option's name.
type Value interface {
	Set(string) error
	String() string
}

// Option is one option of a command.
type Option struct {
	Short rune   // 0: no short form
	Long  string // "": no long form
	Meta  string // the value's placeholder in the help ("N", "SEC"); "" for a switch
	Usage string
	// Default is the default as the help shows it, taken from Value when the option is
	// added unless NoDefault; "" when the option has none to show.
	Default string
	// NoDefault says that the option has no default worth showing: what it holds before it
	// is given is not a value it would take.
	NoDefault bool
	Value     Value
	Switch    bool // takes no value
	Help      bool // -h, --help: parsing stops with ErrHelp
	// Given is set once the arguments gave the option a value.
	Given bool
}

// Name spells the option as its user most likely typed it: its short form if it has one.
func (o *Option) Name() string {
	if o.Short != 0 {
		return "-" + string(o.Short)
	}
	return "--" + o.Long
}

// ErrHelp is returned by Parse when -h or --help was given.
var ErrHelp = errors.New("help requested")

// Error is an option that could not be taken. Its message names the option.
type Error struct{ msg string }

func (e *Error) Error() string { return e.msg }

func optErr(format string, args ...any) error { return &Error{fmt.Sprintf(format, args...)} }

// Set is a command's options, in the order they were added.
type Set struct {
	opts    []*Option
	byShort map[rune]*Option
}

// Add adds o. It panics when o's short form is taken already: a mistake of the program.
func (s *Set) Add(o *Option) {
	if s.byShort == nil {
		s.byShort = make(map[rune]*Option, 32)
	}
	if o.Value != nil && !o.NoDefault && o.Default == "" {
		o.Default = o.Value.String()
	}
	if o.Short != 0 {
		if _, dup := s.byShort[o.Short]; dup {
			panic("option defined twice: -" + string(o.Short))
		}
		s.byShort[o.Short] = o
	}
	s.opts = append(s.opts, o)
}

// Options gives the options in the order they were added.
func (s *Set) Options() []*Option { return s.opts }

// lookupLong finds a long option by its name or by a prefix that only one name has.
func (s *Set) lookupLong(name string) (*Option, error) {
	var found *Option
	var candidates []string
	for _, o := range s.opts {
		switch {
		case o.Long == "":
		case o.Long == name:
			return o, nil
		case strings.HasPrefix(o.Long, name):
			found = o
			candidates = append(candidates, "--"+o.Long)
		}
	}
	switch {
	case name == "" || len(candidates) == 0:
		return nil, optErr("unknown option --%s", name)
	case len(candidates) > 1:
		return nil, optErr("option --%s is ambiguous (%s)", name, strings.Join(candidates, ", "))
	}
	return found, nil
}

// Parse takes args and returns the operands, in order. It stops at the first option it
// cannot take and returns an *Error, or ErrHelp.
func (s *Set) Parse(args []string) ([]string, error) {
	var operands []string
	for i := 0; i < len(args); i++ {
		a := args[i]
		switch {
		case a == "--":
			return append(operands, args[i+1:]...), nil
		case strings.HasPrefix(a, "--"):
			name, val, hasVal := strings.Cut(a[2:], "=")
			o, err := s.lookupLong(name)
			if err != nil {
				return operands, err
			}
			switch {
			case o.Help && hasVal:
				return operands, optErr("option --%s takes no value, got %q", o.Long, val)
			case o.Help:
				return operands, ErrHelp
			case o.Switch && !hasVal:
				val = "true"
			case o.Switch && val != "true" && val != "false":
				return operands, optErr("option --%s takes no value (or =true, =false), got %q", o.Long, val)
			case o.Switch:
			case !hasVal:
				if i+1 == len(args) {
					return operands, optErr("option --%s needs a value (%s)", o.Long, o.Meta)
				}
				i++
				val = args[i]
			}
			if err := set(o, "--"+o.Long, val); err != nil {
				return operands, err
			}
		case len(a) > 1 && a[0] == '-':
			// A cluster: switches, and at most one value option, which takes the rest.
			for j := 1; j < len(a); {
				r, size := utf8.DecodeRuneInString(a[j:])
				j += size
				o := s.byShort[r]
				if o == nil || r == utf8.RuneError {
					return operands, optErr("unknown option -%s", string(r))
				}
				if o.Help {
					return operands, ErrHelp
				}
				if o.Switch {
					if err := set(o, "-"+string(r), "true"); err != nil {
						return operands, err
					}
					continue
				}
				val := a[j:]
				if val == "" {
					if i+1 == len(args) {
						return operands, optErr("option -%s needs a value (%s)", string(r), o.Meta)
					}
					i++
					val = args[i]
				}
				if err := set(o, "-"+string(r), val); err != nil {
					return operands, err
				}
				break
			}
		default:
			operands = append(operands, a)
		}
	}
	return operands, nil
}

// set gives val to o, and names the option as it was typed when the value is refused.
func set(o *Option, typed, val string) error {
	if err := o.Value.Set(val); err != nil {
		return optErr("invalid value %q for %s: %v", val, typed, err)
	}
	o.Given = true
	return nil
}

// Bool is a switch's value.
type Bool struct{ P *bool }

func (v Bool) String() string { return strconv.FormatBool(*v.P) }

// Set takes "true" or "false".
func (v Bool) Set(s string) error {
	switch s {
	case "true":
		*v.P = true
	case "false":
		*v.P = false
	default:
		return errors.New("not true or false")
	}
	return nil
}

// String is an option whose value is any string.
type String struct{ P *string }

func (v String) String() string { return *v.P }

func (v String) Set(s string) error {
	*v.P = s
	return nil
}

// Seen is a value that records whether its option was given at all.
type Seen struct {
	Value
	Seen *bool
}

func (v Seen) Set(s string) error {
	*v.Seen = true
	return v.Value.Set(s)
}
