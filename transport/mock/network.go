package mock

import (
	"net/netip"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	icmperrors "github.com/icmpkit/icmpkit/errors"
	"golang.org/x/net/icmp"
)

// Config configures a Network. The zero value is a network with seed 0.
type Config struct {
	// Seed drives every random choice of the network (loss, jitter, late and corrupted
	// replies). Two networks with the same seed and the same traffic behave the same.
	Seed uint64
}

// Host is how a destination behaves. The zero value is a live host that answers at once,
// with nothing lost.
type Host struct {
	// Latency is the round-trip time of an echo to this host. Zero means none.
	Latency time.Duration
	// Jitter adds a random delay in [0, Jitter) to each reply. A Jitter larger than the time
	// between two requests reorders their replies. Zero means none.
	Jitter time.Duration
	// Loss is the probability, 0..1, that an echo gets no reply. Zero means no loss.
	Loss float64
	// Dead makes the host answer nothing.
	Dead bool
	// TTL is the TTL (IPv4) or hop limit (IPv6) the host sends its replies with; the reply
	// arrives with TTL minus the number of routers on the path. Zero means 64.
	TTL int
	// Duplicates is the number of extra copies of each echo reply. Zero means none.
	Duplicates int
	// Late is the probability, 0..1, that a reply is held back by LateBy on top of its
	// latency, so that it arrives after any reasonable timeout. Zero means never.
	Late float64
	// LateBy is the extra delay of a late reply. Zero means one minute.
	LateBy time.Duration
	// Corrupt is the probability, 0..1, that a reply arrives altered as a damaged packet
	// that still passed its checksum would: with a different identifier, sequence or source
	// address. Zero means never.
	Corrupt float64
}

// Router is a router on a path (see Network.AddPath). The zero value, with Addr set,
// forwards every request and answers Time Exceeded at once to those whose TTL ends on it.
type Router struct {
	// Addr is the address the router answers from. It is of the family of the destinations
	// it leads to.
	Addr netip.Addr
	// Latency is the round-trip time to this router. Zero means none.
	Latency time.Duration
	// Jitter adds a random delay in [0, Jitter) to each of its answers. Zero means none.
	Jitter time.Duration
	// Loss is the probability, 0..1, that the router does not answer a request it would
	// answer, at random (see RateLimit for a router that answers as a rate-limited one does).
	// Zero means it always answers.
	Loss float64
	// Drop is the probability, 0..1, that the router drops a request it forwards (one whose
	// TTL does not end on it), as a lossy link beyond it does: every probe to a farther
	// distance, the destination's included, is lost that often. Zero means none.
	Drop float64
	// Silent makes the router answer nothing, as routers that filter ICMP do. It still
	// forwards, and still drops what it would have answered.
	Silent bool
	// TTL is the TTL or hop limit the router sends its answers with; an answer from the
	// router at distance d arrives with TTL-(d-1). Zero means 64.
	TTL int
	// Unreachable makes the router answer every request that reaches it with Destination
	// Unreachable, code UnreachableCode; the request goes no further.
	Unreachable bool
	// UnreachableCode is the code of the Destination Unreachable answers, 0..255 (ICMPv4: 1
	// host unreachable, 13 administratively prohibited ...; ICMPv6: 3 address unreachable,
	// 1 administratively prohibited ...).
	UnreachableCode int
	// MPLS is the RFC 4950 label stack the router attaches to its ICMP errors.
	MPLS []icmp.MPLSLabel
	// MTU is the MTU of the link the router forwards on. A request with DontFragment whose IP
	// packet is larger (IPv4: 20+8+payload bytes, IPv6: 40+8+payload) gets Fragmentation
	// Needed (ICMPv4 Destination Unreachable code 4) or Packet Too Big (ICMPv6) with this MTU.
	// Zero means no limit.
	MTU int
	// RateLimit limits the Time Exceeded and Destination Unreachable answers the router
	// sends, with Linux's token buckets (see RateLimit and LinuxRateLimit). The zero value
	// limits nothing.
	RateLimit RateLimit
}

// Hop is one distance of a path: a Router, or an ECMP set of routers.
type Hop interface {
	routers() []Router
}

// ECMP is a hop of several equal-cost routers. Each request takes one of them, chosen by a
// hash of its flow: destination, identifier and ICMP checksum, as per-flow load balancers do.
// A Paris traceroute keeps identifier and checksum constant and so meets a single router at
// this distance, while requests of varying checksums spread over all of them.
type ECMP []Router

