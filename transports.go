package icmpkit

import (
	"github.com/icmpkit/icmpkit/transport"
	"github.com/icmpkit/icmpkit/transport/dgram"
	"github.com/icmpkit/icmpkit/transport/raw"
)

// openRaw opens a raw transport (ModePrivileged).
func openRaw(cfg Config) (transport.Transport, error) {
	fam := raw.FamilyBoth
	switch cfg.Family {
	case IPv4:
		fam = raw.FamilyIPv4
	case IPv6:
		fam = raw.FamilyIPv6
	}
	t, err := raw.New(raw.Config{Source: cfg.Source, Interface: cfg.Interface, ID: cfg.ID, Family: fam})
	if err != nil {
		return nil, err
	}
	return t, nil
}

// openDgram opens a datagram transport (ModeUnprivileged). It has no ID: the system picks it.
func openDgram(cfg Config) (transport.Transport, error) {
	fam := dgram.FamilyBoth
	switch cfg.Family {
	case IPv4:
		fam = dgram.FamilyIPv4
	case IPv6:
		fam = dgram.FamilyIPv6
	}
	t, err := dgram.New(dgram.Config{Source: cfg.Source, Interface: cfg.Interface, Family: fam})
	if err != nil {
		return nil, err
	}
	return t, nil
}
