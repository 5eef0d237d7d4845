package exporter

import (
	"net/netip"
	"testing"
	"testing/synctest"
	"time"

	"github.com/icmpkit/icmpkit"
	"github.com/icmpkit/icmpkit/transport"
	"github.com/icmpkit/icmpkit/transport/mock"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestProbing runs the exporter over an in-memory network for ten seconds of fake time and
// checks every family against what the network did.
func TestProbing(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n := mock.NewNetwork(mock.Config{Seed: 7})
		alive := netip.MustParseAddr("198.18.0.1")
		lossy := netip.MustParseAddr("198.18.0.2")
		dead := netip.MustParseAddr("198.18.0.3")
		unreach := netip.MustParseAddr("198.19.0.1")
		v6 := netip.MustParseAddr("2001:db8::1")
		twice := netip.MustParseAddr("198.18.0.4")
		require.NoError(t, n.AddHost(twice, mock.Host{Latency: 2 * time.Millisecond, Duplicates: 1}))
		require.NoError(t, n.AddHost(alive, mock.Host{Latency: 3 * time.Millisecond, TTL: 61}))
		require.NoError(t, n.AddHost(lossy, mock.Host{Latency: 3 * time.Millisecond, Loss: 0.3}))
		require.NoError(t, n.AddHost(dead, mock.Host{Dead: true}))
		require.NoError(t, n.AddHost(v6, mock.Host{Latency: 40 * time.Millisecond}))
		require.NoError(t, n.AddPath(unreach, mock.Router{Addr: netip.MustParseAddr("198.18.9.1"), Unreachable: true, UnreachableCode: 1}))

		var modes []icmpkit.Mode
		e := New(Options{Open: mockOpen(n, &modes), Resolve: noResolve})
		cfg, err := ParseConfig([]byte(`
targets:
- hosts: [198.18.0.1, 198.18.0.2, 198.18.0.3, 198.19.0.1, "2001:db8::1", 255.255.255.255, 198.18.0.4]
  labels: {zone: lab}
`))
		require.NoError(t, err)
		require.NoError(t, e.Start(cfg))
		reg := e.Gatherer()
		assert.Equal(t, []icmpkit.Mode{icmpkit.ModeAuto}, modes, "one transport for both families, auto mode")

		// Cycles start at 0, 1 ... 9 s; at 9.9 s the tenth cycle's answers are all in but its
		// timeouts are not.
		time.Sleep(9900 * time.Millisecond)
		synctest.Wait()
		assert.Equal(t, 10.0, value(t, reg, "smokeping_requests_total", ip("198.18.0.1")))
		assert.Equal(t, 10.0, value(t, reg, "smokeping_response_duration_seconds", ip("198.18.0.1")))
		assert.Equal(t, 61.0, value(t, reg, "smokeping_response_ttl", ip("198.18.0.1")))
		assert.Equal(t, 9.0, value(t, reg, "smokeping_requests_total", ip("198.18.0.3")), "the tenth request to the dead host has not timed out yet")
		assert.Equal(t, 0.0, value(t, reg, "smokeping_response_duration_seconds", ip("198.18.0.3")))
		assert.Equal(t, 0.0, value(t, reg, "smokeping_send_errors_total", ip("198.18.0.3")))
		assert.Equal(t, 10.0, value(t, reg, "icmpkit_icmp_errors_total", map[string]string{"ip": "198.19.0.1", "type": "3", "code": "1"}))
		assert.Equal(t, 0.0, value(t, reg, "smokeping_response_duration_seconds", ip("198.19.0.1")))
		assert.Equal(t, 10.0, value(t, reg, "smokeping_response_duration_seconds", ip("2001:db8::1")))
		assert.Equal(t, 10.0, value(t, reg, "smokeping_send_errors_total", ip("255.255.255.255")))
		assert.Equal(t, 10.0, value(t, reg, "smokeping_requests_total", ip("255.255.255.255")))
		got := value(t, reg, "smokeping_response_duration_seconds", ip("198.18.0.2"))
		assert.InDelta(t, 7, got, 3, "30%% of 10 lost")
		assert.Equal(t, 10.0, value(t, reg, "smokeping_requests_total", ip("198.18.0.2")))
		assert.Equal(t, 10.0, value(t, reg, "smokeping_response_duplicates_total", ip("198.18.0.4")), "a copy of every answer")
		assert.Equal(t, 10.0, value(t, reg, "smokeping_response_duration_seconds", ip("198.18.0.4")), "copies are not answers")
		assert.Equal(t, 0.0, value(t, reg, "smokeping_response_duplicates_total", ip("198.18.0.1")))

		// The histogram has smokeping_prober's buckets and labels, and the RTT.
		m := find(t, reg, "smokeping_response_duration_seconds", ip("198.18.0.1"))
		require.NotNil(t, m)
		assert.Len(t, m.Histogram.GetBucket(), 20)
		assert.InDelta(t, 0.030, m.Histogram.GetSampleSum(), 1e-9, "ten RTTs of 3 ms")
		var names []string
		for _, l := range m.GetLabel() {
			names = append(names, l.GetName()+"="+l.GetValue())
		}
		assert.Equal(t, []string{"host=198.18.0.1", "ip=198.18.0.1", "source=", "tos=0", "zone=lab"}, names)
		assert.NotNil(t, m.Histogram.Schema, "native histogram served too")

		assert.Equal(t, 7.0, value(t, reg, "icmpkit_targets", nil))
		assert.Equal(t, 1.0, value(t, reg, "smokeping_prober_config_last_reload_successful", nil))
		assert.Equal(t, 0.0, value(t, reg, "icmpkit_cycles_skipped_total", nil))
		require.NoError(t, e.Close())
		require.NoError(t, e.Close())
	})
}

// TestSpread checks that a cycle's requests are spread evenly over the interval, not sent in
// a burst.
func TestSpread(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n := mock.NewNetwork(mock.Config{Seed: 1})
		var hosts []string
		for i := range 100 {
			a := netip.AddrFrom4([4]byte{198, 18, 1, byte(i)})
			require.NoError(t, n.AddHost(a, mock.Host{Latency: time.Millisecond}))
			hosts = append(hosts, a.String())
		}
		tr := n.Transport(mock.TransportConfig{})
		e := New(Options{Open: func(icmpkit.Mode, icmpkit.Config) (transport.Transport, error) { return tr, nil }, Resolve: noResolve, Hosts: hosts})
		require.NoError(t, e.Start(nil))
		time.Sleep(2500 * time.Millisecond)
		require.NoError(t, e.Close())
		sent := tr.Sent()
		require.GreaterOrEqual(t, len(sent), 250)
		// In every tenth of a second of the first two intervals, 10 requests (±2).
		start := sent[0].SentAt
		perSlot := make([]int, 20)
		for _, r := range sent {
			slot := int(r.SentAt.Sub(start) / (100 * time.Millisecond))
			if slot < 20 {
				perSlot[slot]++
			}
		}
		for i, c := range perSlot {
			assert.InDelta(t, 10, c, 2, "requests sent in slot %d (%v)", i, perSlot)
		}
	})
}
