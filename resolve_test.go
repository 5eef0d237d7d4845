package icmpkit

import (
	"context"
	"net/netip"
	"testing"

	"github.com/icmpkit/icmpkit/errors"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestResolve(t *testing.T) {
	tests := []struct {
		host   string
		family Family
		want   string
		class  error
	}{
		{"127.0.0.1", FamilyAny, "127.0.0.1", nil},
		{" 127.0.0.2 ", IPv4, "127.0.0.2", nil},
		{"::1", FamilyAny, "::1", nil},
		{"[::1]", IPv6, "::1", nil},
		{"::ffff:127.0.0.1", FamilyAny, "127.0.0.1", nil},
		{"fe80::1%lo", IPv6, "fe80::1%lo", nil},
		{"2001:db8::1", FamilyAny, "2001:db8::1", nil},
		{"198.18.0.1", FamilyAny, "198.18.0.1", nil},
		{"localhost", FamilyAny, "127.0.0.1", nil},
		{"localhost", IPv4, "127.0.0.1", nil},
		{"localhost", IPv6, "::1", nil},
		{"LOCALHOST.", IPv4, "127.0.0.1", nil},
		{"icmpkit.localhost", IPv6, "::1", nil},
		{"127.0.0.1", IPv6, "", errors.ErrInvalidArgument},
		{"::1", IPv4, "", errors.ErrInvalidArgument},
		{"", FamilyAny, "", errors.ErrInvalidArgument},
		{"127.0.0.1", Family(5), "", errors.ErrInvalidArgument},
		{"no-such-host.invalid", FamilyAny, "", errors.ErrNameLookup},
		{"bad name!", IPv4, "", errors.ErrNameLookup},
	}
	for _, tt := range tests {
		t.Run(tt.host+"/"+tt.family.String(), func(t *testing.T) {
			got, err := Resolve(context.Background(), tt.host, tt.family)
			if tt.class != nil {
				require.Error(t, err, "resolved to %v", got)
				assert.ErrorIs(t, err, tt.class)
				assert.ErrorIs(t, err, errors.ErrLibrary)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, netip.MustParseAddr(tt.want), got)
			assert.False(t, got.Is4In6())
		})
	}
}

func TestResolveCancelled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	// Literals need no lookup, so a done context does not matter.
	a, err := Resolve(ctx, "127.0.0.1", FamilyAny)
	require.NoError(t, err)
	assert.Equal(t, "127.0.0.1", a.String())
	_, err = Resolve(ctx, "no-such-host.invalid", FamilyAny)
	assert.ErrorIs(t, err, errors.ErrNameLookup)
}

func TestPick(t *testing.T) {
	v4, v6 := netip.MustParseAddr("198.18.0.1"), netip.MustParseAddr("2001:db8::1")
	mapped := netip.MustParseAddr("::ffff:198.18.0.1")
	tests := []struct {
		addrs  []netip.Addr
		family Family
		want   netip.Addr
	}{
		{[]netip.Addr{v6, v4}, FamilyAny, v4},
		{[]netip.Addr{v6, mapped}, FamilyAny, v4},
		{[]netip.Addr{v6}, FamilyAny, v6},
		{[]netip.Addr{v4, v6}, IPv6, v6},
		{[]netip.Addr{v4}, IPv6, netip.Addr{}},
		{nil, FamilyAny, netip.Addr{}},
	}
	for _, tt := range tests {
		got, ok := pick(tt.addrs, tt.family)
		assert.Equal(t, tt.want, got, "pick(%v, %v)", tt.addrs, tt.family)
		assert.Equal(t, tt.want.IsValid(), ok)
	}
}

func mustAddr(s string) netip.Addr { return netip.MustParseAddr(s) }

// TestParseAddrInetAton checks the literals getaddrinfo(3) takes, inet_aton(3)'s forms among
// them, and what it refuses.
func TestParseAddrInetAton(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"127.0.0.1", "127.0.0.1"},
		{"127.1", "127.0.0.1"},
		{"0177.0.0.1", "127.0.0.1"},
		{"2130706433", "127.0.0.1"},
		{"0x7f.1", "127.0.0.1"},
		{"0X7F.0.1", "127.0.0.1"},
		{"0x7f000001", "127.0.0.1"},
		{"127.0.1", "127.0.0.1"},
		{"127.65535", "127.0.255.255"},
		{"1.2.65535", "1.2.255.255"},
		{"010.0.0.1", "8.0.0.1"},
		{"0", "0.0.0.0"},
		{"00", "0.0.0.0"},
		{"4294967295", "255.255.255.255"},
		{"198.18.000.001", "198.18.0.1"},
		{"::1", "::1"},
		{"[2001:db8::1]", "2001:db8::1"},
		{"::ffff:198.18.0.1", "198.18.0.1"},
		{"fe80::1%eth0", "fe80::1%eth0"},
	} {
		got, err := ParseAddr(tc.in)
		if assert.NoError(t, err, tc.in) {
			assert.Equal(t, netip.MustParseAddr(tc.want), got, tc.in)
		}
	}
	for _, in := range []string{
		"", "4294967296", "256.1", "1.16777216", "1.2.65536", "1.2.3.256", "1.2.3.4.5",
		"08", "0x", "0x.1", "0xg", "1..2", ".1", "1.", "-1", "+1", " 1", "1 ", "1.2.3.4 ",
		"0x7f.1.", "example.com", "1e3", "1_000", "127.0.0.1/8",
	} {
		got, err := ParseAddr(in)
		assert.ErrorIs(t, err, errors.ErrInvalidArgument, "%q gave %v", in, got)
	}
	// Such a literal needs no lookup: it resolves with a done context.
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	for _, host := range []string{"127.1", "0x7f.1", "0177.0.0.1", "2130706433"} {
		a, err := Resolve(ctx, host, FamilyAny)
		require.NoError(t, err, host)
		assert.Equal(t, netip.MustParseAddr("127.0.0.1"), a)
		_, err = Resolve(ctx, host, IPv6)
		assert.ErrorIs(t, err, errors.ErrInvalidArgument, "%s is not IPv6", host)
	}
}
