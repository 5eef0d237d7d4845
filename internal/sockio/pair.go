package sockio

import (
	"context"
	"net/netip"

	icmperrors "github.com/icmpkit/icmpkit/errors"
	"github.com/icmpkit/icmpkit/transport"
)

// Pair holds a transport's socket of each family, or why that family has none: the frame
// that the transports of one handle per family (transport/dgram, the Windows ICMP API) put
// their sockets in.
type Pair[S any] struct {
	socks [2]*S // IPv4, IPv6; nil when the family is not open
	errs  [2]error
}

// errFamilyNotOpened is why a family left out by the configuration has no socket.
var errFamilyNotOpened = icmperrors.New("the transport was configured without this family")

// FamilyName gives "IPv6" or "IPv4".
func FamilyName(v6 bool) string {
	if v6 {
		return "IPv6"
	}
	return "IPv4"
}

// Open opens with open the socket of each family that f asks for. A family that does not open
// is left out as long as the other one opens; when none opens, Open gives the first error.
func (p *Pair[S]) Open(f transport.Family, open func(v6 bool) (*S, error)) error {
	var first error
	for fam, v6 := range [2]bool{false, true} {
		if !f.Wants(v6) {
			p.errs[fam] = icmperrors.Wrap(icmperrors.ErrNotSupported, "send "+FamilyName(v6), errFamilyNotOpened)
			continue
		}
		s, err := open(v6)
		if err != nil {
			p.errs[fam] = err
			if first == nil {
				first = err
			}
			continue
		}
		p.socks[fam] = s
	}
	if p.socks[0] == nil && p.socks[1] == nil {
		return first
	}
	return nil
}

// Get gives the socket of the family (v6 or not), nil when it is not open.
func (p *Pair[S]) Get(v6 bool) *S {
	if v6 {
		return p.socks[1]
	}
	return p.socks[0]
}

// Opened gives the sockets that are open, IPv4 first.
func (p *Pair[S]) Opened() []*S {
	var out []*S
	for _, s := range p.socks {
		if s != nil {
			out = append(out, s)
		}
	}
	return out
}

// For gives the socket of dst's family, or why there is none.
func (p *Pair[S]) For(dst netip.Addr) (*S, error) {
	fam := 0
	if dst.Is6() {
		fam = 1
	}
	if s := p.socks[fam]; s != nil {
		return s, nil
	}
	return nil, p.errs[fam]
}

// SendRuns sends reqs in runs of one family: check gives the socket of one request, or why
// it cannot go (checking what every send checks), and send sends a run through its socket,
// giving how many went out. It returns how many were sent in all; the error describes
// reqs[n]. ctx ends it between runs.
func SendRuns[S any](ctx context.Context, reqs []transport.Request, check func(*transport.Request) (*S, error),
	send func(*S, []transport.Request) (int, error)) (int, error) {
	n := 0
	for n < len(reqs) {
		if err := ctx.Err(); err != nil {
			return n, err
		}
		s, err := check(&reqs[n])
		if err != nil {
			return n, err
		}
		// A run of requests of one family, each valid, goes out in one batch.
		end := n + 1
		for end < len(reqs) && reqs[end].Destination.Is6() == reqs[n].Destination.Is6() {
			if _, err := check(&reqs[end]); err != nil {
				break
			}
			end++
		}
		sent, err := send(s, reqs[n:end])
		n += sent
		if err != nil {
			return n, err
		}
	}
	return n, nil
}
