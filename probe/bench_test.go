package probe_test

import (
	"context"
	"net/netip"
	"runtime"
	"testing"

	"github.com/icmpkit/icmpkit/probe"
	"github.com/icmpkit/icmpkit/transport/mock"
)

// The benchmarks run on the in-memory network with no latency, in real time: they measure the
// CPU and allocation cost of scheduling and matching per probe, the network being free. Each
// reports ns/probe, B/probe and allocs/probe besides the per-operation figures.

func BenchmarkPing(b *testing.B) {
	n := mock.NewNetwork(mock.Config{})
	if err := n.AddHost(hostA, mock.Host{}); err != nil {
		b.Fatal(err)
	}
	tr := n.Transport(mock.TransportConfig{NoRecord: true})
	defer tr.Close()
	m := startMeter(b)
	h, err := probe.Ping(context.Background(), tr, hostA, &probe.PingOptions{Count: b.N, Interval: -1, DropRTTs: true})
	if err != nil || h.PacketsReceived() != b.N {
		b.Fatalf("received %d of %d: %v", h.PacketsReceived(), b.N, err)
	}
	m.report(b.N)
}

const benchHosts = 10_000

func benchNetwork(b *testing.B) ([]netip.Addr, *mock.Transport) {
	n := mock.NewNetwork(mock.Config{})
	targets := make([]netip.Addr, benchHosts)
	for i := range targets {
		targets[i] = addrN(i)
		if err := n.AddHost(targets[i], mock.Host{}); err != nil {
			b.Fatal(err)
		}
	}
	return targets, n.Transport(mock.TransportConfig{NoRecord: true})
}

func BenchmarkMultiping(b *testing.B) {
	for _, bc := range []struct {
		name string
		opts probe.MultipingOptions
	}{
		{"count1", probe.MultipingOptions{Count: 1}},
		{"count3", probe.MultipingOptions{Count: 3, Interval: -1}},
		{"count1-window256", probe.MultipingOptions{Count: 1, Window: 256}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			targets, tr := benchNetwork(b)
			defer tr.Close()
			m := startMeter(b)
			for b.Loop() {
				res, err := probe.Multiping(context.Background(), tr, targets, &bc.opts)
				if err != nil || res[benchHosts-1].PacketsReceived() != bc.opts.Count {
					b.Fatal(err)
				}
			}
			m.report(b.N * benchHosts * bc.opts.Count)
		})
	}
}

func BenchmarkMultipingSeq(b *testing.B) {
	for _, bc := range []struct {
		name      string
		unordered bool
	}{{"ordered", false}, {"unordered", true}} {
		b.Run(bc.name, func(b *testing.B) {
			targets, tr := benchNetwork(b)
			defer tr.Close()
			seq := func(yield func(netip.Addr) bool) {
				for _, a := range targets {
					if !yield(a) {
						return
					}
				}
			}
			opts := &probe.MultipingOptions{Count: 1, Unordered: bc.unordered, DropRTTs: true}
			m := startMeter(b)
			for b.Loop() {
				alive := 0
				for h, err := range probe.MultipingSeq(context.Background(), tr, seq, opts) {
					if err != nil {
						b.Fatal(err)
					}
					if h.IsAlive() {
						alive++
					}
				}
				if alive != benchHosts {
					b.Fatalf("%d alive of %d", alive, benchHosts)
				}
			}
			m.report(b.N * benchHosts)
		})
	}
}

// meter measures per-probe time, bytes and allocations over a benchmark.
type meter struct {
	b      *testing.B
	before runtime.MemStats
}

func startMeter(b *testing.B) *meter {
	b.ReportAllocs()
	m := &meter{b: b}
	runtime.ReadMemStats(&m.before)
	b.ResetTimer()
	return m
}

func (m *meter) report(probes int) {
	m.b.StopTimer()
	var after runtime.MemStats
	runtime.ReadMemStats(&after)
	p := float64(probes)
	m.b.ReportMetric(float64(m.b.Elapsed().Nanoseconds())/p, "ns/probe")
	m.b.ReportMetric(float64(after.TotalAlloc-m.before.TotalAlloc)/p, "B/probe")
	m.b.ReportMetric(float64(after.Mallocs-m.before.Mallocs)/p, "allocs/probe")
}
