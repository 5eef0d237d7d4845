// Mocktest shows how an application tests its own ICMP logic with transport/mock: the
// application code takes a transport.Transport, the program hands it a real one, and the
// test (main_test.go) hands it an in-memory network where hosts, losses and latencies are
// whatever the test says, with no socket and no privilege.
//
//	go run ./examples/mocktest [HOST...]
package main

import (
	"context"
	"fmt"
	"net/netip"
	"os"
	"time"

	"github.com/icmpkit/icmpkit"
	"github.com/icmpkit/icmpkit/probe"
	"github.com/icmpkit/icmpkit/transport"
)

// Status is the application's verdict on a host.
type Status string

// Verdicts.
const (
	Up       Status = "up"
	Degraded Status = "degraded" // some loss, or slow
	Down     Status = "down"
)

// checkHosts is the application's logic under test: ping each host five times and judge it.
func checkHosts(ctx context.Context, t transport.Transport, hosts []netip.Addr) (map[netip.Addr]Status, error) {
	results, err := probe.Multiping(ctx, t, hosts, &probe.MultipingOptions{Count: 5, Interval: 200 * time.Millisecond, Timeout: time.Second})
	if err != nil {
		return nil, err
	}
	out := make(map[netip.Addr]Status, len(results))
	for _, h := range results {
		switch {
		case !h.IsAlive():
			out[h.Address] = Down
		case h.PacketLoss() > 0 || h.AvgRTT() > 100*time.Millisecond:
			out[h.Address] = Degraded
		default:
			out[h.Address] = Up
		}
	}
	return out, nil
}

func main() {
	args := os.Args[1:]
	if len(args) == 0 {
		args = []string{"127.0.0.1", "::1"}
	}
	var hosts []netip.Addr
	for _, a := range args {
		h, err := icmpkit.Resolve(context.Background(), a, icmpkit.FamilyAny)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		hosts = append(hosts, h)
	}
	t, err := icmpkit.Open(icmpkit.ModeAuto, icmpkit.Config{})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	defer t.Close()
	status, err := checkHosts(context.Background(), t, hosts)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	for _, h := range hosts {
		fmt.Printf("%s %s\n", h, status[h])
	}
}
