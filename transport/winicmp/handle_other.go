//go:build !windows

package winicmp

import (
	"runtime"

	"github.com/icmpkit/icmpkit/internal/sockio"
)

// socket exists only in name here: the ICMP API is Windows'.
type socket = sockio.NoSocket

func openSocket(cfg *Config, v6 bool, link sockio.Link) (*socket, error) {
	return sockio.OpenNone(familyName(v6)+" ICMP handle", "the ICMP API of iphlpapi.dll is not available on "+runtime.GOOS,
		"use transport/dgram or transport/raw")
}
