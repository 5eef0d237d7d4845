package probe

import (
	"net/netip"
	"time"

	"github.com/icmpkit/icmpkit/result"
)

// A hostAlloc gives a run the Host of each host it starts, and the room for its first RTTs,
// in the way that suits the call: one slice of every Host and one slab of RTTs for Multiping,
// which returns them all; blocks of hostBlockSize for a stream, which hands each on; one
// allocation for Ping.
type hostAlloc struct {
	keep int // RTTs each Host has room for up front; 0 when RTTs are dropped

	// slab: every Host by input index, and the RTTs the Hosts start in (nil: each Host gets
	// its own).
	slab []result.Host
	rtts []time.Duration
	// single: each Host and its RTTs allocated alone.
	single bool
	// Otherwise Hosts, and RTTs beyond the slab, come from blocks of hostBlockSize.
	hostBlock []result.Host
	rttBlock  []time.Duration
}

// hostBlockSize is how many Hosts a streaming run allocates at once. A block stays in memory
// while any of its Hosts is referenced.
const hostBlockSize = 64

// maxSlab bounds the RTT slab Multiping allocates up front, in RTTs.
const maxSlab = 1 << 22

// rttRoom gives how many RTTs a Host has room for up front.
func rttRoom(cfg *runConfig) int {
	if cfg.dropRTTs {
		return 0
	}
	return min(cfg.count, 64)
}

// singleAlloc gives each Host an allocation of its own.
func singleAlloc(cfg *runConfig) hostAlloc { return hostAlloc{keep: rttRoom(cfg), single: true} }

// blockAlloc takes Hosts from blocks.
func blockAlloc(cfg *runConfig) hostAlloc { return hostAlloc{keep: rttRoom(cfg)} }

// slabAlloc holds the Hosts of n targets in one slice, and their first RTTs in one slab when
// it is not too large (else in blocks).
func slabAlloc(cfg *runConfig, n int) hostAlloc {
	a := hostAlloc{keep: rttRoom(cfg), slab: make([]result.Host, n)}
	if a.keep > 0 && n <= maxSlab/a.keep {
		a.rtts = make([]time.Duration, n*a.keep)
	}
	return a
}

// take gives the Host of the host with input index i, at addr.
func (a *hostAlloc) take(i int64, addr netip.Addr) *result.Host {
	var res *result.Host
	switch {
	case a.slab != nil:
		res = &a.slab[i]
	case a.single:
		res = new(result.Host)
	default:
		if len(a.hostBlock) == 0 {
			a.hostBlock = make([]result.Host, hostBlockSize)
		}
		res, a.hostBlock = &a.hostBlock[0], a.hostBlock[1:]
	}
	*res = result.Host{Address: addr}
	k := a.keep
	switch {
	case k == 0:
	case a.rtts != nil:
		j := int(i) * k
		res.RTTs = a.rtts[j : j : j+k]
	case a.single:
		res.RTTs = make([]time.Duration, 0, k)
	default:
		if len(a.rttBlock) < k {
			a.rttBlock = make([]time.Duration, hostBlockSize*k)
		}
		res.RTTs, a.rttBlock = a.rttBlock[:0:k], a.rttBlock[k:]
	}
	return res
}
