package wire

import (
	"testing"

	"github.com/icmpkit/icmpkit/transport"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// A Parameter Problem gives the octet its pointer names; other messages have none.
func TestParsePointer(t *testing.T) {
	for name, want := range map[string]int{
		"parameter problem v4":    1,
		"parameter problem v6":    40,
		"time exceeded v4":        0,
		"fragmentation needed v4": 0,
		"packet too big v6":       0,
		"unreachable v6 port":     0,
	} {
		t.Run(name, func(t *testing.T) {
			r := transport.Reply{Pointer: 99}
			require.NoError(t, parse(packetByName(t, name), &r))
			assert.Equal(t, want, r.Pointer)
		})
	}
}
