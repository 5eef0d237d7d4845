package integration

import (
	"context"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/icmpkit/icmpkit"
	icmperrors "github.com/icmpkit/icmpkit/errors"
	"github.com/icmpkit/icmpkit/internal/lab"
	"github.com/icmpkit/icmpkit/probe"
	"github.com/icmpkit/icmpkit/transport"
	"github.com/icmpkit/icmpkit/transport/raw"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// A broadcast ping through icmplib's socket surface over the raw transport: refused while
// broadcast is off, and once on, each Receive gives one more responder until every responder
// of the segment has answered exactly once, then the request's timeout. The socket can ask
// again, and forbid broadcast again.
func TestRawBroadcast(t *testing.T) {
	lab.Require(t)
	const responders = 5
	const timeout = time.Second
	b := lab.NewBroadcast(t, lab.BroadcastConfig{Responders: responders})
	require.Len(t, b.Responders, responders)
	tr := rawOpen(t, b.Client.NS, raw.Config{Family: transport.FamilyIPv4})
	id, _ := tr.Identifier(b.Broadcast)
	sock, err := icmpkit.NewICMPv4Socket(icmpkit.SocketConfig{Transport: tr})
	require.NoError(t, err)
	t.Cleanup(func() { sock.Close() })
	require.True(t, sock.IsPrivileged(), "a socket over the raw transport is privileged")

	want := map[netip.Addr]int{}
	for _, n := range b.Responders {
		want[n.V4] = 1
	}

	req := &transport.Request{Destination: b.Broadcast, ID: id, Seq: 1, Timeout: timeout}
	assert.False(t, sock.Broadcast(), "broadcast is off by default")
	require.ErrorIs(t, sock.Send(req), icmperrors.ErrBroadcast, "socket send to %s with broadcast off", b.Broadcast)
	require.ErrorIs(t, tr.Send(context.Background(), req), icmperrors.ErrBroadcast, "transport send to %s with broadcast off", b.Broadcast)

	require.NoError(t, sock.SetBroadcast(true))
	require.True(t, sock.Broadcast())
	require.True(t, tr.Broadcast(), "the transport's broadcast follows the socket's")
	for seq := 1; seq <= 2; seq++ {
		req := &transport.Request{Destination: b.Broadcast, ID: id, Seq: seq, Timeout: timeout}
		require.NoError(t, sock.Send(req), "round %d", seq)
		got := map[netip.Addr]int{}
		var last error
		for range responders + 2 {
			r, err := sock.Receive(context.Background(), req)
			if err != nil {
				last = err
				break
			}
			assert.Equal(t, transport.KindEchoReply, r.Kind(), "round %d: reply from %s", seq, r.Source)
			assert.Equal(t, id, r.ID, "round %d: identifier", seq)
			assert.Equal(t, seq, r.Seq, "round %d: sequence", seq)
			assert.True(t, r.ReceivedAt.After(req.SentAt), "round %d: receive time after send time", seq)
			got[r.Source]++
		}
		t.Logf("broadcast round %d to %s: replies from %v, then %v", seq, b.Broadcast, got, last)
		assert.Equal(t, want, got, "round %d: every responder once", seq)
		assert.ErrorIs(t, last, icmperrors.ErrTimeout, "round %d: after the last responder, the request's timeout", seq)
	}

	require.NoError(t, sock.SetBroadcast(false))
	req = &transport.Request{Destination: b.Broadcast, ID: id, Seq: 3, Timeout: timeout}
	require.ErrorIs(t, sock.Send(req), icmperrors.ErrBroadcast, "broadcast off again")
}

// Per-packet TTL and traffic class leave the host: three Pings share one Prober at once,
// with TTL 57 and traffic class 0xb8, TTL 33 and 0x20, and the defaults (64 and 0). A raw
// socket in the target's namespace sees each call's requests, told apart by their payloads,
// arrive with the TTL sent less the routers crossed and the traffic class unchanged.
func TestRawWireTTLTrafficClass(t *testing.T) {
	lab.Require(t)
	const routers, count = 3, 50
	c := lab.NewChain(t, lab.ChainConfig{Routers: routers})
	tr := rawOpen(t, c.Client.NS, raw.Config{})
	calls := []struct {
		tag        string
		ttl, class int
		wantTTL    int
	}{
		{"icmpkit-raw-a", 57, 0xb8, 57 - routers},
		{"icmpkit-raw-b", 33, 0x20, 33 - routers},
		{"icmpkit-raw-c", 0, 0, transport.DefaultTTL - routers},
	}
	for _, f := range rawFamilies {
		t.Run(f.name, func(t *testing.T) {
			capt := rawCaptureIn(t, c.Target.NS, f.v6)
			dst := rawPick(c.Target, f.v6)
			runs := make([]rawPingRun, len(calls))
			errs := make([]error, len(calls))
			pr := probe.New(tr, nil)
			defer pr.Close()
			var wg sync.WaitGroup
			for i, call := range calls {
				wg.Go(func() {
					runs[i], errs[i] = rawPingErr(pr, dst, probe.PingOptions{
						Count: count, Interval: time.Millisecond, Timeout: 2 * time.Second,
						TTL: call.ttl, TrafficClass: call.class, Payload: rawTagged(call.tag, 56),
					})
				})
			}
			wg.Wait()
			for i, call := range calls {
				require.NoError(t, errs[i], call.tag)
				assert.Equal(t, count, runs[i].host.PacketsReceived(), "%s: replies", call.tag)
			}
			// Every reply came back, so every request has reached the target and its copy waits
			// on the capture socket.
			type wire struct{ ttl, class int }
			seen := map[string]map[wire]int{}
			other := 0
			for _, s := range capt.drain(t) {
				tag := ""
				for _, call := range calls {
					if strings.HasPrefix(string(s.data), call.tag) {
						tag = call.tag
					}
				}
				if tag == "" {
					other++
					continue
				}
				if seen[tag] == nil {
					seen[tag] = map[wire]int{}
				}
				seen[tag][wire{s.ttl, s.tclass}]++
			}
			for _, call := range calls {
				t.Logf("%s: sent ttl %d class %#x, seen at the target (ttl, class): %v", call.tag, call.ttl, call.class, seen[call.tag])
				assert.Equal(t, map[wire]int{{call.wantTTL, call.class}: count}, seen[call.tag],
					"%s: requests at the target by (ttl, traffic class)", call.tag)
			}
			assert.Zero(t, other, "echo requests at the target not sent by these calls")
		})
	}
}

// Closing the transport unblocks at once every Receive waiting on it, a running Ping, and a
// Receive on icmplib's socket surface, each with errors.ErrUnavailable, long before any
// timeout; the closed transport refuses to send.
func TestRawClose(t *testing.T) {
	lab.Require(t)
	const wait = 10 * time.Second // the timeout a blocked call would otherwise wait out
	c := lab.NewChain(t, lab.ChainConfig{Routers: 1, DeadHosts: 1})
	for _, f := range rawFamilies {
		t.Run(f.name, func(t *testing.T) {
			dst := rawPick(c.Target, f.v6)
			dead := c.DeadV4[0]
			if f.v6 {
				dead = c.DeadV6[0]
			}

			t.Run("blocked receives", func(t *testing.T) {
				tr := rawOpen(t, c.Client.NS, raw.Config{Family: rawFamily(f.v6)})
				const readers = 3
				errc := make(chan error, readers)
				for range readers {
					go func() {
						ctx, cancel := context.WithTimeout(context.Background(), wait)
						defer cancel()
						var r transport.Reply
						errc <- tr.Receive(ctx, &r)
					}()
				}
				time.Sleep(100 * time.Millisecond)
				select {
				case err := <-errc:
					t.Fatalf("receive returned before close: %v", err)
				default:
				}
				closed := time.Now()
				require.NoError(t, tr.Close())
				for i := range readers {
					select {
					case err := <-errc:
						require.ErrorIs(t, err, icmperrors.ErrUnavailable, "receive %d", i)
					case <-time.After(wait / 2):
						t.Fatalf("receive %d still blocked %v after close", i, wait/2)
					}
				}
				t.Logf("%d blocked receives returned %v after close", readers, time.Since(closed))
				var r transport.Reply
				assert.ErrorIs(t, tr.Receive(context.Background(), &r), icmperrors.ErrUnavailable, "receive after close")
				req := transport.Request{Destination: dst, Seq: 1}
				assert.ErrorIs(t, tr.Send(context.Background(), &req), icmperrors.ErrUnavailable, "send after close")
				assert.NoError(t, tr.Close(), "second close")
			})

			t.Run("running ping", func(t *testing.T) {
				tr := rawOpen(t, c.Client.NS, raw.Config{Family: rawFamily(f.v6)})
				type out struct {
					run rawPingRun
					err error
				}
				done := make(chan out, 1)
				pr := probe.New(tr, nil)
				defer pr.Close()
				go func() {
					run, err := rawPingErr(pr, dst, probe.PingOptions{Count: 10000, Interval: 5 * time.Millisecond, Timeout: wait})
					done <- out{run, err}
				}()
				time.Sleep(200 * time.Millisecond)
				closed := time.Now()
				require.NoError(t, tr.Close())
				var o out
				select {
				case o = <-done:
				case <-time.After(wait / 2):
					t.Fatalf("ping still running %v after close", wait/2)
				}
				t.Logf("ping returned %v after close: %v", time.Since(closed), o.err)
				require.ErrorIs(t, o.err, icmperrors.ErrUnavailable)
				require.NotNil(t, o.run.host, "the host covers what was sent")
				assert.Positive(t, o.run.host.PacketsSent, "requests sent before close")
				assert.Less(t, o.run.host.PacketsSent, 10000, "requests sent before close")
				assert.LessOrEqual(t, o.run.host.PacketsReceived(), o.run.host.PacketsSent)
			})

			t.Run("socket receive", func(t *testing.T) {
				tr := rawOpen(t, c.Client.NS, raw.Config{Family: rawFamily(f.v6)})
				newSocket := icmpkit.NewICMPv4Socket
				if f.v6 {
					newSocket = icmpkit.NewICMPv6Socket
				}
				sock, err := newSocket(icmpkit.SocketConfig{Transport: tr})
				require.NoError(t, err)
				id, _ := tr.Identifier(dead)
				req := &transport.Request{Destination: dead, ID: id, Seq: 7, Timeout: wait}
				require.NoError(t, sock.Send(req))
				errc := make(chan error, 1)
				go func() {
					_, err := sock.Receive(context.Background(), req)
					errc <- err
				}()
				time.Sleep(100 * time.Millisecond)
				closed := time.Now()
				require.NoError(t, sock.Close())
				select {
				case err := <-errc:
					t.Logf("socket receive returned %v after close: %v", time.Since(closed), err)
					require.ErrorIs(t, err, icmperrors.ErrUnavailable)
				case <-time.After(wait / 2):
					t.Fatalf("socket receive still blocked %v after close", wait/2)
				}
				assert.True(t, sock.IsClosed())
				_, err = sock.Receive(context.Background(), req)
				assert.ErrorIs(t, err, icmperrors.ErrUnavailable, "receive after close")
				assert.ErrorIs(t, sock.Send(req), icmperrors.ErrUnavailable, "send after close")
				var r transport.Reply
				assert.ErrorIs(t, tr.Receive(context.Background(), &r), icmperrors.ErrUnavailable, "the socket closed its transport")
			})
		})
	}
}
