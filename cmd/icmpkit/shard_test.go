package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"testing/synctest"
	"time"

	"github.com/icmpkit/icmpkit/transport/mock"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// shardCounts are the numbers of shards the union tests split into, as zmap's test-shard.sh.
var shardCounts = []uint64{1, 2, 3, 7, 64}

// Every size of domain, odd and even widths, powers of two and one past them: perm.at is a
// bijection of 0..n-1.
func TestPermIsPermutation(t *testing.T) {
	sizes := []uint64{0, 1, 2, 3, 4, 5, 7, 8, 9, 100, 255, 256, 257, 1000, 1023, 1024, 1025, 4097, 65534, 65536, 65537}
	for _, n := range sizes {
		for _, seed := range []uint64{0, 1, 42, 1<<64 - 1} {
			p := newPerm(n, seed)
			seen := make([]bool, n)
			for i := range n {
				v := p.at(i)
				if v >= n || seen[v] {
					t.Fatalf("n %d seed %d: position %d gives %d, out of range or twice", n, seed, i, v)
				}
				seen[v] = true
			}
		}
	}
	// The seed decides the order.
	a, b := newPerm(1000, 1), newPerm(1000, 2)
	same := 0
	for i := range uint64(1000) {
		if a.at(i) == b.at(i) {
			same++
		}
	}
	assert.Less(t, same, 20, "two seeds agree on %d positions of 1000", same)
}

// zmap's shard test on a /8, at the level of the index space (16,777,214 targets; printing them
// all through --dry-run takes far longer than the order itself): for each N the shards of one
// seed are disjoint and together every target once.
func TestShardsCoverSlash8(t *testing.T) {
	p := netip.MustParsePrefix("10.0.0.0/8")
	n, ok := prefixSize(p)
	require.True(t, ok)
	require.Equal(t, uint64(16777214), n)
	seen := make([]uint64, (n+63)/64) // a bit a target
	for si, shards := range shardCounts {
		seed := uint64(si)*0x9e3779b97f4a7c15 + 7
		pm := newPerm(n, seed)
		clear(seen)
		var total uint64
		for shard := range shards {
			count := uint64(0)
			for pos := shard; pos < n; pos += shards {
				i := pm.at(pos)
				w, bit := i/64, uint64(1)<<(i%64)
				if seen[w]&bit != 0 {
					t.Fatalf("%d shards: target %d twice", shards, i)
				}
				seen[w] |= bit
				count++
			}
			require.Equal(t, shardSize(n, shards, shard), count, "%d shards: shard %d's size", shards, shard)
			total += count
		}
		require.Equal(t, n, total, "%d shards: every target", shards)
	}
	// Index to address: the first, the last, and the walk in between stays in the prefix.
	assert.Equal(t, "10.0.0.1", prefixAt(p, 0).String())
	assert.Equal(t, "10.255.255.254", prefixAt(p, n-1).String())
	assert.Equal(t, "2001:db8::ff", prefixAt(netip.MustParsePrefix("2001:db8::/64"), 255).String())
	assert.Equal(t, "2001:db8::3fff:ffff:ffff:ffff", prefixAt(netip.MustParsePrefix("2001:db8::/66"), 1<<62-1).String())
}

// prefixAt gives the addresses prefixAddrs gives, in the same order.
func TestPrefixAt(t *testing.T) {
	for _, s := range []string{"198.18.0.0/22", "198.18.0.9/32", "198.18.0.0/31", "2001:db8::/118", "255.255.255.0/24", "0.0.0.0/30"} {
		p := netip.MustParsePrefix(s)
		i := uint64(0)
		for a := range prefixAddrs(p) {
			require.Equal(t, a, prefixAt(p.Masked(), i), "%s index %d", s, i)
			i++
		}
		n, _ := prefixSize(p)
		assert.Equal(t, n, i, s)
	}
}

// dryRunOf runs multiping --dry-run in-process and gives its lines.
func dryRunOf(t *testing.T, o runOpts, args ...string) []string {
	t.Helper()
	r := runOn(t, mock.NewNetwork(mock.Config{}), o, append([]string{"multiping", "--dry-run"}, args...)...)
	require.Equal(t, exitOK, r.code, r.stderr)
	require.Empty(t, r.stderr)
	assert.Nil(t, r.opened, "a dry run opens no socket")
	if r.stdout == "" {
		return nil
	}
	return lines(r.stdout)
}

