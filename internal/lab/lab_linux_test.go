package lab

import (
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/net/icmp"
	"golang.org/x/net/ipv4"
	"golang.org/x/net/ipv6"
	"golang.org/x/sys/unix"
)

// families runs a check for IPv4 and IPv6.
var families = []struct {
	name string
	v6   bool
}{{"v4", false}, {"v6", true}}

func pick(n Node, v6 bool) string {
	if v6 {
		return n.V6.String()
	}
	return n.V4.String()
}

// received parses iputils ping's summary line.
func received(t *testing.T, out string) (sent, got int) {
	t.Helper()
	m := regexp.MustCompile(`(\d+) packets transmitted, (\d+) received`).FindStringSubmatch(out)
	require.NotNil(t, m, "no ping summary in:\n%s", out)
	sent, _ = strconv.Atoi(m[1])
	got, _ = strconv.Atoi(m[2])
	return sent, got
}

func TestChainPing(t *testing.T) {
	c := NewChain(t, ChainConfig{Routers: 3})
	for _, f := range families {
		t.Run(f.name, func(t *testing.T) {
			for _, n := range append(c.Hops(), c.Client) {
				out, err := c.Exec(c.Client.NS, "ping", "-c", "1", "-W", "2", pick(n, f.v6))
				require.NoError(t, err, "ping %s (%s):\n%s", n.Name, pick(n, f.v6), out)
				_, got := received(t, out)
				assert.Equal(t, 1, got, "ping %s:\n%s", n.Name, out)
			}
		})
	}
}

// hopRE matches a traceroute -n -q 1 line: hop number, then an address or "*".
var hopRE = regexp.MustCompile(`(?m)^\s*(\d+)\s+(\S+)`)

func traceHops(out string) map[int]string {
	hops := map[int]string{}
	for _, m := range hopRE.FindAllStringSubmatch(out, -1) {
		n, _ := strconv.Atoi(m[1])
		hops[n] = m[2]
	}
	return hops
}

func TestChainTraceroute(t *testing.T) {
	c := NewChain(t, ChainConfig{Routers: 5, Silent: []int{2, 4}})
	for _, f := range families {
		t.Run(f.name, func(t *testing.T) {
			args := []string{"-I", "-n", "-q", "1", "-w", "1", "-m", "8", pick(c.Target, f.v6)}
			if f.v6 {
				args = append([]string{"-6"}, args...)
			}
			out, err := c.Exec(c.Client.NS, "traceroute", args...)
			require.NoError(t, err, out)
			want := map[int]string{}
			for i, n := range c.Hops() {
				want[i+1] = pick(n, f.v6)
			}
			want[2], want[4] = "*", "*"
			assert.Equal(t, want, traceHops(out), "traceroute output:\n%s", out)
		})
	}
}

func TestLongChain(t *testing.T) {
	const n = 30
	start := time.Now()
	c := NewChain(t, ChainConfig{Routers: n})
	t.Logf("built %d routers in %v", n, time.Since(start))
	require.Len(t, c.Namespaces(), n+2)

	out, err := c.Exec(c.Client.NS, "traceroute", "-I", "-n", "-q", "1", "-w", "1", "-m", "32", c.Target.V4.String())
	require.NoError(t, err, out)
	want := map[int]string{}
	for i, h := range c.Hops() {
		want[i+1] = h.V4.String()
	}
	assert.Equal(t, want, traceHops(out), "traceroute output:\n%s", out)

	out, err = c.Exec(c.Client.NS, "tracepath", "-n", "-m", "32", c.Target.V6.String())
	require.NoError(t, err, out)
	assert.Contains(t, out, fmt.Sprintf("Resume: pmtu 1500 hops %d back %d", n+1, n+1), out)
	for _, h := range c.Routers {
		assert.Contains(t, out, " "+h.V6.String()+" ", "tracepath output:\n%s", out)
	}
}

func TestTargetLoss(t *testing.T) {
	const loss, count = 30, 200
	c := NewChain(t, ChainConfig{Routers: 1, TargetLoss: loss})
	for _, f := range families {
		t.Run(f.name, func(t *testing.T) {
			out, _ := c.Exec(c.Client.NS, "ping", "-q", "-c", strconv.Itoa(count), "-i", "0.002", "-W", "1", pick(c.Target, f.v6))
			sent, got := received(t, out)
			require.Equal(t, count, sent, out)
			// Lost ~ Binomial(200, 0.3): mean 60, sd 6.5. Accept 25..95 (over 5 sd either side).
			lost := sent - got
			assert.GreaterOrEqual(t, lost, 25, out)
			assert.LessOrEqual(t, lost, 95, out)
		})
	}
	// Loss is the target's alone: the router answers every echo request.
	out, err := c.Exec(c.Client.NS, "ping", "-c", "20", "-i", "0.002", "-W", "1", c.Router(1).V4.String())
	require.NoError(t, err, out)
	_, got := received(t, out)
	assert.Equal(t, 20, got, out)
}

