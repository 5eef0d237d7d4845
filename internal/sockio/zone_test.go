package sockio

import (
	"net/netip"
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestZones(t *testing.T) {
	idx, ok := ZoneIndex("")
	assert.True(t, ok)
	assert.Zero(t, idx)
	idx, ok = ZoneIndex("7")
	assert.True(t, ok)
	assert.Equal(t, uint32(7), idx)
	_, ok = ZoneIndex("no-such-interface")
	assert.False(t, ok)

	a := netip.MustParseAddr("fe80::1")
	assert.Equal(t, a, WithScope(a, 0))
	v4 := netip.MustParseAddr("198.18.0.1")
	assert.Equal(t, v4, WithScope(v4, 3))
	global := netip.MustParseAddr("2001:db8::1")
	assert.Equal(t, global, WithScope(global, 3), "only link-local addresses have zones")
	assert.NotEmpty(t, WithScope(a, 4000000).Zone(), "an index without an interface still names a zone")
	assert.Equal(t, ZoneName(4000000), WithScope(a, 4000000).Zone())
}
