package main

import (
	"context"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/icmpkit/icmpkit"
	"github.com/icmpkit/icmpkit/errors"
	"github.com/icmpkit/icmpkit/transport/mock"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestPrefixAddrs(t *testing.T) {
	tests := []struct {
		prefix string
		first  string
		last   string
		n      int
	}{
		{"198.18.0.0/24", "198.18.0.1", "198.18.0.254", 254},
		{"198.18.0.77/24", "198.18.0.1", "198.18.0.254", 254},
		{"198.18.0.0/30", "198.18.0.1", "198.18.0.2", 2},
		{"198.18.0.0/31", "198.18.0.0", "198.18.0.1", 2},
		{"198.18.0.9/32", "198.18.0.9", "198.18.0.9", 1},
		{"198.18.0.0/16", "198.18.0.1", "198.18.255.254", 65534},
		{"2001:db8::/126", "2001:db8::", "2001:db8::3", 4},
		{"2001:db8::5/128", "2001:db8::5", "2001:db8::5", 1},
		{"255.255.255.252/30", "255.255.255.253", "255.255.255.254", 2},
		{"ffff:ffff:ffff:ffff:ffff:ffff:ffff:fffe/127", "ffff:ffff:ffff:ffff:ffff:ffff:ffff:fffe", "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", 2},
	}
	for _, tt := range tests {
		t.Run(tt.prefix, func(t *testing.T) {
			p := netip.MustParsePrefix(tt.prefix)
			got := slices.Collect(prefixAddrs(p))
			require.Len(t, got, tt.n)
			assert.Equal(t, tt.first, got[0].String())
			assert.Equal(t, tt.last, got[len(got)-1].String())
			assert.True(t, slices.IsSortedFunc(got, func(a, b netip.Addr) int { return a.Compare(b) }))
			size, ok := prefixSize(p)
			assert.True(t, ok)
			assert.Equal(t, uint64(tt.n), size)
		})
	}
	_, ok := prefixSize(netip.MustParsePrefix("2001:db8::/64"))
	assert.False(t, ok, "too many to count")
}

func TestPrefixAddrsStreams(t *testing.T) {
	// A /32 of IPv6 has 2^96 addresses: taking the first few must not generate the rest.
	start := time.Now()
	var got []string
	for a := range prefixAddrs(netip.MustParsePrefix("2001:db8::/32")) {
		got = append(got, a.String())
		if len(got) == 3 {
			break
		}
	}
	assert.Equal(t, []string{"2001:db8::", "2001:db8::1", "2001:db8::2"}, got)
	assert.Less(t, time.Since(start), time.Second)
}

func TestTargetsFromFile(t *testing.T) {
	tg := newTargets(strings.NewReader("  198.18.0.1\n# comment\n\n198.18.0.2 trailing words\nlocalhost # the loopback\n"))
	require.NoError(t, fileFlag{tg}.Set("-"))
	require.NoError(t, prefixFlag{tg}.Set("198.18.5.0/30"))
	tg.addArgs([]string{"198.18.9.9"}, nil)
	assert.Equal(t, uint64(0), tg.known(), "a file makes the count unknown")
	assert.Equal(t, []string{"198.18.0.1", "198.18.0.2", "localhost", "198.18.5.1", "198.18.5.2", "198.18.9.9"}, slices.Collect(tg.all))
	assert.NoError(t, tg.err)

	tg = newTargets(nil)
	require.NoError(t, prefixFlag{tg}.Set("198.18.5.0/24"))
	tg.addArgs([]string{"198.18.9.9", "198.18.9.10"}, nil)
	assert.Equal(t, uint64(256), tg.known())
	assert.Error(t, prefixFlag{tg}.Set("198.18.5.0"))
	assert.Error(t, prefixFlag{tg}.Set("::ffff:198.18.5.0/120"))
	assert.Error(t, fileFlag{tg}.Set("/nonexistent/targets"))
}

func TestReplyTime(t *testing.T) {
	for _, tt := range []struct {
		d    time.Duration
		want string
	}{
		{45 * time.Microsecond, "0.045"},
		{999 * time.Microsecond, "0.999"},
		{1234 * time.Microsecond, "1.23"},
		{12345 * time.Microsecond, "12.3"},
		{123456 * time.Microsecond, "123"},
		{2 * time.Second, "2000"},
	} {
		assert.Equal(t, tt.want, replyTime(tt.d), tt.d)
	}
}

func TestPrefixTargetsText(t *testing.T) {
	for _, prefix := range []string{"198.18.0.0/22", "198.18.0.0/32", "2001:db8::/119", "0.0.0.0/0"} {
		t.Run(prefix, func(t *testing.T) {
			p := netip.MustParsePrefix(prefix)
			var want []string
			for a := range prefixAddrs(p) {
				want = append(want, a.String())
				if len(want) == 3*textBlock+7 {
					break
				}
			}
			var got []string
			next := addrTexts(prefixNext(p))
			for s, ok := next(); ok; s, ok = next() {
				got = append(got, s)
				if len(got) == len(want) {
					break
				}
			}
			assert.Equal(t, want, got)
			if len(want) < 3*textBlock+7 {
				_, ok := next()
				assert.False(t, ok, "no more after the last")
			}
		})
	}
	assert.Equal(t, "0.0.0.1", func() string {
		for a := range prefixAddrs(netip.MustParsePrefix("0.0.0.0/0")) {
			return a.String()
		}
		return ""
	}())
}

// Expanding -g takes an allocation for a block of addresses, not one an address.
func TestPrefixTargetsAllocateLittle(t *testing.T) {
	n := 0
	allocs := testing.AllocsPerRun(3, func() {
		tg := newTargets(nil)
		require.NoError(t, prefixFlag{tg}.Set("198.18.0.0/20"))
		n = 0
		for range tg.all {
			n++
		}
	})
	require.Equal(t, 4094, n)
	assert.LessOrEqual(t, allocs, float64(4*n/textBlock), "allocations for %d targets", n)
}

// The targets of -g 198.18.0.0/16 as the command pulls them, a call a target.
func BenchmarkPrefixTargets(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		tg := newTargets(nil)
		require.NoError(b, prefixFlag{tg}.Set("198.18.0.0/16"))
		next, _ := tg.pull()
		for _, ok := next(); ok; _, ok = next() {
		}
	}
}