func TestDeadHosts(t *testing.T) {
	c := NewChain(t, ChainConfig{Routers: 2, DeadHosts: 2})
	require.Len(t, c.DeadV4, 2)
	require.Len(t, c.DeadV6, 2)
	for _, f := range families {
		t.Run(f.name, func(t *testing.T) {
			dead := c.DeadV4
			if f.v6 {
				dead = c.DeadV6
			}
			for _, d := range dead {
				pfx := linkPrefix4(2)
				if f.v6 {
					pfx = linkPrefix6(2)
				}
				assert.True(t, pfx.Contains(d), "dead %s not on the target's segment %s", d, pfx)
				out, err := c.Exec(c.Client.NS, "ping", "-c", "2", "-i", "0.2", "-W", "1", d.String())
				require.Error(t, err, "dead host %s answered:\n%s", d, out)
				sent, got := received(t, out)
				assert.Equal(t, 2, sent, out)
				assert.Equal(t, 0, got, out)
				assert.NotContains(t, out, "From ", "dead host %s drew an ICMP error:\n%s", d, out)
				assert.NotContains(t, out, "errors", out)
			}
			out, err := c.Exec(c.Client.NS, "ping", "-c", "1", "-W", "2", pick(c.Target, f.v6))
			require.NoError(t, err, "target beside the dead hosts:\n%s", out)
		})
	}
}

func TestUnreachable(t *testing.T) {
	c := NewChain(t, ChainConfig{Routers: 3, Unreachable: 2, UnreachableAt: 2})
	require.Equal(t, c.Router(2), c.UnreachableFrom())
	cases := []struct {
		name string
		dst  []netip.Addr
		from string
		msg  string
	}{
		{"v4", c.UnreachableV4, c.Router(2).V4.String(), "Destination Host Unreachable"},
		{"v6", c.UnreachableV6, c.Router(2).V6.String(), "Destination unreachable: No route"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			require.Len(t, tc.dst, 2)
			for _, d := range tc.dst {
				out, err := c.Exec(c.Client.NS, "ping", "-c", "1", "-W", "2", d.String())
				require.Error(t, err, out)
				assert.Contains(t, out, "From "+tc.from+" ", out)
				assert.Contains(t, out, tc.msg, out)
			}
		})
	}
}

func TestPathMTU(t *testing.T) {
	c := NewChain(t, ChainConfig{Routers: 2, MTU: map[int]int{1: 1400}})
	for _, f := range families {
		t.Run(f.name, func(t *testing.T) {
			out, err := c.Exec(c.Client.NS, "tracepath", "-n", pick(c.Target, f.v6))
			require.NoError(t, err, out)
			assert.Contains(t, out, "Resume: pmtu 1400 hops 3 back 3", out)
		})
	}
	for _, ns := range []string{c.Router(1).NS, c.Router(2).NS} {
		out, err := c.Exec(ns, "ip", "-o", "link", "show")
		require.NoError(t, err, out)
		assert.Regexp(t, `(?m)eth1@\S+ .* mtu 1400 |eth0@\S+ .* mtu 1400 `, out)
	}
}

