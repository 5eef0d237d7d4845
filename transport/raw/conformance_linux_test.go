package raw

import (
	"net/netip"
	"testing"

	"github.com/icmpkit/icmpkit/internal/lab"
	"github.com/icmpkit/icmpkit/internal/transporttest"
)

// TestConformance runs the behaviour that every transport shares against raw sockets in the client
// namespace of a lab chain: loopback answers, the router refuses one address.
func TestConformance(t *testing.T) {
	c := lab.NewChain(t, lab.ChainConfig{Routers: 1, Unreachable: 1})
	transporttest.Conformance(t, transporttest.LabSubject(c, func(source netip.Addr) (*Transport, error) {
		return New(Config{Source: source})
	}))
}
