package main

import (
	"bytes"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestParseFlags(t *testing.T) {
	var stderr bytes.Buffer
	f, err := parseFlags([]string{"198.18.0.1", "-i", "500ms", "--ping.size=100", "host2", "--privileged", "-O", "0x20", "--config.file", "c.yml"}, &stderr)
	require.NoError(t, err)
	assert.Equal(t, []string{"198.18.0.1", "host2"}, f.hosts)
	assert.Equal(t, 500*time.Millisecond, f.interval)
	assert.Equal(t, 100, f.size)
	assert.Equal(t, 0x20, f.tos)
	assert.True(t, f.privileged)
	assert.Equal(t, "c.yml", f.configFile)
	assert.Equal(t, ":9374", f.listen)
	assert.Equal(t, "/metrics", f.path)

	b, err := parseBuckets(f.buckets)
	require.NoError(t, err)
	assert.Len(t, b, 20)
	assert.Equal(t, 5e-05, b[0])
	assert.Equal(t, 26.2144, b[19])
	b, err = parseBuckets("none")
	require.NoError(t, err)
	assert.Empty(t, b)
	assert.NotNil(t, b, "no classic buckets, rather than the default ones")
}

func TestBadUsage(t *testing.T) {
	for _, args := range [][]string{
		{"-s", "8", "h"},
		{"--ping.interval=0s", "h"},
		{"--buckets=0.1,0.05", "h"},
		{"--buckets=a", "h"},
		{"--log.level=loud", "h"},
		{"--icmpkit.mode=fast", "h"},
		{"-O", "300", "h"},
		{"--no-such-flag"},
		{"--config.file=/", "h"},
	} {
		var stdout, stderr bytes.Buffer
		assert.Equal(t, 2, run(args, &stdout, &stderr), "%q", args)
		assert.NotEmpty(t, stderr.String(), "%q", args)
	}
}

func TestNoTargets(t *testing.T) {
	var stdout, stderr bytes.Buffer
	assert.Equal(t, 1, run([]string{"--web.listen-address=127.0.0.1:0"}, &stdout, &stderr))
	assert.Contains(t, stderr.String(), "no targets")
}
