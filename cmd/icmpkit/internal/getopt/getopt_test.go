package getopt

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// testOptions is a command with options of every kind, as ping's.
type testOptions struct {
	count         int
	wait          time.Duration
	quiet, numer  bool
	asJSON, paris bool
	mode, file    string
}

// intValue is an integer of at least 1.
type intValue struct{ p *int }

func (v intValue) String() string { return strconv.Itoa(*v.p) }

func (v intValue) Set(s string) error {
	n, err := strconv.Atoi(s)
	switch {
	case err != nil:
		return errors.New("not an integer")
	case n < 1:
		return errors.New("must be at least 1")
	}
	*v.p = n
	return nil
}

// secondsValue is a duration in seconds.
type secondsValue struct{ p *time.Duration }

func (v secondsValue) String() string { return fmt.Sprint(v.p.Seconds()) }

func (v secondsValue) Set(s string) error {
	f, err := strconv.ParseFloat(s, 64)
	if err != nil {
		return errors.New("not a number of seconds")
	}
	*v.p = time.Duration(f * float64(time.Second))
	return nil
}

// testCommand is a command with options of every kind, as ping's.
type testCommand struct{ set Set }

func (c *testCommand) add(spec string, v Value, isSwitch bool, meta string) {
	o := &Option{Value: v, Switch: isSwitch, Meta: meta}
	short, long, both := strings.Cut(spec, "|")
	if !both && len(spec) > 1 {
		short, long = "", spec
	}
	if short != "" {
		o.Short = rune(short[0])
	}
	o.Long = long
	c.set.Add(o)
}

func newTestCommand(o *testOptions) *testCommand {
	c := &testCommand{}
	o.count, o.wait = 4, 2*time.Second
	c.add("c|count", intValue{&o.count}, false, "N")
	c.add("W", secondsValue{&o.wait}, false, "SEC")
	c.add("q", Bool{&o.quiet}, true, "")
	c.add("n", Bool{&o.numer}, true, "")
	c.add("json", Bool{&o.asJSON}, true, "")
	c.add("paris", Bool{&o.paris}, true, "")
	c.add("mode", String{&o.mode}, false, "M")
	c.add("f", String{&o.file}, false, "FILE")
	c.set.Add(&Option{Short: 'h', Long: "help", Help: true})
	return c
}

func TestGetopt(t *testing.T) {
	tests := []struct {
		name     string
		args     []string
		want     testOptions
		operands []string
	}{
		{"defaults", []string{"h1"}, testOptions{count: 4, wait: 2 * time.Second}, []string{"h1"}},
		{"attached value", []string{"-c1", "h1"}, testOptions{count: 1, wait: 2 * time.Second}, []string{"h1"}},
		{"separate value", []string{"-c", "1", "h1"}, testOptions{count: 1, wait: 2 * time.Second}, []string{"h1"}},
		{"attached seconds", []string{"-W0.5", "h1"}, testOptions{count: 4, wait: 500 * time.Millisecond}, []string{"h1"}},
		{"cluster", []string{"-qn", "h1"}, testOptions{count: 4, wait: 2 * time.Second, quiet: true, numer: true}, []string{"h1"}},
		{"cluster ending with a value", []string{"-qnc3", "h1"}, testOptions{count: 3, wait: 2 * time.Second, quiet: true, numer: true}, []string{"h1"}},
		{"cluster with the value next", []string{"-qc", "3", "h1"}, testOptions{count: 3, wait: 2 * time.Second, quiet: true}, []string{"h1"}},
		{"options after the operand", []string{"h1", "-c", "3", "-q"}, testOptions{count: 3, wait: 2 * time.Second, quiet: true}, []string{"h1"}},
		{"options among operands", []string{"h1", "-q", "h2", "-c2", "h3"}, testOptions{count: 2, wait: 2 * time.Second, quiet: true}, []string{"h1", "h2", "h3"}},
		{"-- ends the options", []string{"-q", "--", "-c", "h1"}, testOptions{count: 4, wait: 2 * time.Second, quiet: true}, []string{"-c", "h1"}},
		{"a lone - is an operand", []string{"-", "-q"}, testOptions{count: 4, wait: 2 * time.Second, quiet: true}, []string{"-"}},
		{"a value may start with -", []string{"-f", "-", "h1"}, testOptions{count: 4, wait: 2 * time.Second, file: "-"}, []string{"h1"}},
		{"long with =", []string{"--mode=dgram", "h1"}, testOptions{count: 4, wait: 2 * time.Second, mode: "dgram"}, []string{"h1"}},
		{"long with a space", []string{"--mode", "dgram", "h1"}, testOptions{count: 4, wait: 2 * time.Second, mode: "dgram"}, []string{"h1"}},
		{"long value with =", []string{"--mode=a=b", "h1"}, testOptions{count: 4, wait: 2 * time.Second, mode: "a=b"}, []string{"h1"}},
		{"long and short of one option", []string{"--count=7", "h1"}, testOptions{count: 7, wait: 2 * time.Second}, []string{"h1"}},
		{"long switch", []string{"h1", "--json"}, testOptions{count: 4, wait: 2 * time.Second, asJSON: true}, []string{"h1"}},
		{"long switch =false", []string{"--json", "--json=false", "h1"}, testOptions{count: 4, wait: 2 * time.Second}, []string{"h1"}},
		{"abbreviation", []string{"--js", "--par", "--mo", "raw", "h1"}, testOptions{count: 4, wait: 2 * time.Second, asJSON: true, paris: true, mode: "raw"}, []string{"h1"}},
		{"the last value wins", []string{"-c1", "-c", "9", "h1"}, testOptions{count: 9, wait: 2 * time.Second}, []string{"h1"}},
		{"no operands", nil, testOptions{count: 4, wait: 2 * time.Second}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var o testOptions
			c := newTestCommand(&o)
			operands, err := c.set.Parse(tt.args)
			require.NoError(t, err)
			assert.Equal(t, tt.want, o)
			assert.Equal(t, tt.operands, operands)
		})
	}
}

