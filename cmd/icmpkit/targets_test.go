package main

import (
	"errors"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

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
