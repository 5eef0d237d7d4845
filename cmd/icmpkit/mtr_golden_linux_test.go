package main

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"os/exec"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/icmpkit/icmpkit/internal/lab"
)

// The golden cases of mtr: mtr 0.95 (Debian's mtr-tiny) and icmpkit mtr with the same options
// on the same lab chain. Their reports must have the same shape, numbers masked: the same
// lines, fields and keys, in the same order, icmpkit's own fields and columns after mtr's.

// requireMtr skips the test when mtr 0.95 is missing, or fails it when ICMPKIT_REQUIRE_PRIV=1.
func requireMtr(t *testing.T) {
	t.Helper()
	out, err := exec.Command("mtr", "--version").CombinedOutput()
	switch {
	case err != nil:
		lab.SkipOrFail(t, "the reference tool mtr does not run: %v: %s", err, out)
	case !strings.Contains(string(out), "mtr 0.95"):
		lab.SkipOrFail(t, "the reference tool mtr is not at 0.95: %s", out)
	}
}

// jsonKeys gives the keys of the JSON object at the decoder's position, in order, and skips
// their values but for the nested objects and arrays of objects, which it walks: each key
// is given as its path ("report.hubs[].Loss%").
func jsonKeys(t *testing.T, d *json.Decoder, prefix string, keys *[]string) {
	t.Helper()
	tok, err := d.Token()
	require.NoError(t, err)
	switch tok {
	case json.Delim('{'):
		for d.More() {
			k, err := d.Token()
			require.NoError(t, err)
			name := prefix + k.(string)
			*keys = append(*keys, name)
			jsonKeys(t, d, name+".", keys)
		}
		_, err = d.Token()
		require.NoError(t, err)
	case json.Delim('['):
		for d.More() {
			jsonKeys(t, d, strings.TrimSuffix(prefix, ".")+"[].", keys)
		}
		_, err = d.Token()
		require.NoError(t, err)
	}
}

// mtrNumbers masks the measured numbers of a report line.
var mtrNumbers = regexp.MustCompile(` *\d+\.\d+%?`)

func TestGoldenMtr(t *testing.T) {
	privileged(t)
	requireMtr(t)
	c := lab.NewChain(t, lab.ChainConfig{Routers: 3, Silent: []int{2}})
	traceHosts(t, c)
	ns := c.Client.NS
	t4, t6 := c.Target.V4.String(), c.Target.V6.String()
	both := func(t *testing.T, args ...string) (ref, ours cliResult) {
		t.Helper()
		ref = runCmd(t, "", "ip", append([]string{"netns", "exec", ns, "mtr"}, args...)...)
		ours = inNS(t, ns, append([]string{"mtr"}, args...)...)
		require.Equal(t, exitOK, ref.code, ref.stderr)
		require.Equal(t, exitOK, ours.code, ours.stderr)
		return ref, ours
	}

	t.Run("json", func(t *testing.T) {
		for _, dst := range []string{t4, t6} {
			ref, ours := both(t, "--json", "-n", "-c", "3", "-i", "0.2", dst)
			var refKeys, ourKeys []string
			jsonKeys(t, json.NewDecoder(strings.NewReader(ref.stdout)), "", &refKeys)
			jsonKeys(t, json.NewDecoder(strings.NewReader(ours.stdout)), "", &ourKeys)
			// Every key of mtr's, in mtr's order; icmpkit's own keys after mtr's in each hub.
			var ourMtr []string
			for _, k := range ourKeys {
				if !strings.HasPrefix(k, "report.hubs[].") || strings.HasPrefix(k, "report.hubs[].") && containsKey(refKeys, k) {
					ourMtr = append(ourMtr, k)
				}
			}
			assert.Equal(t, refKeys, ourMtr, "mtr's keys, in order\nmtr: %s\nicmpkit: %s", ref.stdout, ours.stdout)
			var r, o struct {
				Report struct {
					Mtr  map[string]any
					Hubs []map[string]any
				}
			}
			require.NoError(t, json.Unmarshal([]byte(ref.stdout), &r))
			require.NoError(t, json.Unmarshal([]byte(ours.stdout), &o))
			delete(r.Report.Mtr, "src")
			delete(o.Report.Mtr, "src")
			assert.Equal(t, r.Report.Mtr, o.Report.Mtr)
			require.Len(t, o.Report.Hubs, len(r.Report.Hubs))
			for i := range r.Report.Hubs {
				assert.Equal(t, r.Report.Hubs[i]["count"], o.Report.Hubs[i]["count"])
				assert.Equal(t, r.Report.Hubs[i]["host"], o.Report.Hubs[i]["host"])
				assert.Equal(t, r.Report.Hubs[i]["Snt"], o.Report.Hubs[i]["Snt"])
			}
		}
	})

	t.Run("csv", func(t *testing.T) {
		for _, dst := range []string{t4, t6} {
			ref, ours := both(t, "--csv", "-n", "-c", "3", "-i", "0.2", dst)
			read := func(s string) [][]string {
				rd := csv.NewReader(bytes.NewBufferString(s))
				rd.FieldsPerRecord = -1
				recs, err := rd.ReadAll()
				require.NoError(t, err, s)
				return recs
			}
			r, o := read(ref.stdout), read(ours.stdout)
			require.Len(t, o, len(r), "mtr:\n%s\nicmpkit:\n%s", ref.stdout, ours.stdout)
			refHead := r[0][:len(r[0])-1] // mtr ends its header with a comma
			assert.Equal(t, refHead, o[0][:len(refHead)], "mtr's fields first")
			for i := 1; i < len(r); i++ {
				require.GreaterOrEqual(t, len(o[i]), len(r[i]))
				for j := range r[i] {
					switch r[0][j] {
					case "Start_Time", "Loss%", "Last", "Avg", "Best", "Wrst", "StDev":
						assert.Regexp(t, `^\d+(\.\d\d)?$`, o[i][j], "%s", r[0][j])
					default:
						assert.Equal(t, r[i][j], o[i][j], "line %d: %s", i, r[0][j])
					}
				}
			}
		}
	})

	t.Run("report", func(t *testing.T) {
		for _, args := range [][]string{
			{"-r", "-c", "3", "-i", "0.2", t4},
			{"-r", "-n", "-c", "3", "-i", "0.2", t6},
			{"-r", "-w", "-b", "-c", "3", "-i", "0.2", t6},
			{"-r", "-w", "-c", "3", "-i", "0.2", "target.v4.lab"},
		} {
			ref, ours := both(t, args...)
			rl, ol := lines(ref.stdout), lines(ours.stdout)
			// icmpkit's last line explains its "?" marks: three cycles are few.
			require.Equal(t, "?: Loss% rests on fewer than 20 probes", ol[len(ol)-1])
			ol = ol[:len(ol)-1]
			require.Len(t, ol, len(rl), "%v\nmtr:\n%s\nicmpkit:\n%s", args, ref.stdout, ours.stdout)
			assert.Regexp(t, mtrStart, ol[0])
			for i := 1; i < len(rl); i++ {
				r, o := mtrNumbers.ReplaceAllString(rl[i], " #"), mtrNumbers.ReplaceAllString(ol[i], " #")
				assert.True(t, strings.HasPrefix(o, r), "%v: line %d: mtr's first\nmtr:     %q\nicmpkit: %q", args, i, r, o)
			}
		}
	})
}

