package icmpkit

import (
	"github.com/icmpkit/icmpkit/transport"
	"github.com/icmpkit/icmpkit/transport/winicmp"
)

// openDgram opens the unprivileged transport (ModeUnprivileged): on Windows the ICMP API. It
// has no ID: the system picks it.
func openDgram(cfg Config) (transport.Transport, error) {
	t, err := winicmp.New(winicmp.Config{Source: cfg.Source, Interface: cfg.Interface, Family: cfg.Family})
	if err != nil {
		return nil, err
	}
	return t, nil
}
