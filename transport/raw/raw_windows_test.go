package raw

import (
	"os"
	"testing"

	icmperrors "github.com/icmpkit/icmpkit/errors"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/windows"
)

// On Windows New fails, and says why: Administrator rights first, when the process lacks
// them, and in any case that icmpkit has no raw transport there.
func TestWindowsRawRefuses(t *testing.T) {
	tr, err := New(Config{})
	require.Error(t, err)
	require.Nil(t, tr)
	require.ErrorIs(t, err, icmperrors.ErrNotSupported)
	assert.Contains(t, err.Error(), "dgram", "the error names the mode that works")
	if windows.GetCurrentProcessToken().IsElevated() {
		assert.NotErrorIs(t, err, icmperrors.ErrPermission)
		return
	}
	require.ErrorIs(t, err, icmperrors.ErrPermission)
	require.ErrorIs(t, err, os.ErrPermission)
	assert.Contains(t, err.Error(), "Administrator")
}