func containsKey(keys []string, k string) bool {
	for _, x := range keys {
		if x == k {
			return true
		}
	}
	return false
}

// TestMtrDuplicatesLab has the target send each echo reply twice (an nftables dup, as in
// TestGoldenTracerouteDuplicates): mtr counts each answer once and shows nothing of the copies;
// icmpkit counts them in Dup, every cycle's but the last, whose copies it does not wait for.
func TestMtrDuplicatesLab(t *testing.T) {
	privileged(t)
	requireMtr(t)
	c := lab.NewChain(t, lab.ChainConfig{Routers: 2})
	for _, rule := range duplicateRules(c) {
		out, err := c.Exec(c.Target.NS, "nft", rule)
		require.NoError(t, err, "nft %s: %s", rule, out)
	}
	for _, dst := range []string{c.Target.V4.String(), c.Target.V6.String()} {
		t.Run(dst, func(t *testing.T) {
			ref := runCmd(t, "", "ip", "netns", "exec", c.Client.NS, "mtr", "--json", "-n", "-c", "5", "-i", "0.3", dst)
			ours := inNS(t, c.Client.NS, "mtr", "--json", "-n", "-c", "5", "-i", "0.3", dst)
			require.Equal(t, exitOK, ref.code, ref.stderr)
			require.Equal(t, exitOK, ours.code, ours.stderr)
			var r, o struct {
				Report struct{ Hubs []map[string]any }
			}
			require.NoError(t, json.Unmarshal([]byte(ref.stdout), &r))
			require.NoError(t, json.Unmarshal([]byte(ours.stdout), &o))
			require.Len(t, r.Report.Hubs, 3, ref.stdout)
			require.Len(t, o.Report.Hubs, 3, ours.stdout)
			assert.Equal(t, 0.0, r.Report.Hubs[2]["Loss%"], "mtr")
			h := o.Report.Hubs[2]
			assert.Equal(t, dst, h["host"])
			assert.Equal(t, 0.0, h["Loss%"])
			assert.Equal(t, 5.0, h["Rcv"])
			assert.Equal(t, 4.0, h["Dup"])
			assert.Equal(t, 0.0, o.Report.Hubs[0]["Dup"])
		})
	}
}
