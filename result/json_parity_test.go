package result

import (
	"encoding/json"
	"math/rand/v2"
	"net/netip"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/net/icmp"
)

// The reference: the same objects as encoding/json writes them from plain structs.

type refHost struct {
	Address         string    `json:"address"`
	IsAlive         bool      `json:"is_alive"`
	PacketsSent     int       `json:"packets_sent"`
	PacketsReceived int       `json:"packets_received"`
	PacketLoss      float64   `json:"packet_loss"`
	MinRTT          float64   `json:"min_rtt"`
	AvgRTT          float64   `json:"avg_rtt"`
	MaxRTT          float64   `json:"max_rtt"`
	StdDev          float64   `json:"stddev"`
	Jitter          float64   `json:"jitter"`
	RTTs            []float64 `json:"rtts"`
	Duplicates      int       `json:"duplicates"`
	Errors          int       `json:"errors"`
	SendErrors      int       `json:"send_errors,omitempty"`
}

type refMPLS struct {
	Label int  `json:"label"`
	TC    int  `json:"tc"`
	S     bool `json:"s"`
	TTL   int  `json:"ttl"`
}

type refHop struct {
	refHost
	Distance    int       `json:"distance"`
	Responders  []string  `json:"responders"`
	RateLimited int       `json:"rate_limited"`
	Unreachable string    `json:"unreachable,omitempty"`
	MPLS        []refMPLS `json:"mpls,omitempty"`
	MTU         int       `json:"mtu,omitempty"`
}

type refTrace struct {
	Destination string   `json:"destination"`
	Reached     bool     `json:"reached"`
	Hops        []refHop `json:"hops"`
	PathMTU     int      `json:"path_mtu,omitempty"`
}

func refAddr(a netip.Addr) string {
	if !a.IsValid() {
		return ""
	}
	return a.String()
}

func refOfHost(h *Host) refHost {
	rtts := make([]float64, len(h.RTTs))
	for i, r := range h.RTTs {
		rtts[i] = ms(r)
	}
	return refHost{refAddr(h.Address), h.IsAlive(), h.PacketsSent, h.PacketsReceived(), h.PacketLoss(),
		ms(h.MinRTT()), ms(h.AvgRTT()), ms(h.MaxRTT()), ms(h.StdDev()), ms(h.Jitter()), rtts, h.Duplicates, h.Errors, h.SendErrors}
}

func refOfHop(h *Hop) refHop {
	out := refHop{refHost: refOfHost(&h.Host), Distance: h.Distance, Unreachable: h.Unreachable, MTU: h.MTU,
		RateLimited: h.RateLimited, Responders: make([]string, len(h.Responders))}
	for i, a := range h.Responders {
		out.Responders[i] = refAddr(a)
	}
	for _, l := range h.MPLS {
		out.MPLS = append(out.MPLS, refMPLS{l.Label, l.TC, l.S, l.TTL})
	}
	return out
}

var parityAddrs = []netip.Addr{
	{}, netip.MustParseAddr("198.18.0.1"), netip.MustParseAddr("2001:db8::1"),
	netip.MustParseAddr("fe80::1%eth0"), netip.MustParseAddr("fe80::2%<b>&\"\\\u2028x"),
	netip.MustParseAddr("fe80::3%\x01\x7f\xff"), netip.MustParseAddr("::ffff:198.18.0.2"),
}

func randomHost(r *rand.Rand) Host {
	h := Host{Address: parityAddrs[r.IntN(len(parityAddrs))], Duplicates: r.IntN(3), Errors: r.IntN(3)}
	n := r.IntN(6)
	h.PacketsSent = n + r.IntN(4)
	for range n {
		var d time.Duration
		switch r.IntN(4) {
		case 0:
			d = time.Duration(r.IntN(1000)) // below a microsecond: tiny milliseconds
		case 1:
			d = time.Duration(r.Int64N(int64(time.Hour) * 1e6)) // huge
		default:
			d = time.Duration(r.Int64N(int64(2 * time.Second)))
		}
		h.Add(d)
	}
	if r.IntN(4) == 0 {
		h.SendErrors = 1 + r.IntN(h.PacketsSent+1)
	}
	return h
}

