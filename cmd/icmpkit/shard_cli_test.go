package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The built command: a file with a byte order mark and a bad line in the middle is probed
// whole but for that line, which is reported as FILE:LINE:; the run ends with 1.
func TestCLIMultipingFileBadLine(t *testing.T) {
	privileged(t)
	file := filepath.Join(t.TempDir(), "targets")
	require.NoError(t, os.WriteFile(file, []byte("\xef\xbb\xbf127.0.0.1\n127.0.0.2\nbad!host # the bad one\n127.0.0.3\n::1\n"), 0o644))
	r := runBin(t, "multiping", "-q", "-c1", "-f", file)
	assert.Equal(t, exitFail, r.code, r.stderr)
	assert.Equal(t, file+`:3: "bad!host" is neither an address nor a host name`+"\n", r.stderr)
	var got []string
	for _, l := range lines(r.stdout) {
		m := hostLine.FindStringSubmatch(l)
		require.NotNil(t, m, l)
		assert.Equal(t, "1/1/0", m[2]+"/"+m[3]+"/"+m[4], l)
		got = append(got, m[1])
	}
	assert.Equal(t, []string{"127.0.0.1", "127.0.0.2", "127.0.0.3", "::1"}, got)
}

// The built command's dry runs: the shards of a /20 and a few addresses are together every
// target once; no privilege needed, nothing sent.
func TestCLIShardsDryRun(t *testing.T) {
	targets := []string{"-g", "198.18.16.0/20", "198.19.0.1", "2001:db8::1"}
	r := runBin(t, append([]string{"multiping", "--dry-run"}, targets...)...)
	require.Equal(t, exitOK, r.code, r.stderr)
	want := lines(r.stdout)
	require.Len(t, want, 4096)
	for _, shards := range []int{1, 3, 7} {
		var union []string
		for k := range shards {
			r := runBin(t, append([]string{"multiping", "--dry-run", "--shards", fmt.Sprint(shards), "--shard", fmt.Sprint(k), "--seed", "42"}, targets...)...)
			require.Equal(t, exitOK, r.code, r.stderr)
			assert.Empty(t, r.stderr)
			union = append(union, lines(r.stdout)...)
		}
		assert.ElementsMatch(t, want, union, "%d shards", shards)
	}
}

// The built command probes a shard of loopback, every host alive; the shards
// together are every host once, in JSON and in CSV.
func TestCLIShardsLoopback(t *testing.T) {
	privileged(t)
	var all []string
	for k := range 3 {
		args := []string{"--shards", "3", "--shard", fmt.Sprint(k), "--seed", "11", "-g", "127.0.0.0/26"}
		dry := runBin(t, append([]string{"multiping", "--dry-run"}, args...)...)
		require.Equal(t, exitOK, dry.code, dry.stderr)
		r := runBin(t, append([]string{"multiping", "--json", "-c1"}, args...)...)
		require.Equal(t, exitOK, r.code, r.stderr)
		var got []string
		for _, l := range lines(r.stdout) {
			var m map[string]any
			require.NoError(t, json.Unmarshal([]byte(l), &m), l)
			assert.Equal(t, true, m["is_alive"], l)
			got = append(got, m["address"].(string))
		}
		assert.ElementsMatch(t, lines(dry.stdout), got, "shard %d: the dry run's targets", k)
		all = append(all, got...)

		r = runBin(t, append([]string{"multiping", "--csv", "-c1"}, args...)...)
		require.Equal(t, exitOK, r.code, r.stderr)
		l := lines(r.stdout)
		assert.Equal(t, strings.TrimSuffix(csvHeader, "\n"), l[0])
		assert.Len(t, l, len(got)+1)
	}
	slices.Sort(all)
	var want []string
	for i := 1; i <= 62; i++ {
		want = append(want, fmt.Sprintf("127.0.0.%d", i))
	}
	slices.Sort(want)
	assert.Equal(t, want, all)
}
