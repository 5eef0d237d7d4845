package probe_test

import (
	"context"
	"net/netip"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/icmpkit/icmpkit/errors"
	"github.com/icmpkit/icmpkit/probe"
	"github.com/icmpkit/icmpkit/transport"
	"github.com/icmpkit/icmpkit/transport/mock"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/net/ipv4"
)

var (
	hostA   = netip.MustParseAddr("198.18.0.1")
	hostB   = netip.MustParseAddr("198.18.0.2")
	hostV6  = netip.MustParseAddr("2001:db8::1")
	nowhere = netip.MustParseAddr("198.18.99.99")
)

// bubble runs f in a synctest bubble with a fresh network and a transport on it.
func bubble(t *testing.T, cfg mock.TransportConfig, f func(t *testing.T, n *mock.Network, tr *mock.Transport)) {
	t.Helper()
	synctest.Test(t, func(t *testing.T) {
		n := mock.NewNetwork(mock.Config{Seed: 7})
		tr := n.Transport(cfg)
		defer tr.Close()
		f(t, n, tr)
	})
}

func TestPingDefaults(t *testing.T) {
	bubble(t, mock.TransportConfig{}, func(t *testing.T, n *mock.Network, tr *mock.Transport) {
		require.NoError(t, n.AddHost(hostA, mock.Host{Latency: 20 * time.Millisecond}))
		start := time.Now()
		h, err := probe.Ping(context.Background(), tr, hostA, nil)
		require.NoError(t, err)
		assert.Equal(t, hostA, h.Address)
		assert.Equal(t, 4, h.PacketsSent)
		assert.Equal(t, 4, h.PacketsReceived())
		assert.Equal(t, []time.Duration{20 * time.Millisecond, 20 * time.Millisecond, 20 * time.Millisecond, 20 * time.Millisecond}, h.RTTs)
		assert.Zero(t, h.PacketLoss())
		assert.True(t, h.IsAlive())
		// It returns as soon as the last reply is in: 3 intervals and one RTT.
		assert.Equal(t, 3*time.Second+20*time.Millisecond, time.Since(start))

		sent := tr.Sent()
		require.Len(t, sent, 4)
		seqs := map[int]bool{}
		for i, req := range sent {
			assert.Equal(t, 0, req.TTL, "zero TTL asks the transport for its default")
			assert.Len(t, req.Payload, 56)
			assert.Equal(t, hostA, req.Destination)
			assert.Equal(t, sent[0].ID, req.ID, "one identifier per call")
			assert.Equal(t, start.Add(time.Duration(i)*time.Second), req.SentAt, "requests go out every interval")
			seqs[req.Seq] = true
		}
		assert.Len(t, seqs, 4, "each request has its own sequence")
	})
}

func TestPingOptionsReachTheWire(t *testing.T) {
	bubble(t, mock.TransportConfig{}, func(t *testing.T, n *mock.Network, tr *mock.Transport) {
		require.NoError(t, n.AddHost(hostA, mock.Host{}))
		h, err := probe.Ping(context.Background(), tr, hostA, &probe.PingOptions{
			Count: 3, Interval: 200 * time.Millisecond, ID: 4242, PayloadSize: 100, TTL: 17, TrafficClass: 0xb8,
		})
		require.NoError(t, err)
		assert.Equal(t, 3, h.PacketsReceived())
		sent := tr.Sent()
		require.Len(t, sent, 3)
		for i, req := range sent {
			assert.Equal(t, 4242, req.ID)
			assert.Equal(t, 17, req.TTL)
			assert.Equal(t, 0xb8, req.TrafficClass)
			assert.Len(t, req.Payload, 100)
			if i > 0 {
				assert.Equal(t, 200*time.Millisecond, req.SentAt.Sub(sent[i-1].SentAt))
			}
		}
		payload := []byte("icmpkit")
		_, err = probe.Ping(context.Background(), tr, hostA, &probe.PingOptions{Count: 1, Payload: payload})
		require.NoError(t, err)
		assert.Equal(t, payload, tr.Sent()[3].Payload)
	})
}

