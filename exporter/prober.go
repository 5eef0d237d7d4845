package exporter

import (
	"path/filepath"

	"github.com/icmpkit/icmpkit/probe"
	"github.com/icmpkit/icmpkit/transport"
)

// newProber makes the one Prober that reads t: every runner over t shares it, its reader and
// its pacer.
func newProber(t transport.Transport) (multipinger, func() error) {
	p := probe.New(t, nil)
	return p, p.Close
}

func pathMatch(pattern, name string) (bool, error) { return filepath.Match(pattern, name) }