func TestSysctls(t *testing.T) {
	Require(t)
	cases := []struct {
		name         string
		cfg          ChainConfig
		wantRatelimt bool // kernel's own limits kept
	}{
		{"lifted", ChainConfig{Routers: 1}, false},
		{"kernel", ChainConfig{Routers: 1, DefaultRateLimits: true}, true},
		{"linux defaults", ChainConfig{Routers: 1, RateLimited: true}, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := NewChain(t, tc.cfg)
			get := func(ns, key string) string {
				out, err := c.Exec(ns, "sysctl", "-n", key)
				require.NoError(t, err, out)
				return strings.TrimSpace(out)
			}
			r := c.Router(1).NS
			for _, key := range []string{"net.ipv4.icmp_ratelimit", "net.ipv6.icmp.ratelimit"} {
				if tc.wantRatelimt {
					assert.NotEqual(t, "0", get(r, key), key)
				} else {
					assert.Equal(t, "0", get(r, key), key)
				}
			}
			if !tc.wantRatelimt {
				assert.Equal(t, "1000000", get(r, "net.ipv4.icmp_msgs_per_sec"))
				assert.Equal(t, "100000", get(r, "net.ipv4.icmp_msgs_burst"))
			}
			if tc.cfg.RateLimited {
				for _, kv := range linuxRateLimits {
					for _, ns := range []string{c.Client.NS, r, c.Target.NS} {
						assert.Equal(t, kv[1], get(ns, kv[0]), "%s in %s", kv[0], ns)
					}
				}
			}
			assert.Equal(t, "1", get(r, "net.ipv4.ip_forward"))
			assert.Equal(t, "1", get(r, "net.ipv6.conf.all.forwarding"))
			assert.Equal(t, "0", get(c.Client.NS, "net.ipv4.ip_forward"))
			assert.Equal(t, "0", get(c.Target.NS, "net.ipv4.ip_forward"))
		})
	}
}

func TestBroadcast(t *testing.T) {
	b := NewBroadcast(t, BroadcastConfig{Responders: 3})
	require.Len(t, b.Responders, 3)
	assert.Equal(t, "198.18.0.255", b.Broadcast.String())
	out, err := b.Exec(b.Client.NS, "ping", "-b", "-w", "1", "-i", "0.2", b.Broadcast.String())
	require.NoError(t, err, out)
	for _, r := range b.Responders {
		assert.True(t, b.Prefix4.Contains(r.V4))
		assert.Contains(t, out, "from "+r.V4.String()+":", "responder %s missing:\n%s", r.Name, out)
		out6, err := b.Exec(b.Client.NS, "ping", "-c", "1", "-W", "2", r.V6.String())
		require.NoError(t, err, out6)
	}
}

func TestDo(t *testing.T) {
	c := NewChain(t, ChainConfig{Routers: 1})

	// Inside, the thread sees the client's interfaces.
	var addrs []string
	require.NoError(t, c.Do(c.Client.NS, func() error {
		ifs, err := net.InterfaceAddrs()
		for _, a := range ifs {
			addrs = append(addrs, a.String())
		}
		return err
	}))
	assert.Contains(t, addrs, c.Client.V4.String()+"/24")
	own, err := net.InterfaceAddrs()
	require.NoError(t, err)
	for _, a := range own {
		assert.NotEqual(t, c.Client.V4.String()+"/24", a.String(), "the caller's namespace changed")
	}

	// Errors and panics come back to the caller.
	sentinel := fmt.Errorf("from inside")
	assert.ErrorIs(t, c.Do(c.Client.NS, func() error { return sentinel }), sentinel)
	assert.PanicsWithValue(t, "boom", func() { _ = c.Do(c.Client.NS, func() error { panic("boom") }) })
	assert.Error(t, Do(c.prefix+"nonexistent", func() error { return nil }))

	// Sockets keep the namespace they were made in: a UDP exchange across the router, driven
	// from outside Do.
	var srv, cli net.PacketConn
	require.NoError(t, c.Do(c.Target.NS, func() (err error) {
		srv, err = net.ListenPacket("udp4", c.Target.V4.String()+":0")
		return err
	}))
	defer srv.Close()
	require.NoError(t, c.Do(c.Client.NS, func() (err error) {
		cli, err = net.ListenPacket("udp4", ":0")
		return err
	}))
	defer cli.Close()
	_, err = cli.WriteTo([]byte("hello"), srv.LocalAddr())
	require.NoError(t, err)
	require.NoError(t, srv.SetReadDeadline(time.Now().Add(3*time.Second)))
	buf := make([]byte, 64)
	n, from, err := srv.ReadFrom(buf)
	require.NoError(t, err)
	assert.Equal(t, "hello", string(buf[:n]))
	assert.Equal(t, c.Client.V4.String(), from.(*net.UDPAddr).IP.String())
}

