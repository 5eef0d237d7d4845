package exporter

import (
	"testing"
	"time"

	icmperrors "github.com/icmpkit/icmpkit/errors"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestParseConfig(t *testing.T) {
	c, err := ParseConfig([]byte(`
targets:
- hosts: [host1, 198.18.0.1]
  interval: 2s
  network: ip6
  protocol: udp
  size: 120
  source: 198.18.0.9
  tos: 32
  labels: {zone: a, rack: "7"}
- host: single
- hosts: [x]
  file_sd_configs:
  - files: [/etc/sd/*.json]
    refresh_interval: 30s
`))
	require.NoError(t, err)
	require.Len(t, c.Targets, 3)
	assert.Equal(t, TargetGroup{
		Hosts: []string{"host1", "198.18.0.1"}, Interval: 2 * time.Second, Network: "ip6", Protocol: "udp",
		Size: 120, Source: "198.18.0.9", ToS: 32, Labels: map[string]string{"zone": "a", "rack": "7"},
	}, c.Targets[0])
	assert.Equal(t, TargetGroup{Hosts: []string{"single"}, Host: "single", Interval: time.Second, Network: "ip", Protocol: "icmp", Size: 56}, c.Targets[1], "smokeping_prober's defaults, host folded into hosts")
	assert.Equal(t, []FileSDConfig{{Files: []string{"/etc/sd/*.json"}, RefreshInterval: 30 * time.Second}}, c.Targets[2].FileSDConfigs)

	empty, err := ParseConfig(nil)
	require.NoError(t, err)
	assert.Empty(t, empty.Targets)
}

func TestParseConfigErrors(t *testing.T) {
	for _, tc := range []struct{ name, yaml, want string }{
		{"network", "targets: [{hosts: [a], network: ipx}]", "network"},
		{"protocol", "targets: [{hosts: [a], protocol: tcp}]", "protocol"},
		{"small", "targets: [{hosts: [a], size: 8}]", "24-65535"},
		{"large", "targets: [{hosts: [a], size: 70000}]", "24-65535"},
		{"interval", "targets: [{hosts: [a], interval: -1s}]", "interval"},
		{"unknown field", "targets: [{hosts: [a], intervall: 1s}]", "intervall"},
		{"label", "targets: [{hosts: [a], labels: {1x: y}}]", "label name"},
		{"reserved label", "targets: [{hosts: [a], labels: {__x: y}}]", "reserved"},
		{"empty host", "targets: [{hosts: [\"\"]}]", "empty host"},
		{"no files", "targets: [{file_sd_configs: [{files: []}]}]", "files"},
		{"syntax", "targets: [{hosts: [a}", "config"},
		{"tos", "targets: [{hosts: [a], tos: 300}]", "config"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseConfig([]byte(tc.yaml))
			require.Error(t, err)
			assert.ErrorIs(t, err, icmperrors.ErrInvalidArgument)
			assert.Contains(t, err.Error(), tc.want)
		})
	}
}

func TestParseFileSD(t *testing.T) {
	want := []SDGroup{
		{Targets: []string{"198.18.0.1", "host", "2001:db8::1", "2001:db8::2"}, Labels: map[string]string{"job": "icmp"}},
		{Targets: []string{"b"}},
	}
	j, err := ParseFileSD("a.json", []byte(`[
	  {"targets": ["198.18.0.1:9100", "host:80", "[2001:db8::1]:9100", "2001:db8::2"], "labels": {"job": "icmp", "__meta_x": "y"}},
	  {"targets": ["b"]}
	]`))
	require.NoError(t, err)
	assert.Equal(t, want, j)
	y, err := ParseFileSD("a.yml", []byte(`
- targets: ["198.18.0.1:9100", "host:80", "[2001:db8::1]:9100", "2001:db8::2"]
  labels: {job: icmp, __meta_x: y}
- targets: [b]
`))
	require.NoError(t, err)
	assert.Equal(t, want, y)

	for _, bad := range []struct{ name, text string }{
		{"x.json", `{"targets": []}`},
		{"x.json", `[{"targets": [""]}]`},
		{"x.yaml", `- targets: [a]\n  labels: {"a-b": c}`},
		{"x.yaml", "- hosts: [a]"},
	} {
		_, err := ParseFileSD(bad.name, []byte(bad.text))
		assert.ErrorIs(t, err, icmperrors.ErrInvalidArgument, "%s %s", bad.name, bad.text)
	}
}

// TestDeployConfig parses the configuration the README shows.
func TestDeployConfig(t *testing.T) {
	c, err := LoadConfig("deploy/icmpkit-exporter.yml")
	require.NoError(t, err)
	require.Len(t, c.Targets, 3)
	assert.Equal(t, uint8(0x20), c.Targets[1].ToS)
	assert.Len(t, c.Targets[2].FileSDConfigs[0].Files, 2)
}
