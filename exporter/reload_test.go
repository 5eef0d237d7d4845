package exporter

import (
	"context"
	"net/netip"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/icmpkit/icmpkit"
	icmperrors "github.com/icmpkit/icmpkit/errors"
	"github.com/icmpkit/icmpkit/transport/mock"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func mockLab(t *testing.T, n int) *mock.Network {
	net := mock.NewNetwork(mock.Config{Seed: 3})
	for i := 1; i <= n; i++ {
		require.NoError(t, net.AddHost(netip.AddrFrom4([4]byte{198, 18, 0, byte(i)}), mock.Host{Latency: time.Millisecond}))
	}
	return net
}

// TestReload adds a target, changes the label names, and then applies a broken
// configuration, which leaves the last good one in force.
func TestReload(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		dir := t.TempDir()
		path := filepath.Join(dir, "c.yml")
		write := func(s string) { require.NoError(t, os.WriteFile(path, []byte(s), 0o644)) }
		var modes []icmpkit.Mode
		e := New(Options{Open: mockOpen(mockLab(t, 3), &modes), Resolve: noResolve})
		defer e.Close()
		reg := e.Gatherer()
		write("targets: [{hosts: [198.18.0.1]}]")
		cfg, err := LoadConfig(path)
		require.NoError(t, err)
		require.NoError(t, e.Start(cfg))
		time.Sleep(2500 * time.Millisecond)
		assert.Equal(t, 3.0, value(t, reg, "smokeping_requests_total", ip("198.18.0.1")))
		assert.Equal(t, -1.0, value(t, reg, "smokeping_requests_total", ip("198.18.0.2")))

		// A target added appears within two intervals; the first keeps its counts.
		write("targets: [{hosts: [198.18.0.1, 198.18.0.2]}]")
		require.NoError(t, e.Reload(path))
		time.Sleep(2 * time.Second)
		assert.GreaterOrEqual(t, value(t, reg, "smokeping_requests_total", ip("198.18.0.2")), 1.0)
		assert.Equal(t, 5.0, value(t, reg, "smokeping_requests_total", ip("198.18.0.1")))
		assert.Equal(t, []icmpkit.Mode{icmpkit.ModeAuto}, modes, "the transport stays open across reloads")

		// A new label name: every series gets it.
		write("targets: [{hosts: [198.18.0.1, 198.18.0.2], labels: {site: x}}, {hosts: [198.18.0.3], interval: 500ms}]")
		require.NoError(t, e.Reload(path))
		time.Sleep(2 * time.Second)
		assert.Equal(t, 2.0, value(t, reg, "smokeping_requests_total", map[string]string{"ip": "198.18.0.1", "site": "x"}))
		assert.GreaterOrEqual(t, value(t, reg, "smokeping_requests_total", map[string]string{"ip": "198.18.0.3", "site": ""}), 3.0)
		assert.Equal(t, 1.0, value(t, reg, "smokeping_prober_config_last_reload_successful", nil))
		okAt := value(t, reg, "smokeping_prober_config_last_reload_success_timestamp_seconds", nil)

		// Broken configurations: the last good one stays.
		for _, broken := range []string{"targets: [{hosts: [198.18.0.1], size: 2}]", "targets: [", "targets: []"} {
			write(broken)
			err := e.Reload(path)
			require.Error(t, err, broken)
			assert.ErrorIs(t, err, icmperrors.ErrInvalidArgument)
			assert.Equal(t, 0.0, value(t, reg, "smokeping_prober_config_last_reload_successful", nil))
		}
		before := value(t, reg, "smokeping_requests_total", ip("198.18.0.2"))
		time.Sleep(2 * time.Second)
		assert.Equal(t, before+2, value(t, reg, "smokeping_requests_total", ip("198.18.0.2")), "still probed")
		assert.Equal(t, okAt, value(t, reg, "smokeping_prober_config_last_reload_success_timestamp_seconds", nil))

		// Removing a target removes its series.
		write("targets: [{hosts: [198.18.0.1]}]")
		require.NoError(t, e.Reload(path))
		assert.Equal(t, -1.0, value(t, reg, "smokeping_requests_total", ip("198.18.0.2")))
		assert.Equal(t, 1.0, value(t, reg, "smokeping_prober_config_last_reload_successful", nil))
	})
}

