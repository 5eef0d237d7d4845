package main

import (
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// traceroute(8) sends a hop's probes without waiting between them, and so does icmpkit by
// default; --fast without -z keeps icmplib's 50 ms so that a hop that answered can be left.
func TestTracerouteInterval(t *testing.T) {
	gaps := func(t *testing.T, args ...string) []time.Duration {
		r := runOn(t, traceNet(t), runOpts{}, append([]string{"traceroute", "-n", "-q", "3", "-f", "3", "-m", "3"}, args...)...)
		require.Equal(t, exitOK, r.code, r.stderr)
		sent := r.tr.Sent()
		var d []time.Duration
		for i := 1; i < len(sent); i++ {
			d = append(d, sent[i].SentAt.Sub(sent[i-1].SentAt))
		}
		return d
	}
	synctest.Test(t, func(t *testing.T) {
		assert.Equal(t, []time.Duration{0, 0}, gaps(t, "198.18.9.9"), "no wait by default")
		assert.Equal(t, []time.Duration{200 * time.Millisecond, 200 * time.Millisecond}, gaps(t, "-z", "0.2", "198.18.9.9"))
		assert.Empty(t, gaps(t, "--fast", "198.18.9.9"), "fast mode: the first answer, 3 ms later, comes before the 50 ms")
		assert.Equal(t, []time.Duration{0, 0}, gaps(t, "--fast", "-z", "0", "198.18.9.9"), "an explicit -z 0 stands")
	})
}
