package main

import (
	"strings"
	"testing"
	"testing/synctest"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// A target whose requests the system refuses (a broadcast address without -b): said once on
// stderr, as fping says it, counted apart in JSON; the other targets go on.
func TestMultipingSendErrorOncePerHost(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n := mockLab(t)
		require.NoError(t, n.AddBroadcast(addr("198.18.255.255"), addr("198.18.0.1")))
		r := runOn(t, n, runOpts{}, "multiping", "-c3", "-p100", "198.18.255.255", "198.18.0.1")
		assert.Equal(t, exitFail, r.code)
		assert.Equal(t, 1, strings.Count(r.stderr, "ping: sendto: broadcast not enabled\n"), r.stderr)
		assert.Equal(t, "ping: sendto: broadcast not enabled\n", r.stderr, "nothing else on stderr")
		assert.Contains(t, r.stdout, "198.18.255.255 : xmt/rcv/%loss = 3/0/100%\n")
		assert.Contains(t, r.stdout, "198.18.0.1 : xmt/rcv/%loss = 3/3/0%")
		assert.Equal(t, 3, strings.Count(r.stdout, "198.18.0.1 : ["), r.stdout)

		r = runOn(t, n, runOpts{}, "multiping", "--json", "-c3", "-p100", "198.18.255.255", "198.18.0.1")
		assert.Contains(t, r.stdout, `"address":"198.18.255.255","is_alive":false,"packets_sent":3,`)
		assert.Contains(t, r.stdout, `"errors":0,"send_errors":3}`)
	})
}