func TestPingDeadHostWaitsOneTimeout(t *testing.T) {
	bubble(t, mock.TransportConfig{}, func(t *testing.T, n *mock.Network, tr *mock.Transport) {
		require.NoError(t, n.AddHost(hostA, mock.Host{Dead: true}))
		var outcomes []probe.Outcome
		start := time.Now()
		h, err := probe.Ping(context.Background(), tr, hostA, &probe.PingOptions{
			Count: 3, Timeout: 500 * time.Millisecond, OnReply: func(o probe.Outcome) { outcomes = append(outcomes, o) },
		})
		require.NoError(t, err)
		assert.Equal(t, 3, h.PacketsSent)
		assert.Zero(t, h.PacketsReceived())
		assert.Equal(t, 1.0, h.PacketLoss())
		assert.False(t, h.IsAlive())
		assert.Empty(t, h.RTTs)
		assert.Equal(t, 2*time.Second+500*time.Millisecond, time.Since(start))
		require.Len(t, outcomes, 3)
		for i, o := range outcomes {
			assert.True(t, o.TimedOut)
			assert.Equal(t, i, o.Seq)
		}
	})
}

func TestPingLossIsCountedExactly(t *testing.T) {
	bubble(t, mock.TransportConfig{}, func(t *testing.T, n *mock.Network, tr *mock.Transport) {
		require.NoError(t, n.AddHost(hostA, mock.Host{Latency: time.Millisecond, Loss: 0.3}))
		var replies, timeouts int
		h, err := probe.Ping(context.Background(), tr, hostA, &probe.PingOptions{
			Count: 1000, Interval: 10 * time.Millisecond, Timeout: 100 * time.Millisecond,
			OnReply: func(o probe.Outcome) {
				if o.TimedOut {
					timeouts++
				} else {
					replies++
				}
			},
		})
		require.NoError(t, err)
		assert.Equal(t, 1000, h.PacketsSent)
		assert.Equal(t, replies, h.PacketsReceived())
		assert.Equal(t, 1000, replies+timeouts)
		assert.Equal(t, tr.Counts().Delivered, h.PacketsReceived(), "every reply delivered was counted")
		assert.InDelta(t, 0.3, h.PacketLoss(), 0.05)
	})
}

func TestPingLateDuplicateCorruptAndForeignReplies(t *testing.T) {
	bubble(t, mock.TransportConfig{}, func(t *testing.T, n *mock.Network, tr *mock.Transport) {
		require.NoError(t, n.AddHost(hostA, mock.Host{Latency: 5 * time.Millisecond, Duplicates: 2, Late: 0.2, LateBy: 3 * time.Second, Corrupt: 0.2}))
		require.NoError(t, n.AddHost(hostB, mock.Host{Latency: time.Millisecond}))
		// Foreign traffic: an echo reply from a host never probed, and replies to hostA for
		// sequences and identifiers that were never sent.
		for i := range 50 {
			at := time.Duration(i) * 37 * time.Millisecond
			require.NoError(t, tr.Inject(transport.Reply{Source: hostB, Destination: hostB, ID: i, Seq: i, Type: ipv4.ICMPTypeEchoReply, Bytes: 64}, at))
			require.NoError(t, tr.Inject(transport.Reply{Source: hostA, Destination: hostA, ID: 1 + i, Seq: 60000 + i, Type: ipv4.ICMPTypeEchoReply, Bytes: 64}, at))
		}
		var dups, replies int
		h, err := probe.Ping(context.Background(), tr, hostA, &probe.PingOptions{
			Count: 100, Interval: 50 * time.Millisecond, Timeout: time.Second,
			OnReply: func(o probe.Outcome) {
				switch {
				case o.Duplicate:
					dups++
				case !o.TimedOut:
					replies++
					assert.Equal(t, 5*time.Millisecond, o.RTT)
				}
			},
		})
		require.NoError(t, err)
		assert.Equal(t, 100, h.PacketsSent)
		assert.LessOrEqual(t, h.PacketsReceived(), 100, "never more received than sent")
		assert.Equal(t, replies, h.PacketsReceived())
		assert.Equal(t, 2*replies, dups, "each answered request had its two copies, counted apart (counts %+v)", tr.Counts())
		assert.Equal(t, dups, h.Duplicates)
		// Late and corrupted replies are lost requests; nothing else is.
		assert.Less(t, h.PacketsReceived(), 90)
		assert.Greater(t, h.PacketsReceived(), 40)
		for _, rtt := range h.RTTs {
			assert.Equal(t, 5*time.Millisecond, rtt)
		}
	})
}

