package main

import (
	"fmt"
	"net/netip"
	"regexp"
	"testing"

	"github.com/icmpkit/icmpkit/internal/lab"
	"github.com/stretchr/testify/require"
)

// pingGolden is a case that runs iputils ping and icmpkit ping with the same arguments.
func pingGolden(ns string, args ...string) golden {
	return golden{ns: ns, ref: append([]string{"ping"}, args...), ours: append([]string{"ping"}, args...)}
}

// TestGoldenPing runs iputils ping and icmpkit ping side by side on a chain
//
//	client — r1 — r2 (silent) — target
//
// where r1 refuses the unreachable addresses, the target owns a dead address, and the client
// has names for them all (a hosts file of its own); then on a lossy target and on a broadcast
// segment.
func TestGoldenPing(t *testing.T) {
	privileged(t)
	requireTool(t, "ping")
	c := lab.NewChain(t, lab.ChainConfig{Routers: 2, Silent: []int{2}, DeadHosts: 1, Unreachable: 1, UnreachableAt: 1})
	ns := c.Client.NS
	// Each name has one family, but dual.lab, listed after the others so that reverse
	// lookups give the single-family names.
	hosts := []lab.HostEntry{
		{Name: "client.lab", Addr: c.Client.V4}, {Name: "client6.lab", Addr: c.Client.V6},
		{Name: "r1.lab", Addr: c.Router(1).V4}, {Name: "r1-6.lab", Addr: c.Router(1).V6},
		{Name: "r2.lab", Addr: c.Router(2).V4}, {Name: "r2-6.lab", Addr: c.Router(2).V6},
		{Name: "target.lab", Addr: c.Target.V4}, {Name: "target6.lab", Addr: c.Target.V6},
		{Name: "unreach.lab", Addr: c.UnreachableV4[0]}, {Name: "unreach6.lab", Addr: c.UnreachableV6[0]},
		{Name: "dual.lab", Addr: c.Target.V4}, {Name: "dual.lab", Addr: c.Target.V6},
	}
	require.NoError(t, c.Hosts(ns, hosts...))
	t4, t6 := c.Target.V4.String(), c.Target.V6.String()
	dead4, dead6 := c.DeadV4[0].String(), c.DeadV6[0].String()
	unreach4, unreach6 := c.UnreachableV4[0].String(), c.UnreachableV6[0].String()
	// Addresses of the client's own link that nobody has: the client's neighbour discovery
	// fails after 3 s and the kernel reports each waiting request unreachable at once, so
	// that several requests are out when their answers come (iputils' "pipe").
	absent4 := netip.AddrFrom4([4]byte{198, 18, 0, 77}).String()
	absent6 := netip.MustParseAddr("2001:db8::77").String()

	// iputils' -4 with a name that also has an IPv6 address loses the name in its header and
	// summary ("PING  (198.18.2.2)", "---  ping statistics ---"); icmpkit prints it. The
	// case masks the name on both sides and says so here.
	dualName := []masking{
		{regexp.MustCompile(`^PING (dual\.lab)? \(`), "PING <name, empty in iputils> ("},
		{regexp.MustCompile(`^--- (dual\.lab)? ping statistics`), "--- <name, empty in iputils> ping statistics"},
	}
	// With a payload under 16 bytes iputils has no room for its timestamp and prints no
	// times, and leaves the summary's last line empty; icmpkit times its requests without
	// the payload and prints the times and the rtt line. The case masks them.
	smallPayload := golden{mask: []masking{
		{regexp.MustCompile(` time=# ms`), ""},
		{regexp.MustCompile(`^rtt min/avg/max/mdev = [^\n]*`), ""},
	}}

	cases := []struct {
		name string
		g    golden
	}{
		{"IPv4", pingGolden(ns, "-c", "3", "-i", "0.2", t4)},
		{"IPv6", pingGolden(ns, "-c", "3", "-i", "0.2", t6)},
		{"name", pingGolden(ns, "-c", "2", "-i", "0.2", "target.lab")},
		{"name IPv6", pingGolden(ns, "-c", "2", "-i", "0.2", "target6.lab")},
		{"name -n", pingGolden(ns, "-n", "-c", "2", "-i", "0.2", "target.lab")},
		{"name IPv6 -n", pingGolden(ns, "-n", "-c", "2", "-i", "0.2", "target6.lab")},
		{"name -6 of a name with both families", pingGolden(ns, "-6", "-c", "1", "dual.lab")},
		{"name -4 of a name with both families", func() golden {
			g := pingGolden(ns, "-4", "-c", "1", "dual.lab")
			g.mask = dualName
			return g
		}()},
		{"dead host", pingGolden(ns, "-c", "2", "-i", "0.2", "-W", "0.5", dead4)},
		{"dead host IPv6", pingGolden(ns, "-c", "2", "-i", "0.2", "-W", "0.5", dead6)},
		{"TTL exceeded", pingGolden(ns, "-c", "2", "-i", "0.2", "-t", "1", t4)},
		{"hop limit exceeded", pingGolden(ns, "-c", "2", "-i", "0.2", "-t", "1", t6)},
		{"TTL exceeded, by name", pingGolden(ns, "-c", "2", "-i", "0.2", "-t", "1", "target.lab")},
		{"hop limit exceeded, by name", pingGolden(ns, "-c", "2", "-i", "0.2", "-t", "1", "target6.lab")},
		{"silent router", pingGolden(ns, "-c", "2", "-i", "0.2", "-W", "0.5", "-t", "2", t4)},
		{"silent router IPv6", pingGolden(ns, "-c", "2", "-i", "0.2", "-W", "0.5", "-t", "2", t6)},
		{"unreachable", pingGolden(ns, "-c", "2", "-i", "0.2", unreach4)},
		{"unreachable IPv6", pingGolden(ns, "-c", "2", "-i", "0.2", unreach6)},
		{"unreachable, by name", pingGolden(ns, "-c", "2", "-i", "0.2", "unreach.lab")},
		{"unreachable IPv6, by name", pingGolden(ns, "-c", "2", "-i", "0.2", "unreach6.lab")},
		{"absent neighbour", pingGolden(ns, "-c", "3", "-i", "0.3", "-W", "5", absent4)},
		{"absent neighbour IPv6", pingGolden(ns, "-c", "3", "-i", "0.3", "-W", "5", absent6)},
		{"-D", pingGolden(ns, "-D", "-c", "2", "-i", "0.2", t4)},
		{"-D errors", pingGolden(ns, "-D", "-c", "2", "-i", "0.2", "-t", "1", t6)},
		{"-O dead host", pingGolden(ns, "-O", "-c", "3", "-i", "0.2", "-W", "0.5", dead4)},
		{"-O errors", pingGolden(ns, "-O", "-c", "3", "-i", "0.2", "-t", "1", t4)},
		{"-O -D", pingGolden(ns, "-O", "-D", "-c", "2", "-i", "0.2", "-W", "0.5", dead6)},
		{"-O answered", pingGolden(ns, "-O", "-c", "2", "-i", "0.2", t4)},
		{"-p", pingGolden(ns, "-p", "ff00", "-c", "2", "-i", "0.2", t4)},
		{"-p odd digits", pingGolden(ns, "-p", "abc", "-c", "1", t6)},
		{"-q", pingGolden(ns, "-q", "-c", "3", "-i", "0.2", t4)},
		{"-q -O -p", pingGolden(ns, "-q", "-O", "-p", "01", "-c", "3", "-i", "0.2", "-W", "0.5", dead4)},
		{"-q errors", pingGolden(ns, "-q", "-c", "2", "-i", "0.2", unreach6)},
		{"-w", pingGolden(ns, "-w", "1", "-i", "0.4", t4)},
		{"-w dead host", pingGolden(ns, "-w", "1", "-i", "0.4", dead4)},
		{"-w beyond -c on a dead host", pingGolden(ns, "-w", "1", "-c", "2", "-i", "0.4", dead6)},
		{"-w with -c replies", pingGolden(ns, "-w", "3", "-c", "2", "-i", "0.2", t4)},
		{"-w stops at an error", pingGolden(ns, "-w", "2", "-i", "0.2", "-t", "1", t4)},
		{"-w with fewer than -c replies", func() golden {
			// iputils exits 1 when fewer than -c N replies came by the deadline; icmpkit's
			// status says whether any reply came.
			g := pingGolden(ns, "-w", "1", "-c", "5", "-i", "0.4", t4)
			g.codes = &[2]int{1, 0}
			return g
		}()},
		{"-i 0", pingGolden(ns, "-c", "3", "-i", "0", t4)},
		// inet_aton(3)'s forms of an IPv4 address, which iputils takes through getaddrinfo(3),
		// and -Q in hex.
		{"two parts", pingGolden(ns, "-c", "1", atonForms(c.Target.V4)[0])},
		{"three parts", pingGolden(ns, "-c", "1", atonForms(c.Target.V4)[1])},
		{"one number", pingGolden(ns, "-c", "1", atonForms(c.Target.V4)[2])},
		{"octal", pingGolden(ns, "-c", "1", atonForms(c.Target.V4)[3])},
		{"hex parts", pingGolden(ns, "-c", "1", atonForms(c.Target.V4)[4])},
		{"-Q hex", pingGolden(ns, "-c", "1", "-Q", "0x10", t4)},
		{"-Q decimal with a leading 0", pingGolden(ns, "-c", "1", "-Q", "010", t4)},
		{"-I interface", pingGolden(ns, "-I", "eth0", "-c", "1", t4)},
		{"-I interface IPv6", pingGolden(ns, "-I", "eth0", "-c", "1", t6)},
		{"-I address", pingGolden(ns, "-I", c.Client.V4.String(), "-c", "1", t4)},
		{"-s 1000", pingGolden(ns, "-s", "1000", "-c", "1", t6)},
		{"-s 8", func() golden {
			g := smallPayload
			p := pingGolden(ns, "-s", "8", "-c", "2", "-i", "0.2", t4)
			g.ns, g.ref, g.ours = p.ns, p.ref, p.ours
			return g
		}()},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) { compareGolden(t, tc.g) })
	}

	t.Run("lossy target", func(t *testing.T) {
		l := lab.NewChain(t, lab.ChainConfig{Routers: 1, TargetLoss: 30})
		for _, dst := range []netip.Addr{l.Target.V4, l.Target.V6} {
			g := pingGolden(l.Client.NS, "-c", "10", "-i", "0.1", "-W", "0.5", dst.String())
			// Which requests are lost differs between the runs: the sets of lines are
			// compared, with the sequence numbers and counts masked.
			g.set = true
			g.mask = []masking{
				{regexp.MustCompile(`icmp_seq=\d+`), "icmp_seq=#"},
				{regexp.MustCompile(`\d+ received, (\d+|#)% packet loss`), "# received, #% packet loss"},
			}
			compareGolden(t, g)
		}
	})

	t.Run("broadcast duplicates", func(t *testing.T) {
		b := lab.NewBroadcast(t, lab.BroadcastConfig{Responders: 3})
		g := pingGolden(b.Client.NS, "-b", "-c", "3", "-i", "0.2", b.Broadcast.String())
		// Every responder answers each request, in an order that varies; the run ends with
		// the first answer to the last request, from whichever responder was first.
		g.set = true
		g.mask = []masking{{regexp.MustCompile(`from 198\.18\.0\.\d+: icmp_seq=3 `), "from <first responder>: icmp_seq=3 "}}
		compareGolden(t, g)
	})
}

// atonForms spells an IPv4 address a.b.c.d as inet_aton(3) also reads it: "a.(b<<16|c<<8|d)",
// "a.b.(c<<8|d)", one number, octal parts, and hexadecimal parts.
func atonForms(a netip.Addr) []string {
	b := a.As4()
	return []string{
		fmt.Sprintf("%d.%d", b[0], uint32(b[1])<<16|uint32(b[2])<<8|uint32(b[3])),
		fmt.Sprintf("%d.%d.%d", b[0], b[1], uint32(b[2])<<8|uint32(b[3])),
		fmt.Sprintf("%d", uint32(b[0])<<24|uint32(b[1])<<16|uint32(b[2])<<8|uint32(b[3])),
		fmt.Sprintf("0%o.0%o.0%o.0%o", b[0], b[1], b[2], b[3]),
		fmt.Sprintf("0x%x.0x%X.%d.%d", b[0], b[1], b[2], b[3]),
	}
}
