package raw

import (
	"net/netip"
	"runtime"
	"testing"

	icmperrors "github.com/icmpkit/icmpkit/errors"
	"github.com/icmpkit/icmpkit/transport"
	"github.com/stretchr/testify/require"
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
		{"v4 source, v6 family", Config{Source: netip.MustParseAddr("127.0.0.1"), Family: transport.FamilyIPv6}},
		{"v6 source, v4 family", Config{Source: netip.MustParseAddr("::1"), Family: transport.FamilyIPv4}},
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
