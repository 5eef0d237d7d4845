//go:build !windows

package icmpkit

import (
	"github.com/icmpkit/icmpkit/transport"
	"github.com/icmpkit/icmpkit/transport/dgram"
)

// openDgram opens the unprivileged transport (ModeUnprivileged): datagram ICMP sockets. It
// has no ID: the system picks it.
func openDgram(cfg Config) (transport.Transport, error) {
	t, err := dgram.New(dgram.Config{Source: cfg.Source, Interface: cfg.Interface, Family: cfg.Family})
	if err != nil {
		return nil, err
	}
	return t, nil
}