func TestPingTTLExceededNeverHangs(t *testing.T) {
	bubble(t, mock.TransportConfig{}, func(t *testing.T, n *mock.Network, tr *mock.Transport) {
		r1 := netip.MustParseAddr("198.18.1.1")
		r2 := netip.MustParseAddr("198.18.2.1")
		require.NoError(t, n.AddHost(hostA, mock.Host{}))
		require.NoError(t, n.AddPath(hostA, mock.Router{Addr: r1, Latency: time.Millisecond}, mock.Router{Addr: r2, Latency: 2 * time.Millisecond}, mock.Router{Addr: netip.MustParseAddr("198.18.3.1")}))
		var outcomes []probe.Outcome
		start := time.Now()
		h, err := probe.Ping(context.Background(), tr, hostA, &probe.PingOptions{Count: 3, TTL: 2, OnReply: func(o probe.Outcome) { outcomes = append(outcomes, o) }})
		require.NoError(t, err)
		assert.Equal(t, 2*time.Second+2*time.Millisecond, time.Since(start), "an ICMP error resolves its request at once")
		assert.Equal(t, 3, h.PacketsSent)
		assert.Zero(t, h.PacketsReceived())
		assert.Equal(t, 3, h.Errors)
		require.Len(t, outcomes, 3)
		for _, o := range outcomes {
			assert.Equal(t, r2, o.Reply.Source)
			assert.Equal(t, hostA, o.Reply.Destination)
			assert.Equal(t, transport.KindTimeExceeded, o.Reply.Kind())
			assert.True(t, errors.Is(o.Reply.Err(), errors.ErrTimeExceededV4))
			assert.Equal(t, "Time to live exceeded", o.Reply.Message())
		}
	})
}

func TestPingPong(t *testing.T) {
	bubble(t, mock.TransportConfig{}, func(t *testing.T, n *mock.Network, tr *mock.Transport) {
		require.NoError(t, n.AddHost(hostA, mock.Host{Latency: 3 * time.Millisecond, Loss: 0.1}))
		start := time.Now()
		h, err := probe.Ping(context.Background(), tr, hostA, &probe.PingOptions{Count: 200, Interval: -1, Timeout: 50 * time.Millisecond, DropRTTs: true})
		require.NoError(t, err)
		lost := h.PacketsSent - h.PacketsReceived()
		assert.Equal(t, 200, h.PacketsSent)
		assert.Nil(t, h.RTTs)
		assert.Equal(t, 3*time.Millisecond, h.AvgRTT())
		// Each request goes when the previous one is resolved: by reply or by timeout.
		assert.Equal(t, time.Duration(h.PacketsReceived())*3*time.Millisecond+time.Duration(lost)*50*time.Millisecond, time.Since(start))
	})
}

func TestPingFixedIdentifier(t *testing.T) {
	bubble(t, mock.TransportConfig{ID: 777, FixedID: true}, func(t *testing.T, n *mock.Network, tr *mock.Transport) {
		require.NoError(t, n.AddHost(hostA, mock.Host{Latency: time.Millisecond}))
		h, err := probe.Ping(context.Background(), tr, hostA, &probe.PingOptions{Count: 5, Interval: -1, ID: 9})
		require.NoError(t, err)
		assert.Equal(t, 5, h.PacketsReceived(), "replies carry the system's identifier and still match")
		for _, req := range tr.Sent() {
			assert.Equal(t, 777, req.ID)
		}
	})
}

func TestPingCancel(t *testing.T) {
	bubble(t, mock.TransportConfig{}, func(t *testing.T, n *mock.Network, tr *mock.Transport) {
		require.NoError(t, n.AddHost(hostA, mock.Host{Latency: time.Millisecond}))
		ctx, cancel := context.WithTimeout(context.Background(), 2500*time.Millisecond)
		defer cancel()
		h, err := probe.Ping(ctx, tr, hostA, &probe.PingOptions{Count: 100})
		require.ErrorIs(t, err, context.DeadlineExceeded)
		require.NotNil(t, h)
		assert.Equal(t, 3, h.PacketsSent, "requests at 0, 1 and 2 s")
		assert.Equal(t, 3, h.PacketsReceived())
	})
}

