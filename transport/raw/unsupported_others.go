//go:build !linux && !windows

package raw

// unsupported says why New fails here.
func unsupported() error { return errNotImplemented }
