package raw

import (
	"runtime"
	"testing"

	icmperrors "github.com/icmpkit/icmpkit/errors"
	"github.com/icmpkit/icmpkit/transport"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/net/icmp"
	"net/netip"
)

func TestConfigInvalid(t *testing.T) {
	tests := []struct {
		name string
		cfg  Config
	}{
		{"negative id", Config{ID: -1}},
		{"id too large", Config{ID: 65536}},
		{"negative buffer", Config{ReceiveBuffer: -1}},
		{"unknown family", Config{Family: 7}},
		{"long interface", Config{Interface: "an-interface-name-too-long"}},
		{"v4 source, v6 family", Config{Source: netip.MustParseAddr("127.0.0.1"), Family: FamilyIPv6}},
		{"v6 source, v4 family", Config{Source: netip.MustParseAddr("::1"), Family: FamilyIPv4}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tr, err := New(tt.cfg)
			require.Nil(t, tr)
			require.ErrorIs(t, err, icmperrors.ErrInvalidArgument)
		})
	}
}

func TestNotSupportedElsewhere(t *testing.T) {
	if runtime.GOOS == "linux" {
		t.Skip("raw sockets are implemented on Linux")
	}
	_, err := New(Config{})
	require.ErrorIs(t, err, icmperrors.ErrNotSupported)
}

func TestFamilyString(t *testing.T) {
	assert.Equal(t, "IPv4 and IPv6", FamilyBoth.String())
	assert.Equal(t, "IPv4", FamilyIPv4.String())
	assert.Equal(t, "IPv6", FamilyIPv6.String())
	assert.Equal(t, "unknown family", Family(9).String())
}

func TestDeliverReusesMPLS(t *testing.T) {
	labels := []icmp.MPLSLabel{{Label: 1}, {Label: 2, S: true}}
	src := transport.Reply{Seq: 3, MPLS: labels}
	dst := transport.Reply{MPLS: make([]icmp.MPLSLabel, 0, 4)}
	backing := &dst.MPLS[:1][0]
	deliver(&dst, &src)
	require.Equal(t, labels, dst.MPLS)
	assert.Same(t, backing, &dst.MPLS[0])
	assert.Equal(t, 3, dst.Seq)

	deliver(&dst, &transport.Reply{Seq: 4})
	assert.Empty(t, dst.MPLS)
	assert.Equal(t, 4, cap(dst.MPLS), "the array stays with the caller")

	var small transport.Reply
	deliver(&small, &src)
	assert.Equal(t, labels, small.MPLS)
}