// names1000 writes a file of 1,000 targets, names and addresses mixed, and gives the lookups
// that resolve its names, as a hosts file would.
func names1000(t *testing.T) (string, *fakeLookups) {
	look := &fakeLookups{addrs: map[string]netip.Addr{}}
	var b strings.Builder
	b.WriteString("# a thousand targets\n")
	for i := range 1000 {
		a := netip.AddrFrom4([4]byte{198, 18, byte(i / 200), byte(i % 200)})
		if i%3 == 0 {
			fmt.Fprintf(&b, "%s\n", a)
			continue
		}
		name := fmt.Sprintf("host%d.lab", i)
		look.addrs[name] = netip.AddrFrom4([4]byte{198, 19, byte(i / 200), byte(i % 200)})
		fmt.Fprintf(&b, "  %s   # named\n", name)
	}
	file := filepath.Join(t.TempDir(), "targets")
	require.NoError(t, os.WriteFile(file, []byte(b.String()), 0o644))
	return file, look
}

// zmap's shard test through the command: for each N and seed, the union of the shards'
// --dry-run output is exactly the targets of the input order's, without duplicates, and the
// same on a second run.
func TestShardsUnion(t *testing.T) {
	file, look := names1000(t)
	sets := []struct {
		name string
		args []string
	}{
		{"a /16 and scattered addresses", []string{"-g", "198.18.0.0/16", "198.19.7.1", "2001:db8::9", "198.19.200.3", "198.19.0.7"}},
		{"IPv6 prefixes", []string{"-g", "2001:db8::/116", "-g", "2001:db8:1::/120", "-g", "2001:db8:2::5/128"}},
		{"a file of 1,000 names and addresses", []string{"-f", file}},
		{"everything mixed", []string{"-g", "198.18.40.0/24", "-f", file, "-g", "2001:db8::/120", "198.18.9.9"}},
	}
	for _, set := range sets {
		t.Run(set.name, func(t *testing.T) {
			o := runOpts{lookups: look}
			want := dryRunOf(t, o, set.args...)
			require.NotEmpty(t, want)
			for _, shards := range shardCounts {
				for _, seed := range []string{"1", "18446744073709551615"} {
					var union []string
					for k := range shards {
						args := append([]string{"--shards", fmt.Sprint(shards), "--shard", fmt.Sprint(k), "--seed", seed}, set.args...)
						part := dryRunOf(t, o, args...)
						if k == 0 && shards == 3 {
							assert.Equal(t, part, dryRunOf(t, o, args...), "the same on every run")
						}
						assert.InDelta(t, len(want)/int(shards), len(part), 1, "shard %d of %d: its share", k, shards)
						union = append(union, part...)
					}
					assert.Equal(t, len(want), len(union), "%d shards, seed %s: as many targets as the input", shards, seed)
					slices.Sort(union)
					assert.Equal(t, len(union), len(slices.Compact(slices.Clone(union))), "%d shards, seed %s: no duplicates", shards, seed)
					sorted := slices.Sorted(slices.Values(want))
					if !slices.Equal(sorted, union) {
						t.Fatalf("%d shards, seed %s: the union differs from the targets", shards, seed)
					}
				}
			}
		})
	}
}

// A seed alone, or --randomize, is a random order of every target; --seed fixes it.
func TestRandomOrder(t *testing.T) {
	inOrder := dryRunOf(t, runOpts{}, "-g", "198.18.0.0/22")
	seeded := dryRunOf(t, runOpts{}, "--seed", "9", "-g", "198.18.0.0/22")
	assert.NotEqual(t, inOrder, seeded)
	assert.ElementsMatch(t, inOrder, seeded)
	assert.Equal(t, seeded, dryRunOf(t, runOpts{}, "--shards", "1", "--seed", "9", "-g", "198.18.0.0/22"), "one shard is the whole order")
	assert.Equal(t, seeded, dryRunOf(t, runOpts{}, "--randomize", "--seed", "9", "-g", "198.18.0.0/22"))
	r1 := dryRunOf(t, runOpts{}, "--randomize", "-g", "198.18.0.0/22")
	r2 := dryRunOf(t, runOpts{}, "--randomize", "-g", "198.18.0.0/22")
	assert.ElementsMatch(t, inOrder, r1)
	assert.NotEqual(t, r1, r2, "--randomize alone: a fresh seed each run")

	// The order is the same whatever the number of cores.
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(1))
	assert.Equal(t, seeded, dryRunOf(t, runOpts{}, "--seed", "9", "-g", "198.18.0.0/22"))
}

// Consecutive targets of a random order rarely share a /24: on a /16, fewer than 1% of
// neighbouring pairs do (in input order nearly all do).
func TestRandomOrderSpreads(t *testing.T) {
	for _, seed := range []string{"1", "2", "12345"} {
		order := dryRunOf(t, runOpts{}, "--seed", seed, "-g", "198.18.0.0/16")
		require.Len(t, order, 65534)
		same := 0
		for i := 1; i < len(order); i++ {
			a, b := netip.MustParseAddr(order[i-1]).As4(), netip.MustParseAddr(order[i]).As4()
			if a[2] == b[2] {
				same++
			}
		}
		share := float64(same) / float64(len(order)-1)
		t.Logf("seed %s: %d of %d neighbouring pairs share a /24 (%.3f%%)", seed, same, len(order)-1, 100*share)
		assert.Less(t, share, 0.01, "seed %s", seed)
	}
}

