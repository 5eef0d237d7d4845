//go:build !linux && !darwin

package dgram

import (
	"runtime"

	icmperrors "github.com/icmpkit/icmpkit/errors"
	"github.com/icmpkit/icmpkit/transport"
)

// socket exists only in name here: this system has no datagram ICMP sockets icmpkit can use.
type socket struct{}

func openSocket(cfg *Config, v6 bool) (*socket, error) {
	return nil, &icmperrors.Error{
		Op:    "open " + familyName(v6) + " ping socket",
		Class: icmperrors.ErrNotSupported,
		Err:   icmperrors.New("datagram ICMP sockets are not available on " + runtime.GOOS),
		Hint:  "on Windows use transport/winicmp, the ICMP API; elsewhere raw mode",
	}
}

func (s *socket) run(t *Transport)                                 {}
func (s *socket) poll(t *Transport, replies []transport.Reply) int { return 0 }
func (s *socket) identifier() (int, bool)                          { return 0, false }
func (s *socket) close() error                                     { return nil }
func (s *socket) setBroadcast(on bool) error                       { return icmperrors.NotSupported("set broadcast") }
func (s *socket) send(t *Transport, req *transport.Request) error {
	return icmperrors.NotSupported("send")
}
func (s *socket) sendBatch(t *Transport, reqs []transport.Request) (int, error) {
	return 0, icmperrors.NotSupported("send")
}
