//go:build !linux

package main

import (
	"context"
	"net/netip"

	"github.com/icmpkit/icmpkit/probe"
)

// liveTerminal reports whether the live view can run: only on Linux.
func (e *env) liveTerminal() bool { return false }

// runMtrLive prints the report: the live view runs only on Linux.
func runMtrLive(ctx context.Context, e *env, f *mtrFlags, targets []*mtrTarget, opts func(netip.Addr) *probe.MonitorOptions) int {
	return runMtrReport(ctx, e, f, targets, opts)
}