func TestShardFlags(t *testing.T) {
	for _, tt := range []struct {
		args []string
		msg  string
	}{
		{[]string{"--shards", "4", "--shard", "1"}, "--shards needs --seed"},
		{[]string{"--shard", "1", "--seed", "3"}, "--shard needs --shards"},
		{[]string{"--shards", "4", "--shard", "4", "--seed", "3"}, "--shard 4 is not below --shards 4"},
		{[]string{"--shards", "0", "--seed", "3"}, "--shards: must be in 1..2147483647"},
		{[]string{"--shard", "-1"}, "--shard"},
		{[]string{"--seed", "-1"}, "--seed"},
		{[]string{"--seed", "x"}, "--seed"},
		{[]string{"--csv", "--json"}, "--csv and --json exclude each other"},
	} {
		r := runOn(t, mock.NewNetwork(mock.Config{}), runOpts{}, append([]string{"multiping"}, append(tt.args, "198.18.0.1")...)...)
		assert.Equal(t, exitError, r.code, tt.args)
		assert.Contains(t, r.stderr, tt.msg, tt.args)
		assert.Equal(t, 1, strings.Count(r.stderr, "\n"), tt.args)
		assert.Empty(t, r.stdout)
	}
	// A prefix too large to number.
	r := runOn(t, mock.NewNetwork(mock.Config{}), runOpts{}, "multiping", "--dry-run", "--seed", "1", "-g", "2001:db8::/48")
	assert.Equal(t, exitError, r.code)
	assert.Contains(t, r.stderr, "too many addresses for a random order")
	// A shard with no targets of a small set has nothing to do.
	r = runOn(t, mock.NewNetwork(mock.Config{}), runOpts{}, "multiping", "--shards", "64", "--shard", "63", "--seed", "1", "198.18.0.1", "198.18.0.2")
	assert.Equal(t, exitOK, r.code, r.stderr)
	assert.Empty(t, r.stdout)
	assert.Nil(t, r.opened)
}

// A shard is probed in its order: every target of the dry run, once, each reply as the host
// answers; --csv and --json carry the address.
func TestShardRun(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n := mock.NewNetwork(mock.Config{Seed: 1})
		for i := 1; i <= 254; i++ {
			require.NoError(t, n.AddHost(netip.AddrFrom4([4]byte{198, 18, 7, byte(i)}), mock.Host{Latency: time.Duration(i%5+1) * time.Millisecond}))
		}
		args := []string{"--shards", "3", "--shard", "2", "--seed", "77", "-g", "198.18.7.0/24"}
		dry := runOn(t, n, runOpts{}, append([]string{"multiping", "--dry-run"}, args...)...)
		require.Equal(t, exitOK, dry.code, dry.stderr)
		want := lines(dry.stdout)
		require.Len(t, want, 84)

		// JSON and CSV come in the order hosts finish: every request goes out at once, and
		// the replies come back by latency.
		r := runOn(t, n, runOpts{}, append([]string{"multiping", "-c1", "--json"}, args...)...)
		require.Equal(t, exitOK, r.code, r.stderr)
		var got []string
		var rtts []float64
		for _, l := range lines(r.stdout) {
			var m map[string]any
			require.NoError(t, json.Unmarshal([]byte(l), &m), l)
			assert.Equal(t, true, m["is_alive"])
			got = append(got, m["address"].(string))
			rtts = append(rtts, m["min_rtt"].(float64))
		}
		assert.ElementsMatch(t, want, got, "the shard's hosts")
		assert.True(t, slices.IsSorted(rtts), "in the order they finish: %v", rtts)
		assert.NotEqual(t, want, got, "not the order probed")

		// The text output keeps the order probed.
		r = runOn(t, n, runOpts{}, append([]string{"multiping", "-c1", "-q"}, args...)...)
		require.Equal(t, exitOK, r.code, r.stderr)
		got = got[:0]
		for _, l := range lines(r.stdout) {
			m := hostLine.FindStringSubmatch(l)
			require.NotNil(t, m, l)
			got = append(got, m[1])
		}
		assert.Equal(t, want, got)

		r = runOn(t, n, runOpts{}, append([]string{"multiping", "-c2", "-i0.1", "--csv"}, args...)...)
		require.Equal(t, exitOK, r.code, r.stderr)
		l := lines(r.stdout)
		require.Len(t, l, 85)
		assert.Equal(t, strings.TrimSuffix(csvHeader, "\n"), l[0])
		f := strings.Split(l[1], ",")
		require.Len(t, f, strings.Count(csvHeader, ",")+1)
		assert.Contains(t, want, f[0])
		assert.Equal(t, []string{"true", "2", "2", "0"}, f[1:5])
		rtt := fmt.Sprint(int(netip.MustParseAddr(f[0]).As4()[3])%5 + 1)
		assert.Equal(t, "1", rtt, "the first to finish")
		assert.Equal(t, []string{rtt, rtt, rtt, "0", "0", "0", "0"}, f[5:], "milliseconds")
	})
}