type failingReader struct{ data string }

func (r *failingReader) Read(p []byte) (int, error) {
	if r.data == "" {
		return 0, errors.New("device gone")
	}
	n := copy(p, r.data)
	r.data = r.data[n:]
	return n, nil
}

// Targets are pulled a call at a time, labels with them; a file that cannot be read to its
// end stops the pull there, with err saying why.
func TestTargetsPull(t *testing.T) {
	tg := newTargets(&failingReader{data: "198.18.0.1\n198.18.0.2\n"})
	require.NoError(t, prefixFlag{tg}.Set("198.18.5.0/31"))
	require.NoError(t, fileFlag{tg}.Set("-"))
	tg.addArgs([]string{"198.18.9.9"}, []string{"nine"})
	next, stop := tg.pull()
	defer stop()
	var got []string
	for a, ok := next(); ok; a, ok = next() {
		got = append(got, a+"|"+tg.label)
	}
	assert.Equal(t, []string{"198.18.5.0|", "198.18.5.1|", "198.18.0.1|", "198.18.0.2|"}, got)
	require.Error(t, tg.err)
	assert.Contains(t, tg.err.Error(), "device gone")
	_, ok := next()
	assert.False(t, ok, "the pull stays stopped")

	tg = newTargets(nil)
	require.NoError(t, prefixFlag{tg}.Set("2001:db8::/127"))
	tg.addArgs([]string{"198.18.9.9", "198.18.9.10"}, []string{"nine", ""})
	next, _ = tg.pull()
	got = got[:0]
	for a, ok := next(); ok; a, ok = next() {
		got = append(got, a+"|"+tg.label)
	}
	assert.Equal(t, []string{"2001:db8::|", "2001:db8::1|", "198.18.9.9|nine", "198.18.9.10|"}, got)
	assert.Empty(t, tg.label, "no label after the last")
	assert.NoError(t, tg.err)
}

// hostsOnly resolves names from its map alone, as a hosts file with no DNS behind it.
type hostsOnly map[string]netip.Addr

func (h hostsOnly) resolve(ctx context.Context, host string, family icmpkit.Family) (netip.Addr, error) {
	if a, ok := h[host]; ok {
		return a, nil
	}
	if _, err := netip.ParseAddr(host); err == nil {
		return icmpkit.Resolve(ctx, host, family)
	}
	return netip.Addr{}, &errors.Error{Op: "resolve " + host, Class: errors.ErrNameLookup, Err: fmt.Errorf("no such host")}
}

func (hostsOnly) canonical(context.Context, string) string        { return "" }
func (hostsOnly) name(context.Context, netip.Addr) string         { return "" }
func (hostsOnly) ifaceAddr(string, netip.Addr) (netip.Addr, bool) { return netip.Addr{}, false }

