package errors_test

import (
	"fmt"
	"os"
	"syscall"
	"testing"

	"github.com/icmpkit/icmpkit/errors"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestHierarchy(t *testing.T) {
	tests := []struct {
		err     error
		is      []error
		isNot   []error
		message string
	}{
		{errors.ErrPermission, []error{errors.ErrSocket, errors.ErrLibrary}, []error{errors.ErrICMP, errors.ErrTimeout}, "permission denied"},
		{errors.ErrTimeout, []error{errors.ErrSocket, errors.ErrLibrary}, []error{errors.ErrUnavailable}, "timed out"},
		{errors.ErrBroadcast, []error{errors.ErrSocket}, []error{errors.ErrPermission}, "broadcast not enabled"},
		{errors.ErrDestinationUnreachableV4, []error{errors.ErrDestinationUnreachable, errors.ErrICMP, errors.ErrLibrary}, []error{errors.ErrDestinationUnreachableV6, errors.ErrSocket, errors.ErrTimeExceeded}, ""},
		{errors.ErrTimeExceededV6, []error{errors.ErrTimeExceeded, errors.ErrICMP}, []error{errors.ErrTimeExceededV4}, ""},
		{errors.ErrInvalidArgument, []error{errors.ErrLibrary}, []error{errors.ErrSocket, errors.ErrICMP}, "invalid argument"},
		{errors.ErrNotSupported, []error{errors.ErrLibrary}, []error{errors.ErrSocket}, "not supported"},
		{errors.ErrNameLookup, []error{errors.ErrLibrary}, []error{errors.ErrInvalidArgument}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.err.Error(), func(t *testing.T) {
			for _, want := range tt.is {
				assert.True(t, errors.Is(tt.err, want), "%v should match %v", tt.err, want)
			}
			for _, not := range tt.isNot {
				assert.False(t, errors.Is(tt.err, not), "%v should not match %v", tt.err, not)
			}
			if tt.message != "" {
				assert.Equal(t, tt.message, tt.err.Error())
			}
		})
	}
}

func TestErrorKeepsCause(t *testing.T) {
	err := error(&errors.Error{Op: "open raw ICMPv4 socket", Class: errors.ErrPermission, Err: syscall.EPERM, Hint: "run as root"})
	wrapped := fmt.Errorf("ping: %w", err)
	assert.True(t, errors.Is(wrapped, errors.ErrPermission))
	assert.True(t, errors.Is(wrapped, errors.ErrSocket))
	assert.True(t, errors.Is(wrapped, os.ErrPermission), "errno must stay reachable")
	assert.False(t, errors.Is(wrapped, errors.ErrUnavailable))
	var e *errors.Error
	require.True(t, errors.As(wrapped, &e))
	assert.Equal(t, "icmpkit: open raw ICMPv4 socket: permission denied: operation not permitted (run as root)", e.Error())

	same := &errors.Error{Op: "open IPv4 ping socket", Class: errors.ErrPermission, Err: syscall.EACCES}
	assert.Equal(t, "icmpkit: open IPv4 ping socket: permission denied", same.Error(), "a cause that repeats the class is not repeated")
	assert.True(t, errors.Is(same, os.ErrPermission))

	inv := errors.Invalid("count", "must be at least 1, got %d", 0)
	assert.True(t, errors.Is(inv, errors.ErrInvalidArgument))
	assert.Equal(t, "icmpkit: count: invalid argument: must be at least 1, got 0", inv.Error())
	assert.True(t, errors.Is(errors.NotSupported("raw sockets on plan9"), errors.ErrNotSupported))
	assert.True(t, errors.Is(errors.Wrap(nil, "x", nil), errors.ErrLibrary))
}

func TestICMPError(t *testing.T) {
	tests := []struct {
		v6         bool
		typ, code  int
		class      error
		notClass   error
		wantString string
	}{
		{false, 3, 1, errors.ErrDestinationUnreachableV4, errors.ErrDestinationUnreachableV6, "Destination host unreachable"},
		{false, 3, 13, errors.ErrDestinationUnreachable, errors.ErrTimeExceeded, "Communication administratively prohibited"},
		{false, 3, 99, errors.ErrDestinationUnreachableV4, nil, "Destination unreachable (code 99)"},
		{false, 11, 0, errors.ErrTimeExceededV4, errors.ErrTimeExceededV6, "Time to live exceeded"},
		{false, 11, 1, errors.ErrTimeExceeded, nil, "Fragment reassembly time exceeded"},
		{true, 1, 0, errors.ErrDestinationUnreachableV6, errors.ErrDestinationUnreachableV4, "No route to destination"},
		{true, 1, 4, errors.ErrDestinationUnreachable, nil, "Port unreachable"},
		{true, 3, 0, errors.ErrTimeExceededV6, errors.ErrTimeExceededV4, "Hop limit exceeded in transit"},
		{true, 2, 0, errors.ErrPacketTooBig, errors.ErrTimeExceeded, "Packet too big"},
		{false, 12, 0, errors.ErrParameterProblem, nil, "Parameter problem: pointer indicates the error"},
		{false, 5, 1, errors.ErrICMP, errors.ErrDestinationUnreachable, "ICMP type 5 code 1"},
	}
	for _, tt := range tests {
		t.Run(tt.wantString, func(t *testing.T) {
			err := error(&errors.ICMPError{V6: tt.v6, Type: tt.typ, Code: tt.code})
			assert.Equal(t, tt.wantString, err.Error())
			assert.True(t, errors.Is(err, tt.class))
			assert.True(t, errors.Is(err, errors.ErrICMP))
			assert.True(t, errors.Is(err, errors.ErrLibrary))
			assert.False(t, errors.Is(err, errors.ErrSocket))
			if tt.notClass != nil {
				assert.False(t, errors.Is(err, tt.notClass))
			}
		})
	}
}
