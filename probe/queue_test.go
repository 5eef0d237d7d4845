package probe

import (
	"math/rand/v2"
	"net/netip"
	"testing"

	"github.com/icmpkit/icmpkit/result"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestTableAgainstMap runs random inserts, lookups and removals on the request table and on a
// map side by side: every answer must agree, whatever the rehashing and the reuse of slots.
func TestTableAgainstMap(t *testing.T) {
	for _, tc := range []struct {
		name  string
		addrs int // distinct addresses, few so that keys collide on everything but seq
		live  int // entries kept at most
	}{
		{"small and full", 3, 40},
		{"many addresses", 5000, 3000},
		{"one address, every sequence", 1, 70000},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rng := rand.New(rand.NewPCG(1, uint64(tc.live)))
			tab := newTable(0)
			ref := map[key]entry{}
			var keys []key
			randKey := func() key {
				n := rng.IntN(tc.addrs)
				var a netip.Addr
				switch n % 3 {
				case 0:
					a = netip.AddrFrom4([4]byte{198, 18, byte(n >> 8), byte(n)})
				case 1:
					a = netip.AddrFrom16([16]byte{0x20, 0x01, 0x0d, 0xb8, 14: byte(n >> 8), 15: byte(n)})
				}
				return makeKey(a, uint16(rng.IntN(3)), uint16(rng.IntN(1<<16)))
			}
			for op := range 60_000 {
				switch {
				case len(keys) < tc.live && rng.IntN(3) > 0:
					k := randKey()
					e := entry{sink: uint32(op), tag: int32(op), gen: uint32(op)}
					_, had := ref[k]
					if tab.insert(k, e) == had {
						t.Fatalf("op %d: insert %v: had it %v, table disagrees", op, k, had)
					}
					if !had {
						ref[k] = e
						keys = append(keys, k)
					}
				case len(keys) > 0 && rng.IntN(2) == 0:
					i := rng.IntN(len(keys))
					k := keys[i]
					keys[i] = keys[len(keys)-1]
					keys = keys[:len(keys)-1]
					if got, ok := tab.remove(k); !ok || got != ref[k] {
						t.Fatalf("op %d: remove %v: got %v, %v; want %v", op, k, got, ok, ref[k])
					}
					delete(ref, k)
					if _, ok := tab.remove(k); ok {
						t.Fatalf("op %d: %v removed twice", op, k)
					}
				default:
					k := randKey()
					if len(keys) > 0 && rng.IntN(2) == 0 {
						k = keys[rng.IntN(len(keys))]
					}
					got, ok := tab.get(k)
					if want, had := ref[k]; ok != had || got != want {
						t.Fatalf("op %d: get %v: got %v, %v; want %v, %v", op, k, got, ok, want, had)
					}
				}
				if tab.len() != len(ref) {
					t.Fatalf("op %d: %d entries, want %d", op, tab.len(), len(ref))
				}
			}
			for k, e := range ref {
				got, ok := tab.get(k)
				require.True(t, ok)
				require.Equal(t, e, got)
			}
			assert.LessOrEqual(t, len(tab.heads), maxHeads)
			assert.GreaterOrEqual(t, len(tab.heads), min(tab.len(), maxHeads), "about one bucket an entry")
		})
	}
}

func TestKeysTellFamiliesAndBroadcastApart(t *testing.T) {
	v4 := makeKey(netip.MustParseAddr("0.0.0.0"), 1, 2)
	v6 := makeKey(netip.MustParseAddr("::"), 1, 2)
	mapped := makeKey(netip.MustParseAddr("::ffff:0.0.0.0"), 1, 2)
	any := makeKey(netip.Addr{}, 1, 2)
	assert.NotEqual(t, v4, v6)
	assert.NotEqual(t, v4, any)
	assert.NotEqual(t, v6, any)
	assert.NotEqual(t, v4, mapped, "an IPv4-mapped address is IPv6 on the wire")
	zoned := makeKey(netip.MustParseAddr("fe80::1%eth0"), 1, 2)
	assert.Equal(t, makeKey(netip.MustParseAddr("fe80::1"), 1, 2), zoned, "zones are not part of the key")
}

func TestFifoKeepsTakenSlicesWhilePushing(t *testing.T) {
	var q fifo
	for i := range 10 {
		q.push(int32(i))
	}
	got := q.take(4)
	for i := range 100 {
		q.push(int32(100 + i)) // may move the buffer; got must not change
	}
	assert.Equal(t, []int32{0, 1, 2, 3}, got)
	assert.Equal(t, 106, q.len())
	q.reset()
	assert.Equal(t, []int32{4, 5, 6}, q.take(3))
	q.take(q.len())
	q.reset()
	assert.Zero(t, q.len())
	q.push(7)
	assert.Equal(t, []int32{7}, q.take(1))
}

func TestReorderBufYieldsInOrder(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	const n = 5000
	hosts := make([]*result.Host, n)
	for i := range hosts {
		hosts[i] = &result.Host{PacketsSent: i}
	}
	// Complete hosts in a shuffled order within windows of 300, as a run would.
	order := make([]int, n)
	for i := range order {
		order[i] = i
	}
	for start := 0; start < n; start += 300 {
		w := order[start:min(start+300, n)]
		rng.Shuffle(len(w), func(i, j int) { w[i], w[j] = w[j], w[i] })
	}
	var b reorderBuf
	next := 0
	for _, i := range order {
		b.put(int64(i-next), hosts[i])
		for h := b.pop(); h != nil; h = b.pop() {
			require.Equal(t, next, h.PacketsSent)
			next++
		}
	}
	assert.Equal(t, n, next)
	assert.LessOrEqual(t, len(b.buf), 512, "room for the reorder distance only")
}
