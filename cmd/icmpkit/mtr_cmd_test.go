package main

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"net/netip"
	"os"
	"regexp"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/icmpkit/icmpkit/transport/mock"
)

// mtrStart matches the report's first line.
var mtrStart = regexp.MustCompile(`^Start: \d{4}-\d\d-\d\dT\d\d:\d\d:\d\d[+-]\d{4}$`)

func mtrLocal() string { h, _ := os.Hostname(); return h }

func TestMtrReportText(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := runOn(t, mockLab(t), runOpts{}, "mtr", "-r", "-n", "-c", "3", "-i", "0.3", "198.18.9.9")
		require.Equal(t, exitOK, r.code, r.stderr)
		assert.Empty(t, r.stderr)
		lines := strings.Split(strings.TrimSuffix(r.stdout, "\n"), "\n")
		require.Len(t, lines, 6, r.stdout)
		assert.Regexp(t, mtrStart, lines[0])
		head := "HOST: " + mtrLocal() + strings.Repeat(" ", mtrHostWidth)
		assert.Equal(t, head[:mtrHostWidth]+" Loss%   Snt   Last   Avg  Best  Wrst StDev  Javg Jmax   Lim  Dup", lines[1])
		assert.Equal(t, "  1.|-- 198.18.1.1                 0.0%     3    1.5   1.5   1.5   1.5   0.0   0.0  0.0     0    0 ?", lines[2])
		assert.Equal(t, "  2.|-- 198.18.2.1                 0.0%     3    4.0   4.0   4.0   4.0   0.0   0.0  0.0     0    0 ?", lines[3])
		assert.Equal(t, "  3.|-- 198.18.9.9                 0.0%     3    8.0   8.0   8.0   8.0   0.0   0.0  0.0     0    0 ?", lines[4])
		assert.Equal(t, "?: Loss% rests on fewer than 20 probes", lines[5])
	})
}

// Without a terminal and without -r, --json or --csv, the command reports as -r does; -w
// widens the host column to the longest name, -b shows names and addresses, -e MPLS labels.
func TestMtrReportWideNamesMPLS(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		names := func(_ context.Context, a netip.Addr) string {
			if a == addr("198.18.2.1") {
				return "core.router.lab"
			}
			return ""
		}
		r := runOn(t, mockLab(t), runOpts{lookup: names}, "mtr", "-w", "-b", "-e", "-c", "2", "-i", "0.3", "198.18.9.9")
		require.Equal(t, exitOK, r.code, r.stderr)
		lines := strings.Split(strings.TrimSuffix(r.stdout, "\n"), "\n")
		w := max(len(mtrLocal()), len("core.router.lab (198.18.2.1)"))
		pad := func(s string) string { return s + strings.Repeat(" ", w-len(s)) }
		assert.Equal(t, "HOST: "+pad(mtrLocal())+" Loss%   Snt   Last   Avg  Best  Wrst StDev  Javg Jmax   Lim  Dup", lines[1])
		assert.Equal(t, "  2.|-- "+pad("core.router.lab (198.18.2.1)")+"  0.0%     2    4.0   4.0   4.0   4.0   0.0   0.0  0.0     0    0 ?", lines[3])
		assert.Equal(t, "       [MPLS: Lbl 100 TC 0 S 1 TTL 1]", lines[4])
	})
}

func TestMtrJSON(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := runOn(t, mockLab(t), runOpts{}, "mtr", "--json", "-n", "-c", "4", "-i", "0.3", "198.18.9.9")
		require.Equal(t, exitOK, r.code, r.stderr)
		var doc struct {
			Report struct {
				Mtr  map[string]any   `json:"mtr"`
				Hubs []map[string]any `json:"hubs"`
			} `json:"report"`
		}
		require.NoError(t, json.Unmarshal([]byte(r.stdout), &doc), r.stdout)
		assert.Equal(t, map[string]any{"src": mtrLocal(), "dst": "198.18.9.9", "tos": 0.0, "tests": 4.0, "psize": "64", "bitpattern": "0x00"}, doc.Report.Mtr)
		require.Len(t, doc.Report.Hubs, 3)
		h := doc.Report.Hubs[2]
		assert.Equal(t, 3.0, h["count"])
		assert.Equal(t, "198.18.9.9", h["host"])
		assert.Equal(t, 0.0, h["Loss%"])
		assert.Equal(t, 4.0, h["Snt"])
		assert.Equal(t, 8.0, h["Avg"])
		assert.Equal(t, 4.0, h["Rcv"])
		assert.Equal(t, true, h["Target"])
		assert.Equal(t, []any{map[string]any{"host": "198.18.9.9", "ip": "198.18.9.9", "Rcv": 4.0}}, h["Hosts"])
	})
}