func TestStart(t *testing.T) {
	Require(t)
	var leftover int
	t.Run("cleanup kills", func(t *testing.T) {
		c := NewChain(t, ChainConfig{})
		p, err := c.Start(c.Client.NS, "ping", "-f", "-q", c.Target.V4.String())
		require.NoError(t, err)
		leftover = p.Pid()
		require.True(t, processAlive(leftover))
	})
	assert.False(t, processAlive(leftover), "background ping %d survived its test", leftover)

	c := NewChain(t, ChainConfig{})
	p, err := c.Start(c.Client.NS, "sleep", "60")
	require.NoError(t, err)
	select {
	case <-p.Done():
		t.Fatal("sleep ended at once")
	case <-time.After(50 * time.Millisecond):
	}
	_, err = p.Stop()
	var ee *exec.ExitError
	require.ErrorAs(t, err, &ee)
	<-p.Done()
	_, err2 := p.Stop()
	assert.Equal(t, err, err2)

	p, err = c.Start(c.Client.NS, "echo", "hi")
	require.NoError(t, err)
	<-p.Done()
	out, err := p.Stop()
	require.NoError(t, err)
	assert.Equal(t, "hi\n", out)
}

func TestCleanup(t *testing.T) {
	Require(t)
	var names []string
	t.Run("build", func(t *testing.T) {
		c := NewChain(t, ChainConfig{Routers: 2, Silent: []int{1}, DeadHosts: 1, TargetLoss: 5})
		b := NewBroadcast(t, BroadcastConfig{Responders: 2})
		names = append(c.Namespaces(), b.Namespaces()...)
		require.Len(t, names, 4+4)
		list := netnsList(t)
		for _, n := range names {
			assert.Contains(t, list, n)
		}
	})
	require.NotEmpty(t, names)
	list := netnsList(t)
	for _, n := range names {
		assert.NotContains(t, list, n)
		assert.NoFileExists(t, "/run/netns/"+n)
	}
}

func netnsList(t *testing.T) []string {
	t.Helper()
	out, err := exec.Command("ip", "netns", "list").CombinedOutput()
	require.NoError(t, err, string(out))
	var names []string
	for _, line := range strings.Split(string(out), "\n") {
		if f := strings.Fields(line); len(f) > 0 {
			names = append(names, f[0])
		}
	}
	return names
}

func TestHosts(t *testing.T) {
	Require(t)
	var dir string
	t.Run("names", func(t *testing.T) {
		c := NewChain(t, ChainConfig{Routers: 1})
		ns := c.Client.NS
		require.NoError(t, c.Hosts(ns, HostEntry{"target.lab", c.Target.V4}, HostEntry{"target.lab", c.Target.V6}, HostEntry{"r1.lab", c.Router(1).V4}, HostEntry{"target4.lab", c.Target.V4}))
		dir = "/etc/netns/" + ns
		out, err := c.Exec(ns, "getent", "ahostsv4", "target.lab")
		require.NoError(t, err, out)
		assert.Contains(t, out, c.Target.V4.String())
		out, err = c.Exec(ns, "getent", "hosts", c.Router(1).V4.String())
		require.NoError(t, err, out)
		assert.Contains(t, out, "r1.lab", "the address maps back to its name")
		out, err = c.Exec(ns, "ping", "-c", "1", "-W", "2", "target4.lab")
		require.NoError(t, err, out)
		assert.Contains(t, out, "PING target4.lab ("+c.Target.V4.String()+")")
		// Outside the namespace, the host's own /etc/hosts is untouched.
		b, err := os.ReadFile("/etc/hosts")
		require.NoError(t, err)
		assert.NotContains(t, string(b), "target.lab")
	})
	require.NotEmpty(t, dir)
	assert.NoDirExists(t, dir, "removed with the lab")

	// A hosts directory left by a lab process that no longer runs is swept.
	dead := exec.Command("true")
	require.NoError(t, dead.Run())
	stale := fmt.Sprintf("/etc/netns/%s%d-1-c", namePrefix, dead.Process.Pid)
	require.NoError(t, os.MkdirAll(stale, 0o755))
	t.Cleanup(func() { os.RemoveAll(stale) })
	sweepLeftovers()
	assert.NoDirExists(t, stale)
}

func TestSweepLeftovers(t *testing.T) {
	Require(t)
	dead := exec.Command("true")
	require.NoError(t, dead.Run())
	pid := dead.Process.Pid
	require.False(t, processAlive(pid))
	stale := fmt.Sprintf("%s%d-1-c", namePrefix, pid)
	mine := fmt.Sprintf("%s%d-999999-c", namePrefix, os.Getpid())
	for _, n := range []string{stale, mine} {
		out, err := runIP("", []string{"netns add " + n})
		require.NoError(t, err, out)
		t.Cleanup(func() { _, _ = runIP("", []string{"netns del " + n}, "-force") })
	}
	sweepLeftovers()
	list := netnsList(t)
	assert.NotContains(t, list, stale, "namespace of dead process %d kept", pid)
	assert.Contains(t, list, mine, "namespace of a live process removed")
}