func (r Router) routers() []Router { return []Router{r} }
func (e ECMP) routers() []Router   { return e }

// Network is an in-memory network of hosts, routers and broadcast addresses. Configure it
// with AddHost, AddPath, AddBroadcast and SetGateway, then open transports on it; they may
// be opened at any time and configuration may change while they run. A Network is safe for
// use by many goroutines.
type Network struct {
	seed   uint64
	nextID atomic.Uint32

	mu      sync.RWMutex
	hosts   map[netip.Addr]*host
	paths   map[netip.Addr][]hop
	bcasts  map[netip.Addr][]netip.Addr
	gateway [2][]hop // by family: [0] IPv4, [1] IPv6
}

// NewNetwork returns an empty network: every destination is unknown and answers nothing.
func NewNetwork(cfg Config) *Network {
	return &Network{
		seed:   mix(cfg.Seed ^ 0x6d6f636b6e6574),
		hosts:  make(map[netip.Addr]*host),
		paths:  make(map[netip.Addr][]hop),
		bcasts: make(map[netip.Addr][]netip.Addr),
	}
}

// host is a Host as the network uses it.
type host struct {
	Host
	addr   netip.Addr
	key    uint64
	ttl    int
	lateBy time.Duration
	count  atomic.Uint64 // requests that reached it, for its random draws
}

// router is a Router as the network uses it.
type router struct {
	Router
	key   uint64
	ttl   int
	count atomic.Uint64
	fwd   atomic.Uint64 // requests forwarded, for Drop
	limit *limiter      // nil without a rate limit
}

// hop is one distance: one router, or several (ECMP).
type hop []*router

