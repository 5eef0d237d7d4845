package lab

import (
	"encoding/json"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"
)

// Limits of a chain's configuration.
const (
	MaxRouters     = 200
	MaxDeadHosts   = 100
	MaxUnreachable = 250
)

// ChainConfig describes a chain client — r1 — … — rN — target. The zero value is a client
// linked directly to the target.
type ChainConfig struct {
	// Routers is the number of routers between client and target; zero links them directly.
	Routers int `json:"routers,omitempty"`
	// Silent lists routers (1..Routers) that never send Time Exceeded: an nftables output rule
	// drops their ICMP and ICMPv6 time-exceeded messages, so traceroute shows "*" there.
	Silent []int `json:"silent,omitempty"`
	// Unreachable is the number of addresses (UnreachableV4/V6) that router UnreachableAt
	// refuses with Destination Unreachable (an nftables reject rule): ICMP host unreachable
	// (type 3 code 1), ICMPv6 no route (type 1 code 0). Needs Routers >= 1.
	Unreachable int `json:"unreachable,omitempty"`
	// UnreachableAt is the router (1..Routers) that refuses the Unreachable addresses; zero
	// means the last one. Routers before it forward them.
	UnreachableAt int `json:"unreachableAt,omitempty"`
	// DeadHosts is the number of addresses (DeadV4/V6) on the target's segment that swallow
	// every packet: the target owns them, so neighbor discovery resolves them, and an nftables
	// input rule drops all that is sent to them. Nothing answers, not even an ICMP error.
	DeadHosts int `json:"deadHosts,omitempty"`
	// TargetLoss is the percentage (0..100) of echo requests, ICMP and ICMPv6, that the target
	// drops at random (nftables "numgen random mod 100 < TargetLoss drop").
	TargetLoss int `json:"targetLoss,omitempty"`
	// ForwardLoss is the percentage (0..100) of echo requests, ICMP and ICMPv6, that router
	// ForwardLossAt drops at random as it forwards them (nftables "numgen random mod 100 <
	// ForwardLoss drop" in its forward chain): every hop beyond it sees that loss, the router
	// itself and those before it none.
	ForwardLoss int `json:"forwardLoss,omitempty"`
	// ForwardLossAt is the router (1..Routers) that drops ForwardLoss; zero means the first.
	ForwardLossAt int `json:"forwardLossAt,omitempty"`
	// MTU sets the MTU of both ends of a link: link i joins node i and node i+1 (node 0 is the
	// client, node Routers+1 the target), so link 0 is client—r1 and link Routers is rN—target.
	// Absent links keep 1500. Values run from 68 to 65535; below 1280 IPv6 cannot cross the
	// link (the kernel removes IPv6 from it).
	MTU map[int]int `json:"mtu,omitempty"`
	// DefaultRateLimits keeps the kernel's ICMP rate limits on every node. When false (the
	// default) they are lifted so each router answers every probe:
	// net.ipv4.icmp_ratelimit=0, net.ipv6.icmp.ratelimit=0, net.ipv4.icmp_msgs_per_sec=1000000,
	// net.ipv4.icmp_msgs_burst=100000.
	DefaultRateLimits bool `json:"defaultRateLimits,omitempty"`
	// RateLimited gives every node the ICMP rate limits of a Linux router at the kernel's
	// documented defaults, whatever this kernel's namespaces start with (some lower the IPv6
	// one to 100 ms): net.ipv4.icmp_ratelimit=1000, net.ipv6.icmp.ratelimit=1000 (ms),
	// net.ipv4.icmp_msgs_per_sec=1000, net.ipv4.icmp_msgs_burst=50, net.ipv4.icmp_ratemask
	// and net.ipv6.icmp.ratemask at their defaults. A router then answers each destination
	// a burst of 6 errors and one a second after. It may not be set with DefaultRateLimits.
	RateLimited bool `json:"rateLimited,omitempty"`
}

// Linux's ICMP rate limits at the kernel's documented defaults (see ChainConfig.RateLimited).
var linuxRateLimits = [][2]string{
	{"net.ipv4.icmp_ratelimit", "1000"},
	{"net.ipv6.icmp.ratelimit", "1000"},
	{"net.ipv4.icmp_msgs_per_sec", "1000"},
	{"net.ipv4.icmp_msgs_burst", "50"},
	{"net.ipv4.icmp_ratemask", "6168"},
	{"net.ipv6.icmp.ratemask", "0-1,3-127"},
}

