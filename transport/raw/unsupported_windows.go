package raw

import (
	"fmt"

	icmperrors "github.com/icmpkit/icmpkit/errors"
	"golang.org/x/sys/windows"
)

// unsupported says why New fails on Windows. Raw ICMP sockets there need Administrator
// rights, which a process without them is told first (the error matches errors.ErrPermission
// and os.ErrPermission as well as errors.ErrNotSupported); with them, icmpkit still has no
// raw transport for Windows. The unprivileged transport, over the ICMP API, needs neither.
func unsupported() error {
	if windows.GetCurrentProcessToken().IsElevated() {
		return errNotImplemented
	}
	return &icmperrors.Error{Op: "open raw ICMP socket", Class: icmperrors.ErrPermission,
		Err: fmt.Errorf("raw ICMP sockets need Administrator rights (%w), and icmpkit implements them on Linux only (%w)",
			windows.ERROR_ACCESS_DENIED, icmperrors.ErrNotSupported),
		Hint: "use the unprivileged mode (dgram), over the ICMP API, which needs no privilege"}
}