// Two targets, one of each family: a transport each, and a CSV line per hop of both.
func TestMtrCSVTwoTargets(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := runOn(t, mockLab(t), runOpts{}, "mtr", "--csv", "-n", "-c", "2", "-i", "0.3", "198.18.9.9", "2001:db8::1")
		require.Equal(t, exitOK, r.code, r.stderr)
		assert.Len(t, r.opened, 2)
		rd := csv.NewReader(strings.NewReader(r.stdout))
		rd.FieldsPerRecord = -1
		recs, err := rd.ReadAll()
		require.NoError(t, err)
		require.Len(t, recs, 5, r.stdout)
		assert.Equal(t, append(append([]string{}, mtrCSVHeader...), ""), recs[0])
		for _, rec := range recs[1:] {
			assert.Len(t, rec, len(mtrCSVHeader))
			assert.Equal(t, "MTR.0.95", rec[0])
			assert.Equal(t, "OK", rec[2])
		}
		assert.Equal(t, []string{"198.18.9.9", "1", "198.18.1.1", "0.00", "2", "0", "1.50"}, recs[1][3:10])
		assert.Equal(t, []string{"2001:db8::1", "1", "2001:db8::1", "0.00", "2", "0", "0.50"}, recs[4][3:10])
	})
}

func TestMtrBadInput(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		for _, args := range [][]string{
			{"mtr"},
			{"mtr", "-f", "5", "-m", "4", "198.18.9.9"},
			{"mtr", "--json", "--csv", "198.18.9.9"},
			{"mtr", "-s", "20", "198.18.9.9"},
			{"mtr", "-c", "0", "198.18.9.9"},
			{"mtr", "-i", "-1", "198.18.9.9"},
			{"mtr", "-4", "-6", "198.18.9.9"},
			{"mtr", "--bogus", "198.18.9.9"},
		} {
			r := runOn(t, mockLab(t), runOpts{}, args...)
			assert.Equal(t, exitError, r.code, "%v", args)
			assert.Empty(t, r.stdout, "%v", args)
			assert.Equal(t, 1, strings.Count(r.stderr, "\n"), "%v: %q", args, r.stderr)
			assert.True(t, strings.HasPrefix(r.stderr, "icmpkit mtr: "), "%v: %q", args, r.stderr)
		}
	})
}

// Two targets of one family share its transport, and each gets every one of its hops.
func TestMtrTwoTargetsOneFamily(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := runOn(t, mockLab(t), runOpts{}, "mtr", "-r", "-n", "-c", "5", "-i", "0.1", "198.18.9.9", "198.18.0.2")
		require.Equal(t, exitOK, r.code, r.stderr)
		assert.Len(t, r.opened, 1)
		l := strings.Split(strings.TrimSuffix(r.stdout, "\n"), "\n")
		require.Len(t, l, 10, r.stdout)
		assert.Contains(t, l[4], "198.18.9.9                 0.0%     5")
		assert.Contains(t, l[8], "198.18.0.2                 0.0%     5")
	})
}

// A destination that never answers: hops up to the last that did, and exit status 1.
func TestMtrUnreached(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n := mockLab(t)
		r := runOn(t, n, runOpts{}, "mtr", "-r", "-n", "-c", "2", "-i", "0.1", "-m", "3", "198.18.0.4")
		assert.Equal(t, exitFail, r.code, r.stderr)
		lines := strings.Split(strings.TrimSuffix(r.stdout, "\n"), "\n")
		assert.Len(t, lines, 2, r.stdout)
	})
}

// A target that answers every probe twice: Dup counts the copies, in the report and the JSON,
// and they are neither answers nor loss.
func TestMtrDuplicates(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n := mock.NewNetwork(mock.Config{Seed: 1})
		require.NoError(t, n.AddHost(addr("198.18.9.9"), mock.Host{Latency: 8 * time.Millisecond, Duplicates: 1}))
		require.NoError(t, n.AddPath(addr("198.18.9.9"), mock.Router{Addr: addr("198.18.1.1"), Latency: time.Millisecond}))
		r := runOn(t, n, runOpts{}, "mtr", "--json", "-n", "-c", "4", "-i", "0.3", "198.18.9.9")
		require.Equal(t, exitOK, r.code, r.stderr)
		var doc struct {
			Report struct {
				Hubs []map[string]any `json:"hubs"`
			} `json:"report"`
		}
		require.NoError(t, json.Unmarshal([]byte(r.stdout), &doc), r.stdout)
		require.Len(t, doc.Report.Hubs, 2)
		assert.Equal(t, 0.0, doc.Report.Hubs[0]["Dup"])
		h := doc.Report.Hubs[1]
		assert.Equal(t, 3.0, h["Dup"], "the last cycle does not wait for copies")
		assert.Equal(t, 4.0, h["Rcv"])
		assert.Equal(t, 0.0, h["Loss%"])

		r = runOn(t, n, runOpts{}, "mtr", "-r", "-n", "-c", "3", "-i", "0.3", "198.18.9.9")
		require.Equal(t, exitOK, r.code, r.stderr)
		lines := strings.Split(r.stdout, "\n")
		require.GreaterOrEqual(t, len(lines), 4, r.stdout)
		assert.Equal(t, "  2.|-- 198.18.9.9                 0.0%     3    8.0   8.0   8.0   8.0   0.0   0.0  0.0     0    2 ?", lines[3])
	})
}