// A bad line of a file is reported as FILE:LINE: and skipped, the targets after it probed; a
// byte order mark at the start is no part of the first line; the run ends with 1.
func TestMultipingFileBadLines(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		look := hostsOnly{"two.lab": addr("198.18.0.2")}
		file := filepath.Join(t.TempDir(), "targets")
		require.NoError(t, os.WriteFile(file, []byte("\uFEFF198.18.0.1\n# comment\nbad!name\ntwo.lab\nnowhere.lab # gone\n\n2001:db8::1\n198.18.0.3\n"), 0o644))
		r := runOn(t, mockLab(t), runOpts{lookups: look}, "multiping", "-q", "-c1", "-f", file)
		assert.Equal(t, exitFail, r.code)
		assert.Equal(t, "198.18.0.1 : xmt/rcv/%loss = 1/1/0%, min/avg/max = 1.00/1.00/1.00\n"+
			"two.lab : xmt/rcv/%loss = 1/1/0%, min/avg/max = 2.00/2.00/2.00\n"+
			"2001:db8::1 : xmt/rcv/%loss = 1/1/0%, min/avg/max = 0.500/0.500/0.500\n"+
			"198.18.0.3 : xmt/rcv/%loss = 1/1/0%, min/avg/max = 3.00/3.00/3.00\n", r.stdout, "every good line probed, in order")
		assert.Equal(t, file+`:3: "bad!name" is neither an address nor a host name`+"\n"+
			file+":5: resolve nowhere.lab: name lookup failed: no such host\n", r.stderr)

		// fping -s counts them as unknown addresses.
		r = runOn(t, mockLab(t), runOpts{lookups: look}, "multiping", "-q", "--stats", "-c1", "-f", file)
		assert.Equal(t, exitFail, r.code)
		assert.Contains(t, r.stderr, "\n       4 targets\n       4 alive\n       0 unreachable\n       2 unknown addresses\n")

		// With -4 an IPv6 line is bad too; standard input is named as grep names it; the
		// same lines are bad in a random order, and so in the dry run.
		r = runOn(t, mockLab(t), runOpts{lookups: look, stdin: "198.18.0.1\n2001:db8::1\n"}, "multiping", "-4", "-q", "-c1", "-f", "-")
		assert.Equal(t, exitFail, r.code)
		assert.Equal(t, "198.18.0.1 : xmt/rcv/%loss = 1/1/0%, min/avg/max = 1.00/1.00/1.00\n", r.stdout)
		assert.Equal(t, "(standard input):2: host: invalid argument: 2001:db8::1 is not an IPv4 address\n", r.stderr)

		r = runOn(t, mockLab(t), runOpts{lookups: look}, "multiping", "--dry-run", "--seed", "5", "-f", file)
		assert.Equal(t, exitFail, r.code)
		assert.ElementsMatch(t, []string{"198.18.0.1", "198.18.0.2 two.lab", "2001:db8::1", "198.18.0.3"}, lines(r.stdout))
		assert.ElementsMatch(t, []string{file + `:3: "bad!name" is neither an address nor a host name`,
			file + ":5: resolve nowhere.lab: name lookup failed: no such host"}, lines(r.stderr))

		// Every line bad: each reported, then the empty list.
		r = runOn(t, mockLab(t), runOpts{lookups: look, stdin: "bad!\n"}, "multiping", "-c1", "-f", "-")
		assert.Equal(t, exitError, r.code)
		assert.Equal(t, "(standard input):1: \"bad!\" is neither an address nor a host name\n"+
			"icmpkit: targets: invalid argument: the list of targets is empty\n", r.stderr)
	})
}

// A shard reports the bad lines among its own targets: over every shard, each bad line once.
func TestShardsBadLinesOnce(t *testing.T) {
	look := hostsOnly{}
	var b strings.Builder
	for i := range 300 {
		if i%50 == 7 {
			fmt.Fprintf(&b, "bad!%d\n", i)
			continue
		}
		fmt.Fprintf(&b, "198.18.%d.%d\n", i/250, i%250+1)
	}
	var out, errs []string
	for k := range 7 {
		r := runOn(t, mock.NewNetwork(mock.Config{}), runOpts{lookups: look, stdin: b.String()},
			"multiping", "--dry-run", "--shards", "7", "--shard", fmt.Sprint(k), "--seed", "3", "-f", "-")
		if r.stderr != "" {
			assert.Equal(t, exitFail, r.code)
			errs = append(errs, lines(r.stderr)...)
		} else {
			assert.Equal(t, exitOK, r.code)
		}
		out = append(out, lines(r.stdout)...)
	}
	assert.Len(t, out, 294)
	slices.Sort(errs)
	assert.Equal(t, []string{
		`(standard input):108: "bad!107" is neither an address nor a host name`,
		`(standard input):158: "bad!157" is neither an address nor a host name`,
		`(standard input):208: "bad!207" is neither an address nor a host name`,
		`(standard input):258: "bad!257" is neither an address nor a host name`,
		`(standard input):58: "bad!57" is neither an address nor a host name`,
		`(standard input):8: "bad!7" is neither an address nor a host name`,
	}, errs)
}

func TestIsHostName(t *testing.T) {
	for _, s := range []string{"localhost", "a.b.c", "host-1.example.", "_srv.lab", "x", strings.Repeat("a", 63) + ".lab"} {
		assert.True(t, isHostName(s), s)
	}
	for _, s := range []string{"", ".", "a..b", "-a.lab", "a-.lab", "bad!name", "a b", "\uFEFFhost", strings.Repeat("a", 64) + ".lab", strings.Repeat("a.", 127) + "ab"} {
		assert.False(t, isHostName(s), s)
	}
}
