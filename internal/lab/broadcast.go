package lab

import (
	"fmt"
	"net/netip"
	"testing"
	"time"
)

// MaxResponders bounds BroadcastConfig.Responders.
const MaxResponders = 200

// BroadcastConfig describes one Ethernet segment: a client and Responders hosts on a bridge.
type BroadcastConfig struct {
	// Responders is the number of hosts besides the client (1..MaxResponders); zero means 1.
	// Each answers echo requests sent to the broadcast address
	// (net.ipv4.icmp_echo_ignore_broadcasts=0).
	Responders int `json:"responders,omitempty"`
}

// BroadcastInfo is what a test needs to know about a broadcast segment. It travels to a child
// process as JSON (Broadcast.Env, ChildBroadcast).
type BroadcastInfo struct {
	Client     Node         `json:"client"`
	Responders []Node       `json:"responders"` // Responders[i-1] is host "resp<i>"
	Switch     string       `json:"switch"`     // namespace holding the bridge; it has no address
	Prefix4    netip.Prefix `json:"prefix4"`    // 198.18.0.0/24
	Prefix6    netip.Prefix `json:"prefix6"`    // 2001:db8::/64
	Broadcast  netip.Addr   `json:"broadcast"`  // 198.18.0.255
}

// Broadcast is a built broadcast segment.
type Broadcast struct {
	*Lab
	BroadcastInfo
}

// Env returns the environment entries that hand this segment's BroadcastInfo to a child
// (Child.Env); the child reads it back with ChildBroadcast.
func (b *Broadcast) Env() []string { return infoEnv(b.BroadcastInfo) }

// NewBroadcast builds a broadcast segment for the test: the client (198.18.0.1, 2001:db8::1)
// and responders 198.18.0.2, .3, … (2001:db8::2, ::3, …) each with a veth to a bridge in a
// namespace of its own. A bad configuration or a failed step fails the test; without the
// privileges it skips (see Require).
func NewBroadcast(t testing.TB, cfg BroadcastConfig) *Broadcast {
	t.Helper()
	if cfg.Responders == 0 {
		cfg.Responders = 1
	}
	if cfg.Responders < 0 || cfg.Responders > MaxResponders {
		t.Fatal(invalid("Responders", "%d responders, want 1..%d", cfg.Responders, MaxResponders))
	}
	l := newLab(t)
	start := time.Now()
	b := &Broadcast{Lab: l}
	if err := b.build(cfg); err != nil {
		t.Fatal(err)
	}
	t.Logf("lab: broadcast segment of %d responders built in %v (namespaces %s…)", cfg.Responders, time.Since(start).Round(time.Millisecond), l.prefix)
	return b
}

func (b *Broadcast) build(cfg BroadcastConfig) error {
	b.Prefix4 = netip.PrefixFrom(linkV4(0, 0), 24)
	b.Prefix6 = netip.PrefixFrom(linkV6(0, 0), 64)
	b.Broadcast = linkV4(0, 255)
	b.Switch = b.nsName("sw")
	b.Client = Node{Name: "client", NS: b.nsName("c"), V4: linkV4(0, 1), V6: linkV6(0, 1)}
	b.Responders = make([]Node, cfg.Responders)
	for i := range b.Responders {
		b.Responders[i] = Node{Name: fmt.Sprintf("resp%d", i+1), NS: b.nsName(fmt.Sprintf("b%d", i+1)),
			V4: linkV4(0, i+2), V6: linkV6(0, i+2)}
	}
	hosts := append([]Node{b.Client}, b.Responders...)

	names := []string{b.Switch}
	for _, h := range hosts {
		names = append(names, h.NS)
	}
	if err := b.addNamespaces(names); err != nil {
		return err
	}
	// Host k (0 = client) has "eth0", plugged into switch port "p<k>".
	links := []string{}
	swCmds := []string{"link set lo up", "link add br0 type bridge", "link set br0 up"}
	for k, h := range hosts {
		port := fmt.Sprintf("p%d", k)
		links = append(links, vethCmd("eth0", h.NS, port, b.Switch, k))
		swCmds = append(swCmds, fmt.Sprintf("link set %s master br0", port), fmt.Sprintf("link set %s up", port))
	}
	if out, err := runIP("", links); err != nil {
		return fmt.Errorf("lab: create links: %w: %s", err, out)
	}
	// The switch needs no IPv6 of its own.
	if err := setSysctls(b.Switch, [][2]string{
		{"net.ipv6.conf.all.disable_ipv6", "1"},
		{"net.ipv6.conf.default.disable_ipv6", "1"},
	}); err != nil {
		return fmt.Errorf("lab: switch: %w", err)
	}
	if out, err := runIP(b.Switch, swCmds); err != nil {
		return fmt.Errorf("lab: configure switch: %w: %s", err, out)
	}
	for k, h := range hosts {
		kv := append(baseSysctls(true), [2]string{"net.ipv6.conf.eth0.accept_dad", "0"})
		if k > 0 {
			kv = append(kv, [2]string{"net.ipv4.icmp_echo_ignore_broadcasts", "0"})
		}
		if err := setSysctls(h.NS, kv); err != nil {
			return fmt.Errorf("lab: %s: %w", h.Name, err)
		}
		cmds := []string{
			"link set lo up",
			fmt.Sprintf("addr add %s/24 broadcast %s dev eth0", h.V4, b.Broadcast),
			fmt.Sprintf("addr add %s/64 dev eth0 nodad", h.V6),
			"link set eth0 up",
		}
		if out, err := runIP(h.NS, cmds); err != nil {
			return fmt.Errorf("lab: configure %s: %w: %s", h.Name, err, out)
		}
	}
	for _, ns := range names {
		if err := waitReady(ns); err != nil {
			return err
		}
	}
	return nil
}