// ChainInfo is what a test needs to know about a chain. It travels to a child process as JSON
// (Chain.Env, ChildChain).
type ChainInfo struct {
	Client  Node   `json:"client"`
	Routers []Node `json:"routers"` // Routers[i-1] is ri; V4/V6 are the client-side addresses
	Target  Node   `json:"target"`
	// DeadV4 and DeadV6 are the DeadHosts addresses: routed, on the target's segment, silent.
	DeadV4 []netip.Addr `json:"deadV4,omitempty"`
	DeadV6 []netip.Addr `json:"deadV6,omitempty"`
	// UnreachableV4 and UnreachableV6 are the Unreachable addresses, refused by router
	// UnreachableAt (see UnreachableFrom).
	UnreachableV4 []netip.Addr `json:"unreachableV4,omitempty"`
	UnreachableV6 []netip.Addr `json:"unreachableV6,omitempty"`
	// Config is the configuration the chain was built from, with UnreachableAt filled in.
	Config ChainConfig `json:"config"`
}

// Router returns router i (1..len(Routers)).
func (c *ChainInfo) Router(i int) Node { return c.Routers[i-1] }

// UnreachableFrom is the router that answers for the Unreachable addresses.
func (c *ChainInfo) UnreachableFrom() Node { return c.Routers[c.Config.UnreachableAt-1] }

// Hops lists, in path order, the node that answers a probe from the client at TTL 1, 2, …:
// the routers, then the target.
func (c *ChainInfo) Hops() []Node { return append(append([]Node(nil), c.Routers...), c.Target) }

// Chain is a built chain lab.
type Chain struct {
	*Lab
	ChainInfo
}

// EnvInfo is the environment variable that carries a lab's addresses to a child process.
const EnvInfo = "ICMPKIT_LAB_INFO"

// Env returns the environment entries that hand this chain's ChainInfo to a child
// (Child.Env); the child reads it back with ChildChain.
func (c *Chain) Env() []string { return infoEnv(c.ChainInfo) }

func infoEnv(v any) []string {
	b, err := json.Marshal(v)
	if err != nil {
		return nil // the info types always marshal
	}
	return []string{EnvInfo + "=" + string(b)}
}

// validate checks a chain configuration and fills in defaults.
func (cfg *ChainConfig) validate() error {
	n := cfg.Routers
	if n < 0 || n > MaxRouters {
		return invalid("Routers", "%d routers, want 0..%d", n, MaxRouters)
	}
	seen := map[int]bool{}
	for _, s := range cfg.Silent {
		if s < 1 || s > n {
			return invalid("Silent", "router %d, want 1..%d", s, n)
		}
		if seen[s] {
			return invalid("Silent", "router %d listed twice", s)
		}
		seen[s] = true
	}
	if cfg.Unreachable < 0 || cfg.Unreachable > MaxUnreachable {
		return invalid("Unreachable", "%d addresses, want 0..%d", cfg.Unreachable, MaxUnreachable)
	}
	if cfg.Unreachable > 0 {
		if n == 0 {
			return invalid("Unreachable", "needs at least one router")
		}
		if cfg.UnreachableAt == 0 {
			cfg.UnreachableAt = n
		}
	}
	if cfg.UnreachableAt < 0 || cfg.UnreachableAt > n || (cfg.UnreachableAt > 0 && cfg.Unreachable == 0) {
		return invalid("UnreachableAt", "router %d with %d unreachable addresses and %d routers", cfg.UnreachableAt, cfg.Unreachable, n)
	}
	if cfg.DeadHosts < 0 || cfg.DeadHosts > MaxDeadHosts {
		return invalid("DeadHosts", "%d addresses, want 0..%d", cfg.DeadHosts, MaxDeadHosts)
	}
	if cfg.TargetLoss < 0 || cfg.TargetLoss > 100 {
		return invalid("TargetLoss", "%d%%, want 0..100", cfg.TargetLoss)
	}
	if cfg.ForwardLoss < 0 || cfg.ForwardLoss > 100 {
		return invalid("ForwardLoss", "%d%%, want 0..100", cfg.ForwardLoss)
	}
	if cfg.ForwardLoss > 0 {
		if n == 0 {
			return invalid("ForwardLoss", "needs at least one router")
		}
		if cfg.ForwardLossAt == 0 {
			cfg.ForwardLossAt = 1
		}
	}
	if cfg.ForwardLossAt < 0 || cfg.ForwardLossAt > n || (cfg.ForwardLossAt > 0 && cfg.ForwardLoss == 0) {
		return invalid("ForwardLossAt", "router %d with %d%% loss and %d routers", cfg.ForwardLossAt, cfg.ForwardLoss, n)
	}
	if cfg.RateLimited && cfg.DefaultRateLimits {
		return invalid("RateLimited", "set with DefaultRateLimits: choose one")
	}
	for link, mtu := range cfg.MTU {
		if link < 0 || link > n {
			return invalid("MTU", "link %d, want 0..%d", link, n)
		}
		if mtu < 68 || mtu > 65535 {
			return invalid("MTU", "link %d: mtu %d, want 68..65535", link, mtu)
		}
	}
	return nil
}

