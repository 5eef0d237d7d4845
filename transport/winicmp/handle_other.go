//go:build !windows

package winicmp

import (
	"runtime"

	icmperrors "github.com/icmpkit/icmpkit/errors"
	"github.com/icmpkit/icmpkit/internal/sockio"
	"github.com/icmpkit/icmpkit/transport"
)

// socket exists only in name here: the ICMP API is Windows'.
type socket struct{}

func openSocket(cfg *Config, v6 bool, link sockio.Link) (*socket, error) {
	return nil, &icmperrors.Error{
		Op:    "open " + familyName(v6) + " ICMP handle",
		Class: icmperrors.ErrNotSupported,
		Err:   icmperrors.New("the ICMP API of iphlpapi.dll is not available on " + runtime.GOOS),
		Hint:  "use transport/dgram or transport/raw",
	}
}

func (s *socket) Read()                              {}
func (s *socket) Poll(replies []transport.Reply) int { return 0 }
func (s *socket) Identifier() (int, bool)            { return 0, false }
func (s *socket) Close() error                       { return nil }
func (s *socket) SetBroadcast(on bool) error         { return icmperrors.NotSupported("set broadcast") }
func (s *socket) Send(req *transport.Request) error {
	return icmperrors.NotSupported("send")
}
func (s *socket) SendBatch(reqs []transport.Request) (int, error) {
	return 0, icmperrors.NotSupported("send")
}
