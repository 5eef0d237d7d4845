package probe_test

import (
	"context"
	"net/netip"
	"testing"

	"github.com/icmpkit/icmpkit/probe"
	"github.com/icmpkit/icmpkit/transport/mock"
)

// The benchmarks run on the in-memory network with no latency, in real time: they measure the
// CPU and allocation cost of scheduling and matching per probe, the network being free.

func BenchmarkPing(b *testing.B) {
	n := mock.NewNetwork(mock.Config{})
	if err := n.AddHost(hostA, mock.Host{}); err != nil {
		b.Fatal(err)
	}
	tr := n.Transport(mock.TransportConfig{NoRecord: true})
	defer tr.Close()
	b.ReportAllocs()
	b.ResetTimer()
	h, err := probe.Ping(context.Background(), tr, hostA, &probe.PingOptions{Count: b.N, Interval: -1, DropRTTs: true})
	if err != nil || h.PacketsReceived() != b.N {
		b.Fatalf("received %d of %d: %v", h.PacketsReceived(), b.N, err)
	}
}

func BenchmarkMultiping(b *testing.B) {
	const hosts = 10_000
	n := mock.NewNetwork(mock.Config{})
	targets := make([]netip.Addr, hosts)
	for i := range targets {
		targets[i] = addrN(i)
		if err := n.AddHost(targets[i], mock.Host{}); err != nil {
			b.Fatal(err)
		}
	}
	tr := n.Transport(mock.TransportConfig{NoRecord: true})
	defer tr.Close()
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		res, err := probe.Multiping(context.Background(), tr, targets, &probe.MultipingOptions{Count: 1})
		if err != nil || !res[hosts-1].IsAlive() {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*hosts), "ns/probe")
}