// Addressing plan: link i carries 198.18.i.0/24 and 2001:db8:0:i::/64 (i written in decimal in
// both), its client-side end .1 / ::1, its target-side end .2 / ::2.
func linkV4(link, host int) netip.Addr { return v4(18, link, host) }
func linkV6(link, host int) netip.Addr { return v6(0, link, host) }

func linkPrefix4(link int) netip.Prefix { return netip.PrefixFrom(linkV4(link, 0), 24) }
func linkPrefix6(link int) netip.Prefix { return netip.PrefixFrom(linkV6(link, 0), 64) }

// Dead hosts are .100, .101, … on the target's segment; unreachable addresses live in
// 198.19.0.0/24 and 2001:db8:ffff::/64 from .1 / ::1 on.
const deadBase = 100

var (
	unreachPrefix4 = netip.PrefixFrom(v4(19, 0, 0), 24)
	unreachPrefix6 = netip.PrefixFrom(v6(0xffff, 0, 0), 64)
)

// NewChain builds a chain lab for the test and returns it; a bad configuration or a failed
// step fails the test. Without the privileges it skips (see Require).
func NewChain(t testing.TB, cfg ChainConfig) *Chain {
	t.Helper()
	cfg.Silent = slices.Clone(cfg.Silent)
	if err := cfg.validate(); err != nil {
		t.Fatal(err)
	}
	l := newLab(t)
	start := time.Now()
	c := &Chain{Lab: l}
	if err := c.build(cfg); err != nil {
		t.Fatal(err)
	}
	t.Logf("lab: chain of %d routers built in %v (namespaces %s…)", cfg.Routers, time.Since(start).Round(time.Millisecond), l.prefix)
	return c
}

// plan fills ChainInfo from the configuration, without touching the system.
func (c *Chain) plan(cfg ChainConfig, nsName func(string) string) {
	n := cfg.Routers
	c.Config = cfg
	c.Client = Node{Name: "client", NS: nsName("c"), V4: linkV4(0, 1), V6: linkV6(0, 1)}
	c.Routers = make([]Node, n)
	for k := 1; k <= n; k++ {
		c.Routers[k-1] = Node{Name: fmt.Sprintf("r%d", k), NS: nsName(fmt.Sprintf("r%d", k)), V4: linkV4(k-1, 2), V6: linkV6(k-1, 2)}
	}
	c.Target = Node{Name: "target", NS: nsName("t"), V4: linkV4(n, 2), V6: linkV6(n, 2)}
	c.DeadV4, c.DeadV6 = nil, nil
	for j := 0; j < cfg.DeadHosts; j++ {
		c.DeadV4 = append(c.DeadV4, linkV4(n, deadBase+j))
		c.DeadV6 = append(c.DeadV6, linkV6(n, deadBase+j))
	}
	c.UnreachableV4, c.UnreachableV6 = nil, nil
	for j := 0; j < cfg.Unreachable; j++ {
		c.UnreachableV4 = append(c.UnreachableV4, v4(19, 0, 1+j))
		c.UnreachableV6 = append(c.UnreachableV6, v6(0xffff, 0, 1+j))
	}
}

// nodes lists client, routers and target in path order.
func (c *ChainInfo) nodes() []Node { return append(append([]Node{c.Client}, c.Routers...), c.Target) }

