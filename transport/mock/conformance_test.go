package mock_test

import (
	"net/netip"
	"testing"
	"testing/synctest"

	"github.com/icmpkit/icmpkit/internal/transporttest"
	"github.com/icmpkit/icmpkit/transport"
	"github.com/icmpkit/icmpkit/transport/mock"
	"github.com/stretchr/testify/require"
)

// TestConformance runs the behaviour that every transport shares against the mock, each test
// in a bubble of its own: two live hosts, and one that a router refuses.
func TestConformance(t *testing.T) {
	live4, live6 := netip.MustParseAddr("198.18.0.1"), netip.MustParseAddr("2001:db8::1")
	refused, router := netip.MustParseAddr("198.18.9.9"), netip.MustParseAddr("198.18.1.1")
	transporttest.Conformance(t, transporttest.Subject{
		Open: func(t *testing.T) transport.Transport {
			n := mock.NewNetwork(mock.Config{})
			require.NoError(t, n.AddHost(live4, mock.Host{}))
			require.NoError(t, n.AddHost(live6, mock.Host{}))
			require.NoError(t, n.AddHost(refused, mock.Host{}))
			require.NoError(t, n.AddPath(refused, mock.Router{Addr: router, Unreachable: true, UnreachableCode: 1}))
			return n.Transport(mock.TransportConfig{})
		},
		Live4:     live4,
		Live6:     live6,
		Refused:   refused,
		RefusedBy: router,
		Wrap:      func(t *testing.T, test func(t *testing.T)) { synctest.Test(t, test) },
	})
}