// AddHost adds the host addr, or replaces its behaviour if it exists (so a test can take a
// host down or bring it back while transports run). Without a path of its own, the host is
// directly connected: no router lies between.
func (n *Network) AddHost(addr netip.Addr, h Host) error {
	if err := checkAddr("host address", addr); err != nil {
		return err
	}
	switch {
	case h.Latency < 0:
		return icmperrors.Invalid("host latency", "must not be negative, got %v", h.Latency)
	case h.Jitter < 0:
		return icmperrors.Invalid("host jitter", "must not be negative, got %v", h.Jitter)
	case h.LateBy < 0:
		return icmperrors.Invalid("host late delay", "must not be negative, got %v", h.LateBy)
	case h.TTL < 0 || h.TTL > 255:
		return icmperrors.Invalid("host ttl", "must be in 0..255, got %d", h.TTL)
	case h.Duplicates < 0:
		return icmperrors.Invalid("host duplicates", "must not be negative, got %d", h.Duplicates)
	}
	for _, p := range []struct {
		name string
		v    float64
	}{{"host loss", h.Loss}, {"host late", h.Late}, {"host corrupt", h.Corrupt}} {
		if err := checkProb(p.name, p.v); err != nil {
			return err
		}
	}
	hh := &host{Host: h, addr: addr, key: addrKey(addr), ttl: h.TTL, lateBy: h.LateBy}
	if hh.ttl == 0 {
		hh.ttl = defaultTTL
	}
	if hh.lateBy == 0 {
		hh.lateBy = defaultLateBy
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	if _, ok := n.bcasts[addr]; ok {
		return icmperrors.Invalid("host address", "%s is a broadcast address of this network", addr)
	}
	n.hosts[addr] = hh
	return nil
}

// AddPath sets the routers between the prober and dst, one Hop per distance: a request with
// TTL t <= len(hops) ends at distance t, whose router answers Time Exceeded; a request with a
// larger TTL reaches dst. dst may be a host, a broadcast address, or nothing (then requests
// that pass every router vanish). AddPath replaces an earlier path to dst; no hops makes dst
// directly connected again.
func (n *Network) AddPath(dst netip.Addr, hops ...Hop) error {
	if err := checkAddr("path destination", dst); err != nil {
		return err
	}
	p, err := buildPath(dst.Is6(), hops)
	if err != nil {
		return err
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	if len(p) == 0 {
		delete(n.paths, dst)
	} else {
		n.paths[dst] = p
	}
	return nil
}

// SetGateway makes requests to destinations of r's family that the network does not know
// (neither a host, a broadcast address nor a path destination) pass through r, a one-router
// path: with r.Unreachable they get Destination Unreachable from r, as a gateway without a
// route answers; otherwise a TTL of 1 gets Time Exceeded from r and larger ones vanish.
// Without a gateway such requests vanish, as to a dead host.
func (n *Network) SetGateway(r Router) error {
	if err := checkAddr("gateway address", r.Addr); err != nil {
		return err
	}
	p, err := buildPath(r.Addr.Is6(), []Hop{r})
	if err != nil {
		return err
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	n.gateway[family(r.Addr)] = p
	return nil
}

// AddBroadcast makes addr an IPv4 broadcast address whose members are the given hosts:
// an echo request to it, from a transport with broadcast on, gets a reply from each live
// member (added with AddHost), with Source the member and Destination addr. Sending to it
// with broadcast off fails with an error matching errors.ErrBroadcast, as does sending to
// 255.255.255.255 whether added or not. AddBroadcast replaces an earlier member list.
func (n *Network) AddBroadcast(addr netip.Addr, members ...netip.Addr) error {
	if err := checkAddr("broadcast address", addr); err != nil {
		return err
	}
	if !addr.Is4() {
		return icmperrors.Invalid("broadcast address", "%s: IPv6 has no broadcast", addr)
	}
	for _, m := range members {
		if err := checkAddr("broadcast member", m); err != nil {
			return err
		}
		if !m.Is4() {
			return icmperrors.Invalid("broadcast member", "%s is not an IPv4 address", m)
		}
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	if _, ok := n.hosts[addr]; ok {
		return icmperrors.Invalid("broadcast address", "%s is a host of this network", addr)
	}
	n.bcasts[addr] = slices.Clone(members)
	return nil
}

const (
	defaultTTL    = 64
	defaultLateBy = time.Minute
)

var limitedBroadcast = netip.AddrFrom4([4]byte{255, 255, 255, 255})

func checkAddr(what string, a netip.Addr) error {
	switch {
	case !a.IsValid():
		return icmperrors.Invalid(what, "address is not set")
	case a.Is4In6():
		return icmperrors.Invalid(what, "%s is an IPv4-mapped IPv6 address; use %s", a, a.Unmap())
	case a.Zone() != "":
		return icmperrors.Invalid(what, "%s: zones are not supported", a)
	}
	return nil
}

func checkProb(what string, p float64) error {
	if !(p >= 0 && p <= 1) { // also rejects NaN
		return icmperrors.Invalid(what, "must be a probability in 0..1, got %v", p)
	}
	return nil
}

func family(a netip.Addr) int {
	if a.Is6() {
		return 1
	}
	return 0
}

func buildPath(v6 bool, hops []Hop) ([]hop, error) {
	p := make([]hop, 0, len(hops))
	for i, h := range hops {
		if h == nil {
			return nil, icmperrors.Invalid("path", "hop %d is nil", i+1)
		}
		rs := h.routers()
		if len(rs) == 0 {
			return nil, icmperrors.Invalid("path", "hop %d has no router", i+1)
		}
		hp := make(hop, len(rs))
		for j, r := range rs {
			if err := checkRouter(v6, r); err != nil {
				return nil, err
			}
			rr := &router{Router: r, key: addrKey(r.Addr), ttl: r.TTL, limit: newLimiter(r.RateLimit)}
			rr.MPLS = slices.Clone(r.MPLS)
			if rr.ttl == 0 {
				rr.ttl = defaultTTL
			}
			hp[j] = rr
		}
		p = append(p, hp)
	}
	return p, nil
}

func checkRouter(v6 bool, r Router) error {
	if err := checkAddr("router address", r.Addr); err != nil {
		return err
	}
	switch {
	case r.Addr.Is6() != v6:
		return icmperrors.Invalid("router address", "%s is not of the destination's family", r.Addr)
	case r.Latency < 0:
		return icmperrors.Invalid("router latency", "must not be negative, got %v", r.Latency)
	case r.Jitter < 0:
		return icmperrors.Invalid("router jitter", "must not be negative, got %v", r.Jitter)
	case r.TTL < 0 || r.TTL > 255:
		return icmperrors.Invalid("router ttl", "must be in 0..255, got %d", r.TTL)
	case r.UnreachableCode < 0 || r.UnreachableCode > 255:
		return icmperrors.Invalid("router unreachable code", "must be in 0..255, got %d", r.UnreachableCode)
	case r.MTU < 0 || r.MTU > 65535:
		return icmperrors.Invalid("router mtu", "must be in 0..65535, got %d", r.MTU)
	}
	if err := r.RateLimit.check(); err != nil {
		return err
	}
	if err := checkProb("router drop", r.Drop); err != nil {
		return err
	}
	return checkProb("router loss", r.Loss)
}