func TestJSONMatchesEncodingJSON(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for i := range 3000 {
		h := randomHost(r)
		want, err := json.Marshal(refOfHost(&h))
		require.NoError(t, err)
		got, err := json.Marshal(h)
		require.NoError(t, err)
		require.Equal(t, string(want), string(got), "host %d", i)
		require.Equal(t, string(want), string(h.AppendJSON(nil)))

		hop := Hop{Host: randomHost(r), Distance: 1 + r.IntN(30), MTU: r.IntN(2) * 1400, RateLimited: r.IntN(2) * r.IntN(5)}
		for range r.IntN(3) {
			hop.Responders = append(hop.Responders, parityAddrs[r.IntN(len(parityAddrs))])
		}
		if r.IntN(2) == 0 {
			hop.Unreachable = []string{"!N", "!H", "!X<&>", "!\u2029"}[r.IntN(4)]
		}
		for range r.IntN(3) {
			hop.MPLS = append(hop.MPLS, icmp.MPLSLabel{Label: r.IntN(1 << 20), TC: r.IntN(8), S: r.IntN(2) == 0, TTL: r.IntN(256)})
		}
		want, err = json.Marshal(refOfHop(&hop))
		require.NoError(t, err)
		got, err = json.Marshal(hop)
		require.NoError(t, err)
		require.Equal(t, string(want), string(got), "hop %d", i)

		tr := Trace{Destination: parityAddrs[r.IntN(len(parityAddrs))], Reached: r.IntN(2) == 0, PathMTU: r.IntN(2) * 1280}
		ref := refTrace{Destination: refAddr(tr.Destination), Reached: tr.Reached, PathMTU: tr.PathMTU, Hops: []refHop{}}
		for range r.IntN(3) {
			tr.Hops = append(tr.Hops, hop)
			ref.Hops = append(ref.Hops, refOfHop(&hop))
		}
		want, err = json.Marshal(ref)
		require.NoError(t, err)
		got, err = json.Marshal(tr)
		require.NoError(t, err)
		require.Equal(t, string(want), string(got), "trace %d", i)
	}
}

func TestAppendStringEscapes(t *testing.T) {
	for _, s := range []string{"", "plain", "\"\\", "<a href=\"x\">&amp;</a>", "\x00\x1f\n\r\t", "\u2028\u2029", "\xff\xfe", "é漢字🙂", "a\xc3"} {
		want, err := json.Marshal(s)
		require.NoError(t, err)
		assert.Equal(t, string(want), string(appendString(nil, s)), "%q", s)
	}
}

// appendMS writes most durations with integer arithmetic: it must give encoding/json's bytes
// for ms(d) wherever that path is taken, at its bounds, and beyond them.
func TestAppendMSMatchesEncodingJSON(t *testing.T) {
	check := func(d time.Duration) {
		t.Helper()
		want, err := json.Marshal(ms(d))
		require.NoError(t, err)
		require.Equal(t, string(want), string(appendMS(nil, d)), "%d ns", int64(d))
	}
	for d := time.Duration(-2000); d <= 2_000_000; d++ {
		check(d)
	}
	for p := time.Duration(1); p <= 1e18; p *= 10 {
		for _, d := range []time.Duration{p - 1, p, p + 1, 3 * p, 999_999 * p / 1000} {
			check(d)
			check(-d)
		}
	}
	for _, d := range []time.Duration{exactMS - 1, exactMS, exactMS + 1, 1<<53 - 1, 1 << 53, 1<<53 + 1, 1<<63 - 1, -1 << 63} {
		check(d)
	}
	r := rand.New(rand.NewPCG(3, 4))
	for range 200_000 {
		check(time.Duration(r.Int64N(int64(exactMS))))
		check(time.Duration(r.Int64N(int64(10 * time.Second))))
	}
}

func TestAppendLossMatchesEncodingJSON(t *testing.T) {
	for sent := range 70 {
		for received := 0; received <= sent; received++ {
			h := Host{PacketsSent: sent}
			for range received {
				h.Stats.Add(time.Millisecond)
			}
			want, err := json.Marshal(h.PacketLoss())
			require.NoError(t, err)
			require.Equal(t, string(want), string(appendLoss(nil, &h)), "%d of %d", received, sent)
		}
	}
}
