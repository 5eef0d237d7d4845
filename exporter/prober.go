package exporter

import (
	"context"
	"iter"
	"net/netip"
	"path/filepath"

	"github.com/icmpkit/icmpkit/probe"
	"github.com/icmpkit/icmpkit/result"
	"github.com/icmpkit/icmpkit/transport"
)

// packageProber runs the package-level MultipingSeq over one transport.
type packageProber struct{ t transport.Transport }

func (p packageProber) MultipingSeq(ctx context.Context, targets iter.Seq[netip.Addr], opts *probe.MultipingOptions) iter.Seq2[*result.Host, error] {
	return probe.MultipingSeq(ctx, p.t, targets, opts)
}

func newProber(t transport.Transport) (multipinger, func() error) {
	return packageProber{t}, func() error { return nil }
}

func pathMatch(pattern, name string) (bool, error) { return filepath.Match(pattern, name) }
