package raw

import (
	"net/netip"
	"testing"

	"github.com/icmpkit/icmpkit/internal/lab"
	"github.com/icmpkit/icmpkit/internal/transporttest"
	"github.com/icmpkit/icmpkit/transport"
)

// TestConformance runs the behaviour that every transport shares against raw sockets in the
// client namespace of a lab chain: loopback answers, the router refuses one address.
func TestConformance(t *testing.T) {
	c := lab.NewChain(t, lab.ChainConfig{Routers: 1, Unreachable: 1})
	open := func(cfg Config) func(t *testing.T) transport.Transport {
		return func(t *testing.T) transport.Transport {
			return transporttest.OpenIn(t, c.Client.NS, func() (*Transport, error) { return New(cfg) })
		}
	}
	transporttest.Conformance(t, transporttest.Subject{
		Open:             open(Config{}),
		Live4:            lo4,
		Live6:            lo6,
		Refused:          c.UnreachableV4[0],
		RefusedBy:        c.UnreachableFrom().V4,
		OpenMappedSource: open(Config{Source: netip.AddrFrom16(lo4.As16())}),
	})
}