// The random order of a /8, a target at a time.
func BenchmarkPermAt(b *testing.B) {
	p := newPerm(16777214, 1)
	var i, sum uint64
	for b.Loop() {
		sum += p.at(i)
		i = (i + 1) % p.n
	}
	_ = sum
}

type fullWriter struct{}

func (fullWriter) Write([]byte) (int, error) { return 0, syscall.ENOSPC }

// A dry run whose output cannot be written says so and stops, rather than going through a /8
// for nothing.
func TestDryRunWriteError(t *testing.T) {
	var stderr strings.Builder
	e := &env{stdin: strings.NewReader(""), stdout: fullWriter{}, stderr: &stderr, lookups: reverseOnly(nil)}
	start := time.Now()
	code := run(context.Background(), []string{"multiping", "--dry-run", "--seed", "1", "-g", "10.0.0.0/8"}, e)
	assert.Equal(t, exitError, code)
	assert.Equal(t, "icmpkit multiping: write error: no space left on device\n", stderr.String())
	t.Logf("stopped after %v", time.Since(start))
}

// The order of a seed is part of the command's interface: machines that split a sweep must
// agree on it, so it changes only knowingly. These are orders this version computes.
func TestRandomOrderStable(t *testing.T) {
	assert.Equal(t, []string{"198.18.0.1", "198.18.0.5", "198.18.0.3", "198.18.0.6", "198.18.0.2", "198.18.0.4"},
		dryRunOf(t, runOpts{}, "--seed", "1", "-g", "198.18.0.0/29"))
	assert.Equal(t, []string{"2001:db8::6", "2001:db8::2", "2001:db8::", "2001:db8::3"},
		dryRunOf(t, runOpts{}, "--shards", "2", "--shard", "1", "--seed", "18446744073709551615", "-g", "2001:db8::/125", "198.18.0.9"))
	p := newPerm(16777214, 42)
	var got []uint64
	for i := range uint64(4) {
		got = append(got, p.at(i))
	}
	assert.Equal(t, []uint64{0xcd67ef, 0xaf1094, 0x298956, 0x9c81ea}, got)
}

// The Kubernetes example's command line, run for each index of the Job as a dry run: the
// pods together probe every target once.
func TestKubernetesExample(t *testing.T) {
	b, err := os.ReadFile("../../examples/kubernetes/sweep-job.yaml")
	require.NoError(t, err)
	manifest := string(b)
	m := regexp.MustCompile(`(?m)^\s+completions: (\d+)`).FindStringSubmatch(manifest)
	require.NotNil(t, m, "completions")
	pods, err := strconv.Atoi(m[1])
	require.NoError(t, err)
	assert.Contains(t, manifest, "completionMode: Indexed")
	assert.Contains(t, manifest, fmt.Sprintf("parallelism: %d", pods))
	cmd := regexp.MustCompile(`(?s)icmpkit (multiping .*?);`).FindStringSubmatch(manifest)
	require.NotNil(t, cmd, "the icmpkit command line")
	args := strings.Fields(cmd[1])
	assert.Contains(t, args, fmt.Sprintf("--shards=%d", pods), "a shard a pod")
	assert.Contains(t, args, "--shard=$(JOB_COMPLETION_INDEX)")

	var union []string
	for k := range pods {
		a := []string{"--dry-run"}
		for _, arg := range args[1:] {
			a = append(a, strings.ReplaceAll(arg, "$(JOB_COMPLETION_INDEX)", strconv.Itoa(k)))
		}
		union = append(union, dryRunOf(t, runOpts{}, a...)...)
	}
	// The same targets, not split.
	var plain []string
	for _, arg := range args[1:] {
		if !strings.HasPrefix(arg, "--shard") && !strings.HasPrefix(arg, "--seed") {
			plain = append(plain, arg)
		}
	}
	whole := dryRunOf(t, runOpts{}, plain...)
	require.NotEmpty(t, whole)
	assert.Equal(t, len(whole), len(union))
	slices.Sort(union)
	slices.Sort(whole)
	assert.True(t, slices.Equal(whole, union), "every target once")
}
