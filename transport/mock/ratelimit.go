package mock

import (
	"sync"
	"time"

	icmperrors "github.com/icmpkit/icmpkit/errors"
)

// RateLimit limits the ICMP errors a router sends (Time Exceeded, Destination Unreachable),
// as Linux does (net/ipv4/icmp.c, net/ipv4/inetpeer.c inet_peer_xrlim_allow):
//
//   - a bucket per destination of the errors (here: the prober, which every transport of the
//     network shares, as processes share a host's address) holds Burst errors, starts full,
//     and refills one error per Interval (net.ipv4.icmp_ratelimit, net.ipv6.icmp.ratelimit);
//   - a global bucket of the router holds GlobalBurst errors and refills PerSecond errors a
//     second (net.ipv4.icmp_msgs_per_sec, net.ipv4.icmp_msgs_burst).
//
// An error goes out only when both buckets have one; it then takes one from each. Fragmentation
// Needed and Packet Too Big are not limited, as Linux exempts them for path MTU discovery. The
// zero value limits nothing.
type RateLimit struct {
	// Interval is the time the per-destination bucket takes to refill one error. Zero means no
	// per-destination limit.
	Interval time.Duration
	// Burst is how many errors the per-destination bucket holds. Zero means 6, Linux's
	// XRLIM_BURST_FACTOR.
	Burst int
	// PerSecond is the global bucket's refill rate, in errors a second. Zero means no global
	// limit.
	PerSecond int
	// GlobalBurst is how many errors the global bucket holds. Zero means 50, Linux's
	// net.ipv4.icmp_msgs_burst.
	GlobalBurst int
}

// LinuxRateLimit is the rate limit of a Linux router at the kernel's IPv4 defaults:
// net.ipv4.icmp_ratelimit=1000 (ms), net.ipv4.icmp_msgs_per_sec=1000,
// net.ipv4.icmp_msgs_burst=50. It answers a burst of 6 and then one error a second.
var LinuxRateLimit = RateLimit{Interval: time.Second, Burst: 6, PerSecond: 1000, GlobalBurst: 50}

const (
	defaultBurst       = 6
	defaultGlobalBurst = 50
)

func (l RateLimit) check() error {
	switch {
	case l.Interval < 0:
		return icmperrors.Invalid("router rate limit interval", "must not be negative, got %v", l.Interval)
	case l.Burst < 0:
		return icmperrors.Invalid("router rate limit burst", "must not be negative, got %d", l.Burst)
	case l.PerSecond < 0:
		return icmperrors.Invalid("router rate limit per second", "must not be negative, got %d", l.PerSecond)
	case l.GlobalBurst < 0:
		return icmperrors.Invalid("router rate limit global burst", "must not be negative, got %d", l.GlobalBurst)
	}
	return nil
}

func (l RateLimit) active() bool { return l.Interval > 0 || l.PerSecond > 0 }

// limiter is a router's two buckets. Tokens are kept in nanoseconds of refill time, as Linux
// keeps them in jiffies, so that partial refills add up.
type limiter struct {
	RateLimit
	mu      sync.Mutex
	started bool
	peer    time.Duration // per-destination bucket, 0..Burst*Interval
	peerAt  time.Time
	global  float64 // global bucket, 0..GlobalBurst errors
	globAt  time.Time
}

func newLimiter(l RateLimit) *limiter {
	if !l.active() {
		return nil
	}
	if l.Burst == 0 {
		l.Burst = defaultBurst
	}
	if l.GlobalBurst == 0 {
		l.GlobalBurst = defaultGlobalBurst
	}
	return &limiter{RateLimit: l}
}

// allow reports whether the router may send an error at now, and takes its tokens if so.
func (l *limiter) allow(now time.Time) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if !l.started {
		// Both buckets start full (Linux sets a new peer's last refill a minute back).
		l.started = true
		l.peer, l.peerAt = time.Duration(l.Burst)*l.Interval, now
		l.global, l.globAt = float64(l.GlobalBurst), now
	}
	peerOK, globalOK := true, true
	if l.Interval > 0 {
		l.peer = min(l.peer+max(now.Sub(l.peerAt), 0), time.Duration(l.Burst)*l.Interval)
		l.peerAt = now
		peerOK = l.peer >= l.Interval
	}
	if l.PerSecond > 0 {
		l.global = min(l.global+max(now.Sub(l.globAt), 0).Seconds()*float64(l.PerSecond), float64(l.GlobalBurst))
		l.globAt = now
		globalOK = l.global >= 1
	}
	if !peerOK || !globalOK {
		return false
	}
	if l.Interval > 0 {
		l.peer -= l.Interval
	}
	if l.PerSecond > 0 {
		l.global--
	}
	return true
}
