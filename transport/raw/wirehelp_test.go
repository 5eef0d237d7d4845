package raw

import (
	"net/netip"

	"github.com/icmpkit/icmpkit/internal/wire"
	"github.com/icmpkit/icmpkit/transport"
)

// wireReply parses test packets the way the readers do.
type wireReply struct{ transport.Reply }

func (r *wireReply) parse4(b []byte) error { return wire.ParseIPv4(b, &r.Reply) }

func (r *wireReply) parse6(b []byte) error {
	return wire.ParseICMPv6(b, netip.MustParseAddr("2001:db8:1::1"), &r.Reply)
}