func TestGetoptErrors(t *testing.T) {
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"unknown short", []string{"-x", "h1"}, "unknown option -x"},
		{"unknown in a cluster", []string{"-qx", "h1"}, "unknown option -x"},
		{"unknown long", []string{"--nope", "h1"}, "unknown option --nope"},
		{"empty long name", []string{"--=x", "h1"}, "unknown option --"},
		{"a prefix only one name has", []string{"--pa", "h1"}, ""},
		{"-- alone", []string{"--", "h1"}, ""},
		{"missing short value", []string{"h1", "-c"}, "option -c needs a value (N)"},
		{"missing value after a cluster", []string{"h1", "-qc"}, "option -c needs a value (N)"},
		{"missing long value", []string{"h1", "--mode"}, "option --mode needs a value (M)"},
		{"bad value", []string{"-c", "many", "h1"}, `invalid value "many" for -c: not an integer`},
		{"bad attached value", []string{"-c0", "h1"}, `invalid value "0" for -c: must be at least 1`},
		{"bad long value", []string{"--count=0", "h1"}, `invalid value "0" for --count: must be at least 1`},
		{"value to a switch", []string{"--json=yes", "h1"}, `option --json takes no value (or =true, =false), got "yes"`},
		{"1 to a switch", []string{"--json=1", "h1"}, `option --json takes no value (or =true, =false), got "1"`},
		{"empty value to a switch", []string{"--json=", "h1"}, `option --json takes no value (or =true, =false), got ""`},
		{"a value to --help", []string{"--help=x", "h1"}, `option --help takes no value, got "x"`},
		{"true to --help", []string{"--he=true"}, `option --help takes no value, got "true"`},
		{"not UTF-8", []string{"-\xff", "h1"}, "unknown option -\uFFFD"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var o testOptions
			c := newTestCommand(&o)
			_, err := c.set.Parse(tt.args)
			if tt.want == "" {
				assert.NoError(t, err)
				return
			}
			var oe *Error
			require.ErrorAs(t, err, &oe)
			assert.Equal(t, tt.want, err.Error())
		})
	}

	// Two long options that share a prefix.
	c := &testCommand{}
	var a, b bool
	c.add("pmtu", Bool{&a}, true, "")
	c.add("paris", Bool{&b}, true, "")
	_, err := c.set.Parse([]string{"--p"})
	assert.EqualError(t, err, "option --p is ambiguous (--pmtu, --paris)")
	_, err = c.set.Parse([]string{"--pm"})
	assert.NoError(t, err)
	assert.True(t, a)
}

func TestGetoptHelp(t *testing.T) {
	for _, args := range [][]string{{"-h"}, {"--help"}, {"h1", "-qh"}, {"--he"}} {
		var o testOptions
		_, err := newTestCommand(&o).set.Parse(args)
		assert.Equal(t, ErrHelp, err, "%q", args)
	}
}
