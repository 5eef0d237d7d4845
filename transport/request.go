package transport

import (
	"net/netip"

	icmperrors "github.com/icmpkit/icmpkit/errors"
)

// Size limits of an echo request's payload: an IP datagram is at most 65,535 bytes, of which
// the ICMP header takes 8 and, on IPv4, the IP header at least 20.
const (
	MaxPayloadV4 = 65535 - 20 - 8
	MaxPayloadV6 = 65535 - 8
)

// MaxPayload gives the largest echo payload for dst's family.
func MaxPayload(dst netip.Addr) int {
	if dst.Is6() {
		return MaxPayloadV6
	}
	return MaxPayloadV4
}

// FillPayload fills b with icmpkit's payload pattern: the byte values 0x08, 0x09, ... as
// iputils ping sends, so captures look familiar.
func FillPayload(b []byte) {
	for i := range b {
		b[i] = byte(i + 8)
	}
}

// PayloadLen gives the number of payload bytes req sends.
func (req *Request) PayloadLen() int {
	if req.Payload != nil {
		return len(req.Payload)
	}
	return req.PayloadSize
}

// Validate checks a request's fields and returns an error matching errors.ErrInvalidArgument
// that names the first bad one. Transports call it before sending.
func (req *Request) Validate() error {
	switch {
	case !req.Destination.IsValid():
		return icmperrors.Invalid("destination", "address is not set")
	case req.Destination.Is4In6():
		return icmperrors.Invalid("destination", "%s is an IPv4-mapped IPv6 address; use %s", req.Destination, req.Destination.Unmap())
	case req.ID < 0 || req.ID > 0xffff:
		return icmperrors.Invalid("identifier", "must be in 0..65535, got %d", req.ID)
	case req.Seq < 0 || req.Seq > 0xffff:
		return icmperrors.Invalid("sequence", "must be in 0..65535, got %d", req.Seq)
	case req.Payload == nil && req.PayloadSize < 0:
		return icmperrors.Invalid("payload size", "must not be negative, got %d", req.PayloadSize)
	case req.PayloadLen() > MaxPayload(req.Destination):
		return icmperrors.Invalid("payload size", "%d bytes is more than an %s echo request can carry (%d)", req.PayloadLen(), family(req.Destination), MaxPayload(req.Destination))
	case req.TTL < 0 || req.TTL > 255:
		return icmperrors.Invalid("ttl", "must be in 1..255, got %d", req.TTL)
	case req.TrafficClass < 0 || req.TrafficClass > 255:
		return icmperrors.Invalid("traffic class", "must be in 0..255, got %d", req.TrafficClass)
	}
	return nil
}

func family(a netip.Addr) string {
	if a.Is6() {
		return "IPv6"
	}
	return "IPv4"
}
