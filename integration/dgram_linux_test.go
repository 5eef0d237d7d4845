package integration

import (
	"context"
	"encoding/json"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/icmpkit/icmpkit"
	icmperrors "github.com/icmpkit/icmpkit/errors"
	"github.com/icmpkit/icmpkit/internal/lab"
	"github.com/icmpkit/icmpkit/probe"
	"github.com/icmpkit/icmpkit/transport"
	"github.com/icmpkit/icmpkit/transport/dgram"
	"github.com/icmpkit/icmpkit/transport/raw"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// As uid 65534 in a namespace whose ping_group_range admits it, pings through ping sockets
// count exactly, IPv4 and IPv6: probe.Ping to the target (replies with its identifier and the
// TTL left after the routers), probe.Multiping to every node of the chain, and the
// convenience layer in unprivileged mode. The same user is refused a raw socket with the
// permission error.
func TestDgramPing(t *testing.T) {
	const routers, count = 2, 50
	const interval = 5 * time.Millisecond
	if !lab.IsChild() {
		c := lab.NewChain(t, lab.ChainConfig{Routers: routers})
		dgramRequirePassed(t, "nobody", dgramRunChild(t, c, t.Name(), ""))
		return
	}
	info := dgramChildStart(t)

	t.Run("raw refused", func(t *testing.T) {
		for _, fam := range []transport.Family{transport.FamilyBoth, transport.FamilyIPv4, transport.FamilyIPv6} {
			tr, err := raw.New(raw.Config{Family: fam})
			if err == nil {
				tr.Close()
			}
			require.Error(t, err, "raw socket (%v) as uid %d", fam, os.Getuid())
			assert.ErrorIs(t, err, icmperrors.ErrPermission, "raw %v: %v", fam, err)
			assert.ErrorIs(t, err, os.ErrPermission, "raw %v: %v", fam, err)
			t.Logf("raw.New(%v) as uid %d: %v", fam, os.Getuid(), err)
		}
		tr, err := icmpkit.Open(icmpkit.ModePrivileged, icmpkit.Config{})
		if err == nil {
			tr.Close()
		}
		assert.ErrorIs(t, err, icmperrors.ErrPermission, "icmpkit.Open(ModePrivileged)")
		assert.ErrorIs(t, err, os.ErrPermission, "icmpkit.Open(ModePrivileged)")
	})

	tr := dgramOpen(t)
	for _, f := range dgramFamilies {
		t.Run("probe.Ping "+f.name, func(t *testing.T) {
			// The target answers with TTL / hop limit 64, which each router decrements.
			dgramPingCheck(t, tr, dgramPick(info.Target, f.v6), count, interval, 64-routers)
		})
	}

	t.Run("probe.Multiping", func(t *testing.T) {
		var targets []netip.Addr
		for _, n := range info.Hops() {
			targets = append(targets, n.V4, n.V6)
		}
		const n = 10
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		hosts, err := probe.Multiping(ctx, tr, targets, &probe.MultipingOptions{Count: n, Interval: 10 * time.Millisecond})
		require.NoError(t, err)
		require.Len(t, hosts, len(targets))
		for i, h := range hosts {
			t.Logf("multiping %s: %d sent, %d received, %d duplicates", h.Address, h.PacketsSent, h.PacketsReceived(), h.Duplicates)
			assert.Equal(t, targets[i], h.Address)
			assert.Equal(t, n, h.PacketsSent, "sent to %s", h.Address)
			assert.Equal(t, n, h.PacketsReceived(), "received from %s", h.Address)
			assert.Zero(t, h.Duplicates, "duplicates from %s", h.Address)
			assert.Zero(t, h.Errors, "errors for %s", h.Address)
		}
	})

	t.Run("icmpkit.Ping", func(t *testing.T) {
		for _, f := range dgramFamilies {
			dst := dgramPick(info.Target, f.v6)
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			h, err := icmpkit.Ping(ctx, dst.String(), &icmpkit.PingOptions{
				Count: count, Interval: interval, Mode: icmpkit.ModeUnprivileged,
			})
			cancel()
			require.NoError(t, err, "icmpkit.Ping %s in unprivileged mode", dst)
			t.Logf("icmpkit.Ping %s: %d sent, %d received", dst, h.PacketsSent, h.PacketsReceived())
			assert.Equal(t, count, h.PacketsSent, dst)
			assert.Equal(t, count, h.PacketsReceived(), dst)
			assert.Zero(t, h.Duplicates, dst)
		}
	})
}

// A traceroute through ping sockets, run as uid 65534, lists the same hops as one through raw
// sockets run as root on the same chain, silent routers included: the same distances, the
// same router addresses, every probe answered, for IPv4 and IPv6. Both match the chain's plan.
func TestDgramTraceMatchesRaw(t *testing.T) {
	cfg := lab.ChainConfig{Routers: 6, Silent: []int{2, 5}}
	opts := func() *probe.TraceOptions { return &probe.TraceOptions{Timeout: time.Second} }
	if !lab.IsChild() {
		c := lab.NewChain(t, cfg)
		var rt *raw.Transport
		require.NoError(t, c.Do(c.Client.NS, func() error {
			var err error
			rt, err = raw.New(raw.Config{})
			return err
		}))
		t.Cleanup(func() { rt.Close() })
		rawHops := map[string][]string{}
		for _, f := range dgramFamilies {
			dst := dgramPick(c.Target, f.v6)
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			got, err := probe.Traceroute(ctx, rt, dst, opts())
			cancel()
			require.NoError(t, err, "raw trace to %s", dst)
			lines := dgramHopLines(got)
			t.Logf("raw trace to %s as root:\n%s", dst, strings.Join(lines, "\n"))
			require.Equal(t, dgramChainHops(c.ChainInfo, f.v6, probe.DefaultTraceCount), lines, "raw trace to %s against the chain's plan", dst)
			rawHops[f.name] = lines
		}
		env, err := json.Marshal(rawHops)
		require.NoError(t, err)
		dgramRequirePassed(t, "nobody", dgramRunChild(t, c, t.Name(), "", dgramEnvRawHops+"="+string(env)))
		return
	}

	info := dgramChildStart(t)
	var rawHops map[string][]string
	require.NoError(t, json.Unmarshal([]byte(os.Getenv(dgramEnvRawHops)), &rawHops), "%s", dgramEnvRawHops)
	tr := dgramOpen(t)
	for _, f := range dgramFamilies {
		t.Run("probe "+f.name, func(t *testing.T) {
			dst := dgramPick(info.Target, f.v6)
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			got, err := probe.Traceroute(ctx, tr, dst, opts())
			require.NoError(t, err, "dgram trace to %s", dst)
			lines := dgramHopLines(got)
			t.Logf("dgram trace to %s as uid %d:\n%s", dst, os.Getuid(), strings.Join(lines, "\n"))
			require.NotEmpty(t, rawHops[f.name], "raw hops of %s from the parent", f.name)
			assert.Equal(t, rawHops[f.name], lines, "dgram trace (got) against raw trace (want) to %s", dst)
			assert.Equal(t, dgramChainHops(info, f.v6, probe.DefaultTraceCount), lines, "dgram trace to %s against the chain's plan", dst)
		})
	}
	t.Run("icmpkit", func(t *testing.T) {
		for _, f := range dgramFamilies {
			dst := dgramPick(info.Target, f.v6)
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			got, err := icmpkit.Traceroute(ctx, dst.String(), &icmpkit.TraceOptions{Timeout: time.Second, Mode: icmpkit.ModeUnprivileged})
			cancel()
			require.NoError(t, err, "icmpkit.Traceroute %s in unprivileged mode", dst)
			assert.Equal(t, rawHops[f.name], dgramHopLines(got), "icmpkit.Traceroute (got) against raw trace (want) to %s", dst)
		}
	})
}

// Pings with TTL 2 through ping sockets, as uid 65534, never reach the target: each request
// is resolved by a Time Exceeded from the second router's client-side address, read from the
// error queue, long before its timeout, and Host.Errors counts every one.
func TestDgramTTLExceeded(t *testing.T) {
	const count = 5
	const timeout = 10 * time.Second
	if !lab.IsChild() {
		c := lab.NewChain(t, lab.ChainConfig{Routers: 3})
		dgramRequirePassed(t, "nobody", dgramRunChild(t, c, t.Name(), ""))
		return
	}
	info := dgramChildStart(t)
	tr := dgramOpen(t)
	for _, f := range dgramFamilies {
		t.Run(f.name, func(t *testing.T) {
			dst := dgramPick(info.Target, f.v6)
			router := dgramPick(info.Router(2), f.v6)
			id, _ := tr.Identifier(dst)
			var outcomes []probe.Outcome
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			start := time.Now()
			h, err := probe.Ping(ctx, tr, dst, &probe.PingOptions{
				Count: count, Interval: 20 * time.Millisecond, Timeout: timeout, TTL: 2,
				OnReply: func(o probe.Outcome) { outcomes = append(outcomes, o) },
			})
			elapsed := time.Since(start)
			require.NoError(t, err)
			t.Logf("TTL 2 ping of %s: %d sent, %d received, %d errors in %v", dst, h.PacketsSent, h.PacketsReceived(), h.Errors, elapsed.Round(time.Millisecond))
			assert.Equal(t, count, h.PacketsSent)
			assert.Equal(t, count, h.Errors, "Host.Errors")
			assert.Zero(t, h.PacketsReceived(), "no echo reply can come back")
			assert.Zero(t, h.Duplicates)
			assert.Less(t, elapsed, timeout, "each request ends with its Time Exceeded, not its timeout")
			require.Len(t, outcomes, count, "one outcome per request")
			for i, o := range outcomes {
				r := o.Reply
				t.Logf("seq %d: %s from %s (code %d, id %d, ttl %d) for %s in %v", o.Seq, r.Kind(), r.Source, r.Code, r.ID, r.TTL, r.Destination, o.RTT)
				assert.Equal(t, i, o.Seq, "outcomes in order")
				assert.False(t, o.TimedOut, "seq %d timed out", o.Seq)
				assert.False(t, o.Duplicate, "seq %d", o.Seq)
				assert.Equal(t, transport.KindTimeExceeded, r.Kind(), "seq %d", o.Seq)
				assert.Zero(t, r.Code, "seq %d: code 0, TTL exceeded in transit", o.Seq)
				assert.Equal(t, router, r.Source, "seq %d: from router 2's client-side address", o.Seq)
				assert.Equal(t, dst, r.Destination, "seq %d: quoted destination", o.Seq)
				assert.Equal(t, id, r.ID, "seq %d: quoted identifier", o.Seq)
				assert.Positive(t, o.RTT, "seq %d", o.Seq)
				assert.Less(t, o.RTT, timeout, "seq %d", o.Seq)
			}
		})
	}
	t.Run("icmpkit", func(t *testing.T) {
		for _, f := range dgramFamilies {
			dst := dgramPick(info.Target, f.v6)
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			h, err := icmpkit.Ping(ctx, dst.String(), &icmpkit.PingOptions{
				Count: count, Interval: 20 * time.Millisecond, Timeout: timeout, TTL: 2, Mode: icmpkit.ModeUnprivileged,
			})
			cancel()
			require.NoError(t, err)
			assert.Equal(t, count, h.PacketsSent, dst)
			assert.Equal(t, count, h.Errors, dst)
			assert.Zero(t, h.PacketsReceived(), dst)
		}
	})
}

// Which transport each mode gets. With ping_group_range "1 0", uid 65534 is refused a ping
// socket with the permission error, whose message names the sysctl, and automatic mode fails
// naming both remedies. With the range admitting it, automatic mode picks the datagram
// transport and says so. As root, automatic mode picks the raw transport even where ping
// sockets are open to root too.
func TestDgramModes(t *testing.T) {
	var c *lab.Chain
	if !lab.IsChild() {
		c = lab.NewChain(t, lab.ChainConfig{Routers: 1})
	}

	t.Run("refused", func(t *testing.T) {
		if !lab.IsChild() {
			dgramRequirePassed(t, "nobody, range 1 0", dgramRunChild(t, c, t.Name(), "1 0"))
			return
		}
		info := dgramChildStart(t)
		for _, fam := range []transport.Family{transport.FamilyBoth, transport.FamilyIPv4, transport.FamilyIPv6} {
			tr, err := dgram.New(dgram.Config{Family: fam})
			if err == nil {
				tr.Close()
			}
			require.Error(t, err, "ping socket (%v) with ping_group_range 1 0", fam)
			t.Logf("dgram.New(%v): %v", fam, err)
			assert.ErrorIs(t, err, icmperrors.ErrPermission, fam.String())
			assert.ErrorIs(t, err, os.ErrPermission, fam.String())
			assert.Contains(t, err.Error(), "net.ipv4.ping_group_range", fam.String())
		}

		tr, err := icmpkit.Open(icmpkit.ModeAuto, icmpkit.Config{})
		if err == nil {
			tr.Close()
		}
		require.Error(t, err, "automatic mode with neither transport permitted")
		t.Logf("icmpkit.Open(ModeAuto): %v", err)
		assert.ErrorIs(t, err, icmperrors.ErrPermission)
		assert.ErrorIs(t, err, os.ErrPermission)
		msg := err.Error()
		assert.Contains(t, msg, "net.ipv4.ping_group_range", "the datagram remedy")
		assert.Contains(t, msg, "CAP_NET_RAW", "the raw remedy")

		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_, err = icmpkit.Ping(ctx, info.Target.V4.String(), &icmpkit.PingOptions{Count: 1})
		assert.ErrorIs(t, err, icmperrors.ErrPermission, "icmpkit.Ping in automatic mode")
	})

	t.Run("admitted", func(t *testing.T) {
		if !lab.IsChild() {
			dgramRequirePassed(t, "nobody", dgramRunChild(t, c, t.Name(), ""))
			return
		}
		info := dgramChildStart(t)
		tr, err := icmpkit.Open(icmpkit.ModeAuto, icmpkit.Config{})
		require.NoError(t, err, "automatic mode as uid %d", os.Getuid())
		defer tr.Close()
		t.Logf("automatic mode as uid %d chose %v (%T)", os.Getuid(), icmpkit.ModeOf(tr), tr)
		assert.Equal(t, icmpkit.ModeUnprivileged, icmpkit.ModeOf(tr), "automatic mode's choice")
		assert.IsType(t, &dgram.Transport{}, tr)
		for _, f := range dgramFamilies {
			dgramPingCheck(t, tr, dgramPick(info.Target, f.v6), 5, 10*time.Millisecond, 0)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		h, err := icmpkit.Ping(ctx, info.Target.V6.String(), &icmpkit.PingOptions{Count: 3, Interval: 10 * time.Millisecond})
		require.NoError(t, err, "icmpkit.Ping in automatic mode")
		assert.Equal(t, 3, h.PacketsReceived())
	})

	t.Run("root", func(t *testing.T) {
		require.False(t, lab.IsChild(), "this case runs as root in the parent")
		// Ping sockets are open to root here too: automatic mode still prefers raw ones.
		require.NoError(t, c.SetPingGroupRange(c.Client.NS, 0, 2147483647))
		var auto, unpriv transport.Transport
		require.NoError(t, c.Do(c.Client.NS, func() error {
			var err error
			if auto, err = icmpkit.Open(icmpkit.ModeAuto, icmpkit.Config{}); err != nil {
				return err
			}
			unpriv, err = icmpkit.Open(icmpkit.ModeUnprivileged, icmpkit.Config{})
			return err
		}))
		defer auto.Close()
		defer unpriv.Close()
		t.Logf("automatic mode as root chose %v (%T)", icmpkit.ModeOf(auto), auto)
		assert.Equal(t, icmpkit.ModePrivileged, icmpkit.ModeOf(auto), "automatic mode's choice as root")
		assert.IsType(t, &raw.Transport{}, auto)
		assert.Equal(t, icmpkit.ModeUnprivileged, icmpkit.ModeOf(unpriv))
		for _, f := range dgramFamilies {
			dgramPingCheck(t, auto, dgramPick(c.Target, f.v6), 5, 10*time.Millisecond, 0)
		}
	})
}

// Roles of the children of TestDgramConcurrentPingers.
const (
	dgramRolePair   = "pair"   // two datagram transports in one process
	dgramRoleSingle = "single" // one datagram transport, and iputils ping, in another
)

// dgramIDsRE and dgramWindowRE match what the children of TestDgramConcurrentPingers log.
var (
	dgramIDsRE    = regexp.MustCompile(`dgram-ids role=(\w+) v4=([\d,]+) v6=([\d,]+)`)
	dgramWindowRE = regexp.MustCompile(`dgram-window role=(\w+) start=(\d+) end=(\d+)`)
)

// Two datagram transports in one process and one in another, all as uid 65534, ping the same
// target at once, IPv4 and IPv6, while iputils ping (on ping sockets too) does the same from
// the second process. The kernel gives each socket an identifier of its own, and each of our
// pingers counts exactly its own replies: N sent, N received, no duplicates, nothing foreign.
func TestDgramConcurrentPingers(t *testing.T) {
	const count = 200
	const interval = 10 * time.Millisecond
	if !lab.IsChild() {
		c := lab.NewChain(t, lab.ChainConfig{Routers: 1})
		barrier := dgramBarrier(t)
		roles := []string{dgramRolePair, dgramRoleSingle}
		results := make([]lab.ChildResult, len(roles))
		var wg sync.WaitGroup
		for i, role := range roles {
			wg.Go(func() {
				results[i] = dgramRunChild(t, c, t.Name(), "", dgramEnvRole+"="+role, dgramEnvBarrier+"="+barrier)
			})
		}
		wg.Wait()
		ids := map[string][]string{}
		windows := map[string][2]int64{}
		for i, role := range roles {
			dgramRequirePassed(t, role, results[i])
			m := dgramIDsRE.FindStringSubmatch(results[i].Output)
			require.NotNil(t, m, "child %s logged no identifiers:\n%s", role, results[i].Output)
			ids["v4"] = append(ids["v4"], strings.Split(m[2], ",")...)
			ids["v6"] = append(ids["v6"], strings.Split(m[3], ",")...)
			w := dgramWindowRE.FindStringSubmatch(results[i].Output)
			require.NotNil(t, w, "child %s logged no time window:\n%s", role, results[i].Output)
			start, _ := strconv.ParseInt(w[2], 10, 64)
			end, _ := strconv.ParseInt(w[3], 10, 64)
			windows[role] = [2]int64{start, end}
		}
		for fam, list := range ids {
			t.Logf("%s identifiers of our three sockets: %v", fam, list)
			require.Len(t, list, 3, fam)
			seen := map[string]bool{}
			for _, id := range list {
				assert.False(t, seen[id], "%s identifier %s given to two sockets: %v", fam, id, list)
				seen[id] = true
			}
		}
		a, b := windows[dgramRolePair], windows[dgramRoleSingle]
		overlap := time.Duration(min(a[1], b[1]) - max(a[0], b[0]))
		t.Logf("the two processes pinged at once for %v", overlap.Round(time.Millisecond))
		assert.Positive(t, overlap, "the pings of the two processes overlap in time")
		return
	}

	info := dgramChildStart(t)
	role := dgramRole()
	var trs []*dgram.Transport
	switch role {
	case dgramRolePair:
		trs = []*dgram.Transport{dgramOpen(t), dgramOpen(t)}
	case dgramRoleSingle:
		trs = []*dgram.Transport{dgramOpen(t)}
	default:
		t.Fatalf("unknown role %q", role)
	}
	idList := func(dst netip.Addr) string {
		var s []string
		for _, tr := range trs {
			id, fixed := tr.Identifier(dst)
			require.True(t, fixed)
			s = append(s, strconv.Itoa(id))
		}
		return strings.Join(s, ",")
	}
	v4, v6 := idList(info.Target.V4), idList(info.Target.V6)
	t.Logf("dgram-ids role=%s v4=%s v6=%s", role, v4, v6)
	if len(trs) == 2 {
		for _, dst := range []netip.Addr{info.Target.V4, info.Target.V6} {
			a, _ := trs[0].Identifier(dst)
			b, _ := trs[1].Identifier(dst)
			// Not fatal: the pings below still run, and show what sharing would cost.
			assert.NotEqual(t, a, b, "two transports of one process share identifier %d for %s", a, dst)
		}
	}

	other := dgramRolePair
	if role == dgramRolePair {
		other = dgramRoleSingle
	}
	dgramMeet(t, role, other)
	start := time.Now()

	// iputils ping, run as this user, uses ping sockets too (-v says which socket it opened).
	type iputils struct {
		dst netip.Addr
		cmd *exec.Cmd
		out strings.Builder
	}
	var foreign []*iputils
	if role == dgramRoleSingle {
		path, err := exec.LookPath("ping")
		if err != nil {
			t.Logf("no iputils ping (%v): the other process pings alone", err)
		} else {
			for _, dst := range []netip.Addr{info.Target.V4, info.Target.V6} {
				p := &iputils{dst: dst}
				p.cmd = exec.Command(path, "-v", "-n", "-c", strconv.Itoa(count), "-i", fmt.Sprint(interval.Seconds()), "-W", "2", dst.String())
				p.cmd.Stdout, p.cmd.Stderr = &p.out, &p.out
				p.cmd.WaitDelay = time.Second
				require.NoError(t, p.cmd.Start(), "start %s", p.cmd)
				foreign = append(foreign, p)
			}
		}
	}

	var pings []*dgramPinged
	var names []string
	var mu sync.Mutex
	var wg sync.WaitGroup
	for k, tr := range trs {
		pr := probe.New(tr, nil)
		defer pr.Close()
		for _, dst := range []netip.Addr{info.Target.V4, info.Target.V6} {
			wg.Go(func() {
				p := dgramPing(pr, dst, count, interval, 0)
				mu.Lock()
				defer mu.Unlock()
				pings = append(pings, p)
				names = append(names, fmt.Sprintf("%s transport %d", role, k))
			})
		}
	}
	wg.Wait()
	for _, p := range foreign {
		err := p.cmd.Wait()
		out := p.out.String()
		assert.NoError(t, err, "iputils ping %s:\n%s", p.dst, out)
		assert.Regexp(t, `sock4\.fd: \d+ \(socktype: SOCK_DGRAM\)`, out, "iputils ping on a ping socket")
		assert.Contains(t, out, fmt.Sprintf("%d packets transmitted, %d received,", count, count), "iputils ping %s:\n%s", p.dst, out)
		assert.NotContains(t, out, "duplicates", "iputils ping %s", p.dst)
		if m := regexp.MustCompile(`\d+ packets transmitted.*`).FindString(out); m != "" {
			t.Logf("iputils ping %s as uid %d: %s", p.dst, os.Getuid(), m)
		}
	}
	end := time.Now()
	t.Logf("dgram-window role=%s start=%d end=%d", role, start.UnixNano(), end.UnixNano())
	require.Len(t, pings, 2*len(trs))
	for i, p := range pings {
		p.check(t, names[i])
	}
}
