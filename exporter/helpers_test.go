package exporter

import (
	"context"
	"net/netip"
	"testing"

	"github.com/icmpkit/icmpkit"
	"github.com/icmpkit/icmpkit/transport"
	"github.com/icmpkit/icmpkit/transport/mock"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/stretchr/testify/require"
)

// mockOpen opens transports on n, recording the modes asked for.
func mockOpen(n *mock.Network, modes *[]icmpkit.Mode) func(icmpkit.Mode, icmpkit.Config) (transport.Transport, error) {
	return func(m icmpkit.Mode, _ icmpkit.Config) (transport.Transport, error) {
		if modes != nil {
			*modes = append(*modes, m)
		}
		return n.Transport(mock.TransportConfig{}), nil
	}
}

// noResolve fails every lookup: the tests use addresses.
func noResolve(context.Context, string, icmpkit.Family) (netip.Addr, error) {
	panic("unexpected lookup")
}

// find finds the metric of family name whose labels include want; nil when there is none.
func find(t *testing.T, reg prometheus.Gatherer, name string, want map[string]string) *dto.Metric {
	t.Helper()
	mfs, err := reg.Gather()
	require.NoError(t, err)
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
	next:
		for _, m := range mf.GetMetric() {
			have := map[string]string{}
			for _, l := range m.GetLabel() {
				have[l.GetName()] = l.GetValue()
			}
			for k, v := range want {
				if have[k] != v {
					continue next
				}
			}
			return m
		}
	}
	return nil
}

// value gives a counter's or gauge's value, or a histogram's count; -1 when absent.
func value(t *testing.T, reg prometheus.Gatherer, name string, want map[string]string) float64 {
	t.Helper()
	m := find(t, reg, name, want)
	switch {
	case m == nil:
		return -1
	case m.Counter != nil:
		return m.Counter.GetValue()
	case m.Gauge != nil:
		return m.Gauge.GetValue()
	case m.Histogram != nil:
		return float64(m.Histogram.GetSampleCount())
	}
	return -1
}

func ip(a string) map[string]string { return map[string]string{"ip": a} }
