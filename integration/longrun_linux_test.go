package integration

import (
	"context"
	"fmt"
	"net/netip"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/icmpkit/icmpkit/internal/lab"
	"github.com/icmpkit/icmpkit/probe"
	"github.com/icmpkit/icmpkit/transport"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// hardEnvLong turns on the long-running tests when it is "1".
const hardEnvLong = "ICMPKIT_LONG"

// hardLongBound is how far above its starting point the heap (after a collection) may be at
// any sample of the million-request ping. Keeping 2 bytes per request would exceed it.
const hardLongBound = 1 << 20

// TestHardLongPing pings loopback a million times back to back in the streaming form
// (OnReply, DropRTTs), through each transport, inside a lab namespace of its own so that no
// other traffic shares the sockets: the heap after a collection stays within a fixed bound of
// where it started, sampled every 100,000 replies. It takes some tens of seconds and runs only
// with ICMPKIT_LONG=1.
func TestHardLongPing(t *testing.T) {
	if os.Getenv(hardEnvLong) != "1" {
		t.Skipf("a million back-to-back requests take some tens of seconds: set %s=1 to run them", hardEnvLong)
	}
	for _, mode := range hardModes {
		t.Run(mode, func(t *testing.T) {
			c := lab.NewChain(t, lab.ChainConfig{})
			hardLongPing(t, hardOpen(t, c, mode), netip.MustParseAddr("127.0.0.1"))
		})
	}
}

func hardLongPing(t *testing.T, tr transport.Transport, dst netip.Addr) {
	const count = 1_000_000
	const every = 100_000

	var replies, errs, timeouts, dups int
	samples := make([]uint64, 0, count/every+1)
	at := make([]time.Duration, 0, count/every+1)
	start := hardHeap()
	began := time.Now()
	peak := start
	onReply := func(o probe.Outcome) {
		switch {
		case o.TimedOut:
			timeouts++
		case o.Duplicate:
			dups++
		case o.Reply.Kind() == transport.KindEchoReply:
			replies++
		default:
			errs++
		}
		if n := replies + errs + timeouts; n%every == 0 && !o.Duplicate {
			h := hardHeap()
			samples = append(samples, h)
			at = append(at, time.Since(began))
			peak = max(peak, h)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	h, err := probe.Ping(ctx, tr, dst, &probe.PingOptions{
		Count: count, Interval: -1, Timeout: time.Second, DropRTTs: true, OnReply: onReply,
	})
	took := time.Since(began)
	end := hardHeap()
	require.NoError(t, err)

	var b strings.Builder
	for i, s := range samples {
		fmt.Fprintf(&b, " %d:%dKiB@%v", (i+1)*every, s>>10, at[i].Round(time.Millisecond))
	}
	t.Logf("%s transport, %d requests in %v (%.0f/s): %d replies, %d errors, %d timeouts, %d duplicates",
		tr.(transport.Namer).Name(), h.PacketsSent, took.Round(time.Millisecond), float64(h.PacketsSent)/took.Seconds(), replies, errs, timeouts, dups)
	t.Logf("HeapInuse after GC: start %d KiB, end %d KiB (%+d KiB), max sampled %d KiB; samples:%s",
		start>>10, end>>10, (int64(end)-int64(start))/1024, peak>>10, b.String())

	assert.Equal(t, count, h.PacketsSent, "sent")
	assert.Equal(t, replies, h.PacketsReceived(), "received")
	assert.Equal(t, count, replies+errs+timeouts, "every request is a reply, an error or a timeout")
	assert.GreaterOrEqual(t, replies, count-count/1000, "loopback answers all but a few")
	assert.Nil(t, h.RTTs, "DropRTTs keeps no list")
	assert.Equal(t, count/every, len(samples), "samples")
	assert.LessOrEqual(t, int64(peak)-int64(start), int64(hardLongBound), "heap peak over the start")
	assert.LessOrEqual(t, int64(end)-int64(start), int64(hardLongBound), "heap at the end over the start")
}
