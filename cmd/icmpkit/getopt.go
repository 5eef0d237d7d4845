package main

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"
)

// The options are parsed as GNU getopt_long parses them, so that the command takes what
// people type for iputils ping, fping and traceroute(8):
//
//   - short options with the value attached or separate: -c1, -c 1;
//   - clusters of short options: -qn, and a value option last in a cluster: -qc1;
//   - options anywhere among the operands: ping HOST -c 3;
//   - "--" ends the options; a lone "-" is an operand;
//   - long options with "=" or a space: --mode=dgram, --mode dgram, and any unambiguous
//     abbreviation of the name: --js for --json. A switch takes no value, except an explicit
//     --name=true or --name=false.

// value is what an option sets. Set checks and stores one value; it says what is wrong in
// a few words ("must be at least 1"), which the parser puts after the option's name.
type value interface {
	Set(string) error
	String() string
}

// option is one option of a subcommand.
type option struct {
	short  rune   // 0: no short form
	long   string // "": no long form
	meta   string // the value's placeholder in the help ("N", "SEC"); "" for a switch
	usage  string
	def    string // the default, as the help shows it
	v      value
	isBool bool // a switch: takes no value
	given  bool // set by the arguments
	help   bool // -h, --help
}

// name spells the option as its user most likely typed it: its short form if it has one.
func (o *option) name() string {
	if o.short != 0 {
		return "-" + string(o.short)
	}
	return "--" + o.long
}

// spelled is the option as the user typed it, for messages.
func spelled(short rune, long string) string {
	if short != 0 {
		return "-" + string(short)
	}
	return "--" + long
}

// errHelp is returned by parse when -h or --help was given.
var errHelp = errors.New("help requested")

// optionError is an option that could not be taken. Its message names the option.
type optionError struct{ msg string }

func (e *optionError) Error() string { return e.msg }

func optErr(format string, args ...any) error { return &optionError{fmt.Sprintf(format, args...)} }

// optionSet is a subcommand's options, in the order they were defined.
type optionSet struct {
	opts    []*option
	byShort map[rune]*option
}

func (s *optionSet) add(o *option) {
	if s.byShort == nil {
		s.byShort = make(map[rune]*option, 32)
	}
	if o.v != nil {
		o.def = o.v.String()
	}
	if o.short != 0 {
		if _, dup := s.byShort[o.short]; dup {
			panic("option defined twice: -" + string(o.short))
		}
		s.byShort[o.short] = o
	}
	s.opts = append(s.opts, o)
}

// lookupLong finds a long option by its name or by a prefix that only one name has.
func (s *optionSet) lookupLong(name string) (*option, error) {
	var found *option
	var candidates []string
	for _, o := range s.opts {
		switch {
		case o.long == "":
		case o.long == name:
			return o, nil
		case strings.HasPrefix(o.long, name):
			found = o
			candidates = append(candidates, "--"+o.long)
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

// parse takes args and returns the operands, in order. It stops at the first option it
// cannot take and returns an *optionError, or errHelp.
func (s *optionSet) parse(args []string) ([]string, error) {
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
			if o.help {
				return operands, errHelp
			}
			if o.isBool {
				if !hasVal {
					val = "true"
				} else if _, err := strconv.ParseBool(val); err != nil {
					return operands, optErr("option --%s takes no value (or =true, =false), got %q", o.long, val)
				}
			} else if !hasVal {
				if i+1 == len(args) {
					return operands, optErr("option --%s needs a value (%s)", o.long, o.meta)
				}
				i++
				val = args[i]
			}
			if err := set(o, spelled(0, o.long), val); err != nil {
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
				if o.help {
					return operands, errHelp
				}
				if o.isBool {
					if err := set(o, spelled(r, ""), "true"); err != nil {
						return operands, err
					}
					continue
				}
				val := a[j:]
				if val == "" {
					if i+1 == len(args) {
						return operands, optErr("option -%s needs a value (%s)", string(r), o.meta)
					}
					i++
					val = args[i]
				}
				if err := set(o, spelled(r, ""), val); err != nil {
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
func set(o *option, typed, val string) error {
	if err := o.v.Set(val); err != nil {
		return optErr("invalid value %q for %s: %v", val, typed, err)
	}
	o.given = true
	return nil
}

// boolValue is a switch.
type boolValue struct{ p *bool }

func (v boolValue) String() string { return strconv.FormatBool(*v.p) }

func (v boolValue) Set(s string) error {
	b, err := strconv.ParseBool(s)
	if err != nil {
		return errors.New("not true or false")
	}
	*v.p = b
	return nil
}

// stringValue is an option whose value is any string.
type stringValue struct{ p *string }

func (v stringValue) String() string { return *v.p }

func (v stringValue) Set(s string) error {
	*v.p = s
	return nil
}

// seenValue is a value that records whether its option was given at all.
type seenValue struct {
	value
	seen *bool
}

func (v seenValue) Set(s string) error {
	*v.seen = true
	return v.value.Set(s)
}