func (c *Chain) build(cfg ChainConfig) error {
	c.plan(cfg, c.nsName)
	n := cfg.Routers
	nodes := c.nodes()
	names := make([]string, len(nodes))
	for i, nd := range nodes {
		names[i] = nd.NS
	}
	if err := c.addNamespaces(names); err != nil {
		return err
	}
	// Link i: node i's "eth1" (the client's "eth0") to node i+1's "eth0", created directly
	// inside the two namespaces.
	links := make([]string, 0, n+1)
	for i := 0; i <= n; i++ {
		links = append(links, vethCmd(rightIf(i), nodes[i].NS, "eth0", nodes[i+1].NS, i))
	}
	if out, err := runIP("", links); err != nil {
		return fmt.Errorf("lab: create links: %w: %s", err, out)
	}

	for i, nd := range nodes {
		if err := setSysctls(nd.NS, c.sysctls(i)); err != nil {
			return fmt.Errorf("lab: %s: %w", nd.Name, err)
		}
	}
	for i, nd := range nodes {
		if out, err := runIP(nd.NS, c.ipCommands(i)); err != nil {
			return fmt.Errorf("lab: configure %s: %w: %s", nd.Name, err, out)
		}
	}
	for i, nd := range nodes {
		if rules := c.nftRules(i); rules != "" {
			if out, err := nft(nd.NS, rules); err != nil {
				return fmt.Errorf("lab: nftables on %s: %w: %s\n%s", nd.Name, err, out, rules)
			}
		}
	}
	for _, nd := range nodes {
		if err := waitReady(nd.NS); err != nil {
			return fmt.Errorf("lab: %s: %w", nd.Name, err)
		}
	}
	return nil
}

// rightIf is the name of node i's interface on link i.
func rightIf(i int) string {
	if i == 0 {
		return "eth0"
	}
	return "eth1"
}

func (c *Chain) sysctls(i int) [][2]string {
	n := c.Config.Routers
	kv := baseSysctls(!c.Config.DefaultRateLimits && !c.Config.RateLimited)
	if c.Config.RateLimited {
		kv = append(kv, linuxRateLimits...)
	}
	ifs := []string{"eth0"}
	if i > 0 && i <= n {
		ifs = append(ifs, "eth1")
		kv = append(kv, [2]string{"net.ipv4.ip_forward", "1"}, [2]string{"net.ipv6.conf.all.forwarding", "1"})
	}
	for _, ifc := range ifs {
		kv = append(kv, [2]string{"net.ipv6.conf." + ifc + ".accept_dad", "0"})
	}
	return kv
}

// baseSysctls are set on every node before its links come up.
func baseSysctls(liftRateLimits bool) [][2]string {
	kv := [][2]string{
		{"net.ipv6.conf.all.accept_dad", "0"},
		{"net.ipv6.conf.default.accept_dad", "0"},
		{"net.ipv6.conf.all.accept_ra", "0"},
		{"net.ipv6.conf.default.accept_ra", "0"},
		{"net.ipv4.conf.all.rp_filter", "0"},
		{"net.ipv4.conf.default.rp_filter", "0"},
	}
	if liftRateLimits {
		kv = append(kv,
			[2]string{"net.ipv4.icmp_ratelimit", "0"},
			[2]string{"net.ipv6.icmp.ratelimit", "0"},
			[2]string{"net.ipv4.icmp_msgs_per_sec", "1000000"},
			[2]string{"net.ipv4.icmp_msgs_burst", "100000"},
		)
	}
	return kv
}

// ipCommands configures node i: addresses, links up, routes, MTUs.
func (c *Chain) ipCommands(i int) []string {
	n := c.Config.Routers
	cmds := []string{"link set lo up"}
	addr := func(ifc string, a netip.Addr, bits int, extra string) {
		cmds = append(cmds, strings.TrimSpace(fmt.Sprintf("addr add %s/%d dev %s %s", a, bits, ifc, extra)))
	}
	route := func(dst netip.Prefix, via netip.Addr, ifc string) {
		cmds = append(cmds, fmt.Sprintf("route add %s via %s dev %s", dst, via, ifc))
	}
	if i > 0 { // left link i-1, on eth0, this node is its .2 end
		addr("eth0", linkV4(i-1, 2), 24, "")
		addr("eth0", linkV6(i-1, 2), 64, "nodad")
	}
	if i <= n { // right link i
		addr(rightIf(i), linkV4(i, 1), 24, "")
		addr(rightIf(i), linkV6(i, 1), 64, "nodad")
	}
	if i == n+1 { // the target owns the dead addresses; nftables drops what is sent to them
		for j := range c.DeadV4 {
			addr("eth0", c.DeadV4[j], 32, "")
			// Deprecated, so the target never picks one as a source address.
			addr("eth0", c.DeadV6[j], 128, "nodad preferred_lft 0")
		}
	}
	cmds = append(cmds, "link set eth0 up")
	if i > 0 && i <= n {
		cmds = append(cmds, "link set eth1 up")
	}
	switch {
	case n == 0:
		// client and target share link 0
	case i == 0:
		cmds = append(cmds, fmt.Sprintf("route add default via %s dev eth0", linkV4(0, 2)),
			fmt.Sprintf("route add default via %s dev eth0", linkV6(0, 2)))
	case i == n+1:
		cmds = append(cmds, fmt.Sprintf("route add default via %s dev eth0", linkV4(n, 1)),
			fmt.Sprintf("route add default via %s dev eth0", linkV6(n, 1)))
	default: // router i: links 0..i-2 to the left, links i+1..n to the right
		for j := 0; j <= i-2; j++ {
			route(linkPrefix4(j), linkV4(i-1, 1), "eth0")
			route(linkPrefix6(j), linkV6(i-1, 1), "eth0")
		}
		for j := i + 1; j <= n; j++ {
			route(linkPrefix4(j), linkV4(i, 2), "eth1")
			route(linkPrefix6(j), linkV6(i, 2), "eth1")
		}
		if at := c.Config.UnreachableAt; at > 0 {
			if i < at {
				route(unreachPrefix4, linkV4(i, 2), "eth1")
				route(unreachPrefix6, linkV6(i, 2), "eth1")
			}
			// Router at refuses them with an nftables rule (nftRules) rather than an
			// "unreachable" route: the kernel limits the errors of such routes with the
			// host-wide net.ipv4.route.error_cost, which a namespace cannot lift.
		}
	}
	for link, mtu := range c.Config.MTU {
		if link == i-1 {
			cmds = append(cmds, fmt.Sprintf("link set eth0 mtu %d", mtu))
		}
		if link == i {
			cmds = append(cmds, fmt.Sprintf("link set %s mtu %d", rightIf(i), mtu))
		}
	}
	return cmds
}