func TestPingClosedTransport(t *testing.T) {
	bubble(t, mock.TransportConfig{}, func(t *testing.T, n *mock.Network, tr *mock.Transport) {
		require.NoError(t, n.AddHost(hostA, mock.Host{Latency: time.Millisecond}))
		go func() {
			time.Sleep(1500 * time.Millisecond)
			tr.Close()
		}()
		h, err := probe.Ping(context.Background(), tr, hostA, &probe.PingOptions{Count: 10})
		require.Error(t, err)
		assert.True(t, errors.Is(err, errors.ErrUnavailable), "got %v", err)
		assert.Equal(t, 2, h.PacketsReceived())

		_, err = probe.Ping(context.Background(), tr, hostA, nil)
		assert.True(t, errors.Is(err, errors.ErrUnavailable), "got %v", err)
	})
}

func TestPingInvalidInput(t *testing.T) {
	bubble(t, mock.TransportConfig{}, func(t *testing.T, n *mock.Network, tr *mock.Transport) {
		tests := []struct {
			name string
			dst  netip.Addr
			opts probe.PingOptions
		}{
			{"negative count", hostA, probe.PingOptions{Count: -1}},
			{"zero address", netip.Addr{}, probe.PingOptions{}},
			{"negative timeout", hostA, probe.PingOptions{Timeout: -time.Second}},
			{"ttl 256", hostA, probe.PingOptions{TTL: 256}},
			{"ttl -1", hostA, probe.PingOptions{TTL: -1}},
			{"traffic class 256", hostA, probe.PingOptions{TrafficClass: 256}},
			{"identifier 65536", hostA, probe.PingOptions{ID: 65536}},
			{"identifier -1", hostA, probe.PingOptions{ID: -1}},
			{"negative payload", hostA, probe.PingOptions{PayloadSize: -1}},
			{"payload too large for IPv4", hostA, probe.PingOptions{PayloadSize: transport.MaxPayloadV4 + 1}},
			{"payload too large for IPv6", hostV6, probe.PingOptions{PayloadSize: transport.MaxPayloadV6 + 1}},
		}
		for _, tt := range tests {
			h, err := probe.Ping(context.Background(), tr, tt.dst, &tt.opts)
			assert.Nil(t, h, tt.name)
			assert.True(t, errors.Is(err, errors.ErrInvalidArgument), "%s: got %v", tt.name, err)
		}
		_, err := probe.Ping(context.Background(), nil, hostA, nil)
		assert.True(t, errors.Is(err, errors.ErrInvalidArgument))
		assert.Empty(t, tr.Sent(), "nothing was sent for bad input")
		// A payload that fits IPv6 but not IPv4 is fine for IPv6.
		require.NoError(t, n.AddHost(hostV6, mock.Host{}))
		h, err := probe.Ping(context.Background(), tr, hostV6, &probe.PingOptions{Count: 1, PayloadSize: transport.MaxPayloadV4 + 1})
		require.NoError(t, err)
		assert.Equal(t, 1, h.PacketsReceived())
	})
}

func TestConcurrentCallsShareOneTransport(t *testing.T) {
	bubble(t, mock.TransportConfig{}, func(t *testing.T, n *mock.Network, tr *mock.Transport) {
		require.NoError(t, n.AddHost(hostA, mock.Host{Latency: 2 * time.Millisecond}))
		require.NoError(t, n.AddHost(hostB, mock.Host{Latency: 3 * time.Millisecond, Loss: 0.5}))
		require.NoError(t, n.AddHost(hostV6, mock.Host{Latency: time.Millisecond}))
		p := probe.New(tr, nil)
		defer p.Close()
		var wg sync.WaitGroup
		results := make([][3]int, 30) // sent, received, delivered-to-this-call's outcomes
		for i := range results {
			wg.Go(func() {
				dst := []netip.Addr{hostA, hostB, hostV6}[i%3]
				var seen int
				h, err := p.Ping(context.Background(), dst, &probe.PingOptions{
					Count: 20, Interval: time.Duration(i+1) * time.Millisecond, Timeout: 100 * time.Millisecond,
					OnReply: func(o probe.Outcome) {
						if !o.TimedOut {
							assert.Equal(t, dst, o.Reply.Source)
							seen++
						}
					},
				})
				assert.NoError(t, err)
				results[i] = [3]int{h.PacketsSent, h.PacketsReceived(), seen}
			})
		}
		wg.Wait()
		total := 0
		for i, r := range results {
			assert.Equal(t, 20, r[0])
			assert.Equal(t, r[1], r[2])
			if i%3 != 1 {
				assert.Equal(t, 20, r[1], "call %d", i)
			}
			total += r[1]
		}
		assert.Equal(t, tr.Counts().Delivered, total, "every reply went to exactly one call")
	})
}
