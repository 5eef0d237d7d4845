package icmpkit

import (
	"github.com/icmpkit/icmpkit/transport"
	"github.com/icmpkit/icmpkit/transport/raw"
)

// openRaw opens a raw transport (ModePrivileged).
func openRaw(cfg Config) (transport.Transport, error) {
	t, err := raw.New(raw.Config{Source: cfg.Source, Interface: cfg.Interface, ID: cfg.ID, Family: cfg.Family})
	if err != nil {
		return nil, err
	}
	return t, nil
}