// nftRules returns the nftables ruleset of node i, or "" for none.
func (c *Chain) nftRules(i int) string {
	n := c.Config.Routers
	var b strings.Builder
	if i > 0 && i <= n && slices.Contains(c.Config.Silent, i) {
		b.WriteString("table inet iklab {\n\tchain output {\n\t\ttype filter hook output priority 0; policy accept;\n")
		b.WriteString("\t\ticmp type time-exceeded drop\n\t\ticmpv6 type time-exceeded drop\n\t}\n}\n")
	}
	if i > 0 && i == c.Config.UnreachableAt {
		b.WriteString("table inet iklabunreach {\n\tchain prerouting {\n\t\ttype filter hook prerouting priority 0; policy accept;\n")
		fmt.Fprintf(&b, "\t\tip daddr %s reject with icmp type host-unreachable\n", unreachPrefix4)
		fmt.Fprintf(&b, "\t\tip6 daddr %s reject with icmpv6 type no-route\n", unreachPrefix6)
		b.WriteString("\t}\n}\n")
	}
	if p := c.Config.ForwardLoss; p > 0 && i > 0 && i == c.Config.ForwardLossAt {
		b.WriteString("table inet iklabloss {\n\tchain forward {\n\t\ttype filter hook forward priority 0; policy accept;\n")
		fmt.Fprintf(&b, "\t\ticmp type echo-request numgen random mod 100 < %d drop\n", p)
		fmt.Fprintf(&b, "\t\ticmpv6 type echo-request numgen random mod 100 < %d drop\n", p)
		b.WriteString("\t}\n}\n")
	}
	if i == n+1 && (len(c.DeadV4) > 0 || c.Config.TargetLoss > 0) {
		b.WriteString("table inet iklab {\n\tchain input {\n\t\ttype filter hook input priority 0; policy accept;\n")
		if len(c.DeadV4) > 0 {
			fmt.Fprintf(&b, "\t\tip daddr { %s } drop\n", joinAddrs(c.DeadV4))
			// Neighbor discovery for the dead addresses must work, or the last router would
			// report them unreachable.
			fmt.Fprintf(&b, "\t\tip6 daddr { %s } icmpv6 type { nd-neighbor-solicit, nd-neighbor-advert } accept\n", joinAddrs(c.DeadV6))
			fmt.Fprintf(&b, "\t\tip6 daddr { %s } drop\n", joinAddrs(c.DeadV6))
		}
		if p := c.Config.TargetLoss; p > 0 {
			fmt.Fprintf(&b, "\t\ticmp type echo-request numgen random mod 100 < %d drop\n", p)
			fmt.Fprintf(&b, "\t\ticmpv6 type echo-request numgen random mod 100 < %d drop\n", p)
		}
		b.WriteString("\t}\n}\n")
	}
	return b.String()
}

func joinAddrs(as []netip.Addr) string {
	s := make([]string, len(as))
	for i, a := range as {
		s[i] = a.String()
	}
	return strings.Join(s, ", ")
}