// TestUnprivilegedChild runs itself again as uid 65534 inside the client namespace: with
// ping_group_range "1 0" a ping socket is refused with EACCES, with "65534 65534" it opens and
// echoes with the target, whose address the child learns from the environment.
func TestUnprivilegedChild(t *testing.T) {
	if IsChild() {
		unprivilegedChild(t)
		return
	}
	c := NewChain(t, ChainConfig{Routers: 1})
	cases := []struct {
		name, pgr, want string
	}{
		{"refused", "1 0", "eacces"},
		{"admitted", "", "ok"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			res := c.RunChild(c.Client.NS, Child{
				Test:           "TestUnprivilegedChild",
				Env:            append(c.Env(), "LAB_TEST_WANT="+tc.want),
				PingGroupRange: tc.pgr,
				Timeout:        30 * time.Second,
			})
			assert.True(t, res.Passed)
			assert.Equal(t, 0, res.ExitCode)
			assert.Contains(t, res.Output, "child: uid 65534 gid 65534 want "+tc.want)
		})
	}
	out, err := c.Exec(c.Client.NS, "sysctl", "-n", "net.ipv4.ping_group_range")
	require.NoError(t, err)
	assert.Equal(t, "65534\t65534", strings.TrimSpace(out))

	// A failing child is reported, not hidden.
	res := c.RunChild(c.Client.NS, Child{Test: "TestUnprivilegedChild", Env: append(c.Env(), "LAB_TEST_WANT=eacces"), MayFail: true, Timeout: 30 * time.Second})
	assert.False(t, res.Passed)
	assert.NotEqual(t, 0, res.ExitCode)
	assert.Contains(t, res.Output, "--- FAIL: TestUnprivilegedChild")
	res = c.RunChild(c.Client.NS, Child{Test: "TestNoSuchTest", MayFail: true, Timeout: 30 * time.Second})
	assert.False(t, res.Passed, res.Output)
}

func unprivilegedChild(t *testing.T) {
	info := ChildChain(t)
	want := os.Getenv("LAB_TEST_WANT")
	t.Logf("child: uid %d gid %d want %s", os.Getuid(), os.Getgid(), want)
	require.Equal(t, Nobody, os.Getuid())
	require.Equal(t, Nobody, os.Getgid())
	for _, f := range []struct {
		family, proto int
	}{{unix.AF_INET, unix.IPPROTO_ICMP}, {unix.AF_INET6, unix.IPPROTO_ICMPV6}} {
		fd, err := unix.Socket(f.family, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, f.proto)
		if want == "eacces" {
			require.ErrorIs(t, err, syscall.EACCES)
			continue
		}
		require.NoError(t, err)
		require.NoError(t, unix.Close(fd))
	}
	if want == "eacces" {
		return
	}
	for _, dst := range []netip.Addr{info.Target.V4, info.Target.V6} {
		network, typ, rtyp := "udp4", icmp.Type(ipv4.ICMPTypeEcho), icmp.Type(ipv4.ICMPTypeEchoReply)
		proto := 1
		if dst.Is6() {
			network, typ, rtyp, proto = "udp6", ipv6.ICMPTypeEchoRequest, ipv6.ICMPTypeEchoReply, 58
		}
		conn, err := icmp.ListenPacket(network, "")
		require.NoError(t, err)
		msg := icmp.Message{Type: typ, Body: &icmp.Echo{ID: 1, Seq: 7, Data: []byte("lab")}}
		b, err := msg.Marshal(nil)
		require.NoError(t, err)
		_, err = conn.WriteTo(b, &net.UDPAddr{IP: dst.AsSlice()})
		require.NoError(t, err)
		require.NoError(t, conn.SetReadDeadline(time.Now().Add(3*time.Second)))
		buf := make([]byte, 1500)
		n, from, err := conn.ReadFrom(buf)
		require.NoError(t, err)
		reply, err := icmp.ParseMessage(proto, buf[:n])
		require.NoError(t, err)
		assert.Equal(t, rtyp, reply.Type)
		assert.Equal(t, dst.String(), from.(*net.UDPAddr).IP.String())
		require.NoError(t, conn.Close())
	}
}