// TestFileSD picks up targets added to, and removed from, a watched file_sd file.
func TestFileSD(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		dir := t.TempDir()
		sd := filepath.Join(dir, "targets.json")
		require.NoError(t, os.WriteFile(sd, []byte(`[{"targets": ["198.18.0.1:9100"], "labels": {"job": "node"}}]`), 0o644))
		e := New(Options{Open: mockOpen(mockLab(t, 3), nil), Resolve: noResolve})
		defer e.Close()
		reg := e.Gatherer()
		cfg, err := ParseConfig([]byte("targets: [{file_sd_configs: [{files: [" + filepath.Join(dir, "*.json") + "]}]}]"))
		require.NoError(t, err)
		require.NoError(t, e.Start(cfg))
		time.Sleep(1500 * time.Millisecond)
		assert.Equal(t, 2.0, value(t, reg, "smokeping_requests_total", map[string]string{"ip": "198.18.0.1", "job": "node"}))

		require.NoError(t, os.WriteFile(sd, []byte(`[{"targets": ["198.18.0.1:9100", "198.18.0.2"], "labels": {"job": "node"}}]`), 0o644))
		require.NoError(t, os.WriteFile(filepath.Join(dir, "more.json"), []byte(`[{"targets": ["198.18.0.3"]}]`), 0o644))
		// Seen within a second (the series appear, at 0), probed in the next cycle.
		time.Sleep(time.Second)
		assert.GreaterOrEqual(t, value(t, reg, "smokeping_requests_total", ip("198.18.0.2")), 0.0, "added to the file")
		time.Sleep(2 * time.Second)
		assert.GreaterOrEqual(t, value(t, reg, "smokeping_requests_total", ip("198.18.0.2")), 1.0, "added to the file")
		assert.GreaterOrEqual(t, value(t, reg, "smokeping_requests_total", map[string]string{"ip": "198.18.0.3", "job": ""}), 1.0, "a new file matching the glob")
		assert.Equal(t, 3.0, value(t, reg, "icmpkit_targets", nil))

		// A broken file keeps its last good content, and is counted.
		require.NoError(t, os.WriteFile(sd, []byte(`[{"targets": [`), 0o644))
		time.Sleep(2 * time.Second)
		assert.Equal(t, 1.0, value(t, reg, "icmpkit_file_sd_errors_total", map[string]string{"file": sd}))
		assert.Equal(t, 3.0, value(t, reg, "icmpkit_targets", nil))

		// A removed file takes its targets along.
		require.NoError(t, os.Remove(filepath.Join(dir, "more.json")))
		time.Sleep(2 * time.Second)
		assert.Equal(t, -1.0, value(t, reg, "smokeping_requests_total", ip("198.18.0.3")))
		assert.Equal(t, 2.0, value(t, reg, "icmpkit_targets", nil))
	})
}

// TestResolve: a name that does not resolve is counted and retried, never fatal; once it
// resolves it is probed, and a new address replaces the old one.
func TestResolve(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var mu sync.Mutex
		answers := map[string]string{"good.example": "198.18.0.1"}
		resolve := func(_ context.Context, host string, fam icmpkit.Family) (netip.Addr, error) {
			mu.Lock()
			defer mu.Unlock()
			if a, ok := answers[host]; ok {
				return netip.MustParseAddr(a), nil
			}
			return netip.Addr{}, icmperrors.Wrap(icmperrors.ErrNameLookup, "resolve "+host, os.ErrNotExist)
		}
		e := New(Options{Open: mockOpen(mockLab(t, 3), nil), Resolve: resolve, ResolveInterval: 10 * time.Second})
		defer e.Close()
		reg := e.Gatherer()
		require.NoError(t, e.Start(&Config{Targets: []TargetGroup{withHosts("good.example", "late.example")}}))
		time.Sleep(1500 * time.Millisecond)
		assert.Equal(t, 2.0, value(t, reg, "smokeping_requests_total", map[string]string{"host": "good.example", "ip": "198.18.0.1"}))
		assert.Equal(t, 1.0, value(t, reg, "icmpkit_resolve_errors_total", map[string]string{"host": "late.example"}))
		assert.Equal(t, 1.0, value(t, reg, "icmpkit_targets_unresolved", nil))

		mu.Lock()
		answers["late.example"] = "198.18.0.2"
		answers["good.example"] = "198.18.0.3"
		mu.Unlock()
		time.Sleep(10 * time.Second)
		time.Sleep(1500 * time.Millisecond)
		assert.GreaterOrEqual(t, value(t, reg, "smokeping_requests_total", map[string]string{"host": "late.example", "ip": "198.18.0.2"}), 1.0)
		assert.GreaterOrEqual(t, value(t, reg, "smokeping_requests_total", map[string]string{"host": "good.example", "ip": "198.18.0.3"}), 1.0)
		assert.Equal(t, -1.0, value(t, reg, "smokeping_requests_total", map[string]string{"host": "good.example", "ip": "198.18.0.1"}))
		assert.Equal(t, 0.0, value(t, reg, "icmpkit_targets_unresolved", nil))
	})
}

func withHosts(h ...string) TargetGroup {
	g := DefaultTargetGroup
	g.Hosts = h
	return g
}
