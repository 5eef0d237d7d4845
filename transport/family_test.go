package transport

import (
	"net/netip"
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestFamily(t *testing.T) {
	assert.Equal(t, "IPv4 and IPv6", FamilyBoth.String())
	assert.Equal(t, "IPv4", FamilyIPv4.String())
	assert.Equal(t, "IPv6", FamilyIPv6.String())
	assert.Equal(t, "unknown family", Family(9).String())

	assert.True(t, FamilyBoth.Valid())
	assert.True(t, FamilyIPv6.Valid())
	assert.False(t, Family(3).Valid())

	v4, v6, mapped := netip.MustParseAddr("198.18.0.1"), netip.MustParseAddr("2001:db8::1"), netip.MustParseAddr("::ffff:198.18.0.1")
	for _, tc := range []struct {
		f          Family
		v4, v6, mp bool
	}{
		{FamilyBoth, true, true, true},
		{FamilyIPv4, true, false, true},
		{FamilyIPv6, false, true, false},
	} {
		assert.Equal(t, tc.v4, tc.f.Includes(v4), "%s includes %s", tc.f, v4)
		assert.Equal(t, tc.v6, tc.f.Includes(v6), "%s includes %s", tc.f, v6)
		assert.Equal(t, tc.mp, tc.f.Includes(mapped), "%s includes %s", tc.f, mapped)
		assert.Equal(t, tc.v4, tc.f.Wants(false), "%s wants IPv4", tc.f)
		assert.Equal(t, tc.v6, tc.f.Wants(true), "%s wants IPv6", tc.f)
	}
}
