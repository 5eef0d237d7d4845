package result

import (
	"encoding/json"
	"math"
	"net/netip"
	"time"

	"golang.org/x/net/icmp"
)

// ms converts a duration to milliseconds, rounded to the nanosecond.
func ms(d time.Duration) float64 { return math.Round(float64(d)) / 1e6 }

type hostJSON struct {
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
}

func (h *Host) toJSON() hostJSON {
	rtts := make([]float64, len(h.RTTs))
	for i, r := range h.RTTs {
		rtts[i] = ms(r)
	}
	return hostJSON{
		Address:         addrString(h.Address),
		IsAlive:         h.IsAlive(),
		PacketsSent:     h.PacketsSent,
		PacketsReceived: h.PacketsReceived(),
		PacketLoss:      h.PacketLoss(),
		MinRTT:          ms(h.MinRTT()),
		AvgRTT:          ms(h.AvgRTT()),
		MaxRTT:          ms(h.MaxRTT()),
		StdDev:          ms(h.StdDev()),
		Jitter:          ms(h.Jitter()),
		RTTs:            rtts,
		Duplicates:      h.Duplicates,
		Errors:          h.Errors,
	}
}

func addrString(a netip.Addr) string {
	if !a.IsValid() {
		return ""
	}
	return a.String()
}

// MarshalJSON writes the Host object of icmpkit's JSON output: RTTs in milliseconds,
// packet_loss as a fraction.
func (h Host) MarshalJSON() ([]byte, error) { return json.Marshal(h.toJSON()) }

type mplsJSON struct {
	Label int  `json:"label"`
	TC    int  `json:"tc"`
	S     bool `json:"s"`
	TTL   int  `json:"ttl"`
}

type hopJSON struct {
	hostJSON
	Distance    int        `json:"distance"`
	Responders  []string   `json:"responders"`
	Unreachable string     `json:"unreachable,omitempty"`
	MPLS        []mplsJSON `json:"mpls,omitempty"`
	MTU         int        `json:"mtu,omitempty"`
}

// MarshalJSON writes a Host object plus "distance" and the hop's extra fields.
func (h Hop) MarshalJSON() ([]byte, error) {
	out := hopJSON{hostJSON: h.Host.toJSON(), Distance: h.Distance, Unreachable: h.Unreachable, MTU: h.MTU}
	out.Responders = make([]string, len(h.Responders))
	for i, a := range h.Responders {
		out.Responders[i] = addrString(a)
	}
	out.MPLS = mplsToJSON(h.MPLS)
	return json.Marshal(out)
}

func mplsToJSON(ls []icmp.MPLSLabel) []mplsJSON {
	if len(ls) == 0 {
		return nil
	}
	out := make([]mplsJSON, len(ls))
	for i, l := range ls {
		out[i] = mplsJSON{l.Label, l.TC, l.S, l.TTL}
	}
	return out
}

// MarshalJSON writes {"destination": ..., "reached": ..., "hops": [...]}.
func (t Trace) MarshalJSON() ([]byte, error) {
	hops := t.Hops
	if hops == nil {
		hops = []Hop{}
	}
	return json.Marshal(struct {
		Destination string `json:"destination"`
		Reached     bool   `json:"reached"`
		Hops        []Hop  `json:"hops"`
		PathMTU     int    `json:"path_mtu,omitempty"`
	}{addrString(t.Destination), t.Reached, hops, t.PathMTU})
}
