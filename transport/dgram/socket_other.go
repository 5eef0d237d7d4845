//go:build !linux && !darwin

package dgram

import (
	"runtime"

	"github.com/icmpkit/icmpkit/internal/sockio"
)

// socket exists only in name here: this system has no datagram ICMP sockets icmpkit can use.
type socket = sockio.NoSocket

func openSocket(cfg *Config, v6 bool, link sockio.Link) (*socket, error) {
	return sockio.OpenNone(familyName(v6)+" ping socket", "datagram ICMP sockets are not available on "+runtime.GOOS,
		"on Windows use transport/winicmp, the ICMP API; elsewhere raw mode")
}
